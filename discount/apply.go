package discount

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Apply prices basket with the rules of rs for the card whose account is acct
// (nil when no card was presented) at time now, and explains every discount and
// every point in the quote's Applied list, one entry per rule that changed the
// price or the points.
//
// The error is a *pos.InputError (wrapped) when the basket is invalid,
// money.ErrOverflow (wrapped) when its sums do not fit in an Amount, and a
// *ValidationError (wrapped) when rs does not pass Validate; Apply never panics
// on a ruleset that fails validation, it refuses it.
//
// Apply only reads rs: one Ruleset may serve concurrent callers, as long as
// nobody modifies it meanwhile.
//
// now is part of the contract so that rules with validity windows can be added
// without changing callers; no rule of this cut depends on it.
func Apply(rs *Ruleset, basket pos.Basket, acct *pos.Account, now time.Time) (pos.Quote, error) {
	if err := basket.Validate(); err != nil {
		return pos.Quote{}, fmt.Errorf("apply rules: %w", err)
	}
	if err := rs.Validate(); err != nil {
		return pos.Quote{}, fmt.Errorf("apply rules: %w", err)
	}
	e, err := newEngine(rs.Currency, basket.Lines)
	if err != nil {
		return pos.Quote{}, fmt.Errorf("apply rules version %d: %w", rs.Version, err)
	}
	q := pos.Quote{
		Currency:       rs.Currency.Code,
		Subtotal:       e.subtotal,
		Applied:        []pos.Applied{},
		RulesetVersion: rs.Version,
	}
	if acct != nil {
		for _, i := range rs.order() {
			r := &rs.Rules[i]
			a, err := e.apply(r, acct, &q)
			if err != nil {
				return pos.Quote{}, fmt.Errorf("apply rule %q of version %d: %w", r.ID, rs.Version, err)
			}
			if a.Amount != 0 || a.Points != 0 {
				q.Applied = append(q.Applied, a)
				q.Discount += a.Amount
				q.PointsEarned += a.Points
			}
		}
	}
	q.Total = q.Subtotal - q.Discount
	q.Lines = make([]pos.PricedLine, len(basket.Lines))
	for k, i := range e.order {
		l := basket.Lines[i]
		q.Lines[i] = pos.PricedLine{Line: l, Amount: e.amount[k], Discount: e.amount[k] - e.left[k], Total: e.left[k]}
	}
	return q, nil
}

// engine holds the lines of one basket in canonical order and what is left to
// pay on each.
type engine struct {
	cur      money.Currency
	lines    []pos.Line // canonical order
	order    []int      // order[k] is the caller's index of lines[k]
	amount   []money.Amount
	left     []money.Amount
	weights  []money.Amount // scratch
	subtotal money.Amount
}

func newEngine(cur money.Currency, lines []pos.Line) (*engine, error) {
	n := len(lines)
	e := &engine{
		cur:     cur,
		lines:   make([]pos.Line, n),
		order:   make([]int, n),
		amount:  make([]money.Amount, n),
		left:    make([]money.Amount, n),
		weights: make([]money.Amount, n),
	}
	for i := range e.order {
		e.order[i] = i
	}
	// A canonical order makes every tie in an allocation independent of the
	// order the lines were rung up in; identical lines are interchangeable.
	slices.SortStableFunc(e.order, func(a, b int) int {
		la, lb := &lines[a], &lines[b]
		return cmp.Or(
			strings.Compare(la.Category, lb.Category),
			strings.Compare(la.SKU, lb.SKU),
			cmp.Compare(la.UnitPrice, lb.UnitPrice),
			cmp.Compare(la.Qty, lb.Qty),
		)
	})
	for k, i := range e.order {
		l := lines[i]
		e.lines[k] = l
		// Validate bounds qty and price so that one line fits; the sum may not.
		a := l.Amount()
		if e.subtotal > math.MaxInt64-a {
			return nil, fmt.Errorf("basket subtotal: %w", money.ErrOverflow)
		}
		e.subtotal += a
		e.amount[k] = a
		e.left[k] = a
	}
	return e, nil
}

// apply runs one rule for a card holder and returns what it did; a zero
// Applied means it changed nothing.
func (e *engine) apply(r *Rule, acct *pos.Account, q *pos.Quote) (pos.Applied, error) {
	a := pos.Applied{Rule: r.ID, Kind: string(r.Kind)}
	var err error
	switch r.Kind {
	case KindCardPercent:
		a.Amount, err = e.percentOff(r, r.Percent)
		a.Reason = cardPercentReason(r.Percent)
	case KindTiers:
		t, ok := r.tierFor(acct.LifetimeSpend)
		if !ok {
			return pos.Applied{}, nil
		}
		if q.Tier == "" {
			q.Tier = t.Name
		}
		a.Amount, err = e.percentOff(r, t.Percent)
		a.Reason = tierReason(e.cur, t, acct.LifetimeSpend)
	case KindPoints:
		a.Points, err = e.points(r)
		a.Reason = pointsReason(e.cur, r)
	}
	return a, err
}

// percentOff takes p of what is left of the lines r does not exclude, rounded
// half up once on their sum, and splits it over them in proportion to what is
// left of each. It returns the discount given.
func (e *engine) percentOff(r *Rule, p money.BP) (money.Amount, error) {
	var base money.Amount
	for k := range e.lines {
		w := e.left[k]
		if r.excludes(e.lines[k].Category) {
			w = 0
		}
		e.weights[k] = w
		base += w // at most the subtotal, which fits
	}
	if base == 0 {
		return 0, nil
	}
	d, err := money.MulDiv(base, int64(p), int64(money.Whole), money.HalfUp)
	if err != nil {
		return 0, err
	}
	if d == 0 {
		return 0, nil
	}
	// d <= base because p <= 100 %, so no share exceeds its line's weight.
	shares, err := money.Allocate(d, e.weights)
	if err != nil {
		return 0, err
	}
	for k, s := range shares {
		e.left[k] -= s
	}
	return d, nil
}

// points is r.Points for every full r.Per paid on the lines r does not exclude.
func (e *engine) points(r *Rule) (int64, error) {
	var paid money.Amount
	for k := range e.lines {
		if !r.excludes(e.lines[k].Category) {
			paid += e.left[k]
		}
	}
	units := paid / r.Per
	pts, err := money.MulDiv(units, r.Points, 1, money.Down)
	if err != nil {
		return 0, fmt.Errorf("points for %d × %d: %w", units, r.Points, err)
	}
	return int64(pts), nil
}
