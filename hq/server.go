package hq

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/wire"
)

// Options configure a Server. The zero value of every field but Store is a
// documented default.
type Options struct {
	Store Store
	// SigningKey signs every published ruleset; terminals refuse unsigned ones.
	// Required for PublishRuleset.
	SigningKey ed25519.PrivateKey
	// Validate checks a ruleset before it is published and returns its version.
	// Default: the discount engine's own parser, the one every terminal runs.
	Validate func(raw []byte) (version int64, err error)
	// CA signs terminal certificates at enrollment; nil: no enrollment.
	CA *pki.CA
	// RequireClientCert refuses uploads and rule fetches without a verified
	// terminal certificate, and uploads for any terminal but the one it names.
	RequireClientCert bool
	// CertValidity is how long a terminal certificate is valid (default 1 year).
	CertValidity time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxUpload bounds an upload body (default 32 MiB).
	MaxUpload int64
	// MaxWait bounds a long poll: the combined wait, rules, changes (default 30 s).
	MaxWait time.Duration
	// RequireOperator refuses admin requests without an operator's
	// credential even while the store has no operator (tillhq sets it when
	// the admin API listens beyond loopback). Off, the admin API is open
	// until the first operator is added, then every request but the login
	// needs an API token or a session (auth.go, docs/hq.md); and, over
	// plain HTTP, a request without an API token must name the listener in
	// Host (localhost or a loopback address on loopback), against DNS
	// rebinding (browserRefusal).
	RequireOperator bool
	Logger          *slog.Logger
}

// Server answers terminals and HQ staff over HTTP.
type Server struct {
	opts Options
	log  *slog.Logger

	metrics *metrics

	published signal       // fired when a ruleset is published
	cards     signal       // fired when a card's account or holder changes
	uploading atomic.Int64 // uploads under way: the auditor yields to them

	loyalty *Loyalty // the loyalty reports' book (loyalty.go)

	either   signal                  // fired with published and with cards: the combined poll's
	rulesNow rulesCache              // the version of the ruleset published now
	parked   atomic.Pointer[parking] // idle combined polls, while ServeTerminals runs (poll.go)
	contacts contacts                // terminals' last polls (fleet.go)
}

// NewServer returns a Server over opts.Store.
func NewServer(opts Options) *Server {
	if opts.Validate == nil {
		opts.Validate = ValidateRuleset
	}
	if opts.CertValidity == 0 {
		opts.CertValidity = 365 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxUpload == 0 {
		opts.MaxUpload = 32 << 20
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Logger, metrics: newMetrics()}
	s.loyalty = NewLoyalty(LoyaltyOptions{Store: opts.Store, Wake: s.cards.wait, Now: opts.Now, Logger: opts.Logger})
	if opts.Store != nil {
		s.metrics.reg.MustRegister(auditCollector{opts.Store})
	}
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tillhq_parked_polls", Help: "Terminals' combined long polls parked now, waiting for a ruleset or card changes.",
	}, func() float64 { return float64(s.ParkedPolls()) }))
	return s
}

// RunAuditor runs an Auditor (opts without Store, Wake, Busy and Logger: the
// server's) until ctx ends: every replica runs one. It is woken by uploads,
// and works less while uploads are under way.
func (s *Server) RunAuditor(ctx context.Context, opts AuditorOptions) error {
	opts.Store, opts.Wake, opts.Logger = s.opts.Store, s.cards.wait, s.log
	opts.Busy = func() bool { return s.uploading.Load() > 0 }
	return NewAuditor(opts).Run(ctx)
}

// Handler returns the routes terminals use: upload, rules, enrollment. Serve it
// over TLS with pki.ServerTLS in production.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathUpload, s.requireTerminal(s.upload))
	mux.HandleFunc("GET "+wire.PathRules, s.requireTerminal(s.rules))
	mux.HandleFunc("POST "+wire.PathHolders, s.requireTerminal(s.holders))
	mux.HandleFunc("GET "+wire.PathAccountPrefix+"{card}", s.requireTerminal(s.account))
	mux.HandleFunc("GET "+wire.PathChanges, s.requireTerminal(s.changes))
	mux.HandleFunc("GET "+wire.PathWait, s.requireTerminal(s.wait))
	mux.HandleFunc("GET "+wire.PathChains, s.requireTerminal(s.chains))
	mux.HandleFunc("GET "+wire.PathChain, s.requireTerminal(s.chainEvents))
	mux.HandleFunc("GET "+wire.PathSalePrefix+"{receipt}", s.requireTerminal(s.sale))
	mux.HandleFunc("POST "+wire.PathEnroll, s.enroll)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// AdminHandler returns the routes for HQ staff: publishing rules, adding
// terminals, reports, operators. Every route but /healthz and the login needs
// an operator whose role allows it (auth.go); every change is in the admin log.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathAdminRules, s.publish)
	mux.HandleFunc("POST "+wire.PathAdminTerminals, s.addTerminal)
	mux.HandleFunc("GET "+wire.PathReportSales, s.reportSales)
	mux.HandleFunc("GET "+wire.PathReportOverdrafts, s.reportOverdrafts)
	mux.HandleFunc("GET "+wire.PathReportReturnExcess, s.reportReturnExcess)
	mux.HandleFunc("GET "+wire.PathReportAudit, s.reportAudit)
	s.loyaltyRoutes(mux)
	mux.HandleFunc("GET "+PathReportNPS, s.reportNPS)
	mux.HandleFunc("POST "+wire.PathAdminCustomers, s.importCustomers)
	mux.HandleFunc("GET "+wire.PathAdminCustomers+"/{card}", s.showCustomer)
	mux.HandleFunc("GET "+wire.PathAdminCustomers, s.findCustomers)
	mux.HandleFunc("GET "+wire.PathAdminCustomers+"/{card}"+wire.PathAdminPurchases, s.customerPurchases)
	mux.HandleFunc("DELETE "+wire.PathAdminCustomers+"/{card}", s.forgetCustomer)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	// A metric that cannot be read (the audit's, from the store) leaves out
	// itself, not the others.
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	s.adminAuthRoutes(mux)
	return s.guardAdmin(mux)
}

func (s *Server) addTerminal(w http.ResponseWriter, r *http.Request) {
	var req wire.AddTerminalRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("ttl %q: want a positive duration such as 24h", req.TTL))
			return
		}
	}
	noteAudit(r, req.Terminal, "store "+req.Store)
	tok, err := s.AddTerminal(r.Context(), req.Store, req.Terminal, ttl)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	wire.WriteJSON(w, http.StatusCreated, wire.AddTerminalResponse{Token: tok, Expires: s.opts.Now().Add(ttl).UTC().Format(time.RFC3339)})
}

// PublishRuleset validates raw and makes it the current ruleset; terminals waiting
// on a long poll get it at once.
func (s *Server) PublishRuleset(ctx context.Context, raw []byte) (Ruleset, error) {
	if len(s.opts.SigningKey) != ed25519.PrivateKeySize {
		return Ruleset{}, errors.New("publish ruleset: HQ has no signing key (run tillhq init)")
	}
	version, err := s.opts.Validate(raw)
	if err != nil {
		return Ruleset{}, fmt.Errorf("publish ruleset: %w", err)
	}
	sum := sha256.Sum256(raw)
	rs := Ruleset{Version: version, Hash: hex.EncodeToString(sum[:]), Raw: raw, Signature: wire.SignRules(s.opts.SigningKey, raw)}
	if err := s.opts.Store.PublishRuleset(ctx, rs); err != nil {
		return Ruleset{}, err
	}
	s.metrics.rules.Set(float64(version))
	s.wake(ctx, TopicRules)
	s.log.Info("ruleset published", "version", version, "hash", rs.Hash[:12])
	return rs, nil
}

// ValidateRuleset parses raw with the discount engine and returns its version.
func ValidateRuleset(raw []byte) (int64, error) {
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		return 0, err
	}
	return rs.Version, nil
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	s.uploading.Add(1)
	defer s.uploading.Add(-1)
	var req wire.UploadRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.metrics.uploads.WithLabelValues("bad_request").Inc()
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "upload body: "+err.Error())
		return
	}
	if req.Terminal == "" {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "upload names no terminal")
		return
	}
	if cn := TerminalOf(r); cn != "" && cn != req.Terminal {
		s.metrics.uploads.WithLabelValues("wrong_terminal").Inc()
		s.log.Warn("upload for another terminal refused", "certificate", cn, "upload", req.Terminal)
		wire.WriteError(w, http.StatusForbidden, "wrong_terminal", fmt.Sprintf("this certificate belongs to terminal %s, not %s", cn, req.Terminal))
		return
	}
	if err := CheckEpoch(req.Epoch); err != nil {
		s.metrics.uploads.WithLabelValues("bad_request").Inc()
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "upload: "+err.Error())
		return
	}
	acked, err := s.opts.Store.AppendEpoch(r.Context(), req.Terminal, req.Epoch, req.Events)
	s.metrics.ack(req.Terminal, acked)
	var fork *ForkError
	switch {
	case errors.As(err, &fork):
		// Another event under a seq HQ holds: never an ack, never an overwrite.
		// The terminal continues in a new epoch based on event fork.At-1.
		s.metrics.uploads.WithLabelValues("fork").Inc()
		s.log.Error("upload parts from the chain HQ holds; the terminal must continue in a new epoch",
			"terminal", req.Terminal, "epoch", req.Epoch.ID, "at", fork.At, "hq_head", fork.Head.Seq, "acked", acked)
		wire.WriteJSON(w, http.StatusConflict, struct {
			wire.Error
			wire.UploadResponse
		}{wire.Error{Code: wire.CodeFork, Message: fork.Error()},
			wire.UploadResponse{Acked: acked, Fork: &wire.Fork{Epoch: req.Epoch.ID, At: fork.At, HeadSeq: fork.Head.Seq, HeadHash: fork.Head.Hash}}})
		return
	case err != nil && !IsBrokenChain(err):
		s.metrics.uploads.WithLabelValues("error").Inc()
		s.log.Error("append upload", "terminal", req.Terminal, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot store uploads right now")
		return
	case err != nil:
		// Keep what linked, tell the terminal where HQ stands, and report it loudly:
		// a broken chain is tampering or a bug, never silently accepted.
		s.metrics.uploads.WithLabelValues("broken_chain").Inc()
		s.log.Error("upload breaks the terminal's chain", "terminal", req.Terminal, "acked", acked, "err", err)
		wire.WriteJSON(w, http.StatusConflict, struct {
			wire.Error
			wire.UploadResponse
		}{wire.Error{Code: wire.CodeBrokenChain, Message: err.Error()}, wire.UploadResponse{Acked: acked}})
		return
	}
	s.metrics.uploads.WithLabelValues("ok").Inc()
	s.wake(r.Context(), TopicCards)
	wire.WriteJSON(w, http.StatusOK, wire.UploadResponse{Acked: acked})
}

// chains lists the calling terminal's chains: what tillctl ledger restore
// --from-hq chooses from.
func (s *Server) chains(w http.ResponseWriter, r *http.Request) {
	terminal := terminalOf(r)
	if terminal == "" {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "name the terminal (?terminal=) or present its certificate")
		return
	}
	cs, err := s.opts.Store.Chains(r.Context(), terminal)
	if err != nil {
		s.log.Error("chains", "terminal", terminal, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	if cs == nil {
		cs = []wire.Chain{}
	}
	wire.WriteJSON(w, http.StatusOK, wire.ChainsAnswer{Terminal: terminal, Chains: cs})
}

// chainEvents answers a page of one of the calling terminal's chains:
// ?epoch=E&after=N, at most 1 000 events.
func (s *Server) chainEvents(w http.ResponseWriter, r *http.Request) {
	terminal := terminalOf(r)
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if q.Get("after") == "" {
		after, err = 0, nil
	}
	if terminal == "" || err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "want ?epoch=E&after=SEQ and the terminal's certificate")
		return
	}
	c, evs, err := s.opts.Store.ChainEvents(r.Context(), terminal, q.Get("epoch"), after, 1000)
	switch {
	case errors.Is(err, ErrNoChain):
		wire.WriteError(w, http.StatusNotFound, "no_chain", fmt.Sprintf("HQ holds no chain of terminal %s under epoch %q", terminal, q.Get("epoch")))
		return
	case err != nil:
		s.log.Error("chain events", "terminal", terminal, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	if evs == nil {
		evs = []event.Event{}
	}
	wire.WriteJSON(w, http.StatusOK, wire.ChainAnswer{Chain: c, Events: evs})
}

// readJSON decodes a request body of at most MaxUpload bytes into v. It reads
// the body whole and decodes it with one json.Unmarshal: a json.Decoder would
// grow its buffer over and over for an upload of hundreds of kilobytes and
// scan it once more. A declared length sizes its buffer up to trustedLength
// only (serve.ReadBody).
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := serve.ReadBody(w, r, s.opts.MaxUpload, trustedLength)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// trustedLength is the largest declared body length readJSON allocates
// before the bytes come: a batch of a thousand sales is smaller.
const trustedLength = 4 << 20

func (s *Server) rules(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	s.recordContact(r, after)
	s.longPoll(w, r, &s.published, func() bool {
		rs, err := s.opts.Store.CurrentRuleset(r.Context())
		switch {
		case err != nil && !errors.Is(err, ErrNoRuleset):
			s.log.Error("read ruleset", "err", err)
			wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read rules right now")
			return true
		case err == nil && rs.Version > after:
			w.Header().Set("Content-Type", "application/toml")
			w.Header().Set(wire.HeaderRulesVersion, strconv.FormatInt(rs.Version, 10))
			w.Header().Set(wire.HeaderRulesHash, rs.Hash)
			w.Header().Set(wire.HeaderRulesSignature, base64.StdEncoding.EncodeToString(rs.Signature))
			w.Write(rs.Raw)
			return true
		}
		return false
	}, func() { w.WriteHeader(http.StatusNoContent) })
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "ruleset body: "+err.Error())
		return
	}
	if at := r.URL.Query().Get("effective"); at != "" {
		if raw, err = withEffective(raw, at); err != nil {
			wire.WriteError(w, http.StatusUnprocessableEntity, "invalid_ruleset", err.Error())
			return
		}
	}
	s.publishRaw(w, r, raw, "")
}

// publishRaw publishes raw and answers the request; the admin log's detail
// starts with note.
func (s *Server) publishRaw(w http.ResponseWriter, r *http.Request, raw []byte, note string) {
	rs, err := s.PublishRuleset(r.Context(), raw)
	if err == nil {
		if p, perr := rulesfile.Parse(raw); perr == nil && !p.Effective.IsZero() {
			note += "effective " + p.Effective.String() + ", "
		}
		noteAudit(r, fmt.Sprintf("version %d", rs.Version), note+"sha256 "+rs.Hash)
	}
	switch {
	case errors.Is(err, ErrOldRuleset):
		wire.WriteError(w, http.StatusConflict, "old_version", err.Error())
	case err != nil:
		wire.WriteError(w, http.StatusUnprocessableEntity, "invalid_ruleset", err.Error())
	default:
		wire.WriteJSON(w, http.StatusCreated, map[string]any{"version": rs.Version, "hash": rs.Hash})
	}
}

func (s *Server) reportSales(w http.ResponseWriter, r *http.Request) {
	rows, err := s.opts.Store.SalesReport(r.Context())
	if err != nil {
		s.log.Error("sales report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	if rows == nil {
		rows = []wire.TerminalSales{}
	}
	wire.WriteJSON(w, http.StatusOK, wire.SalesReport{Terminals: rows})
}
