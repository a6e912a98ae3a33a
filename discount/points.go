package discount

// Payment with points (the bonus catalog, then redemption, from the oldest
// lots), then points earned on what is paid in money.

import (
	"fmt"
	"math"
	"slices"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// usable returns the points the card may spend at now: its unexpired lots,
// never more than its balance.
func (e *engine) usable() int64 { return Usable(*e.acct, e.now.t) }

func (e *engine) expired(l pos.PointsLot) bool {
	return !l.Expires.IsZero() && !e.now.t.Before(l.Expires)
}

func (e *engine) redemption() error {
	rules := e.rules(phaseRedeem)
	base := e.p.byPhase[phaseRedeem]
	if len(rules) == 0 {
		return nil
	}
	var budget, balance, offlineLeft int64 = 0, 0, -1
	if e.acct != nil {
		budget = max(e.basket.RedeemPoints, 0)
		balance = e.usable()
		if lim := e.rs.Limits.OfflinePointsPerDay; e.acct.Offline && lim > 0 {
			offlineLeft = max(lim-max(e.acct.OfflineRedeemedToday, 0), 0)
		}
	}
	for n := range rules {
		c := &rules[n]
		r := c.r
		if c.targeted && !e.cand[base+n] {
			e.drop(c, dropNoLines, "")
			continue
		}
		if code, detail := e.ineligible(c); code != dropNone {
			e.drop(c, code, detail)
			continue
		}
		if by := e.supersededBy(c); by != "" {
			e.drop(c, dropSuperseded, by)
			continue
		}
		switch {
		case budget == 0:
			e.drop(c, dropNoRequest, "")
			continue
		case balance < max(r.MinBalance, 1):
			e.drop(c, dropBalance, fmt.Sprintf("%d < %d", balance, max(r.MinBalance, 1)))
			continue
		case offlineLeft == 0:
			e.drop(c, dropOffline, "")
			continue
		}
		e.claim(c)
		e.active[base+n] = true
		allow := min(budget, balance)
		if offlineLeft >= 0 {
			allow = min(allow, offlineLeft)
		}
		a, skipped := c.spec.pay(e, c, wallet{allow: allow, asked: budget, balance: balance, offlineLeft: offlineLeft})
		if a.Redeemed == 0 {
			code, detail := catalogDrop(skipped)
			e.drop(c, code, detail)
			continue
		}
		budget -= a.Redeemed
		balance -= a.Redeemed
		if offlineLeft >= 0 {
			offlineLeft -= a.Redeemed
		}
		e.use(c)
		e.q.Applied = append(e.q.Applied, a)
		e.q.Discount += a.Amount
		e.q.PointsRedeemed += a.Redeemed
		e.q.PointsValue += a.Amount
	}
	e.consumeLots()
	return nil
}

// catalog takes catalog items in the basket for points, whole units only,
// and only units the discounts before it left something to pay on: a unit
// the customer already gets free is never charged points again, whatever
// ran before (a promotion, a gift, a 100 % card). A unit's share of what is
// left of its line is what money.Allocate gives it over equal weights, the
// first left%qty units one minor unit more; the catalog takes those first,
// so every unit it takes is worth at least one minor unit.
//
// The items it could not take are in skipped, for the explanation.
func (e *engine) catalog(c *crule, w wallet) (a pos.Applied, skipped []catalogSkip) {
	r, allow := c.r, w.allow
	a = pos.Applied{Rule: r.ID, Kind: string(r.Kind)}
	var names []string
	for _, it := range r.Items {
		name := it.Name
		if name == "" {
			name = it.SKU
		}
		for k := range e.lines {
			l := &e.lines[k]
			if l.SKU != it.SKU || c.excl.has(l.Category) {
				continue
			}
			left := e.left[k]
			each, extra := left/money.Amount(l.Qty), int64(left%money.Amount(l.Qty))
			worth := l.Qty // units worth at least one minor unit
			if each == 0 {
				worth = extra
			}
			if worth < l.Qty {
				skipped = append(skipped, catalogSkip{name: name, units: l.Qty - worth, free: true})
			}
			if worth == 0 {
				continue
			}
			u := min(worth, allow/it.Points)
			if u < worth {
				skipped = append(skipped, catalogSkip{name: name, units: worth - u, points: it.Points, allow: allow - u*it.Points})
			}
			if u == 0 {
				continue
			}
			v := each*money.Amount(u) + money.Amount(min(u, extra))
			pts := u * it.Points
			allow -= pts
			e.left[k] -= v
			e.redeemed[k] += pts
			a.Amount += v
			a.Redeemed += pts
			names = append(names, fmt.Sprintf("%s × %d", name, u))
		}
	}
	if a.Redeemed > 0 {
		a.Reason = catalogReason(r, names, a.Redeemed)
		a.Note = catalogSkipped(skipped)
	}
	return a, skipped
}

// catalogSkip is catalog units in the basket the rule did not take: free
// already, or more points than the customer could still pay with.
type catalogSkip struct {
	name   string
	units  int64
	free   bool
	points int64 // not free: the points of one unit
	allow  int64 // not free: the points left to pay with
}

// wallet is what a rule paying with points may take: allow points, of the
// asked the customer wants to pay with, the usable balance, and what the
// offline limit leaves (-1: no limit).
type wallet struct {
	allow, asked, balance, offlineLeft int64
}

// redeem pays up to MaxShare of what is left of the lines it reaches with
// points at PointValue each, within the points allowed.
func (e *engine) redeem(c *crule, w wallet) (pos.Applied, []catalogSkip) {
	r := c.r
	allow, asked, balance, offlineLeft := w.allow, w.asked, w.balance, w.offlineLeft
	a := pos.Applied{Rule: r.ID, Kind: string(r.Kind)}
	base := e.baseWeights(c)
	share := r.MaxShare
	if share == 0 {
		share = money.Whole
	}
	room := base.Percent(share, money.Down)
	byShare := int64(room / r.PointValue)
	pts := min(allow, byShare)
	if pts <= 0 {
		return a, nil
	}
	value := money.Amount(pts) * r.PointValue // ≤ room
	e.alloc.into(e.want, value, e.weights)
	// The points follow the money: each line's share of them.
	e.alloc.into(e.weights, money.Amount(pts), e.want)
	for k := range e.lines {
		e.left[k] -= e.want[k]
		e.redeemed[k] += int64(e.weights[k])
	}
	a.Amount, a.Redeemed = value, pts
	// Say what held the redemption back, most binding first.
	why := ""
	switch {
	case pts == asked:
	case offlineLeft >= 0 && pts == offlineLeft:
		why = fmt.Sprintf("не больше %d %s в день без связи с сервером", e.rs.Limits.OfflinePointsPerDay, pointsWord(e.rs.Limits.OfflinePointsPerDay))
	case pts == byShare && share < money.Whole:
		why = "не больше " + formatPercent(share) + " покупки"
	case pts == byShare:
		why = "не больше суммы покупки"
	case pts == balance:
		why = "весь доступный остаток"
	}
	a.Reason = e.text(appendRedeemReason(e.textBuf[:0], e.cur, r, pts, value, why))
	return a, nil
}

// consumeLots reports which lots the points paid with come from: the oldest
// unexpired ones first.
func (e *engine) consumeLots() {
	need := e.q.PointsRedeemed
	if need == 0 || e.acct == nil || len(e.acct.Lots) == 0 {
		return
	}
	lots := e.acct.Lots
	idx := make([]int, 0, len(lots))
	for i, l := range lots {
		if l.Points > 0 && !e.expired(l) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		la, lb := &lots[a], &lots[b]
		if c := la.Earned.Compare(lb.Earned); c != 0 {
			return c
		}
		// Sooner expiry first; never last.
		switch {
		case la.Expires.IsZero() != lb.Expires.IsZero():
			if la.Expires.IsZero() {
				return 1
			}
			return -1
		default:
			return la.Expires.Compare(lb.Expires)
		}
	})
	for _, i := range idx {
		if need == 0 {
			break
		}
		take := min(need, lots[i].Points)
		need -= take
		e.q.Lots = append(e.q.Lots, pos.LotUse{Lot: i, Earned: lots[i].Earned, Expires: lots[i].Expires, Points: take})
	}
}

func (e *engine) earning() error {
	rules := e.rules(phaseEarn)
	base := e.p.byPhase[phaseEarn]
	for n := range rules {
		c := &rules[n]
		if c.group >= 0 {
			if e.done[c.group] {
				continue
			}
			e.done[c.group] = true
			if err := e.contest(c.group, e.earnValue); err != nil {
				return err
			}
			continue
		}
		if code, detail := e.ineligible(c); code != dropNone {
			e.drop(c, code, detail)
			continue
		}
		e.active[base+n] = true
		if err := e.applyEarn(c); err != nil {
			return err
		}
	}
	// The points parts of partner and birthday rules that applied with the
	// discounts.
	for n := e.p.byPhase[phaseDiscount]; n < e.p.byPhase[phaseDiscount+1]; n++ {
		if c := &e.p.rules[n]; e.active[n] && c.alsoEarns {
			if err := e.applyEarn(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *engine) earnValue(c *crule) (money.Amount, error) {
	pts, err := e.earned(c)
	return money.Amount(pts), err
}

// earned computes the points rule c gives, with their weights per line in
// e.weights.
func (e *engine) earned(c *crule) (int64, error) {
	if c.spec.earn == nil {
		return 0, nil
	}
	return c.spec.earn(e, c)
}

// earnPer: Points for every full Per paid in money on the lines the rule
// does not exclude, each line weighed by its multiplier, rounded down once
// on the sum.
func (e *engine) earnPer(c *crule) (int64, error) {
	r := c.r
	if r.Points == 0 { // a partner rule with a discount only
		return 0, nil
	}
	var w money.Amount
	for k := range e.lines {
		l := &e.lines[k]
		e.weights[k] = 0
		if c.excl.has(l.Category) || e.left[k] == 0 {
			continue
		}
		// left ≤ 10^12 and times ≤ 1000: the sum over 1000 lines fits.
		e.weights[k] = e.left[k] * money.Amount(multiplier(r, l))
		w += e.weights[k]
	}
	units := w / (r.Per * 100)
	pts, err := money.MulDiv(units, r.Points, 1, money.Down)
	if err != nil {
		return 0, fmt.Errorf("points of rule %q: %d × %d: %w", r.ID, units, r.Points, err)
	}
	return int64(pts), nil
}

// earnBirthday: the bonus, once per birthday.
func (e *engine) earnBirthday(c *crule) (int64, error) {
	if e.birthdayBonusSpent() {
		return 0, nil
	}
	return e.earnBonus(c)
}

// earnBonus: the rule's BonusPoints, a gift rather than a share of the
// purchase, spread over the lines by bonusWeights.
func (e *engine) earnBonus(c *crule) (int64, error) {
	if c.r.BonusPoints == 0 {
		return 0, nil
	}
	e.bonusWeights(c)
	return c.r.BonusPoints, nil
}

// bonusWeights spreads a fixed bonus over what is paid on the lines c
// reaches, else over their amounts, else over their units.
func (e *engine) bonusWeights(c *crule) {
	for _, pick := range []func(k int) money.Amount{
		func(k int) money.Amount { return e.left[k] },
		func(k int) money.Amount { return e.amount[k] },
		func(k int) money.Amount { return money.Amount(e.lines[k].Qty) },
	} {
		var sum money.Amount
		for k := range e.lines {
			e.weights[k] = 0
			if !c.excl.has(e.lines[k].Category) {
				e.weights[k] = pick(k)
				sum += e.weights[k]
			}
		}
		if sum > 0 {
			return
		}
	}
	// Every line excluded: the bonus sits on all of them by units.
	for k := range e.lines {
		e.weights[k] = money.Amount(e.lines[k].Qty)
	}
}

func multiplier(r *Rule, l *pos.Line) int64 {
	cat := int64(100)
	for _, m := range r.Multipliers {
		if m.SKU != "" && m.SKU == l.SKU {
			return m.Times
		}
		if m.Category != "" && m.Category == l.Category {
			cat = m.Times
		}
	}
	return cat
}

func (e *engine) applyEarn(c *crule) error {
	r := c.r
	pts, err := e.earned(c)
	if err != nil {
		return err
	}
	if pts == 0 {
		if r.Kind == KindBirthday && r.BonusPoints > 0 {
			e.bonusSpent(c)
			return nil
		}
		if r.phase() == phaseEarn && !(r.Kind == KindBirthday && len(r.Text) > 0) {
			e.drop(c, dropNothing, "")
		}
		return nil
	}
	parts := e.want
	e.alloc.into(parts, money.Amount(pts), e.weights)
	a := pos.Applied{Rule: r.ID, Kind: string(r.Kind), Points: pts}
	if r.Kind == KindPartner {
		a.Partner = r.Partner
		e.q.Partner = r.Partner
		for k, p := range parts {
			e.partner[k] += int64(p)
		}
		if e.q.PartnerPoints > math.MaxInt64-pts {
			return fmt.Errorf("partner points: %w", money.ErrOverflow)
		}
		e.q.PartnerPoints += pts
	} else {
		for k, p := range parts {
			e.points[k] += int64(p)
		}
		if e.q.PointsEarned > math.MaxInt64-pts {
			return fmt.Errorf("points earned: %w", money.ErrOverflow)
		}
		e.q.PointsEarned += pts
		if r.Kind == KindBirthday {
			e.q.BirthdayBonus += pts // ≤ PointsEarned
		}
	}
	a.Reason = e.earnReason(c)
	e.q.Applied = append(e.q.Applied, a)
	e.use(c)
	return nil
}

// donatePoints gives PointsShare of the card's points earned to the cause.
func (e *engine) donatePoints(c *crule) error {
	r := c.r
	d := money.Amount(e.q.PointsEarned).Percent(r.PointsShare, money.Down)
	if d == 0 {
		e.drop(c, dropNothing, "")
		return nil
	}
	for k, p := range e.points {
		e.weights[k] = money.Amount(p)
	}
	e.alloc.into(e.want, d, e.weights)
	for k, p := range e.want {
		e.points[k] -= int64(p)
	}
	e.q.PointsEarned -= int64(d)
	e.q.Donations = append(e.q.Donations, pos.Donation{Rule: r.ID, Cause: r.Cause, Points: int64(d)})
	e.use(c)
	return nil
}

// birthdayBonusSpent reports whether the card already earned a birthday
// bonus for the birthday whose window now is in: its last bonus
// (Account.BirthdayBonus) is nearest the same birthday as now. Windows reach
// at most 31 days from the birthday and birthdays are a year apart, so the
// nearest birthday of a sale inside a window is that window's, whatever the
// time zone it was recorded in.
func (e *engine) birthdayBonusSpent() bool {
	a := e.acct
	if a == nil || a.BirthdayBonus.IsZero() || a.Profile == nil {
		return false
	}
	m, d := a.Profile.BirthMonth, a.Profile.BirthDay
	last := newWallClock(a.BirthdayBonus.In(e.now.t.Location())).date
	return nearestBirthday(last, m, d) == nearestBirthday(e.now.date, m, d)
}

// bonusSpent explains a birthday rule that gave no bonus because the card
// had it for this birthday: on its discount when it gave one, else dropped.
// The note is set in every mode, so a quote is the same with Explain or not.
func (e *engine) bonusSpent(c *crule) {
	detail := birthdayBonusReason(c.r, e.acct.BirthdayBonus.In(e.now.t.Location()))
	for i := range e.q.Applied {
		if a := &e.q.Applied[i]; a.Rule == c.r.ID {
			if a.Note != "" {
				a.Note += "; "
			}
			a.Note += detail
			return
		}
	}
	e.drop(c, dropOnce, detail)
}
