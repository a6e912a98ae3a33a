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
// A round-up to charity is split over the lines in proportion to what they
// were paid (money.Allocate), then over their units like the rest: the
// returned units' share of it goes back to the customer (Donated, part of
// Back) and the cause's total loses it. Points given to a cause are split
// over the lines by the points they earned and reversed the same way: the
// cause loses them, the card never had them.
func Refund(sale pos.Sale, returned []pos.ReturnLine) (pos.RefundQuote, error) {
	rq := pos.RefundQuote{SaleID: sale.ID, Card: sale.Card, Currency: sale.Currency, Partner: sale.Partner, Lines: []pos.RefundLine{}}
	if len(returned) == 0 {
		return pos.RefundQuote{}, &pos.InputError{Field: "returned", Problem: "nothing to refund"}
	}
	if err := checkSale(sale); err != nil {
		return pos.RefundQuote{}, fmt.Errorf("refund sale %s: %w", sale.ID, err)
	}
	donated, err := donationShares(sale)
	if err != nil {
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
		for k, d := range sale.Donations {
			m := unitsShare(donated[k][r.Line-1], l.Qty, from, to)
			if m == 0 {
				continue
			}
			rd := pos.Donation{Rule: d.Rule, Cause: d.Cause}
			if d.Amount > 0 {
				rd.Amount = m
				rl.Donated += m
			} else {
				rd.Points = int64(m)
			}
			rq.Donations = addDonation(rq.Donations, rd)
		}
		rq.Lines = append(rq.Lines, rl)
		rq.Amount += rl.Amount
		rq.PointsReversed += rl.Points
		rq.PointsReturned += rl.Redeemed
		rq.PartnerPoints += rl.PartnerPoints
		rq.Donated += rl.Donated
	}
	rq.Back = rq.Amount + rq.Donated
	return rq, nil
}

// addDonation adds d to the donation of its rule in ds, or appends it.
func addDonation(ds []pos.Donation, d pos.Donation) []pos.Donation {
	for i := range ds {
		if ds[i].Rule == d.Rule && ds[i].Cause == d.Cause {
			ds[i].Amount += d.Amount
			ds[i].Points += d.Points
			return ds
		}
	}
	return append(ds, d)
}

// donationShares splits each of the sale's donations over its lines: a
// round-up by what the lines were paid, points by the points they earned
// (by what they were paid when they earned none, by their amounts when they
// were paid nothing), one slice of line shares per donation.
func donationShares(sale pos.Sale) ([][]money.Amount, error) {
	out := make([][]money.Amount, len(sale.Donations))
	for k, d := range sale.Donations {
		total := d.Amount
		if total == 0 {
			total = money.Amount(d.Points)
		}
		if total < 0 || d.Amount < 0 || d.Points < 0 {
			return nil, &pos.InputError{Field: fmt.Sprintf("sale.donations[%d]", k+1), Problem: "a donation cannot be negative"}
		}
		by := []func(pos.PricedLine) money.Amount{
			func(l pos.PricedLine) money.Amount { return l.Total },
			func(l pos.PricedLine) money.Amount { return l.Amount },
			func(pos.PricedLine) money.Amount { return 1 },
		}
		if d.Amount == 0 {
			by = append([]func(pos.PricedLine) money.Amount{func(l pos.PricedLine) money.Amount { return money.Amount(l.Points) }}, by...)
		}
		weights := make([]money.Amount, len(sale.Lines))
		for _, w := range by {
			var sum money.Amount
			for i, l := range sale.Lines {
				weights[i] = max(w(l), 0)
				sum += weights[i]
			}
			if sum > 0 {
				break
			}
		}
		shares, err := money.Allocate(total, weights)
		if err != nil {
			return nil, fmt.Errorf("donation %s: %w", d.Rule, err)
		}
		out[k] = shares
	}
	return out, nil
}

// RefundAfter is Refund for a sale whose earlier refunds returned before[i]
// units of its line i+1 (nil: none), as the ledger counts them: it sets each
// returned line's Before, and adds what only the whole history tells. The
// redeemed points given back go to the lots the sale took them from, with
// their original times and expiry: the sale's lots (pos.Quote.Lots) are
// filled back in their order, each refund after the points earlier refunds
// gave back, so that the refunds of a sale give every lot back exactly what
// it gave. When every unit of the sale is returned with this refund, Full is
// set and the sale's raffle entries are void.
func RefundAfter(sale pos.Sale, returned []pos.ReturnLine, before []int64) (pos.RefundQuote, error) {
	if before == nil {
		before = make([]int64, len(sale.Lines))
	}
	if len(before) != len(sale.Lines) {
		return pos.RefundQuote{}, &pos.InputError{Field: "before", Problem: fmt.Sprintf("%d counts for a sale of %d lines", len(before), len(sale.Lines))}
	}
	rs := make([]pos.ReturnLine, len(returned))
	for j, r := range returned {
		rs[j] = r
		if r.Line >= 1 && r.Line <= len(before) {
			rs[j].Before = before[r.Line-1]
		}
	}
	rq, err := Refund(sale, rs)
	if err != nil {
		return pos.RefundQuote{}, err
	}
	// The redeemed points earlier refunds gave back, line by line.
	var given int64
	for i, l := range sale.Lines {
		if before[i] < 0 || before[i] > l.Qty {
			return pos.RefundQuote{}, &pos.InputError{Field: fmt.Sprintf("before[%d]", i+1), Problem: fmt.Sprintf("%d returned before of %d sold", before[i], l.Qty)}
		}
		given += int64(unitsShare(money.Amount(l.Redeemed), l.Qty, 0, before[i]))
	}
	rq.ReturnedLots = lotsBack(sale.Lots, given, rq.PointsReturned)
	full := true
	for i, l := range sale.Lines {
		back := before[i]
		for _, r := range rs {
			if r.Line == i+1 {
				back += r.Qty
			}
		}
		full = full && back == l.Qty
	}
	if full {
		rq.Full = true
		rq.RafflesVoid = append([]pos.RaffleEntry(nil), sale.Raffles...)
	}
	return rq, nil
}

// lotsBack returns the lots that get back points from+1 … from+n of the
// points a sale took from uses, in their order.
func lotsBack(uses []pos.LotUse, from, n int64) []pos.PointsLot {
	var out []pos.PointsLot
	var at int64 // points of the uses before u
	for _, u := range uses {
		if n == 0 {
			break
		}
		lo, hi := max(at, from), min(at+u.Points, from+n)
		at += u.Points
		if hi <= lo {
			continue
		}
		out = append(out, pos.PointsLot{Points: hi - lo, Earned: u.Earned, Expires: u.Expires})
	}
	return out
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
