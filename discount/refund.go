package discount

import (
	"errors"
	"fmt"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// ErrOverRefund is returned (wrapped) by Refund when a line would be refunded
// beyond the quantity sold, counting the refunds before.
var ErrOverRefund = errors.New("refund exceeds what was sold")

// Refund computes what returning some units of a sale gives back: money, the
// redeemed points, and what it takes back: the points earned (and owed by a
// partner), each line in proportion to the units returned.
//
// Every amount of a line (its paid total, its points) is split over its units
// the way money.Allocate splits it over equal weights, and a refund takes the
// units after those returned before. So refunding a line in any number of
// pieces gives back exactly what was paid for it, to the minor unit, and the
// points exactly once: a refund never leaves the points earned with the
// customer, and never charges the points paid with a second time.
//
// Each returned line names the sale's line (from 1) and carries how many of
// its units earlier refunds returned; the ledger knows. Refund returns a
// *pos.InputError when the request or the sale is malformed, and an error
// wrapping ErrOverRefund when a line would go beyond the quantity sold.
// Donations are not refunded: the money went to the cause.
func Refund(sale pos.Sale, returned []pos.ReturnLine) (pos.RefundQuote, error) {
	rq := pos.RefundQuote{SaleID: sale.ID, Card: sale.Card, Currency: sale.Currency, Partner: sale.Partner, Lines: []pos.RefundLine{}}
	if len(returned) == 0 {
		return pos.RefundQuote{}, &pos.InputError{Field: "returned", Problem: "nothing to refund"}
	}
	if err := checkSale(sale); err != nil {
		return pos.RefundQuote{}, fmt.Errorf("refund sale %s: %w", sale.ID, err)
	}
	seen := make(map[int]int, len(returned))
	for j, r := range returned {
		at := func(f string) string { return fmt.Sprintf("returned[%d].%s", j+1, f) }
		if r.Line < 1 || r.Line > len(sale.Lines) {
			return pos.RefundQuote{}, &pos.InputError{Field: at("line"), Problem: fmt.Sprintf("the sale has lines 1 to %d, got %d", len(sale.Lines), r.Line)}
		}
		if k, dup := seen[r.Line]; dup {
			return pos.RefundQuote{}, &pos.InputError{Field: at("line"), Problem: fmt.Sprintf("line %d is already returned[%d]; return it once with the whole quantity", r.Line, k)}
		}
		seen[r.Line] = j + 1
		l := sale.Lines[r.Line-1]
		if r.Qty < 1 {
			return pos.RefundQuote{}, &pos.InputError{Field: at("qty"), Problem: fmt.Sprintf("must be 1 or more, got %d", r.Qty)}
		}
		if r.Before < 0 {
			return pos.RefundQuote{}, &pos.InputError{Field: at("before"), Problem: fmt.Sprintf("must be 0 or more, got %d", r.Before)}
		}
		if r.Before > l.Qty || r.Qty > l.Qty-r.Before {
			return pos.RefundQuote{}, fmt.Errorf("refund sale %s: line %d (%s): %d sold, %d refunded before, %d asked: %w",
				sale.ID, r.Line, l.SKU, l.Qty, r.Before, r.Qty, ErrOverRefund)
		}
		from, to := r.Before, r.Before+r.Qty
		rl := pos.RefundLine{
			Line: r.Line, SKU: l.SKU, Qty: r.Qty,
			Amount:        unitsShare(l.Total, l.Qty, from, to),
			Points:        int64(unitsShare(money.Amount(l.Points), l.Qty, from, to)),
			Redeemed:      int64(unitsShare(money.Amount(l.Redeemed), l.Qty, from, to)),
			PartnerPoints: int64(unitsShare(money.Amount(l.PartnerPoints), l.Qty, from, to)),
		}
		rq.Lines = append(rq.Lines, rl)
		rq.Amount += rl.Amount
		rq.PointsReversed += rl.Points
		rq.PointsReturned += rl.Redeemed
		rq.PartnerPoints += rl.PartnerPoints
	}
	return rq, nil
}

// unitsShare is the part of total that units from+1 … to of qty carry when
// total is split over the units by money.Allocate with equal weights: every
// unit gets total/qty and the first total%qty units one more.
func unitsShare(total money.Amount, qty, from, to int64) money.Amount {
	upTo := func(k int64) money.Amount {
		q, r := total/money.Amount(qty), total%money.Amount(qty)
		return money.Amount(k)*q + min(money.Amount(k), r)
	}
	return upTo(to) - upTo(from)
}

// checkSale refuses a sale whose lines do not add up as a quote's do.
func checkSale(s pos.Sale) error {
	if len(s.Lines) == 0 {
		return &pos.InputError{Field: "sale.lines", Problem: "the sale has no lines"}
	}
	for i, l := range s.Lines {
		at := func(f string) string { return fmt.Sprintf("sale.lines[%d].%s", i+1, f) }
		switch {
		case l.Qty < 1 || l.Qty > pos.MaxQty:
			return &pos.InputError{Field: at("qty"), Problem: fmt.Sprintf("must be between 1 and %d, got %d", pos.MaxQty, l.Qty)}
		case l.Total < 0 || l.Total > l.Amount || l.Amount > pos.MaxLineAmount:
			return &pos.InputError{Field: at("total"), Problem: fmt.Sprintf("must be between 0 and the line's amount %d, got %d", l.Amount, l.Total)}
		case l.Points < 0 || l.Redeemed < 0 || l.PartnerPoints < 0:
			return &pos.InputError{Field: at("points"), Problem: "points earned, redeemed and owed by a partner cannot be negative"}
		}
	}
	return nil
}
