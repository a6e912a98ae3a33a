package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Returns is the part of a Store that counts, for every sale, the units of
// each of its lines that refunds returned, by the terminal that recorded
// the refund, whichever terminal sold it: a till asked to take back a sale
// of another store learns what other tills took back already, so that two
// tills do not return one sale twice (docs/sync.md, "Returns at another
// till"). Append adds every stored refund event, exactly once.
type Returns interface {
	// Returned returns the units of each line of the sale at seq saleSeq of
	// saleTerminal's chains (index 0 is line 1) that refunds stored from
	// terminals other than except returned; nil when none did.
	Returned(ctx context.Context, saleTerminal string, saleSeq uint64, except string) ([]int64, error)
	// ReturnExcesses returns what ReconcileClaims reported of every stored
	// refund taken on a receipt's word, in the order they were stored.
	ReturnExcesses(ctx context.Context) ([]wire.ReturnExcess, error)
}

// ReturnCount is what refunds stored together returned of one line of one
// sale, from one terminal: the rows of a store's count.
type ReturnCount struct {
	SaleTerminal string
	SaleSeq      uint64
	Terminal     string // the terminal that recorded the refunds
	Line         int    // from 1
	Qty          int64
}

// ReturnCounts adds up what the refunds among facts, stored from terminal,
// returned, one row per sale and line, in (sale terminal, sale seq, line)
// order, the order in which every store writes them.
func ReturnCounts(terminal string, facts []SaleFacts) []ReturnCount {
	var out []ReturnCount
	for _, f := range facts {
		if !f.Refund || f.SaleSeq == 0 {
			continue
		}
		for _, l := range f.Returned {
			if l.Line < 1 || l.Qty <= 0 {
				continue
			}
			i := slices.IndexFunc(out, func(c ReturnCount) bool {
				return c.SaleTerminal == f.SaleTerminal && c.SaleSeq == f.SaleSeq && c.Line == l.Line
			})
			if i < 0 {
				out = append(out, ReturnCount{SaleTerminal: f.SaleTerminal, SaleSeq: f.SaleSeq, Terminal: terminal, Line: l.Line})
				i = len(out) - 1
			}
			out[i].Qty += l.Qty
		}
	}
	slices.SortFunc(out, func(a, b ReturnCount) int {
		if c := strings.Compare(a.SaleTerminal, b.SaleTerminal); c != 0 {
			return c
		}
		if a.SaleSeq != b.SaleSeq {
			if a.SaleSeq < b.SaleSeq {
				return -1
			}
			return 1
		}
		return a.Line - b.Line
	})
	return out
}

// SaleLookup reads, inside a store's transaction, the sale event at seq of
// terminal's head chain (or the chains it continues; ok false when the store
// holds none there) and the units of each of its lines that refunds stored
// before this transaction returned, from every terminal. A store that runs
// uploads of different terminals at once makes the second caller for one
// sale wait until the first commits (pgstore: an advisory lock per sale).
type SaleLookup func(saleTerminal string, saleSeq uint64) (sale event.Event, ok bool, returned []int64, err error)

// ReconcileClaims returns facts with each refund a till took on a receipt's
// word (SaleFacts.Claim) replaced by what its sale allows, and a
// wire.ReturnExcess for every one that gave back other than that, in order.
// What the sale allows: of each line, the units it sold that no refund
// stored before, nor one before in facts, returned; worked out from the
// sale's own figures by discount.RefundAfter, as a till online would have,
// applied to the sale's card. A refund whose sale the store does not hold
// (lookup's ok false, or a receipt code whose check does not match) applies
// nothing. Every store calls it inside the transaction that stores facts,
// before it adds them to accounts and to the count of returns (Returns),
// which then hold what was applied; the sales report keeps the money each
// till handed back.
func ReconcileClaims(terminal string, facts []SaleFacts, lookup SaleLookup) ([]SaleFacts, []wire.ReturnExcess, error) {
	var out []SaleFacts
	var excess []wire.ReturnExcess
	for i, f := range facts {
		if !f.Refund || f.Claim == nil {
			continue
		}
		if out == nil {
			out = slices.Clone(facts)
		}
		e, ok, returned, err := lookup(f.SaleTerminal, f.SaleSeq)
		if err != nil {
			return nil, nil, fmt.Errorf("sale %s/%d of refund %s: %w", f.SaleTerminal, f.SaleSeq, f.RefundID, err)
		}
		applied, x := reconcile(terminal, f, e, ok, returned, out[:i])
		out[i] = applied
		if x != nil {
			excess = append(excess, *x)
		}
	}
	if out == nil {
		return facts, nil, nil
	}
	return out, excess, nil
}

// reconcile is ReconcileClaims for one refund f on a receipt's word, its
// sale e (ok false: none held), what refunds stored returned of it, and
// the facts before it in the same upload.
func reconcile(terminal string, f SaleFacts, e event.Event, ok bool, returned []int64, earlier []SaleFacts) (SaleFacts, *wire.ReturnExcess) {
	x := &wire.ReturnExcess{Terminal: terminal, Seq: f.Seq, Refund: f.RefundID, At: f.At, Receipt: f.SaleID,
		SaleTerminal: f.SaleTerminal, SaleSeq: f.SaleSeq, Card: f.Card, Currency: f.Currency,
		ClaimedBack: f.Back, ClaimedPointsReturned: -f.Redeemed, ClaimedPointsReversed: -f.Earned}
	for _, l := range f.Returned {
		x.ClaimedUnits += l.Qty
	}
	none := SaleFacts{Refund: true, At: f.At, Currency: f.Currency, SaleTerminal: f.SaleTerminal, SaleSeq: f.SaleSeq,
		Seq: f.Seq, RefundID: f.RefundID, SaleID: f.SaleID}
	var sale pos.Sale
	if ok {
		_, _, hash, err := pos.ParseReceiptCode(f.SaleID)
		ok = err == nil && e.Type == event.TypeSale && strings.HasPrefix(e.Hash, hash) && json.Unmarshal(e.Body, &sale) == nil && len(sale.Lines) > 0
	}
	if !ok {
		x.Reasons = []string{wire.ExcessNoSale}
		x.Excess = x.ClaimedBack
		return none, x
	}
	x.Card, x.Currency = sale.Card, sale.Currency
	if f.Card != sale.Card {
		x.ClaimedCard = f.Card
		x.Reasons = append(x.Reasons, wire.ExcessCard)
	}
	// What refunds returned before this one, never beyond what was sold.
	before := make([]int64, len(sale.Lines))
	for i := range before {
		if i < len(returned) {
			before[i] = returned[i]
		}
	}
	for _, g := range earlier {
		if g.Refund && g.SaleTerminal == f.SaleTerminal && g.SaleSeq == f.SaleSeq {
			for _, l := range g.Returned {
				if l.Line >= 1 && l.Line <= len(before) {
					before[l.Line-1] += l.Qty
				}
			}
		}
	}
	for i, l := range sale.Lines {
		before[i] = min(max(before[i], 0), l.Qty)
	}
	var allowed []pos.ReturnLine
	for _, l := range f.Returned {
		if l.Line < 1 || l.Line > len(sale.Lines) || l.Qty < 1 {
			continue
		}
		if q := min(l.Qty, sale.Lines[l.Line-1].Qty-before[l.Line-1]); q > 0 {
			allowed = append(allowed, pos.ReturnLine{Line: l.Line, Qty: q})
			x.AppliedUnits += q
		}
	}
	if x.AppliedUnits < x.ClaimedUnits {
		x.Reasons = append(x.Reasons, wire.ExcessOverReturn)
	}
	applied := none
	applied.Card = sale.Card
	applied.Currency = sale.Currency
	if len(allowed) > 0 {
		rq, err := discount.RefundAfter(sale, allowed, before)
		if err == nil {
			applied.Total, applied.Earned, applied.Redeemed = -rq.Amount, -rq.PointsReversed, -rq.PointsReturned
			applied.Back, applied.ReturnedLots, applied.SaleAt, applied.Returned = rq.Back, rq.ReturnedLots, e.At, allowed
			x.AppliedBack, x.AppliedPointsReturned, x.AppliedPointsReversed = rq.Back, rq.PointsReturned, rq.PointsReversed
		} else {
			x.AppliedUnits = 0 // a sale the engine cannot refund: nothing applied
			x.Reasons = append(x.Reasons, wire.ExcessOverReturn)
		}
	}
	x.Excess = x.ClaimedBack - x.AppliedBack
	if x.Excess != 0 || x.ClaimedPointsReturned != x.AppliedPointsReturned || x.ClaimedPointsReversed != x.AppliedPointsReversed {
		if !slices.Contains(x.Reasons, wire.ExcessOverReturn) {
			x.Reasons = append(x.Reasons, wire.ExcessAmounts)
		}
	}
	if len(x.Reasons) == 0 {
		return applied, nil
	}
	slices.Sort(x.Reasons)
	x.Reasons = slices.Compact(x.Reasons)
	return applied, x
}

// PendingClaim is a refund a till took on a receipt's word whose sale the
// store did not hold when it stored the refund (wire.ExcessNoSale): it
// applied nothing then, and keeps the refund until the sale arrives
// (ResolvePending). Terminal is the till that took it.
type PendingClaim struct {
	Terminal string
	Facts    SaleFacts
}

// pendingJSON is how a store keeps a PendingClaim.
type pendingJSON struct {
	Terminal     string            `json:"terminal"`
	Seq          uint64            `json:"seq"`
	At           time.Time         `json:"at"`
	RefundID     string            `json:"refund"`
	SaleID       string            `json:"sale_id"`
	SaleTerminal string            `json:"sale_terminal"`
	SaleSeq      uint64            `json:"sale_seq"`
	Card         string            `json:"card,omitempty"`
	Currency     string            `json:"currency"`
	Total        money.Amount      `json:"total"`
	Back         money.Amount      `json:"back"`
	Earned       int64             `json:"earned"`
	Redeemed     int64             `json:"redeemed"`
	Returned     []pos.ReturnLine  `json:"returned"`
	Claim        *pos.ReceiptClaim `json:"claim"`
}

// MarshalJSON implements json.Marshaler.
func (p PendingClaim) MarshalJSON() ([]byte, error) {
	f := p.Facts
	return json.Marshal(pendingJSON{Terminal: p.Terminal, Seq: f.Seq, At: f.At, RefundID: f.RefundID, SaleID: f.SaleID,
		SaleTerminal: f.SaleTerminal, SaleSeq: f.SaleSeq, Card: f.Card, Currency: f.Currency, Total: f.Total, Back: f.Back,
		Earned: f.Earned, Redeemed: f.Redeemed, Returned: f.Returned, Claim: f.Claim})
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *PendingClaim) UnmarshalJSON(b []byte) error {
	var j pendingJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Claim == nil {
		return fmt.Errorf("a pending claim without its claim")
	}
	*p = PendingClaim{Terminal: j.Terminal, Facts: SaleFacts{Refund: true, Seq: j.Seq, At: j.At, RefundID: j.RefundID, SaleID: j.SaleID,
		SaleTerminal: j.SaleTerminal, SaleSeq: j.SaleSeq, Card: j.Card, Currency: j.Currency, Total: j.Total, Back: j.Back,
		Earned: j.Earned, Redeemed: j.Redeemed, Returned: j.Returned, Claim: j.Claim}}
	return nil
}

// Pending returns the refunds among facts, stored from terminal, that
// ReconcileClaims reported in excess as wire.ExcessNoSale: to keep until
// their sales arrive.
func Pending(terminal string, facts []SaleFacts, excess []wire.ReturnExcess) []PendingClaim {
	var out []PendingClaim
	for _, x := range excess {
		if !slices.Equal(x.Reasons, []string{wire.ExcessNoSale}) {
			continue
		}
		for _, f := range facts {
			if f.Refund && f.Claim != nil && f.Seq == x.Seq {
				out = append(out, PendingClaim{Terminal: terminal, Facts: f})
			}
		}
	}
	return out
}

// Resolved is a pending claim reconciled now that its sale arrived: Facts
// to add to the accounts and to the count of returns from Terminal, and
// Excess, the report that replaces its no_sale one (nil: none).
type Resolved struct {
	Terminal string
	Seq      uint64
	Facts    SaleFacts
	Excess   *wire.ReturnExcess
}

// ResolvePending reconciles pending claims (in the order they were stored)
// against their sale, which lookup now finds, as ReconcileClaims would have
// had the sale arrived first: each after the ones before it.
func ResolvePending(pending []PendingClaim, lookup SaleLookup) ([]Resolved, error) {
	var out []Resolved
	var done []SaleFacts
	for _, p := range pending {
		facts, excess, err := ReconcileClaims(p.Terminal, []SaleFacts{p.Facts}, func(saleTerminal string, saleSeq uint64) (event.Event, bool, []int64, error) {
			e, ok, returned, err := lookup(saleTerminal, saleSeq)
			if err != nil || !ok {
				return e, ok, returned, err
			}
			returned = slices.Clone(returned)
			for _, d := range done {
				if d.SaleTerminal != saleTerminal || d.SaleSeq != saleSeq {
					continue
				}
				for _, l := range d.Returned {
					for len(returned) < l.Line {
						returned = append(returned, 0)
					}
					returned[l.Line-1] += l.Qty
				}
			}
			return e, true, returned, nil
		})
		if err != nil {
			return nil, err
		}
		r := Resolved{Terminal: p.Terminal, Seq: p.Facts.Seq, Facts: facts[0]}
		if len(excess) > 0 {
			r.Excess = &excess[0]
		}
		done = append(done, facts[0])
		out = append(out, r)
	}
	return out, nil
}
