// Package localapi is tilld's HTTP/JSON API for the POS app, the till page and
// tillctl, bound to loopback and versioned under /v1/. Amounts are integer minor
// units. Errors are {"code": ..., "error": ...} with a message a cashier can read;
// internal detail goes to the log only.
package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
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

func (a *api) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "request body: "+err.Error())
		return false
	}
	if err := decodeBody(body, v); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	return true
}

// decodeBody decodes one JSON value of a request body into v: checkBody's
// checks first, then no unknown fields and nothing after the value.
func decodeBody(body []byte, v any) error {
	if err := checkBody(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("request body: more than one JSON value")
	}
	return nil
}

func (a *api) quote(w http.ResponseWriter, r *http.Request) {
	var b pos.Basket
	if !a.decode(w, r, &b) {
		return
	}
	explain, err := boolParam(r, "explain")
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	q, err := a.Till.Quote(b, till.QuoteOptions{Explain: explain})
	a.metrics.quotes.WithLabelValues(outcome(err)).Inc()
	if err != nil {
		a.fail(w, "quote", err)
		return
	}
	a.Till.Publish("quote", basketView(q.Quote, b.Card))
	wire.WriteJSON(w, http.StatusOK, q)
}

func (a *api) sale(w http.ResponseWriter, r *http.Request) {
	var req till.SaleRequest
	if !a.decode(w, r, &req) {
		return
	}
	start := time.Now()
	res, replayed, err := a.Till.Sale(req)
	a.metrics.observeSale(start, replayed, err)
	if err != nil {
		a.fail(w, "sale", err)
		return
	}
	if !replayed {
		a.publishSale(res)
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	wire.WriteJSON(w, status, res)
}

// refund records a return: 201 with the refund, 200 for a replay.
func (a *api) refund(w http.ResponseWriter, r *http.Request) {
	var req till.RefundRequest
	if !a.decode(w, r, &req) {
		return
	}
	res, replayed, err := a.Till.Refund(req)
	a.metrics.observeRefund(replayed, err)
	if err != nil {
		a.fail(w, "refund", err)
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
	if !a.decode(w, r, &req) {
		return
	}
	res, replayed, err := a.Till.Feedback(req)
	if err != nil {
		a.fail(w, "feedback", err)
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
		a.fail(w, "status", err)
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
		a.fail(w, "account", err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, c)
}

// rewards answers what a card can get for its points now; POSTed a basket,
// also how much of it the card may pay with points.
func (a *api) rewards(w http.ResponseWriter, r *http.Request) {
	var b pos.Basket
	if r.Method == http.MethodPost && !a.decode(w, r, &b) {
		return
	}
	rw, err := a.Till.Rewards(r.PathValue("card"), r.URL.Query().Get("card_type"), b)
	if err != nil {
		a.fail(w, "rewards", err)
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
	if !a.decode(w, r, &req) {
		return
	}
	if !a.authenticated(r) {
		// The sign-up form: a new holder only.
		known, err := a.Till.Account(req.Card)
		if err == nil && known.Holder != nil {
			wire.WriteError(w, http.StatusConflict, "holder_exists", "This card already has a holder; corrections are made in the POS app.")
			return
		}
	}
	stored, created, err := a.Till.ChangeCustomer(req.HolderChange, req.CardType)
	if err != nil {
		a.fail(w, "customer", err)
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
	if !a.decode(w, r, &req) {
		return
	}
	if err := a.Till.Present(r.PathValue("name"), req.Data); err != nil {
		a.fail(w, "present", err)
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

// unsaved is how fail tells the cashier that what they recorded was not.
var unsaved = map[string]string{"sale": "The sale was", "refund": "The refund was", "customer": "The customer's details were", "feedback": "The customer's answer was"}

// fail maps an error to a status and a message for the person at the till.
func (a *api) fail(w http.ResponseWriter, op string, err error) {
	var in *pos.InputError
	switch {
	case errors.As(err, &in):
		wire.WriteError(w, http.StatusBadRequest, "bad_request", in.Error())
	case errors.Is(err, till.ErrConflict) && op == "feedback":
		wire.WriteError(w, http.StatusConflict, "feedback_given", "The customer has already answered about this sale; one answer per sale is kept.")
	case errors.Is(err, till.ErrNoSale) && op == "feedback":
		wire.WriteError(w, http.StatusNotFound, "no_such_sale", "This till keeps no such sale: the answer must name a sale made at this till by its sale id.")
	case errors.Is(err, till.ErrConflict) && op == "refund":
		wire.WriteError(w, http.StatusConflict, "refund_id_reused", "This refund id was already used for a different return.")
	case errors.Is(err, till.ErrConflict):
		wire.WriteError(w, http.StatusConflict, "sale_id_reused", "This sale id was already used for a different basket.")
	case errors.Is(err, till.ErrOverReturn):
		wire.WriteError(w, http.StatusConflict, "over_return", "More would be returned than the sale sold, counting its earlier returns: "+cashierDetail(err, till.ErrOverReturn))
	case errors.Is(err, till.ErrNoSale):
		wire.WriteError(w, http.StatusNotFound, "no_such_sale", "This till keeps no such sale: check the sale id, seq or receipt code (sales older than the ledger keeps are returned through HQ).")
	case errors.Is(err, till.ErrOtherTerminal):
		wire.WriteError(w, http.StatusUnprocessableEntity, "other_terminal", "The receipt is of a sale made at another till: return it there.")
	case errors.Is(err, till.ErrSaleNotAtHQ):
		wire.WriteError(w, http.StatusNotFound, "no_sale_at_hq", "HQ holds no sale under this receipt code: check the code. A sale its till has not uploaded yet can be returned once it has.")
	case errors.Is(err, till.ErrSaleUnreachable):
		a.Logger.Warn(op, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "sale_unreachable", "The receipt is of a sale made at another till, and HQ cannot tell it now (offline, or the sale is not uploaded yet): return it at that till, try again later, or, where the rules allow returns without HQ, send what the receipt says of the lines returned (claim).")
	case errors.Is(err, till.ErrNoOfflineReturns):
		a.Logger.Warn(op, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "offline_returns_off", "The receipt is of a sale made at another till, HQ cannot tell it now, and the rules take no return on the receipt's word: return it at that till, or try again when HQ is back.")
	case errors.Is(err, till.ErrOfflineLimit):
		var le *ledger.OfflineLimitError
		msg := "The return is beyond what the rules allow without HQ."
		if errors.As(err, &le) {
			msg = offlineLimitText(le)
		}
		wire.WriteError(w, http.StatusUnprocessableEntity, "offline_limit", msg)
	case errors.Is(err, till.ErrRulesRefused):
		a.Logger.Warn(op, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "rules_refused", "Prices are not available: the rules stored on this till failed their security check. The till is fetching them from HQ again; call support if this lasts.")
	case errors.Is(err, till.ErrNoRules):
		wire.WriteError(w, http.StatusServiceUnavailable, "no_rules", "Prices are not available yet: the till has no rules from HQ. Check the network and try again.")
	case errors.Is(err, till.ErrUnknownReader):
		wire.WriteError(w, http.StatusNotFound, "no_such_reader", "No software reader of that name.")
	case errors.Is(err, ledger.ErrDiskFull) && unsaved[op] != "":
		a.Logger.Error(op, "err", err)
		w.Header().Set("Retry-After", "30")
		wire.WriteError(w, http.StatusServiceUnavailable, "disk_full", unsaved[op]+" NOT saved: the till's disk is full. Prices still work. Call support to free space, then try again.")
	case errors.Is(err, ledger.ErrStorage) && unsaved[op] != "":
		a.Logger.Error(op, "err", err)
		w.Header().Set("Retry-After", "5")
		wire.WriteError(w, http.StatusServiceUnavailable, "storage", unsaved[op]+" NOT saved: the till could not write to its disk. Try again; call support if it repeats.")
	case unsaved[op] != "":
		// Whatever else failed, the ledger did not commit: say so plainly.
		a.Logger.Error(op, "err", err)
		w.Header().Set("Retry-After", "5")
		wire.WriteError(w, http.StatusServiceUnavailable, "storage", unsaved[op]+" NOT saved: the till's storage has a problem. Try again; call support if it repeats.")
	default:
		a.Logger.Error(op, "err", err)
		wire.WriteError(w, http.StatusInternalServerError, "internal", "Something went wrong on the till; nothing was saved. Try again; call support if it repeats.")
	}
}

// cashierDetail is what err says after sentinel's own text: the detail a
// cashier can act on (which line, how many), without the operation's
// wrapping.
// offlineLimitText says to the cashier which offline limit a return on a
// receipt's word passes, and by how much.
func offlineLimitText(e *ledger.OfflineLimitError) string {
	d := func(a money.Amount) string { return money.Display(a, e.Currency) }
	if e.Limit == ledger.LimitOfflineReturn {
		return fmt.Sprintf("Without HQ, one return may give back at most %s (offline_return); this one would give back %s, %s too much. Return fewer units, or wait until HQ is back.",
			d(e.Max), d(e.Asked), d(e.Asked-e.Max))
	}
	return fmt.Sprintf("Without HQ, returns at this till may give back at most %s a day (offline_returns_per_day); %s went back today, and this return would give back %s: %s too much. Wait until HQ is back.",
		d(e.Max), d(e.Used), d(e.Asked), d(e.Used+e.Asked-e.Max))
}

func cashierDetail(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()+": "); i >= 0 {
		return msg[i+len(sentinel.Error())+2:]
	}
	return sentinel.Error()
}
