package discount

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Options tune ApplyWith. The zero value is what Apply uses.
type Options struct {
	// Explain fills pos.Quote.Dropped with every rule that did not apply and
	// why. It costs time and memory on large rulesets, so it is off for
	// ordinary pricing.
	Explain bool
}

// Apply prices basket with the rules of rs for the card whose account is acct
// (nil when no card was presented) at time now, and explains every discount and
// every point in the quote's Applied list, one entry per rule that changed the
// price or the points.
//
// The error is a *pos.InputError (wrapped) when the basket is invalid,
// a *ValidationError (wrapped) when rs does not pass Validate, ErrNotEffective
// when rs takes effect after now, and money.ErrOverflow (wrapped) when points
// do not fit in an int64. Apply never panics on a ruleset that fails
// validation, it refuses it.
//
// Apply only reads rs (it compiles it once, safely): one Ruleset may serve
// concurrent callers, as long as nobody modifies it.
func Apply(rs *Ruleset, basket pos.Basket, acct *pos.Account, now time.Time) (pos.Quote, error) {
	return ApplyWith(rs, basket, acct, now, Options{})
}

// ApplyWith is Apply with options.
func ApplyWith(rs *Ruleset, basket pos.Basket, acct *pos.Account, now time.Time, opts Options) (pos.Quote, error) {
	var q pos.Quote
	if err := ApplyTo(&q, rs, basket, acct, now, opts); err != nil {
		return pos.Quote{}, err
	}
	return q, nil
}

// ApplyTo is ApplyWith writing the quote to *q, in the arrays of q's slices
// (its lines, applied rules, flags, lots, gifts, raffles, donations and
// dropped rules) where they are large enough: a caller pricing basket after
// basket (HQ's simulation of a draft ruleset) passes the same quote each time, and
// pricing then allocates only the reasons that name the basket's own
// numbers. Whatever still holds q's slices from the last basket sees them
// overwritten. On an error *q is the zero Quote.
func ApplyTo(q *pos.Quote, rs *Ruleset, basket pos.Basket, acct *pos.Account, now time.Time, opts Options) error {
	if err := applyTo(q, rs, &basket, acct, now, opts); err != nil {
		*q = pos.Quote{}
		return err
	}
	return nil
}

func applyTo(q *pos.Quote, rs *Ruleset, basket *pos.Basket, acct *pos.Account, now time.Time, opts Options) error {
	if err := basket.Validate(); err != nil {
		return fmt.Errorf("apply rules: %w", err)
	}
	if rs == nil {
		return fmt.Errorf("apply rules: %w", rs.Validate())
	}
	p := rs.compiled()
	if p.err != nil {
		return fmt.Errorf("apply rules: %w", p.err)
	}
	if !rs.EffectiveAt(now) {
		return fmt.Errorf("apply rules version %d at %s: effective from %s: %w",
			rs.Version, now.Format(time.RFC3339), rs.Effective, ErrNotEffective)
	}
	e := newEngine(rs, p, basket, acct, now, opts, q)
	defer e.release()
	if err := e.run(); err != nil {
		return fmt.Errorf("apply rules version %d: %w", rs.Version, err)
	}
	e.finish(q)
	return nil
}

// engines keeps engines with their scratch between baskets, so that pricing
// one allocates little more than its quote: what does not allocate does not
// collect, and garbage collection is what made the engine's p99 many times
// its p50.
var engines = sync.Pool{New: func() any { return new(engine) }}

// release returns e to engines, keeping its scratch and nothing of the
// basket's: the quote it built belongs to the caller.
func (e *engine) release() {
	scratch := engine{
		lines: e.lines[:0], order: e.order[:0], amounts: e.amounts[:0], counts: e.counts[:0],
		hitHead: e.hitHead[:0], hitLine: e.hitLine[:0], hitNext: e.hitNext[:0], idx: e.idx[:0],
		flags: e.flags[:0], track: e.track[:0], alloc: e.alloc, applied: e.applied[:0], textBuf: e.textBuf[:0],
	}
	clear(e.lines[:cap(e.lines)])     // the lines' strings are the caller's
	clear(e.applied[:cap(e.applied)]) // and the reasons are the quote's
	// basketv goes with the rest: its strings and lines are the caller's.
	*e = scratch
	engines.Put(e)
}

// reuse returns s with length n and every element zero, in s's array when it
// is large enough.
func reuse[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// engine prices one basket. Lines are kept in a canonical order so that every
// tie in an allocation is independent of the order they were rung up in.
type engine struct {
	rs      *Ruleset
	p       *program
	cur     money.Currency
	basket  *pos.Basket // &basketv
	basketv pos.Basket  // the caller's, copied: the engine outlives the call in engines
	acct    *pos.Account
	card    string
	now     wallClock
	explain bool

	lines    []pos.Line // canonical order
	order    []int      // order[k] is the caller's index of lines[k]
	amount   []money.Amount
	left     []money.Amount // what is left to pay on each line
	floor    []money.Amount // the least discounts may leave on each line
	want     []money.Amount // scratch: a rule's shares before limits
	clip     []money.Amount // scratch: its shares after limits
	weights  []money.Amount // scratch
	points   []int64        // per line: points earned
	redeemed []int64        // per line: points paid with
	partner  []int64        // per line: partner points
	subtotal money.Amount
	// basketRoom is what the basket limit still allows; -1 for no limit.
	basketRoom money.Amount

	cand []bool // per program rule: the basket has a line it targets
	// The lines each targeted rule hits, as linked lists: hitHead[n] is one
	// more than the index in hitLine/hitNext of rule n's last hit; 0: none.
	hitHead []int32
	hitLine []int32
	hitNext []int32
	idx     []int  // scratch: the lines a rule reaches
	active  []bool // per program rule: it applied in its phase
	used    []bool // per program rule: it gave something (explain mode)
	dropped []bool // per program rule: it is in Dropped (explain mode)
	done    []bool // per group: resolved

	// The arrays the slices above are cut from, kept with the engine between
	// baskets (see engines).
	amounts []money.Amount
	counts  []int64
	flags   []bool
	track   []bool

	q pos.Quote
	// applied is the array e.q.Applied grows in while the basket is priced;
	// the quote gets a copy of exactly its length (finish), so a basket on
	// which a hundred rules apply leaves one slice of garbage, not eight.
	applied []pos.Applied
	alloc   allocator
	// textBuf is the scratch the basket's reasons are written in (text).
	textBuf  []byte
	birthday bool // the customer is inside a birthday rule's window
	// firsts are the rules that took a class of which one rule applies per
	// basket (kindSpec.onePer), in firstsBuf while there are few.
	firsts    []first
	firstsBuf [4]first
}

type first struct{ class, rule string }

// supersededBy returns the id of the rule that took c's class first, or "".
func (e *engine) supersededBy(c *crule) string {
	if c.onePer == "" {
		return ""
	}
	for _, f := range e.firsts {
		if f.class == c.onePer {
			return f.rule
		}
	}
	return ""
}

// claim records that c applies as the one of its class for this basket.
func (e *engine) claim(c *crule) {
	if c.onePer != "" && e.supersededBy(c) == "" {
		e.firsts = append(e.firsts, first{c.onePer, c.r.ID})
	}
}

// newEngine takes an engine from engines for basket b, to write its quote in
// the arrays of dst's slices (finish).
func newEngine(rs *Ruleset, p *program, b *pos.Basket, acct *pos.Account, now time.Time, opts Options, dst *pos.Quote) *engine {
	n := len(b.Lines)
	e := engines.Get().(*engine)
	e.basketv = *b
	e.rs, e.p, e.cur, e.basket, e.acct, e.now, e.explain = rs, p, rs.Currency, &e.basketv, acct, newWallClock(now), opts.Explain
	e.lines, e.order = reuse(e.lines, n), reuse(e.order, n)
	if acct != nil {
		e.card = acct.Card
		if e.card == "" {
			e.card = b.Card
		}
	}
	e.amounts = reuse(e.amounts, 6*n)
	amounts := e.amounts
	e.amount, e.left, e.floor, e.want, e.clip, e.weights = amounts[:n], amounts[n:2*n], amounts[2*n:3*n],
		amounts[3*n:4*n], amounts[4*n:5*n], amounts[5*n:6*n]
	e.counts = reuse(e.counts, 3*n)
	counts := e.counts
	e.points, e.redeemed, e.partner = counts[:n], counts[n:2*n], counts[2*n:]
	nr := len(p.rules)
	e.hitHead = reuse(e.hitHead, nr)
	e.hitLine, e.hitNext = reuse(e.hitLine, 2*n)[:0], reuse(e.hitNext, 2*n)[:0]
	e.idx = reuse(e.idx, n)[:0]
	e.flags = reuse(e.flags, 2*nr+len(p.groups))
	flags := e.flags
	e.cand, e.active, e.done = flags[:nr], flags[nr:2*nr], flags[2*nr:]
	e.used, e.dropped = nil, nil
	if opts.Explain {
		e.track = reuse(e.track, 2*nr)
		e.used, e.dropped = e.track[:nr], e.track[nr:]
	}

	for i := range e.order {
		e.order[i] = i
	}
	lines := b.Lines
	slices.SortStableFunc(e.order, func(a, b int) int {
		la, lb := &lines[a], &lines[b]
		if c := strings.Compare(la.Category, lb.Category); c != 0 {
			return c
		}
		if c := strings.Compare(la.SKU, lb.SKU); c != 0 {
			return c
		}
		if la.UnitPrice != lb.UnitPrice {
			return cmpInt(int64(la.UnitPrice), int64(lb.UnitPrice))
		}
		return cmpInt(la.Qty, lb.Qty)
	})
	for k, i := range e.order {
		l := lines[i]
		e.lines[k] = l
		// Validate bounds every line and the number of lines, so sums fit.
		a := l.Amount()
		e.subtotal += a
		e.amount[k] = a
		e.left[k] = a
		if f, ok := p.floors[l.SKU]; ok {
			e.floor[k] = min(a, f*money.Amount(l.Qty))
		}
		for _, n := range p.bySKU[l.SKU] {
			e.hit(n, k)
		}
		for _, n := range p.byCat[l.Category] {
			e.hit(n, k)
		}
	}
	e.firsts = e.firstsBuf[:0]
	e.basketRoom = -1
	if share := rs.Limits.BasketDiscount; share > 0 {
		e.basketRoom = e.subtotal.Percent(share, money.Down)
	}
	e.q = pos.Quote{
		Currency:       rs.Currency.Code,
		Subtotal:       e.subtotal,
		Applied:        e.applied[:0],
		RulesetVersion: rs.Version,
		Flags:          dst.Flags[:0],
		Lots:           dst.Lots[:0],
		Gifts:          dst.Gifts[:0],
		Raffles:        dst.Raffles[:0],
		Donations:      dst.Donations[:0],
		Dropped:        dst.Dropped[:0],
	}
	return e
}

// hit records that targeted rule n reaches line k.
func (e *engine) hit(n int32, k int) {
	e.cand[n] = true
	e.hitLine = append(e.hitLine, int32(k))
	e.hitNext = append(e.hitNext, e.hitHead[n])
	e.hitHead[n] = int32(len(e.hitLine))
}

// reached returns the lines rule c reaches, in canonical order, in scratch
// space valid until the next call: a targeted rule's hits, else every line
// it does not exclude.
func (e *engine) reached(c *crule) []int {
	idx := e.idx[:0]
	if c.targeted {
		// Hits were recorded in canonical order, so the list runs backwards;
		// a line hit by SKU and by category appears twice in a row.
		for j := e.hitHead[c.n]; j != 0; j = e.hitNext[j-1] {
			k := int(e.hitLine[j-1])
			if len(idx) > 0 && idx[len(idx)-1] == k {
				continue
			}
			idx = append(idx, k)
		}
		slices.Reverse(idx)
		if !c.excl.empty() {
			idx = slices.DeleteFunc(idx, func(k int) bool { return c.excl.has(e.lines[k].Category) })
		}
	} else {
		for k := range e.lines {
			if c.excl.empty() || !c.excl.has(e.lines[k].Category) {
				idx = append(idx, k)
			}
		}
	}
	e.idx = idx
	return idx
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (e *engine) run() error {
	e.tierInfo()
	if err := e.discounts(); err != nil {
		return err
	}
	if err := e.redemption(); err != nil {
		return err
	}
	if err := e.earning(); err != nil {
		return err
	}
	return e.after()
}

// tierInfo shows the card's tier, its message and flags, whether or not the
// tiers rule gives a discount on this basket.
func (e *engine) tierInfo() {
	if e.acct == nil || e.p.tiers == nil {
		return
	}
	t, ok := e.p.tiers.tierFor(e.acct.LifetimeSpend)
	if !ok {
		return
	}
	e.q.Tier = t.Name
	e.q.TierMessage = t.Message
	if len(t.Flags) > 0 && cap(e.q.Flags) == 0 {
		e.q.Flags = make([]string, 0, len(t.Flags)+1) // and "birthday" (finish)
	}
	e.q.Flags = append(e.q.Flags, t.Flags...)
}

// rules returns the program rules of phase ph.
func (e *engine) rules(ph phase) []crule {
	return e.p.rules[e.p.byPhase[ph]:e.p.byPhase[ph+1]]
}

// drop records, in explain mode, why a rule did not apply, once per rule.
func (e *engine) drop(c *crule, code dropCode, detail string) {
	if !e.explain || code == dropNone || e.used[c.n] || e.dropped[c.n] {
		return
	}
	e.dropped[c.n] = true
	e.q.Dropped = append(e.q.Dropped, pos.Dropped{Rule: c.r.ID, Code: code.String(), Reason: e.dropReason(c.r, code, detail)})
}

// use records, in explain mode, that a rule gave something.
func (e *engine) use(c *crule) {
	if e.explain {
		e.used[c.n] = true
	}
}

// ineligible checks the conditions of rule c; dropNone means it may apply,
// else the detail goes with the code into Dropped.
func (e *engine) ineligible(c *crule) (dropCode, string) {
	r := c.r
	if c.card && e.acct == nil {
		return dropNoCard, ""
	}
	if c.scoped && !e.inScope(r) {
		return dropScope, ""
	}
	if c.windowed {
		if code := c.win.outside(&e.now); code != dropNone {
			return code, ""
		}
	}
	if r.MinBasket > 0 && e.reach(c) < r.MinBasket {
		return dropMinBasket, ""
	}
	if c.spec.eligible != nil {
		return c.spec.eligible(e, c)
	}
	return dropNone, ""
}

// inTier: a tiers rule applies to a card in a tier.
func (e *engine) inTier(*crule) (dropCode, string) {
	if e.q.Tier == "" {
		return dropNoTier, ""
	}
	return dropNone, ""
}

// partnerCard: a partner rule applies to the partner's cards.
func (e *engine) partnerCard(c *crule) (dropCode, string) {
	for _, p := range c.r.Prefixes {
		if p.Contains(e.card) {
			return dropNone, ""
		}
	}
	return dropNotPartner, ""
}

// inBirthday: a birthday rule applies inside its window around the
// customer's birthday, which then flags the quote.
func (e *engine) inBirthday(c *crule) (dropCode, string) {
	r := c.r
	pr := e.acct.Profile
	if pr == nil || pr.BirthMonth < 1 || pr.BirthMonth > 12 || pr.BirthDay < 1 || pr.BirthDay > 31 {
		return dropNoProfile, ""
	}
	d := daysFromBirthday(e.now.date, pr.BirthMonth, pr.BirthDay)
	if d < -r.DaysBefore || d > r.DaysAfter {
		return dropNotBirthday, ""
	}
	e.birthday = true
	return dropNone, ""
}

// agreed: a charity rule applies when the customer agreed, or always.
func (e *engine) agreed(c *crule) (dropCode, string) {
	if !c.r.Always && !e.basket.Donate {
		return dropOptIn, ""
	}
	return dropNone, ""
}

func (e *engine) inScope(r *Rule) bool {
	b := e.basket
	return b.Store != "" && slices.Contains(r.Stores, b.Store) ||
		b.Region != "" && slices.Contains(r.Regions, b.Region) ||
		b.Terminal != "" && slices.Contains(r.Terminals, b.Terminal)
}

// reach is the basket's amount before discounts on the lines rule c does not
// exclude (a gift's own SKU not counted), for MinBasket.
func (e *engine) reach(c *crule) money.Amount {
	if c.excl.empty() && c.r.Kind != KindGift {
		return e.subtotal
	}
	var s money.Amount
	for k := range e.lines {
		l := &e.lines[k]
		if c.excl.has(l.Category) || c.r.Kind == KindGift && l.SKU == c.r.GiftSKU {
			continue
		}
		s += e.amount[k]
	}
	return s
}

// finish writes the quote to *dst: the lines back in the caller's order and
// the applied rules, in dst's arrays when they are large enough, and the
// flags; in explain mode it first accounts for every rule that neither
// applied nor was dropped.
func (e *engine) finish(dst *pos.Quote) {
	if e.explain {
		for n := range e.p.rules {
			if c := &e.p.rules[n]; !e.used[n] && !e.dropped[n] {
				e.drop(c, dropNothing, "")
			}
		}
	}
	e.q.Total = e.subtotal - e.q.Discount
	e.applied = e.q.Applied
	e.q.Applied = append(kept(dst.Applied, len(e.q.Applied))[:0], e.q.Applied...)
	if e.q.PointsEarned > 0 && e.p.expiry != nil {
		e.q.PointsExpire = e.p.expiry.PointsExpire(e.now.t)
	}
	e.q.Lines = kept(dst.Lines, len(e.lines))
	for k, i := range e.order {
		e.q.Lines[i] = pos.PricedLine{
			Line: e.lines[k], Amount: e.amount[k], Discount: e.amount[k] - e.left[k], Total: e.left[k],
			Points: e.points[k], Redeemed: e.redeemed[k], PartnerPoints: e.partner[k],
		}
	}
	if e.birthday {
		e.q.Birthday = true
		e.q.Flags = append(e.q.Flags, "birthday")
	}
	if len(e.q.Flags) > 1 {
		slices.Sort(e.q.Flags)
		e.q.Flags = slices.Compact(e.q.Flags)
	}
	*dst = e.q
}

// kept returns s with length n, in s's array when it is large enough, else
// a new one of exactly n: never nil, so that a quote's lines and applied
// rules encode as [] when there are none.
func kept[T any](s []T, n int) []T {
	if s == nil || cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
