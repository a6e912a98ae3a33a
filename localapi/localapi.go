// Package localapi is tilld's HTTP/JSON API for the POS app, the till page and
// tillctl, bound to loopback and versioned under /v1/. Amounts are integer minor
// units. Errors are Problems (errors.go): a stable code, an English message and
// what was wrong and where, which the cashier's page says in the cashier's
// language; internal detail goes to the log only.
package localapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// DefaultAddr is where tilld listens and tillctl looks by default.
const DefaultAddr = "127.0.0.1:7450"

// Options configure the API.
type Options struct {
	Till   *till.Till // required
	Logger *slog.Logger
	// Heartbeat is the interval of SSE comments that keep idle streams open
	// through proxies (default 15 s).
	Heartbeat time.Duration
	// Token is the API token (see EnsureToken) the POS app and tillctl send;
	// empty: no request has it, so only the till page's reads are served.
	Token string
}

// Handler returns the API's routes.
func Handler(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 15 * time.Second
	}
	a := &api{Options: opts, metrics: newMetrics(opts.Till), pageSecret: newPageSecret()}
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.HandleFunc(rt.pattern, a.route(rt.access, rt.handler))
	}
	return a.guard(mux)
}

// routes is every route of the API with the access it needs: the till page's
// reads are open, everything else needs the API token (see guard).
func (a *api) routes() []struct {
	pattern string
	access  access
	handler http.HandlerFunc
} {
	return []struct {
		pattern string
		access  access
		handler http.HandlerFunc
	}{
		{"GET /{$}", open, a.page},
		{"GET /display", open, a.display},
		{"GET /v1/status", open, a.status},
		{"GET /v1/events", open, a.events},
		{"GET /v1/devices", open, a.devices},
		{"GET /metrics", open, a.metrics.handler.ServeHTTP},
		{"POST /v1/quote", token, a.quote},
		{"POST /v1/sales", token, a.sale},
		{"POST /v1/refunds", token, a.refund},
		{"POST /v1/feedback", page, a.feedback},
		{"GET /v1/accounts/{card}", token, a.account},
		{"GET /v1/accounts/{card}/rewards", token, a.rewards},
		{"GET /v1/scans/{id}/rewards", page, a.scanRewards},
		{"POST /v1/accounts/{card}/rewards", token, a.rewards},
		{"POST /v1/customers", page, a.register},
		{"POST /v1/devices/{name}/scan", token, a.present},
		{"GET /v1/ledger/verify", token, a.ledgerVerify},
		{"GET /v1/ledger/export", token, a.ledgerExport},
	}
}

type api struct {
	Options
	metrics    *metrics
	pageSecret string // the screens' cookie (guard.go)
}

const maxBody = 1 << 20

// decode reads the body of a request that does op into v, or answers
// bad_request.
func (a *api) decode(w http.ResponseWriter, r *http.Request, op string, v any) bool {
	body, err := readBody(w, r)
	if err != nil {
		a.badBody(w, r, op, fmt.Errorf("request body: %w", err))
		return false
	}
	if err := decodeBody(body, v); err != nil {
		a.badBody(w, r, op, err)
		return false
	}
	return true
}

// readBody reads a request's body, at most maxBody bytes, within
// bodyTimeout: into one buffer of its length when the request gives it (the
// POS app's do) and it is small; a larger one grows as its bytes arrive, so
// that a client that says a megabyte and sends a byte holds no megabyte.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(bodyTimeout)); err == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	return serve.ReadBody(w, r, maxBody, bodyTrusted)
}

// bodyTimeout is how long a request's body may take to arrive: a POS app
// on the same machine sends it at once. A variable for the tests.
var bodyTimeout = 10 * time.Second

// bodyTrusted is the largest Content-Length read into one buffer before its
// bytes arrive; a sale of the most lines is larger.
const bodyTrusted = 64 << 10

// decodeBody decodes one JSON value of a request body into v: checkBody's
// checks first, then no unknown fields and nothing after the value.
func decodeBody(body []byte, v any) error {
	whole, err := checkBody(body)
	if err != nil {
		return err
	}
	if req, ok := v.(*till.SaleRequest); ok && whole && decodeSale(body, req) {
		return nil // the plain shape a POS app sends, read in one pass
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	if whole {
		return nil // checkBody read to the end: white space only after the value
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

func (a *api) quote(w http.ResponseWriter, r *http.Request) {
	var b pos.Basket
	if !a.decode(w, r, "quote", &b) {
		return
	}
	explain, err := boolParam(r, "explain")
	if err != nil {
		a.answer(w, r, Problem{Code: "bad_request", Op: "quote", Field: "explain", Reason: "invalid", Message: err.Error()})
		return
	}
	q, err := a.Till.Quote(b, till.QuoteOptions{Explain: explain})
	a.metrics.quotes.WithLabelValues(outcome(err)).Inc()
	if err != nil {
		a.fail(w, r, "quote", err, about{basket: &b})
		return
	}
	a.Till.Publish("quote", basketView(q.Quote, b.Card))
	wire.WriteJSON(w, http.StatusOK, q)
}

func (a *api) sale(w http.ResponseWriter, r *http.Request) {
	var req till.SaleRequest
	if !a.decode(w, r, "sale", &req) {
		return
	}
	start := time.Now()
	res, replayed, err := a.Till.Sale(req)
	a.metrics.observeSale(start, replayed, err)
	if err != nil {
		a.fail(w, r, "sale", err, about{basket: &req.Basket})
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	if replayed {
		wire.WriteJSON(w, status, res)
		return
	}
	// The answer goes out first, whole and with its length, so that the POS
	// app has it while the screens' event is made (it reads the account
	// again): the event is no part of the answer.
	if err := writeJSONNow(w, status, res); err != nil {
		a.Logger.Error("sale answer", "sale", res.ID, "err", err)
	}
	a.publishSale(res)
}

// writeJSONNow answers res as wire.WriteJSON does, with a Content-Length,
// and sends it at once: the client has the whole answer before the handler
// returns.
func writeJSONNow(w http.ResponseWriter, status int, res till.SaleResult) error {
	b, err := res.AppendJSON(make([]byte, 0, 1024))
	if err != nil {
		return err
	}
	b = append(b, '\n') // as json.Encoder ends it
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// refund records a return: 201 with the refund, 200 for a replay.
func (a *api) refund(w http.ResponseWriter, r *http.Request) {
	var req till.RefundRequest
	if !a.decode(w, r, "refund", &req) {
		return
	}
	res, replayed, err := a.Till.Refund(req)
	a.metrics.observeRefund(replayed, err)
	if err != nil {
		a.fail(w, r, "refund", err, about{sale: saleNamed(req)})
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	wire.WriteJSON(w, status, res)
}

// feedback records a customer's NPS answer to a sale: 201 with the
// feedback, 200 for a replay of the same request.
func (a *api) feedback(w http.ResponseWriter, r *http.Request) {
	var req till.FeedbackRequest
	if !a.decode(w, r, "feedback", &req) {
		return
	}
	res, replayed, err := a.Till.Feedback(req)
	if err != nil {
		a.fail(w, r, "feedback", err, about{sale: req.Sale})
		return
	}
	if !replayed {
		a.Till.Publish("feedback", FeedbackView{SaleID: res.SaleID, Score: res.Score, Card: pos.MaskCard(res.Card)})
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	wire.WriteJSON(w, status, res)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.Till.Status()
	if err != nil {
		a.fail(w, r, "status", err, about{})
		return
	}
	wire.WriteJSON(w, http.StatusOK, st)
}

func (a *api) devices(w http.ResponseWriter, r *http.Request) {
	wire.WriteJSON(w, http.StatusOK, a.Till.DeviceList(r.Context()))
}

func (a *api) account(w http.ResponseWriter, r *http.Request) {
	c, err := a.Till.AccountOfType(r.PathValue("card"), r.URL.Query().Get("card_type"))
	if err != nil {
		a.fail(w, r, "account", err, about{card: r.PathValue("card")})
		return
	}
	wire.WriteJSON(w, http.StatusOK, c)
}

// rewards answers what a card can get for its points now; POSTed a basket,
// also how much of it the card may pay with points.
func (a *api) rewards(w http.ResponseWriter, r *http.Request) {
	var b pos.Basket
	if r.Method == http.MethodPost && !a.decode(w, r, "rewards", &b) {
		return
	}
	rw, err := a.Till.Rewards(r.PathValue("card"), r.URL.Query().Get("card_type"), b)
	if err != nil {
		a.fail(w, r, "rewards", err, about{basket: &b})
		return
	}
	wire.WriteJSON(w, http.StatusOK, rw)
}

// boolParam reads an optional query parameter that is true or false ("1",
// "true", "0", "false"); absent is false.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("query parameter %s=%q: want true or false", name, v)
	}
	return b, nil
}

// CustomerRequest is the body of POST /v1/customers: a holder's fields (those
// not sent keep their value in a correction) and the card's type.
type CustomerRequest struct {
	pos.HolderChange
	CardType string `json:"card_type,omitempty"`
}

// register signs a card holder up or corrects one: 201 with the record when
// the card had no holder, 200 with the corrected one.
func (a *api) register(w http.ResponseWriter, r *http.Request) {
	var req CustomerRequest
	if !a.decode(w, r, "customer", &req) {
		return
	}
	if !a.authenticated(r) {
		// The sign-up form, which any program on the till can reach: a new
		// holder only, and its answer says no more than the card's mask.
		stored, err := a.Till.SignUpCustomer(req.HolderChange, req.CardType)
		if err != nil {
			a.fail(w, r, "customer", err, about{card: req.Card})
			return
		}
		view := CustomerView{Card: pos.MaskCard(stored.Card), Created: true}
		a.Till.Publish("customer", view)
		wire.WriteJSON(w, http.StatusCreated, view)
		return
	}
	stored, created, err := a.Till.ChangeCustomer(req.HolderChange, req.CardType)
	if err != nil {
		a.fail(w, r, "customer", err, about{})
		return
	}
	a.Till.Publish("customer", CustomerView{Card: pos.MaskCard(stored.Card), Created: created})
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	wire.WriteJSON(w, status, stored)
}

// PresentRequest is the body of POST /v1/devices/{name}/scan.
type PresentRequest struct {
	Data string `json:"data"`
}

func (a *api) present(w http.ResponseWriter, r *http.Request) {
	var req PresentRequest
	if !a.decode(w, r, "present", &req) {
		return
	}
	if err := a.Till.Present(r.PathValue("name"), req.Data); err != nil {
		a.fail(w, r, "present", err, about{})
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// events is the screens' event stream (SSE): every event with its id, so
// that a page that reconnects with Last-Event-ID gets what it missed while
// the till keeps it; a comment every Heartbeat keeps the connection open.
// Any number of pages may follow it at once.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		wire.WriteError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	// Without the token, the stream is the till page's: what the page shows.
	full := a.authenticated(r)
	missed, ch, cancel := a.Till.Follow(r.Header.Get("Last-Event-ID"))
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, ": tilld events\nretry: 1000\n\n")
	send := func(ev till.Event) {
		data := ev.Data
		if sc, ok := data.(till.ScanEvent); ok && !full {
			data = pageView(sc)
		}
		b, err := json.Marshal(data)
		if err != nil {
			a.Logger.Error("encode event", "event", ev.Name, "err", err)
			return
		}
		fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", a.Till.EventID(ev), ev.Name, b)
	}
	for _, ev := range missed {
		send(ev)
	}
	fl.Flush()
	beat := time.NewTicker(a.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			io.WriteString(w, ": keep-alive\n\n")
		case ev, ok := <-ch:
			if !ok {
				return
			}
			send(ev)
		}
		fl.Flush()
	}
}

// pageView is a scan event as the till page gets it: the card masked, no
// holder's personal data.
func pageView(ev till.ScanEvent) till.ScanEvent {
	ev.Card = pos.MaskCard(ev.Card)
	if ev.Customer != nil {
		c := *ev.Customer
		c.Card, c.Holder = ev.Card, nil
		ev.Customer = &c
	}
	return ev
}
