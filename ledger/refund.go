package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Errors of RecordRefund.
var (
	// ErrNoSale is returned when the sale a refund names is not kept in this
	// ledger: never recorded here, pruned, or not a sale.
	ErrNoSale = errors.New("no such sale in this ledger")
	// ErrOverReturn is returned when a refund would return more units of a
	// line than were sold, counting the refunds before it.
	ErrOverReturn = errors.New("return exceeds what was sold")
)

// RefundRequest identifies one refund for idempotency and the sale it
// returns units of.
type RefundRequest struct {
	// ID is the client's refund id, the idempotency key, as SaleRequest's.
	// Refund ids and sale ids never collide: they are kept apart.
	ID     string
	Digest [32]byte
	// The original sale: by the client's sale id, or by its seq here.
	SaleID  string
	SaleSeq uint64
	// SaleHash, when not empty, must begin the sale event's hash: a receipt
	// code carries a few hex digits of it, so a mistyped code names no sale.
	SaleHash string
	// Lines are the units to return, each line (from 1) once; Before is set
	// by the ledger. None: every unit not returned yet.
	Lines []pos.ReturnLine
	// Foreign, when set, is the sale, made at another terminal, that the
	// refund returns units of (SaleID and SaleSeq are then empty): HQ sent
	// it, and the caller checked it is the sale the customer's receipt
	// names. ForeignReturned are the units of each of its lines refunds at
	// other terminals returned, as HQ counts them; this ledger counts its
	// own returns of the sale, and bounds the refund by both.
	Foreign         *event.Event
	ForeignReturned []int64
	// Offline, when set, says Foreign is not HQ's copy of the sale but the
	// sale as the customer's receipt describes it (pos.ReceiptClaim.Sale):
	// HQ could not be asked. The refund's money back is then bounded by
	// its limits, counting every such refund recorded here since its Since.
	Offline *OfflineLimits
}

// OfflineLimits bound the refunds a ledger takes on a receipt's word
// (RefundRequest.Offline): what one may give back, and all of them recorded
// since Since (the start of the terminal's day). What a refund gives back is
// its money (Back of the body) and the points it gives back to the card
// (points_returned) at PointValue each: points the receipt says paid for
// the goods pay again at this till, offline, before HQ has checked them.
type OfflineLimits struct {
	PerReturn, PerDay money.Amount
	Since             time.Time
	// PointValue is what one point given back counts as: the most one point
	// pays for in the ruleset's redeem rules; 0 when points pay for nothing.
	PointValue money.Amount
}

// worth is what a refund that gives back back and points points gives
// back, at lim's PointValue; it saturates rather than overflow.
func (lim *OfflineLimits) worth(back money.Amount, points int64) money.Amount {
	if points <= 0 || lim.PointValue <= 0 {
		return back
	}
	if points > int64(math.MaxInt64-max(back, 0))/int64(lim.PointValue) {
		return math.MaxInt64
	}
	return back + money.Amount(points)*lim.PointValue
}

// OfflineLimitError is a refund on a receipt's word beyond its limits: Limit
// names the ruleset key (offline_return or offline_returns_per_day), Max its
// value, Used what refunds on a receipt's word gave back since the day
// began (for the day's limit), Asked what this one would give back.
type OfflineLimitError struct {
	Limit            string
	Currency         string
	Max, Used, Asked money.Amount
	// Points is what of Asked is the points the return gives back, at their
	// value (OfflineLimits.PointValue).
	Points money.Amount
}

// ErrOfflineLimit is what every *OfflineLimitError wraps.
var ErrOfflineLimit = errors.New("beyond the limits of returns taken without HQ")

func (e *OfflineLimitError) Error() string {
	d := func(a money.Amount) string { return money.Display(a, e.Currency) }
	asked := d(e.Asked)
	if e.Points > 0 {
		asked += " (" + d(e.Points) + " of it in points given back, at their value)"
	}
	if e.Limit == LimitOfflineReturn {
		return fmt.Sprintf("%v: %s: the return gives back %s, %s over the %s one return may give back without HQ",
			ErrOfflineLimit, e.Limit, asked, d(e.Asked-e.Max), d(e.Max))
	}
	return fmt.Sprintf("%v: %s: the return gives back %s and returns without HQ gave back %s today: %s over the %s a day allows",
		ErrOfflineLimit, e.Limit, asked, d(e.Used), d(e.Used+e.Asked-e.Max), d(e.Max))
}

func (e *OfflineLimitError) Unwrap() error { return ErrOfflineLimit }

// The ruleset keys an OfflineLimitError names.
const (
	LimitOfflineReturn        = "offline_return"
	LimitOfflineReturnsPerDay = "offline_returns_per_day"
)

// foreignReturnsPrefix begins the returns bucket's keys of the sales of
// other terminals: the prefix, the terminal, NUL and the seq (8 bytes,
// big-endian). A key of this ledger's own sale is its seq alone, 8 bytes:
// none is this long.
const foreignReturnsPrefix = "\x00foreign\x00"

func foreignReturnsKey(terminal string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(foreignReturnsPrefix+terminal), 0), seq)
}

// RefundFunc works out what a refund gives back and takes back, given the
// original sale's event, the lines returned (Before set: the units of the
// line earlier refunds returned), before (the units of every line of the
// sale earlier refunds returned), the card's account as PriceFunc gets it,
// and the time the refund event will carry. The Body it returns is a
// pos.Refund: its "sale_seq", "card" and "lines" ("line" and "qty") must
// say what was asked. It runs under the same rules as PriceFunc.
type RefundFunc func(sale event.Event, returned []pos.ReturnLine, before []int64, acct pos.Account, at time.Time) (Priced, error)

// RecordRefund records a refund of units of a sale recorded in this ledger,
// durably, as RecordSale records a sale: the same id and digest again is the
// stored receipt with Replayed set, another digest ErrConflict.
//
// The refund is checked inside the transaction that records it, against the
// sale's lines and every refund of the sale recorded before it, so refunds
// that race never return more than was sold: one that would is
// ErrOverReturn, and nothing of it is stored. A sale that is not kept here
// is ErrNoSale. The refund's event (type refund) is chained like a sale's,
// joins the outbox, and changes the sale's card's account by the spend and
// points price returns; it does not count as a sale.
func (l *Ledger) RecordRefund(req RefundRequest, price RefundFunc) (Receipt, error) {
	if err := req.validate(); err != nil {
		return Receipt{}, fmt.Errorf("record refund: %w", err)
	}
	return l.commitOne(event.TypeRefund, req.ID, "", func(tx *bolt.Tx, m *meta, rec *journalRecord) (Receipt, error) {
		return l.applyRefund(tx, m, req, price, rec)
	})
}

func (req RefundRequest) validate() error {
	if err := checkClientID(req.ID); err != nil {
		return err
	}
	switch {
	case req.Foreign != nil && (req.SaleID != "" || req.SaleSeq != 0 || req.Foreign.Type != event.TypeSale || req.Foreign.Seq == 0 || req.Foreign.Terminal == ""):
		return &pos.InputError{Field: "sale", Problem: "a sale of another terminal is named by its event alone"}
	case req.Foreign != nil:
	case req.Offline != nil:
		return &pos.InputError{Field: "sale", Problem: "a return on a receipt's word names a sale of another terminal"}
	case (req.SaleID == "") == (req.SaleSeq == 0):
		return &pos.InputError{Field: "sale", Problem: "name the sale by its id or by its seq, one of them"}
	case len(req.SaleID) > MaxSaleIDLen || strings.HasPrefix(req.SaleID, "\x00"):
		return &pos.InputError{Field: "sale", Problem: "not a sale id"}
	case len(req.Lines) > pos.MaxLines:
		return &pos.InputError{Field: "lines", Problem: fmt.Sprintf("%d lines, at most %d allowed", len(req.Lines), pos.MaxLines)}
	}
	seen := map[int]bool{}
	for i, r := range req.Lines {
		at := func(f string) string { return fmt.Sprintf("lines[%d].%s", i+1, f) }
		switch {
		case r.Line < 1:
			return &pos.InputError{Field: at("line"), Problem: fmt.Sprintf("lines are numbered from 1, got %d", r.Line)}
		case seen[r.Line]:
			return &pos.InputError{Field: at("line"), Problem: fmt.Sprintf("line %d is named twice; return it once with the whole quantity", r.Line)}
		case r.Qty < 1 || r.Qty > pos.MaxQty:
			return &pos.InputError{Field: at("qty"), Problem: fmt.Sprintf("must be between 1 and %d, got %d", pos.MaxQty, r.Qty)}
		}
		seen[r.Line] = true
	}
	return nil
}

// saleLines is what the ledger reads of a sale body to bound its refunds.
type saleLines struct {
	Card  string `json:"card"`
	Lines []struct {
		SKU string `json:"sku"`
		Qty int64  `json:"qty"`
	} `json:"lines"`
}

// OverReturnError is ErrOverReturn with what a screen tells the cashier:
// the line of the sale (from 1; 0 when the whole sale is returned already),
// its sku, how many it sold, how many were returned before and how many
// the refund asked for.
type OverReturnError struct {
	Sale                string
	Line                int
	SKU                 string
	Sold, Before, Asked int64
}

func (e *OverReturnError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%v: sale %s is returned whole already", ErrOverReturn, e.Sale)
	}
	return fmt.Sprintf("%v: line %d: %d sold, %d returned before, %d asked", ErrOverReturn, e.Line, e.Sold, e.Before, e.Asked)
}

func (e *OverReturnError) Unwrap() error { return ErrOverReturn }

// refundFacts is what the ledger reads of a refund body.
type refundFacts struct {
	Card    string `json:"card"`
	SaleSeq uint64 `json:"sale_seq"`
	// SaleTerminal is set when the sale is another terminal's.
	SaleTerminal string  `json:"sale_terminal"`
	Before       []int64 `json:"before"`
	Lines        []struct {
		Line int   `json:"line"`
		Qty  int64 `json:"qty"`
	} `json:"lines"`
}

// returnLines are the units the refund returned.
func (f refundFacts) returnLines() []pos.ReturnLine {
	out := make([]pos.ReturnLine, len(f.Lines))
	for i, l := range f.Lines {
		out[i] = pos.ReturnLine{Line: l.Line, Qty: l.Qty}
	}
	return out
}

func decodeRefundFacts(body []byte) (refundFacts, error) {
	var f refundFacts
	if err := json.Unmarshal(body, &f); err != nil {
		return refundFacts{}, fmt.Errorf("refund body: %w", err)
	}
	if f.SaleSeq == 0 {
		return refundFacts{}, errors.New("refund body: no sale_seq")
	}
	return f, nil
}

// findSale returns the sale event a refund names and its seq.
func findSale(tx *bolt.Tx, m *meta, req RefundRequest) (event.Event, error) {
	seq := req.SaleSeq
	if req.SaleID != "" {
		v := tx.Bucket(bucketSales).Get(indexKey(event.TypeSale, req.SaleID))
		if v == nil {
			return event.Event{}, fmt.Errorf("%w: sale id %q", ErrNoSale, req.SaleID)
		}
		ref, err := decodeSaleRef(v)
		if err != nil {
			return event.Event{}, err
		}
		seq = ref.seq
	}
	if seq <= m.anchorSeq || seq > m.lastSeq {
		return event.Event{}, fmt.Errorf("%w: seq %d (this ledger keeps %d to %d)", ErrNoSale, seq, m.anchorSeq+1, m.lastSeq)
	}
	e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(seq)))
	if err != nil {
		return event.Event{}, fmt.Errorf("read event %d: %w", seq, err)
	}
	switch {
	case e.Type != event.TypeSale:
		return event.Event{}, fmt.Errorf("%w: event %d is a %s", ErrNoSale, seq, e.Type)
	case req.SaleHash != "" && !strings.HasPrefix(e.Hash, strings.ToLower(req.SaleHash)):
		return event.Event{}, fmt.Errorf("%w: the receipt code does not match sale %d", ErrNoSale, seq)
	}
	return e, nil
}

// applyRefund records one refund inside tx, as apply does a sale: it reads,
// checks, prices and encodes everything before its first write.
func (l *Ledger) applyRefund(tx *bolt.Tx, m *meta, req RefundRequest, price RefundFunc, rec *journalRecord) (Receipt, error) {
	idx := indexKey(event.TypeRefund, req.ID)
	if r, ok, err := replayed(tx, idx, req.Digest); ok || err != nil {
		return r, err
	}
	var sale event.Event
	var rkey []byte
	var foreign string // the sale's terminal when it is another's
	if req.Foreign != nil {
		sale, foreign = *req.Foreign, req.Foreign.Terminal
		rkey = foreignReturnsKey(sale.Terminal, sale.Seq)
		if req.Offline != nil && len(req.ForeignReturned) > 0 {
			return Receipt{}, &pos.InputError{Field: "sale", Problem: "a return on a receipt's word knows nothing of other tills' returns"}
		}
		if foreign == m.terminal {
			// This terminal's own sale, pruned here (HQ's copy of it): its
			// returns here are counted where every own sale's are.
			switch {
			case req.Offline != nil:
				return Receipt{}, &pos.InputError{Field: "sale", Problem: "a return on a receipt's word names a sale of another terminal"}
			case sale.Seq > m.anchorSeq:
				return Receipt{}, &pos.InputError{Field: "sale", Problem: fmt.Sprintf("sale %d is no pruned sale of this ledger (it keeps %d to %d): name a kept sale by its seq", sale.Seq, m.anchorSeq+1, m.lastSeq)}
			case sale.Seq <= m.returnsKept:
				return Receipt{}, fmt.Errorf("%w: seq %d was pruned before this ledger kept the returns of pruned sales: return it at another till", ErrNoSale, sale.Seq)
			}
			foreign, rkey = "", u64(sale.Seq)
		}
	} else {
		var err error
		if sale, err = findSale(tx, m, req); err != nil {
			return Receipt{}, err
		}
		rkey = u64(sale.Seq)
	}
	var sl saleLines
	if err := json.Unmarshal(sale.Body, &sl); err != nil || len(sl.Lines) == 0 {
		if foreign != "" {
			return Receipt{}, &pos.InputError{Field: "sale", Problem: fmt.Sprintf("the sale %s/%d has no lines", foreign, sale.Seq)}
		}
		return Receipt{}, fmt.Errorf("%w: event %d: a sale body without lines (%v)", ErrCorrupt, sale.Seq, err)
	}
	local := make([]int64, len(sl.Lines)) // what this ledger's refunds returned
	if b := tx.Bucket(bucketReturns); b != nil {
		if v := b.Get(rkey); v != nil {
			decode := decodeReturns
			if foreign != "" {
				decode = decodeForeignReturns
			}
			r, err := decode(v, len(sl.Lines))
			if foreign != "" && err != nil && errors.Is(err, errLinesBeyond) {
				// Returns here on a receipt's word named lines the sale
				// does not have: HQ reconciles those; none can follow.
				return Receipt{}, fmt.Errorf("%w: %v", ErrOverReturn, err)
			}
			if err != nil {
				return Receipt{}, fmt.Errorf("%w: returns of sale %d: %v", ErrCorrupt, sale.Seq, err)
			}
			local = r.Lines
		}
	}
	if len(req.ForeignReturned) > len(sl.Lines) {
		return Receipt{}, &pos.InputError{Field: "sale", Problem: fmt.Sprintf("returns counted for %d lines of a sale of %d", len(req.ForeignReturned), len(sl.Lines))}
	}
	before := slices.Clone(local)
	for i, n := range req.ForeignReturned {
		before[i] += max(n, 0)
	}
	returned := make([]pos.ReturnLine, 0, len(req.Lines))
	if len(req.Lines) == 0 {
		for i, l := range sl.Lines {
			if left := l.Qty - before[i]; left > 0 {
				returned = append(returned, pos.ReturnLine{Line: i + 1, Qty: left, Before: before[i]})
			}
		}
		if len(returned) == 0 {
			return Receipt{}, &OverReturnError{Sale: sale.ID}
		}
	}
	for _, r := range req.Lines {
		if r.Line > len(sl.Lines) {
			return Receipt{}, &pos.InputError{Field: "lines", Problem: fmt.Sprintf("the sale has lines 1 to %d, got %d", len(sl.Lines), r.Line)}
		}
		sold, back := sl.Lines[r.Line-1].Qty, before[r.Line-1]
		if r.Qty > sold-back {
			return Receipt{}, &OverReturnError{Sale: sale.ID, Line: r.Line, SKU: sl.Lines[r.Line-1].SKU, Sold: sold, Before: back, Asked: r.Qty}
		}
		returned = append(returned, pos.ReturnLine{Line: r.Line, Qty: r.Qty, Before: back})
	}

	accounts := tx.Bucket(bucketAccounts)
	card := sl.Card
	acct := pos.Account{Card: card}
	if card != "" {
		if v := accounts.Get([]byte(card)); v != nil {
			var err error
			if acct, err = decodeAccount(v); err != nil {
				return Receipt{}, fmt.Errorf("card %s: %w", pos.MaskCard(card), err)
			}
		}
	}
	at := l.now().UTC()
	p, err := price(sale, returned, append([]int64(nil), before...), acct, at)
	if err != nil {
		return Receipt{}, fmt.Errorf("price: %w", err)
	}
	body, err := canonicalBody(p.Body)
	if err != nil {
		return Receipt{}, fmt.Errorf("price: %w", err)
	}
	facts, err := decodeRefundFacts(body)
	if err != nil {
		return Receipt{}, fmt.Errorf("price: %w", err)
	}
	if err := facts.says(sale.Seq, card, returned, before); err != nil {
		return Receipt{}, fmt.Errorf("price: %w", err)
	}
	if req.Offline != nil {
		if err := checkOffline(tx, m, req.Offline, body); err != nil {
			return Receipt{}, err
		}
	}
	if facts.SaleTerminal != foreign {
		return Receipt{}, fmt.Errorf("price: the refund body names the sale's terminal %q, not %q", facts.SaleTerminal, foreign)
	}
	after := slices.Clone(local)
	for _, r := range returned {
		after[r.Line-1] += r.Qty
	}

	var acctp *pos.Account
	if card != "" {
		acctp = &acct
	}
	f := effect{card: card, saleID: string(idx), spend: p.Spend, points: p.PointsDelta}
	return l.appendEvent(tx, m, rec, event.TypeRefund, at, p, body, f, req.Digest, acctp,
		put{bucketReturns, rkey, encodeReturns(returnsRecord{Lines: after})})
}

// says checks that a refund body names the sale, the card and the units
// the ledger checked, and, when it says, the units returned before.
func (f refundFacts) says(saleSeq uint64, card string, returned []pos.ReturnLine, before []int64) error {
	switch {
	case f.Before != nil && !slices.Equal(f.Before, before):
		return fmt.Errorf("the refund body counts %v returned before, the ledger %v", f.Before, before)
	case f.SaleSeq != saleSeq:
		return fmt.Errorf("the refund body names sale %d, not %d", f.SaleSeq, saleSeq)
	case f.Card != card:
		return fmt.Errorf("the refund body names card %s, not the sale's %s", pos.MaskCard(f.Card), pos.MaskCard(card))
	case len(f.Lines) != len(returned):
		return fmt.Errorf("the refund body returns %d lines, not %d", len(f.Lines), len(returned))
	}
	for i, r := range returned {
		if f.Lines[i].Line != r.Line || f.Lines[i].Qty != r.Qty {
			return fmt.Errorf("the refund body's line %d returns %d of line %d, not %d of line %d", i+1, f.Lines[i].Qty, f.Lines[i].Line, r.Qty, r.Line)
		}
	}
	return nil
}

// ReturnedOf returns how many units of each line of the sale with seq
// refunds recorded here returned; nil when none did.
func (l *Ledger) ReturnedOf(seq uint64) ([]int64, error) {
	var out []int64
	err := l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReturns)
		if b == nil {
			return nil
		}
		v := b.Get(u64(seq))
		if v == nil {
			return nil
		}
		var r returnsRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: returns of sale %d: %v", ErrCorrupt, seq, err)
		}
		out = r.Lines
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("returns of sale %d: %w", seq, err)
	}
	return out, nil
}

// decodeForeignReturns decodes the returns of another terminal's sale of
// lines lines: a ledger restored from HQ counted them up to the highest
// line its refunds returned, not knowing the sale.
func decodeForeignReturns(b []byte, lines int) (returnsRecord, error) {
	var r returnsRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return returnsRecord{}, fmt.Errorf("decode returns: %w", err)
	}
	if len(r.Lines) > lines {
		return returnsRecord{}, fmt.Errorf("%w: %d lines counted for a sale of %d", errLinesBeyond, len(r.Lines), lines)
	}
	if err := r.checkCounts(); err != nil {
		return returnsRecord{}, err
	}
	for len(r.Lines) < lines {
		r.Lines = append(r.Lines, 0)
	}
	return r, nil
}

// errLinesBeyond: a count of another terminal's sale's returns names more
// lines than the sale has (returns taken on a receipt's word).
var errLinesBeyond = errors.New("decode returns: lines beyond the sale's")

// offlineBody is what checkOffline reads of a refund body.
type offlineBody struct {
	Currency string          `json:"currency"`
	Back     money.Amount    `json:"back"`
	Points   int64           `json:"points_returned"`
	Claim    json.RawMessage `json:"claim"`
}

// checkOffline checks that a refund on a receipt's word, body, stays within
// lim, counting the refunds on a receipt's word recorded since lim.Since
// (events are recorded in time order).
func checkOffline(tx *bolt.Tx, m *meta, lim *OfflineLimits, body []byte) error {
	var b offlineBody
	if err := json.Unmarshal(body, &b); err != nil || len(b.Claim) == 0 || string(b.Claim) == "null" {
		return fmt.Errorf("price: a refund on a receipt's word whose body carries no claim (%v)", err)
	}
	asked := lim.worth(b.Back, b.Points)
	if asked > lim.PerReturn {
		return &OfflineLimitError{Limit: LimitOfflineReturn, Currency: b.Currency, Max: lim.PerReturn, Asked: asked, Points: asked - b.Back}
	}
	var used money.Amount
	events := tx.Bucket(bucketEvents)
	for seq := m.lastSeq; seq > m.anchorSeq; seq-- {
		e, err := decodeEvent(events.Get(u64(seq)))
		if err != nil {
			return fmt.Errorf("read event %d: %w", seq, err)
		}
		if e.At.Before(lim.Since) {
			break
		}
		if e.Type != event.TypeRefund {
			continue
		}
		var r offlineBody
		if err := json.Unmarshal(e.Body, &r); err != nil {
			return fmt.Errorf("%w: refund %d: %v", ErrCorrupt, seq, err)
		}
		if len(r.Claim) > 0 && string(r.Claim) != "null" {
			// Saturate before adding: worth may be near MaxInt64.
			if w := lim.worth(r.Back, r.Points); w >= math.MaxInt64/2-used {
				used = math.MaxInt64 / 2
			} else {
				used += w
			}
		}
	}
	if used+asked > lim.PerDay || used+asked < used {
		return &OfflineLimitError{Limit: LimitOfflineReturnsPerDay, Currency: b.Currency, Max: lim.PerDay, Used: used, Asked: asked, Points: asked - b.Back}
	}
	return nil
}

// addForeignReturns adds the lines a refund of another terminal's sale
// returned to the counts stored under key (nil: none yet).
func addForeignReturns(stored []byte, lines []pos.ReturnLine) ([]byte, error) {
	var r returnsRecord
	if stored != nil {
		if err := json.Unmarshal(stored, &r); err != nil {
			return nil, fmt.Errorf("decode returns: %w", err)
		}
	}
	var err error
	if r.Lines, err = addLines(r.Lines, lines); err != nil {
		return nil, err
	}
	return encodeReturns(r), nil
}

// addLines adds the units lines return to counts (index 0 is line 1),
// growing it to the highest line named.
func addLines(counts []int64, lines []pos.ReturnLine) ([]int64, error) {
	for _, l := range lines {
		if l.Line < 1 || l.Line > pos.MaxLines || l.Qty < 1 {
			return counts, fmt.Errorf("a refund returns %d of line %d", l.Qty, l.Line)
		}
		for len(counts) < l.Line {
			counts = append(counts, 0)
		}
		counts[l.Line-1] += l.Qty
	}
	return counts, nil
}

// PrunedSale reports whether this terminal's sale at seq is older than
// the ledger keeps (pruned), and whether its returns are still counted here
// (sales pruned since schema 5): then a refund may take it back with HQ's
// copy of its event (RefundRequest.Foreign).
func (l *Ledger) PrunedSale(seq uint64) (pruned, counted bool, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		pruned, counted = seq <= m.anchorSeq, seq > m.returnsKept
		return nil
	})
	return pruned, counted, err
}

// ForeignReturnedHere returns how many units of each line of the sale at
// seq of another terminal refunds recorded here returned, as far as they
// counted (a ledger counts the lines its refunds named); nil when none did.
func (l *Ledger) ForeignReturnedHere(terminal string, seq uint64) ([]int64, error) {
	var out []int64
	err := l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReturns)
		if b == nil {
			return nil
		}
		v := b.Get(foreignReturnsKey(terminal, seq))
		if v == nil {
			return nil
		}
		var r returnsRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: returns of sale %s/%d: %v", ErrCorrupt, terminal, seq, err)
		}
		out = r.Lines
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("returns of sale %s/%d: %w", terminal, seq, err)
	}
	return out, nil
}

// RefundReplayed returns the receipt of the refund recorded under id, with
// Replayed set, when there is one with digest; ok is false when there is
// none, and the error ErrConflict when it was recorded with another digest.
// A till taking back another terminal's sale answers a retry from here,
// without asking HQ for the sale again (offline, say).
func (l *Ledger) RefundReplayed(id string, digest [32]byte) (r Receipt, ok bool, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		r, ok, err = replayed(tx, indexKey(event.TypeRefund, id), digest)
		return err
	})
	if err != nil {
		return Receipt{}, false, fmt.Errorf("record refund %s: %w", id, err)
	}
	return r, ok, nil
}

// SaleOf returns the event of this ledger's sale a refund request names
// (by its sale id or seq, and SaleHash when set); ErrNoSale when it keeps
// none. A till reads it to ask HQ what other tills returned of the sale
// before it records the refund (RefundRequest.ForeignReturned).
func (l *Ledger) SaleOf(req RefundRequest) (event.Event, error) {
	var e event.Event
	err := l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		e, err = findSale(tx, &m, req)
		return err
	})
	if err != nil {
		return event.Event{}, fmt.Errorf("sale of refund %s: %w", req.ID, err)
	}
	return e, nil
}
