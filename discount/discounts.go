package discount

// The discount phase: every rule that takes money off the lines, in
// order, exclusive groups resolved in favour of the customer, within the
// ruleset's limits.

import (
	"slices"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func (e *engine) discounts() error {
	rules := e.rules(phaseDiscount)
	base := e.p.byPhase[phaseDiscount]
	for n := range rules {
		c := &rules[n]
		if c.group >= 0 {
			if e.done[c.group] {
				continue
			}
			e.done[c.group] = true
			if err := e.contest(c.group, e.discountValue); err != nil {
				return err
			}
			continue
		}
		if c.targeted && !e.cand[base+n] {
			e.drop(c, dropNoLines, "")
			continue
		}
		if code, detail := e.ineligible(c); code != dropNone {
			e.drop(c, code, detail)
			continue
		}
		e.active[base+n] = true
		if err := e.applyDiscount(c); err != nil {
			return err
		}
	}
	return nil
}

// valueFunc is what a rule of a group is worth to the customer on the basket
// as it stands; it must not change the engine's state.
type valueFunc func(c *crule) (money.Amount, error)

// contest applies, of the members of group g that may apply, the one worth
// most to the customer (the earlier one on a tie), and drops the others.
func (e *engine) contest(g int, value valueFunc) error {
	best, bestValue := -1, money.Amount(-1)
	members := e.p.groups[g]
	ok := make([]bool, len(members))
	for j, n := range members {
		c := &e.p.rules[n]
		if c.targeted && !e.cand[n] {
			e.drop(c, dropNoLines, "")
			continue
		}
		if code, detail := e.ineligible(c); code != dropNone {
			e.drop(c, code, detail)
			continue
		}
		v, err := value(c)
		if err != nil {
			return err
		}
		ok[j] = true
		if v > bestValue {
			best, bestValue = j, v
		}
	}
	if best < 0 {
		return nil
	}
	winner := &e.p.rules[members[best]]
	for j, n := range members {
		if ok[j] && j != best {
			e.drop(&e.p.rules[n], dropGroup, winner.r.ID)
		}
	}
	e.active[members[best]] = true
	if winner.phase == phaseDiscount {
		return e.applyDiscount(winner)
	}
	return e.applyEarn(winner)
}

func (e *engine) discountValue(c *crule) (money.Amount, error) {
	if _, err := e.wanted(c); err != nil {
		return 0, err
	}
	granted, _, _ := e.limit(c)
	return granted, nil
}

// applyDiscount takes rule c's discount off the lines, within the limits.
func (e *engine) applyDiscount(c *crule) error {
	r := c.r
	wanted, err := e.wanted(c)
	if err != nil {
		return err
	}
	if r.Kind == KindGift {
		qty := r.GiftQty
		if qty == 0 {
			qty = 1
		}
		e.q.Gifts = append(e.q.Gifts, pos.Gift{Rule: r.ID, SKU: r.GiftSKU, Name: r.GiftName, Qty: qty})
		e.use(c)
	}
	if wanted == 0 {
		if r.Kind != KindGift && !c.alsoEarns {
			e.drop(c, dropNothing, "")
		}
		return nil
	}
	granted, capped, why := e.limit(c)
	if granted == 0 {
		e.drop(c, dropCapped, e.limitName(why))
		return nil
	}
	for k, s := range e.clip {
		e.left[k] -= s
	}
	if e.basketRoom >= 0 && r.Kind != KindGift {
		e.basketRoom -= granted
	}
	a := pos.Applied{Rule: r.ID, Kind: string(r.Kind), Amount: granted, Reason: e.reason(c)}
	if r.Kind == KindPartner {
		a.Partner = r.Partner
		e.q.Partner = r.Partner
	}
	if capped > 0 {
		a.Capped = capped
		a.Note = "ограничено: " + e.limitName(why)
	}
	e.q.Applied = append(e.q.Applied, a)
	e.q.Discount += granted
	e.use(c)
	return nil
}

// wanted fills e.want with the shares of rule c's discount on what is left,
// before limits, and returns their sum.
func (e *engine) wanted(c *crule) (money.Amount, error) {
	clear(e.want)
	return c.spec.discount(e, c)
}

// wantPercent: the rule's percentage off the lines it reaches.
func (e *engine) wantPercent(c *crule) (money.Amount, error) { return e.percentOff(c, c.r.Percent) }

// wantTier: the percentage of the card's tier.
func (e *engine) wantTier(c *crule) (money.Amount, error) {
	t, _ := c.r.tierFor(e.acct.LifetimeSpend)
	return e.percentOff(c, t.Percent)
}

// wantAmount: an amount off once, split over the lines reached, or off
// every unit.
func (e *engine) wantAmount(c *crule) (money.Amount, error) {
	r := c.r
	if r.PerUnit {
		var sum money.Amount
		for _, k := range e.reached(c) {
			// Amount ≤ MaxUnitPrice and qty ≤ MaxQty: the product fits.
			e.want[k] = min(r.Amount*money.Amount(e.lines[k].Qty), e.left[k])
			sum += e.want[k]
		}
		return sum, nil
	}
	base := e.baseWeights(c)
	return e.spread(min(r.Amount, base))
}

// wantGift: the gift's units, when the cashier rang them up.
func (e *engine) wantGift(c *crule) (money.Amount, error) {
	r := c.r
	qty := r.GiftQty
	if qty == 0 {
		qty = 1
	}
	var sum money.Amount
	for k := range e.lines {
		l := &e.lines[k]
		if l.SKU != r.GiftSKU || c.excl.has(l.Category) || qty == 0 {
			continue
		}
		u := min(qty, l.Qty)
		qty -= u
		s, err := money.MulDiv(e.left[k], u, l.Qty, money.HalfUp)
		if err != nil {
			return 0, err
		}
		e.want[k] = s
		sum += s
	}
	return sum, nil
}

// baseWeights puts what is left of the lines c reaches into e.weights and
// returns their sum.
func (e *engine) baseWeights(c *crule) money.Amount {
	clear(e.weights)
	var base money.Amount
	for _, k := range e.reached(c) {
		e.weights[k] = e.left[k]
		base += e.left[k]
	}
	return base
}

// percentOff takes p of what is left of the lines c reaches, rounded half up
// once on their sum, split in proportion to what is left of each.
func (e *engine) percentOff(c *crule, p money.BP) (money.Amount, error) {
	base := e.baseWeights(c)
	if base == 0 {
		return 0, nil
	}
	d, err := money.MulDiv(base, int64(p), int64(money.Whole), money.HalfUp)
	if err != nil {
		return 0, err
	}
	return e.spread(d)
}

// spread splits d (at most the sum of e.weights) over e.weights into e.want.
func (e *engine) spread(d money.Amount) (money.Amount, error) {
	if d == 0 {
		return 0, nil
	}
	// d ≤ the sum of the weights, so no share exceeds its line's weight.
	e.alloc.into(e.want, d, e.weights)
	return d, nil
}

// buyGet: of every Buy+Get units the rule reaches, Get are free (or at
// Percent off), the cheapest units first.
func (e *engine) buyGet(c *crule) (money.Amount, error) {
	r := c.r
	var units int64
	idx := slices.DeleteFunc(e.reached(c), func(k int) bool { return e.left[k] == 0 })
	for _, k := range idx {
		units += e.lines[k].Qty
	}
	free := units / (r.Buy + r.Get) * r.Get
	if free == 0 {
		return 0, nil
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmpInt(int64(e.lines[a].UnitPrice), int64(e.lines[b].UnitPrice))
	})
	p := r.Percent
	if p == 0 {
		p = money.Whole
	}
	var sum money.Amount
	for _, k := range idx {
		if free == 0 {
			break
		}
		l := &e.lines[k]
		u := min(free, l.Qty)
		free -= u
		part, err := money.MulDiv(e.left[k], u, l.Qty, money.HalfUp)
		if err != nil {
			return 0, err
		}
		s, err := money.MulDiv(part, int64(p), int64(money.Whole), money.HalfUp)
		if err != nil {
			return 0, err
		}
		e.want[k] = s
		sum += s
	}
	return sum, nil
}

// limit fits e.want within the floors, the line limit and the basket limit
// into e.clip, and returns what is granted, what the limits took and which
// limit took it. A gift is free whatever the limits, and does not use them
// up: they bound discounts on what the customer pays for.
func (e *engine) limit(c *crule) (granted, capped money.Amount, why limitKind) {
	if c.r.Kind == KindGift {
		copy(e.clip, e.want)
		for _, w := range e.want {
			granted += w
		}
		return granted, 0, limitNone
	}
	lineShare := e.rs.Limits.LineDiscount
	var wanted money.Amount
	for k, w := range e.want {
		wanted += w
		if w == 0 {
			e.clip[k] = 0
			continue
		}
		room := e.left[k] - e.floor[k]
		kind := limitFloor
		if lineShare > 0 {
			lineRoom := e.amount[k].Percent(lineShare, money.Down) - (e.amount[k] - e.left[k])
			if lineRoom < room {
				room, kind = lineRoom, limitLine
			}
		}
		room = max(room, 0)
		if w > room {
			e.clip[k] = room
			why = kind
		} else {
			e.clip[k] = w
		}
		granted += e.clip[k]
	}
	if e.basketRoom >= 0 && granted > e.basketRoom {
		copy(e.weights, e.clip)
		// basketRoom < granted = the sum of the weights: shares stay within them.
		e.alloc.into(e.clip, e.basketRoom, e.weights)
		granted, why = e.basketRoom, limitBasket
	}
	return granted, wanted - granted, why
}
