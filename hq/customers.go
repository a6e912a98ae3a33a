package hq

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Card accounts and card holders over HTTP: terminals send the holders they
// registered, look a card up on scan and follow the change feed of the cards
// they have seen; HQ staff import a customer base, look a card up and forget a
// holder.

func (s *Server) holders(w http.ResponseWriter, r *http.Request) {
	var req wire.HoldersRequest
	if err := s.readJSON(w, r, &req); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "holders body: "+err.Error())
		return
	}
	if cn := TerminalOf(r); cn != "" && cn != req.Terminal {
		wire.WriteError(w, http.StatusForbidden, "wrong_terminal", fmt.Sprintf("this certificate belongs to terminal %s, not %s", cn, req.Terminal))
		return
	}
	for i := range req.Holders {
		h := &req.Holders[i]
		if err := h.Validate(); err != nil {
			// A till validates before it stores: refuse loudly rather than keep junk.
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("holders[%d]: %v", i, err))
			return
		}
	}
	n, err := s.opts.Store.PutHolders(r.Context(), req.Terminal, req.Holders)
	if err != nil {
		s.log.Error("store holders", "terminal", req.Terminal, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot store card holders right now")
		return
	}
	if n > 0 {
		s.wake(r.Context(), TopicCards)
	}
	wire.WriteJSON(w, http.StatusOK, wire.HoldersResponse{Stored: n})
}

// account answers a terminal's look-up of a card on scan.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	a, err := s.opts.Store.Account(r.Context(), terminalOf(r), r.PathValue("card"))
	if err != nil {
		s.log.Error("account", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read accounts right now")
		return
	}
	s.expire(&a)
	s.withLastFeedback(r.Context(), &a)
	wire.WriteJSON(w, http.StatusOK, a)
}

// expire drops from an account the points lots expired by HQ's clock: a
// store keeps a lot until an event of the card comes after its expiry
// (hq.SaleFacts.ApplyLots), and the balance drops on the day all the same.
func (s *Server) expire(a *wire.AccountAnswer) { a.Account.Expire(s.opts.Now()) }

// changesOut readies the accounts of the change feed for a till, in either
// long poll: points expired as of today, and the card's last NPS answer.
func (s *Server) changesOut(ctx context.Context, ch *wire.ChangesAnswer) {
	as := make([]*wire.AccountAnswer, len(ch.Accounts))
	for i := range ch.Accounts {
		s.expire(&ch.Accounts[i])
		as[i] = &ch.Accounts[i]
	}
	s.withLastFeedback(ctx, as...)
}

// changes is the change feed's long poll: ?after=N&wait=S.
func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	wait, _ := strconv.Atoi(q.Get("wait"))
	feed, err := feedParam(q)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	terminal := terminalOf(r)
	s.longPoll(w, r, &s.cards, func() bool {
		ch, err := s.opts.Store.Changes(r.Context(), terminal, feed, after, 500)
		switch {
		case err != nil:
			s.log.Error("changes", "terminal", terminal, "err", err)
			wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read accounts right now")
			return true
		case len(ch.Accounts) > 0 || wait <= 0:
			s.changesOut(r.Context(), &ch)
			wire.WriteJSON(w, http.StatusOK, ch)
			return true
		}
		after, feed = ch.Next, ch.Feed // skip what this terminal has not seen
		return false
	}, func() {
		wire.WriteJSON(w, http.StatusOK, wire.ChangesAnswer{Next: after, Accounts: []wire.AccountAnswer{}, Feed: feed})
	})
}

func (s *Server) importCustomers(w http.ResponseWriter, r *http.Request) {
	holders, rep, err := ParseHolders(http.MaxBytesReader(w, r.Body, 256<<20), s.opts.Now())
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	for start := 0; start < len(holders); start += 1000 {
		n, err := s.opts.Store.PutHolders(r.Context(), "", holders[start:min(start+1000, len(holders))])
		if err != nil {
			s.log.Error("import customers", "err", err)
			wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable",
				fmt.Sprintf("HQ stored %d of the holders, then could not store more; importing the file again is safe", rep.Stored))
			return
		}
		rep.Stored += n
	}
	if rep.Stored > 0 {
		s.wake(r.Context(), TopicCards)
	}
	s.log.Info("customers imported", "rows", rep.Rows, "stored", rep.Stored, "rejected", len(rep.Rejected))
	noteAudit(r, "", fmt.Sprintf("%d rows, %d stored, %d rejected", rep.Rows, rep.Stored, len(rep.Rejected)))
	wire.WriteJSON(w, http.StatusOK, rep)
}

func (s *Server) showCustomer(w http.ResponseWriter, r *http.Request) {
	a, err := s.opts.Store.Account(r.Context(), "", r.PathValue("card"))
	if err != nil {
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", err.Error())
		return
	}
	a.Currency = s.currency(r.Context())
	s.expire(&a)
	s.withLastFeedback(r.Context(), &a)
	wire.WriteJSON(w, http.StatusOK, a)
}

// EventCard is the card a sale or refund event names, "" when it names none
// or is of another type.
func EventCard(e event.Event) string {
	if e.Type != event.TypeSale && e.Type != event.TypeRefund {
		return ""
	}
	var v struct {
		Card string `json:"card"`
	}
	if json.Unmarshal(e.Body, &v) != nil {
		return ""
	}
	return v.Card
}

// currency is the current ruleset's currency, "" when there is none (or it
// cannot be read, which publishing prevents).
func (s *Server) currency(ctx context.Context) string {
	rs, err := s.opts.Store.CurrentRuleset(ctx)
	if err != nil {
		return ""
	}
	parsed, err := rulesfile.Parse(rs.Raw)
	if err != nil {
		return ""
	}
	return parsed.Currency.Code
}

func (s *Server) forgetCustomer(w http.ResponseWriter, r *http.Request) {
	card := r.PathValue("card")
	noteAudit(r, pos.MaskCard(card), "forget")
	had, err := s.opts.Store.ForgetHolder(r.Context(), card, s.opts.Now())
	if err != nil {
		s.log.Error("forget customer", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ could not forget the customer; try again")
		return
	}
	s.wake(r.Context(), TopicCards)
	s.log.Info("customer forgotten", "card", pos.MaskCard(card), "had_holder", had)
	wire.WriteJSON(w, http.StatusOK, map[string]any{"card": card, "forgotten": had})
}

func (s *Server) reportOverdrafts(w http.ResponseWriter, r *http.Request) {
	od, err := s.opts.Store.Overdrafts(r.Context())
	if err != nil {
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.OverdraftReport{Cards: od})
}

// holderColumns are the columns of an import file, by header name.
var holderColumns = map[string]func(h *pos.CardHolder, v string) error{
	"card":       func(h *pos.CardHolder, v string) error { h.Card = v; return nil },
	"name":       func(h *pos.CardHolder, v string) error { h.Name = v; return nil },
	"patronymic": func(h *pos.CardHolder, v string) error { h.Patronymic = v; return nil },
	"surname":    func(h *pos.CardHolder, v string) error { h.Surname = v; return nil },
	"birthday":   func(h *pos.CardHolder, v string) error { h.Birthday = v; return nil },
	"phone":      func(h *pos.CardHolder, v string) error { h.Phone = v; return nil },
	"email":      func(h *pos.CardHolder, v string) error { h.Email = v; return nil },
	"lang":       func(h *pos.CardHolder, v string) error { h.Lang = v; return nil },
	"consent": func(h *pos.CardHolder, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "0", "no", "false", "нет":
			h.Consent = false
		case "1", "yes", "true", "да":
			h.Consent = true
		default:
			return &pos.InputError{Field: "consent", Problem: fmt.Sprintf("%q: want yes or no", v)}
		}
		return nil
	},
}

// ErrImportFile is a file that cannot be imported at all (as opposed to rows
// that are refused one by one).
var ErrImportFile = errors.New("customer file")

// ParseHolders reads a customer base in CSV: a header row naming the columns
// (card, name, patronymic, surname, birthday, phone, email, consent, lang; card
// and name are required, any order, "," or ";" between fields), then one holder
// per row. A row that is not a valid holder, or repeats a card of an earlier
// row, is refused with its line number and why; the others are returned with
// Registered and Updated set to now. A file without a usable header is
// ErrImportFile.
func ParseHolders(r io.Reader, now time.Time) ([]pos.CardHolder, wire.ImportReport, error) {
	rep := wire.ImportReport{Rejected: []wire.RejectedRow{}}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, rep, fmt.Errorf("%w: %v", ErrImportFile, err)
	}
	data = []byte(strings.TrimPrefix(string(data), "\uFEFF")) // a spreadsheet's byte order mark
	cr := csv.NewReader(strings.NewReader(string(data)))
	first, _, _ := strings.Cut(string(data), "\n")
	if strings.Count(first, ";") > strings.Count(first, ",") {
		cr.Comma = ';' // what spreadsheets in Russian locales write
	}
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, rep, fmt.Errorf("%w: header row: %v", ErrImportFile, err)
	}
	setters := make([]func(*pos.CardHolder, string) error, len(header))
	have := map[string]bool{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		set, ok := holderColumns[name]
		if !ok {
			return nil, rep, fmt.Errorf("%w: header column %d %q is not one of card, name, patronymic, surname, birthday, phone, email, consent, lang", ErrImportFile, i+1, name)
		}
		if have[name] {
			return nil, rep, fmt.Errorf("%w: header names column %q twice", ErrImportFile, name)
		}
		have[name] = true
		setters[i] = set
	}
	for _, need := range []string{"card", "name"} {
		if !have[need] {
			return nil, rep, fmt.Errorf("%w: the header has no %q column", ErrImportFile, need)
		}
	}
	var out []pos.CardHolder
	cards := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			rep.Rows++
			rep.Rejected = append(rep.Rejected, wire.RejectedRow{Line: pe.StartLine, Reason: pe.Err.Error()})
			continue
		case err != nil:
			return nil, rep, fmt.Errorf("%w: %v", ErrImportFile, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // an empty line
		}
		rep.Rows++
		reject := func(card, reason string) {
			rep.Rejected = append(rep.Rejected, wire.RejectedRow{Line: line, Card: card, Reason: reason})
		}
		if len(rec) != len(header) {
			reject("", fmt.Sprintf("%d fields, the header has %d", len(rec), len(header)))
			continue
		}
		var h pos.CardHolder
		var bad error
		for i, v := range rec {
			if err := setters[i](&h, v); err != nil && bad == nil {
				bad = err
			}
		}
		if bad == nil {
			bad = h.Validate()
		}
		if bad != nil {
			reject(strings.TrimSpace(h.Card), bad.Error())
			continue
		}
		if prev, dup := cards[h.Card]; dup {
			reject(h.Card, fmt.Sprintf("card already on line %d", prev))
			continue
		}
		cards[h.Card] = line
		h.Registered, h.Updated = now.UTC(), now.UTC()
		out = append(out, h)
	}
	return out, rep, nil
}

// Bounds of the customer page's answers.
const (
	searchLimit    = 50
	purchasesLimit = 100
	maxPurchases   = 1000
)

// findCustomers answers ?phone=: the holders whose phone ends with its
// digits. Every search is in the admin log with who searched, the last
// digits searched and how many were found.
func (s *Server) findCustomers(w http.ResponseWriter, r *http.Request) {
	phone := r.URL.Query().Get("phone")
	digits := PhoneDigits(phone)
	if strings.Trim(phone, "0123456789+-() .") != "" {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("phone %q: digits, spaces, +, -, ( and ) only", phone))
		return
	}
	if len(digits) < MinPhoneDigits || len(digits) > 15 {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("phone: %d digits; give the last %d to 15 digits of the number", len(digits), MinPhoneDigits))
		return
	}
	hs, err := s.opts.Store.HoldersByPhone(r.Context(), digits, searchLimit+1)
	note := auditNote{target: "phone " + pos.MaskPhone(digits)}
	if err != nil {
		s.log.Error("find customers", "err", err)
		note.detail = "failed"
		s.logAdmin(r, callerOf(r), "GET "+wire.PathAdminCustomers, note, "failed", http.StatusServiceUnavailable)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	ans := wire.CustomerSearch{Customers: []wire.FoundCustomer{}, Limit: searchLimit, More: len(hs) > searchLimit}
	for _, h := range hs[:min(len(hs), searchLimit)] {
		name := strings.Join(strings.Fields(h.Name+" "+h.Patronymic+" "+h.Surname), " ")
		ans.Customers = append(ans.Customers, wire.FoundCustomer{Card: h.Card, Name: name, Phone: pos.MaskPhone(h.Phone)})
	}
	note.detail = fmt.Sprintf("%d found", len(ans.Customers))
	s.logAdmin(r, callerOf(r), "GET "+wire.PathAdminCustomers, note, "ok", http.StatusOK)
	wire.WriteJSON(w, http.StatusOK, ans)
}

// customerPurchases answers the card's sales and returns across stores,
// newest first: ?limit=N (default 100, at most 1000).
func (s *Server) customerPurchases(w http.ResponseWriter, r *http.Request) {
	card := r.PathValue("card")
	limit := purchasesLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPurchases {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want 1 to %d", v, maxPurchases))
			return
		}
		limit = n
	}
	evs, err := s.opts.Store.CardEvents(r.Context(), card, limit+1)
	if err != nil {
		s.storeError(w, "card purchases", err)
		return
	}
	ans := wire.CardPurchases{Card: card, Purchases: []wire.CardPurchase{}, Limit: limit, More: len(evs) > limit}
	stores := map[string]string{}
	for _, e := range evs[:min(len(evs), limit)] {
		p, store, err := purchase(e)
		if err != nil {
			s.log.Error("card purchases: an event HQ holds does not read", "terminal", e.Terminal, "seq", e.Seq, "err", err)
			wire.WriteError(w, http.StatusInternalServerError, "bad_event", fmt.Sprintf("event %s of terminal %s does not read: %v", e.ID, e.Terminal, err))
			return
		}
		if store != "" && stores[e.Terminal] == "" {
			stores[e.Terminal] = store
		}
		ans.Purchases = append(ans.Purchases, p)
	}
	for i := range ans.Purchases {
		if p := &ans.Purchases[i]; p.Store == "" {
			p.Store = stores[p.Terminal]
		}
	}
	wire.WriteJSON(w, http.StatusOK, ans)
}

// purchase reads a sale or refund event as a line of the customer page,
// and the store its till named ("" for a refund, which names none).
func purchase(e CardEvent) (wire.CardPurchase, string, error) {
	p := wire.CardPurchase{At: e.At, Terminal: e.Terminal, Receipt: pos.ReceiptCode(e.ID, e.Hash)}
	switch e.Type {
	case event.TypeSale:
		var sale pos.Sale
		if err := json.Unmarshal(e.Body, &sale); err != nil {
			return p, "", err
		}
		p.Kind, p.Currency, p.Total, p.Discount = "sale", sale.Currency, sale.Total, sale.Discount
		p.Earned, p.Spent = sale.PointsEarned, sale.PointsRedeemed
		if sale.Inputs != nil {
			p.Store = sale.Inputs.Store
		}
		return p, p.Store, nil
	case event.TypeRefund:
		var ref pos.Refund
		if err := json.Unmarshal(e.Body, &ref); err != nil {
			return p, "", err
		}
		p.Kind, p.Currency, p.Total = "return", ref.Currency, -ref.Back
		p.Earned, p.Spent, p.Of = -ref.PointsReversed, -ref.PointsReturned, ref.SaleEvent
		return p, "", nil
	}
	return p, "", fmt.Errorf("a %s event is no sale or return", e.Type)
}
