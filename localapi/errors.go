package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// Problem is an error answer of the local API. Code is stable (the table
// in docs/localapi.md; Codes lists them); Message is English, for logs and
// integrators; the other fields say what was wrong and where, so that the
// cashier's page says it in the cashier's language. A Problem carries no
// personal data: a card is masked.
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"error"`
	// Op is what the request did: quote, sale, refund, customer,
	// feedback, account, rewards, present, ledger verify, status.
	Op string `json:"op,omitempty"`
	// Field is the request's field at fault, as the request spells it:
	// "lines[2].qty", "card", "redeem_points".
	Field string `json:"field,omitempty"`
	// Reason says how the field is wrong: missing, range, too_long, text
	// (not UTF-8 or control characters), json (not the field's type or
	// not JSON), unknown_field, twice, empty (no lines), line_amount (qty ×
	// unit_price too large), format, check_digit (a card), product (a
	// product's code where a card was wanted), chars, future, contact
	// (pos.InputError.Reason).
	Reason string `json:"reason,omitempty"`
	// Line is the line at fault, from 1: of the basket, or of the sale a
	// refund returns.
	Line int    `json:"line,omitempty"`
	SKU  string `json:"sku,omitempty"`
	// Got, Min and Max are the value sent and the bounds of a number.
	Got *int64 `json:"got,omitempty"`
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
	// Amount and Limit are money (an amount sent or worked out, and its
	// bound), in minor units with the currency and as people read it.
	Amount *Money `json:"amount,omitempty"`
	Limit  *Money `json:"limit,omitempty"`
	// Used and Excess are, for offline_limit, what returns on a receipt's
	// word gave back today and how much the return is over its limit.
	Used   *Money `json:"used,omitempty"`
	Excess *Money `json:"excess,omitempty"`
	// Sold, Returned and Asked are a line's units in over_return.
	Sold     *int64 `json:"sold,omitempty"`
	Returned *int64 `json:"returned,omitempty"`
	Asked    *int64 `json:"asked,omitempty"`
	// Card is the card at fault, masked.
	Card string `json:"card,omitempty"`
	// Sale is the sale a refund or feedback named: its id, seq or
	// receipt code as sent.
	Sale string `json:"sale,omitempty"`
	// Terminal is the till that made the sale (other_terminal,
	// sale_unreachable).
	Terminal string `json:"terminal,omitempty"`
	// Effective is when the waiting rules start (rules_not_yet).
	Effective string `json:"effective,omitempty"`
}

// Money is an amount in an error: minor units, the currency, and
// money.Display's text.
type Money struct {
	Minor    money.Amount `json:"minor"`
	Currency string       `json:"currency,omitempty"`
	Display  string       `json:"display"`
}

func (a *api) money(v money.Amount) *Money {
	cur := a.Till.Currency()
	return &Money{Minor: v, Currency: cur, Display: money.Display(v, cur)}
}

func i64(v int64) *int64 { return &v }

// Codes is every error code the local API answers, with its HTTP status.
// The cashier's page has a text for each, in ru and en (TestErrorCatalog).
var Codes = map[string]int{
	"bad_request":       http.StatusBadRequest,
	"too_large":         http.StatusRequestEntityTooLarge,
	"body_timeout":      http.StatusRequestTimeout,
	"bad_line":          http.StatusBadRequest,
	"bad_card":          http.StatusBadRequest,
	"unknown_card":      http.StatusBadRequest,
	"bad_redeem_points": http.StatusBadRequest,
	"no_rules":          http.StatusServiceUnavailable,
	"rules_not_yet":     http.StatusServiceUnavailable,
	"rules_refused":     http.StatusServiceUnavailable,
	"sale_id_reused":    http.StatusConflict,
	"refund_id_reused":  http.StatusConflict,
	"over_return":       http.StatusConflict,
	"no_such_sale":      http.StatusNotFound,
	"other_terminal":    http.StatusUnprocessableEntity,
	"sale_unreachable":  http.StatusServiceUnavailable,
	"sale_not_kept":     http.StatusServiceUnavailable,
	// Returns of another till's sale (docs/rules.md "Returns offline").
	"no_sale_at_hq":       http.StatusNotFound,
	"offline_returns_off": http.StatusServiceUnavailable,
	"offline_limit":       http.StatusUnprocessableEntity,
	"feedback_given":      http.StatusConflict,
	"holder_exists":       http.StatusConflict,
	"disk_full":           http.StatusServiceUnavailable,
	"storage":             http.StatusServiceUnavailable,
	"no_such_reader":      http.StatusNotFound,
	"no_such_scan":        http.StatusNotFound,
	"internal":            http.StatusInternalServerError,
	// The guard's (guard.go): before any route.
	"cross_site":       http.StatusForbidden,
	"bad_host":         http.StatusForbidden,
	"unauthorized":     http.StatusUnauthorized,
	"bad_content_type": http.StatusUnsupportedMediaType,
}

// writeProblem answers p with its code's status.
func writeProblem(w http.ResponseWriter, p Problem) {
	status, ok := Codes[p.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	wire.WriteJSON(w, status, p)
}

// answer writes a problem and, for a request of the POS app (the token) or
// an NPS answer the customer's display sent, shows it on the cashier's page
// through the event stream (event "problem"): the page does not see those
// answers otherwise. The sign-up form shows its own.
func (a *api) answer(w http.ResponseWriter, r *http.Request, p Problem) {
	p.Message, p.Field, p.SKU = clipString(p.Message, maxProblemText), clipString(p.Field, maxProblemField), clipString(p.SKU, maxProblemField)
	writeProblem(w, p)
	if r != nil && (a.authenticated(r) || p.Op == "feedback") {
		a.Till.Publish("problem", p)
	}
}

// A problem quotes parts of the request (a field's path, an unknown
// name); these bound what it quotes, so that no request makes a large
// answer, nor a large event that the till keeps (till.Events) and sends to
// every page.
const (
	maxProblemText  = 1024
	maxProblemField = 256
)

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return clip([]byte(s), n)
}

// unsaved is how fail tells the cashier that what they recorded was not.
var unsaved = map[string]string{"sale": "The sale was", "refund": "The refund was", "customer": "The customer's details were", "feedback": "The customer's answer was"}

// about is what a failed request was about, for its Problem: the basket
// it priced, the sale it named.
type about struct {
	basket *pos.Basket
	sale   string // as the request named it: a sale id, "#17" (a seq), a receipt code
	card   string // a card number as sent (masked in the Problem)
}

// saleNamed is how a refund request names its sale.
func saleNamed(req till.RefundRequest) string {
	switch {
	case req.Receipt != "":
		return req.Receipt
	case req.Seq != 0:
		return "#" + strconv.FormatUint(req.Seq, 10)
	}
	return req.Sale
}

// fail answers err for the person at the till: the code, the English
// message, and where and how much, from the error and from what the
// request was about.
func (a *api) fail(w http.ResponseWriter, r *http.Request, op string, err error, req about) {
	p := a.problemOf(op, err, req.basket)
	if req.sale != "" && len(req.sale) <= 128 && (p.Code == "no_such_sale" || p.Code == "over_return" || p.Code == "other_terminal" || p.Code == "sale_unreachable" || p.Code == "sale_not_kept" || p.Code == "feedback_given" ||
		p.Code == "no_sale_at_hq" || p.Code == "offline_returns_off") {
		p.Sale = req.sale
	}
	if req.card == "" && req.basket != nil {
		req.card = req.basket.Card
	}
	if req.card != "" && p.Card == "" && (p.Code == "bad_card" || p.Code == "unknown_card") {
		p.Card = pos.MaskCard(req.card)
	}
	if Codes[p.Code] >= 500 {
		lvl := a.Logger.Error
		if p.Code == "sale_unreachable" || p.Code == "sale_not_kept" || p.Code == "offline_returns_off" || p.Code == "rules_refused" {
			lvl = a.Logger.Warn
		}
		if p.Code != "no_rules" && p.Code != "rules_not_yet" {
			lvl(op, "err", err)
		}
	}
	switch p.Code {
	case "disk_full":
		w.Header().Set("Retry-After", "30")
	case "storage":
		w.Header().Set("Retry-After", "5")
	}
	a.answer(w, r, p)
}

func (a *api) problemOf(op string, err error, b *pos.Basket) Problem {
	p := Problem{Op: op}
	var (
		in    *pos.InputError
		card  *device.CardError
		over  *ledger.OverReturnError
		limit *ledger.OfflineLimitError
	)
	set := func(code, msg string) Problem { p.Code, p.Message = code, msg; return p }
	switch {
	case errors.As(err, &card):
		p.Field, p.Card = "card", pos.MaskCard(card.Number)
		if errors.As(err, &in) {
			p.Field = in.Field // "claim.card"
		}
		switch {
		case errors.Is(err, device.ErrNotCard):
			p.Reason = "product"
			return set("unknown_card", "card: "+card.Error())
		case errors.Is(err, device.ErrForeignCard):
			p.Reason = "range"
			return set("unknown_card", "card: "+card.Error())
		}
		p.Reason = "format"
		if errors.Is(err, device.ErrCheckDigit) {
			p.Reason = "check_digit"
		}
		return set("bad_card", "card: "+card.Error())
	case errors.As(err, &in):
		return a.inputProblem(p, in, b)
	case errors.Is(err, till.ErrHolderExists):
		return set("holder_exists", "This card already has a holder; corrections are made in the POS app.")
	case errors.Is(err, till.ErrConflict) && op == "feedback":
		return set("feedback_given", "The customer has already answered about this sale; one answer per sale is kept.")
	case errors.Is(err, till.ErrNoSale) && op == "feedback":
		return set("no_such_sale", "This till keeps no such sale: the answer must name a sale made at this till by its sale id.")
	case errors.Is(err, till.ErrConflict) && op == "refund":
		return set("refund_id_reused", "This refund id was already used for a different return.")
	case errors.Is(err, till.ErrConflict):
		return set("sale_id_reused", "This sale id was already used for a different basket.")
	case errors.As(err, &over):
		if over.Line > 0 {
			p.Line, p.SKU, p.Sold, p.Returned, p.Asked = over.Line, over.SKU, i64(over.Sold), i64(over.Before), i64(over.Asked)
		}
		return set("over_return", "More would be returned than the sale sold, counting its earlier returns: "+cashierDetail(err, till.ErrOverReturn))
	case errors.Is(err, till.ErrOverReturn):
		return set("over_return", "More would be returned than the sale sold, counting its earlier returns: "+cashierDetail(err, till.ErrOverReturn))
	case errors.Is(err, till.ErrNoSale):
		return set("no_such_sale", "This till keeps no such sale: check the sale id, seq or receipt code. A sale older than this till keeps is taken back by its receipt code, through HQ (at another till when it was pruned before this version of tilld).")
	case errors.Is(err, till.ErrOtherTerminal):
		return set("other_terminal", "The receipt is of a sale made at another till: return it there.")
	case errors.Is(err, till.ErrSaleNotAtHQ):
		return set("no_sale_at_hq", "HQ holds no sale under this receipt code: check the code. A sale its till has not uploaded yet can be returned once it has.")
	case errors.Is(err, till.ErrSaleNotKept):
		return set("sale_not_kept", "The sale is older than this till keeps, and HQ, which has it, cannot be asked now: try again when HQ is back.")
	case errors.Is(err, till.ErrSaleUnreachable):
		return set("sale_unreachable", "The receipt is of a sale made at another till, and HQ cannot tell it now (offline, or the sale is not uploaded yet): return it at that till, try again later, or, where the rules allow returns without HQ, send what the receipt says of the lines returned (claim).")
	case errors.Is(err, till.ErrNoOfflineReturns):
		return set("offline_returns_off", "The receipt is of a sale made at another till, HQ cannot tell it now, and the rules take no return on the receipt's word: return it at that till, or try again when HQ is back.")
	case errors.As(err, &limit):
		m := func(v money.Amount) *Money {
			return &Money{Minor: v, Currency: limit.Currency, Display: money.Display(v, limit.Currency)}
		}
		p.Field, p.Reason, p.Amount, p.Limit = "claim", limit.Limit, m(limit.Asked), m(limit.Max)
		asked := p.Amount.Display
		if limit.Points > 0 {
			asked += " (" + money.Display(limit.Points, limit.Currency) + " of it in points given back, at what a point pays for)"
		}
		if limit.Limit == ledger.LimitOfflineReturn {
			p.Excess = m(limit.Asked - limit.Max)
			return set("offline_limit", fmt.Sprintf("Without HQ, one return may give back at most %s (offline_return); this one would give back %s, %s too much. Return fewer units, or wait until HQ is back.",
				p.Limit.Display, asked, p.Excess.Display))
		}
		p.Used, p.Excess = m(limit.Used), m(limit.Used+limit.Asked-limit.Max)
		return set("offline_limit", fmt.Sprintf("Without HQ, returns at this till may give back at most %s a day (offline_returns_per_day); %s went back today, and this return would give back %s: %s too much. Wait until HQ is back.",
			p.Limit.Display, p.Used.Display, asked, p.Excess.Display))
	case errors.Is(err, till.ErrRulesRefused):
		return set("rules_refused", "Prices are not available: the rules stored on this till failed their security check. The till is fetching them from HQ again; call support if this lasts.")
	case errors.Is(err, till.ErrNoRules):
		if st, serr := a.Till.Status(); serr == nil && st.NextRuleset != nil {
			p.Effective = st.NextRuleset.Effective
			return set("rules_not_yet", "Prices are not available yet: the till's rules start at "+p.Effective+".")
		}
		return set("no_rules", "Prices are not available yet: the till has no rules from HQ. Check the network and try again.")
	case errors.Is(err, till.ErrUnknownReader):
		return set("no_such_reader", "No software reader of that name.")
	case errors.Is(err, ledger.ErrDiskFull) && unsaved[op] != "":
		return set("disk_full", unsaved[op]+" NOT saved: the till's disk is full. Prices still work. Call support to free space, then try again.")
	case errors.Is(err, ledger.ErrStorage) && unsaved[op] != "":
		return set("storage", unsaved[op]+" NOT saved: the till could not write to its disk. Try again; call support if it repeats.")
	case unsaved[op] != "":
		// Whatever else failed, the ledger did not commit: say so plainly.
		return set("storage", unsaved[op]+" NOT saved: the till's storage has a problem. Try again; call support if it repeats.")
	}
	return set("internal", "Something went wrong on the till; nothing was saved. Try again; call support if it repeats.")
}

// inputProblem is a *pos.InputError said precisely: a basket's line with
// its sku and the value sent, redeem_points and the lines' count with their
// bounds; any other field by its name. What is wrong is read from the
// request's values (b, nil when the request has no basket), not from the
// error's words.
func (a *api) inputProblem(p Problem, in *pos.InputError, b *pos.Basket) Problem {
	p.Code, p.Message, p.Field, p.Reason = "bad_request", in.Error(), in.Field, in.Reason
	switch in.Reason {
	case "range":
		p.Got, p.Min, p.Max = i64(in.Got), i64(in.Min), i64(in.Max)
	case "too_long":
		p.Got, p.Max = i64(in.Got), i64(in.Max)
	}
	if in.Field == "card" {
		p.Code = "bad_card" // too long, or missing where a card is needed
	}
	if b == nil {
		return p
	}
	switch in.Field {
	case "redeem_points":
		p.Code, p.Reason, p.Got, p.Min, p.Max = "bad_redeem_points", "range", i64(b.RedeemPoints), i64(0), i64(pos.MaxRedeemPoints)
		return p
	case "lines":
		if len(b.Lines) == 0 {
			p.Reason = "empty"
		} else {
			p.Reason, p.Got, p.Max = "range", i64(int64(len(b.Lines))), i64(pos.MaxLines)
		}
		return p
	}
	n, name, ok := lineField(in.Field)
	if !ok || n < 1 || n > len(b.Lines) {
		return p
	}
	l := b.Lines[n-1]
	p.Code, p.Line, p.SKU = "bad_line", n, l.SKU
	text := func(v string) string {
		switch {
		case v == "":
			return "missing"
		case len(v) > pos.MaxTextLen:
			return "too_long"
		}
		return "text"
	}
	switch name {
	case "sku":
		p.Reason = text(l.SKU)
		if p.Reason != "missing" {
			p.SKU = "" // not text a page can show
		}
	case "category":
		p.Reason = text(l.Category)
		if p.Reason == "missing" {
			p.Reason = "text"
		}
	case "qty":
		if l.Qty < 1 || l.Qty > pos.MaxQty {
			p.Reason, p.Got, p.Min, p.Max = "range", i64(l.Qty), i64(1), i64(pos.MaxQty)
		} else {
			p.Reason, p.Got, p.Amount, p.Limit = "line_amount", i64(l.Qty), a.money(l.Amount()), a.money(pos.MaxLineAmount)
		}
	case "unit_price":
		p.Reason, p.Amount, p.Limit = "range", a.money(l.UnitPrice), a.money(pos.MaxUnitPrice)
	}
	return p
}

// lineField splits "lines[2].qty" (pos.Basket.Validate's field names) into
// 2 and "qty".
func lineField(field string) (int, string, bool) {
	rest, ok := strings.CutPrefix(field, "lines[")
	if !ok {
		return 0, "", false
	}
	num, name, ok := strings.Cut(rest, "].")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	return n, name, err == nil
}

// badBody answers a request body that does not decode: the field when the
// check or encoding/json names it.
func (a *api) badBody(w http.ResponseWriter, r *http.Request, op string, err error) {
	var (
		in  *pos.InputError
		ute *json.UnmarshalTypeError
	)
	p := Problem{Code: "bad_request", Op: op, Message: err.Error()}
	var (
		large   *http.MaxBytesError
		timeout interface{ Timeout() bool }
	)
	switch {
	case errors.As(err, &large):
		p.Code, p.Max = "too_large", i64(large.Limit)
		p.Message = fmt.Sprintf("request body: more than %d bytes; a request of this API is at most %d", large.Limit, large.Limit)
	case errors.As(err, &timeout) && timeout.Timeout():
		p.Code = "body_timeout"
		p.Message = fmt.Sprintf("request body: not all of it arrived within %s", bodyTimeout)
	case errors.As(err, &in):
		p.Field = in.Field
	case errors.As(err, &ute):
		p.Field, p.Reason = ute.Field, "json"
	default:
		p.Reason = "json"
	}
	a.answer(w, r, p)
}

// cashierDetail is what err says after sentinel's own text: the detail a
// cashier can act on (which line, how many), without the operation's
// wrapping.
func cashierDetail(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()+": "); i >= 0 {
		return msg[i+len(sentinel.Error())+2:]
	}
	return sentinel.Error()
}
