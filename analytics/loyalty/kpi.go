package loyalty

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tilld/tilld/money"
)

// Periods of the KPI report.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week" // Monday to Sunday
	PeriodMonth = "month"
)

// KPIOptions set the KPI report.
type KPIOptions struct {
	// Period is PeriodDay, PeriodWeek or PeriodMonth (default).
	Period string
	// From and To are the first and last days of the report; the periods
	// are the calendar periods that hold them, whole.
	From, To int32
	// Store, when set, keeps that store's rows alone (the chain's stay);
	// with By "region", Region keeps that region's.
	Store, Region string
	// By is "store" (default: a row per store) or "region" (a row per
	// region, the stores of each added up; a store's region is the one its
	// latest sale or NPS answer named).
	By string
	// PointValue is what one point pays for, in minor units (the ruleset's
	// redeem rule); 0 when unknown: the liability is then not stated.
	PointValue money.Amount
	// TierOrder is the tiers from the lowest up (the ruleset's tiers rule,
	// which lists them from the lowest spend); nil when unknown: tier
	// movements are then not counted up or down. No tier ("") is below
	// every tier.
	TierOrder []string
	// Now is when the report is made: lots expired by then count as expired
	// even when no event of their card followed (HQ's balance drops by its
	// clock). Zero: only the expiries an event recorded.
	Now time.Time
}

// Ways to group the KPI report's rows.
const (
	ByStore  = "store"
	ByRegion = "region"
)

// KPIReport is `tillhq report kpi`: the programme's figures per period, for
// the chain and per store (docs/analytics.md, "Programme KPIs").
type KPIReport struct {
	Currency   string       `json:"currency"`
	Period     string       `json:"period"`
	By         string       `json:"by"`
	From       string       `json:"from"`
	To         string       `json:"to"`
	PointValue money.Amount `json:"point_value"`
	Periods    []KPIPeriod  `json:"periods"`
	// Missing names the figures HQ cannot state yet, and why.
	Missing []string `json:"missing"`
}

// KPIPeriod is one period's figures.
type KPIPeriod struct {
	Start  string `json:"start"`
	End    string `json:"end"`
	Chain  KPI    `json:"chain"`
	Stores []KPI  `json:"stores"`
	// Regions are the rows by region (By "region"; Stores is then empty).
	Regions []KPI `json:"regions,omitempty"`
	// PointsOutstanding is the points on every card at the period's end
	// (balances above zero; an overdrawn card owes, it is not owed);
	// Liability their value at PointValue (null when it is not known).
	PointsOutstanding int64         `json:"points_outstanding"`
	Liability         *money.Amount `json:"liability"`
}

// KPI is the programme's figures for one period, chain-wide (Store and
// Region ""), at one store or in one region.
type KPI struct {
	Store  string `json:"store,omitempty"`
	Region string `json:"region,omitempty"`
	// Sales counts every sale, CardSales those with a card; Revenue is what
	// every sale took.
	Sales     int64        `json:"sales"`
	CardSales int64        `json:"card_sales"`
	Revenue   money.Amount `json:"revenue"`
	// Active counts the cards that bought in the period; New those whose
	// first purchase anywhere was in it (at a store: and there); Returning
	// the active cards that bought anywhere before the period; Repeat the
	// active cards with two purchase days or more in it.
	Active    int `json:"active"`
	New       int `json:"new"`
	Returning int `json:"returning"`
	Repeat    int `json:"repeat"`
	// RepeatRate is Repeat / Active (0 when none).
	RepeatRate float64 `json:"repeat_rate"`
	// PointsEarned and PointsRedeemed (spent) in the period; RedemptionRate
	// is redeemed / earned (0 when nothing was earned).
	PointsEarned   int64   `json:"points_earned"`
	PointsRedeemed int64   `json:"points_redeemed"`
	RedemptionRate float64 `json:"redemption_rate"`
	// PointsExpired is the points whose lots expired in the period and
	// ExpiredValue their value at the report's point value (null when it is
	// not known); Breakage is expired ÷ earned in the period (0 when nothing
	// was earned). Chain-wide only: a card's points belong to the chain, not
	// to a store (null in the stores' and regions' rows).
	PointsExpired *int64        `json:"points_expired"`
	ExpiredValue  *money.Amount `json:"expired_value"`
	Breakage      *float64      `json:"breakage"`
	// Returns are the refunds taken back in the period (at the store: at
	// its tills), with their share of the period's revenue.
	Returns *ReturnsKPI `json:"returns"`
	// NPS is the answers to the NPS question in the period (null when none
	// was asked or given).
	NPS *NPS `json:"nps"`
	// Tiers counts the active cards by the tier of their last sale in the
	// period ("" when the ruleset has no tiers).
	Tiers map[string]int `json:"tiers"`
	// TierMoves counts the active cards whose tier at their last sale in
	// the period (here: the one Tiers counts) differs from their tier at
	// their last sale anywhere before it, by move; a card's first purchase
	// is no move. TiersUp and TiersDown add up the moves to a higher tier
	// and to a lower one by the report's tier order (null when it has
	// none; a move from or to a tier not in it counts in neither).
	TierMoves []TierMove `json:"tier_moves"`
	TiersUp   *int       `json:"tiers_up"`
	TiersDown *int       `json:"tiers_down"`
	// Partner is the points each partner programme owes its cards for the
	// period's sales; Charity what each cause received.
	Partner map[string]int64   `json:"partner"`
	Charity map[string]Charity `json:"charity"`
}

// TierMove is the cards that moved from one tier to another ("": none).
type TierMove struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Cards int    `json:"cards"`
}

// ReturnsKPI is the returns of a period: how many refunds, the money they
// handed back, its share of the period's revenue (Amount ÷ Revenue, 0
// without revenue), and the points they took back (earned by the sales)
// and gave back (paid with at the sales). Revenue and points earned stay
// the sales' as sold.
type ReturnsKPI struct {
	Count          int64        `json:"count"`
	Amount         money.Amount `json:"amount"`
	Share          float64      `json:"share"`
	PointsReversed int64        `json:"points_reversed"`
	PointsReturned int64        `json:"points_returned"`
}

// kpiMissing is what the KPI report cannot state from what HQ holds today.
var kpiMissing = []string{}

// periodStart returns the first day of the period that holds day.
func periodStart(period string, day int32) int32 {
	switch period {
	case PeriodDay:
		return day
	case PeriodWeek:
		// 1970-01-01 was a Thursday: day+3 counts from a Monday.
		return day - ((day%7+7+3)%7+7)%7
	}
	t := Date(day)
	return DayOf(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), 0)
}

// periodNext returns the first day of the period after the one starting at start.
func periodNext(period string, start int32) int32 {
	switch period {
	case PeriodDay:
		return start + 1
	case PeriodWeek:
		return start + 7
	}
	t := Date(start)
	return DayOf(time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC), 0)
}

// ErrKPIOptions: KPIOptions ask for a report that cannot be made (an unknown
// period, days in the wrong order, too many periods).
var ErrKPIOptions = errors.New("kpi options")

// KPIs returns the KPI report of the book: the periods that hold From..To.
func (b *Book) KPIs(o KPIOptions) (KPIReport, error) {
	if o.Period == "" {
		o.Period = PeriodMonth
	}
	if o.By == "" {
		o.By = ByStore
	}
	switch {
	case o.Period != PeriodDay && o.Period != PeriodWeek && o.Period != PeriodMonth:
		return KPIReport{}, fmt.Errorf("%w: period %q: want day, week or month", ErrKPIOptions, o.Period)
	case o.By != ByStore && o.By != ByRegion:
		return KPIReport{}, fmt.Errorf("%w: by %q: want store or region", ErrKPIOptions, o.By)
	case o.To < o.From:
		return KPIReport{}, fmt.Errorf("%w: to %s is before from %s", ErrKPIOptions, DateString(o.To), DateString(o.From))
	case o.PointValue < 0:
		return KPIReport{}, fmt.Errorf("%w: point value %d is negative", ErrKPIOptions, o.PointValue)
	}
	rep := KPIReport{Currency: b.Currency, Period: o.Period, By: o.By, From: DateString(o.From), To: DateString(o.To), PointValue: o.PointValue,
		Periods: []KPIPeriod{}, Missing: kpiMissing}
	var starts []int32 // and one past the last
	for s := periodStart(o.Period, o.From); s <= o.To; s = periodNext(o.Period, s) {
		starts = append(starts, s)
		if len(starts) > 10_000 {
			return KPIReport{}, fmt.Errorf("%w: more than 10 000 %ss from %s to %s", ErrKPIOptions, o.Period, rep.From, rep.To)
		}
	}
	starts = append(starts, periodNext(o.Period, starts[len(starts)-1]))
	first, end := starts[0], starts[len(starts)-1] // days first..end-1
	periodOf := func(day int32) int {
		i, found := slices.BinarySearch(starts, day)
		if !found {
			i--
		}
		return i
	}
	np := len(starts) - 1
	// The rows: a store each, or a region each (group[store index]).
	group := make([]int, len(b.stores))
	var names []string
	if o.By == ByStore {
		names = b.stores
		for i := range group {
			group[i] = i
		}
	} else {
		for i := range b.stores {
			if r := b.regions[uint16(i)]; !slices.Contains(names, r) {
				names = append(names, r)
			}
		}
		slices.Sort(names)
		for i := range group {
			group[i], _ = slices.BinarySearch(names, b.regions[uint16(i)])
		}
	}
	ng := len(names)
	// The rows: the chain's, one a period; a store's (region's) only for
	// the periods it has something in, made when first touched. A row for
	// every store in every period was 4 MiB per store in a daily report of
	// 27 years (10 000 periods at most): 1.6 GB for 400 stores.
	type move struct{ from, to uint16 }
	type cell struct {
		KPI
		moves map[move]int // the tier moves
	}
	chain := make([]cell, np)
	for i := range chain {
		chain[i].KPI = newKPI("")
	}
	// Period p, row g at p*ng+g: in a slice when it is small, in a map
	// when it would not be (the map is slower to read).
	var dense []*cell
	sparse := map[int]*cell{}
	if np*ng <= 1<<16 { // 512 KiB
		dense = make([]*cell, np*ng)
	}
	var keys []int // the cells made
	rowAt := func(k int) *cell {
		var c *cell
		if dense != nil {
			c = dense[k]
		} else {
			c = sparse[k]
		}
		if c == nil {
			c = &cell{KPI: newKPI(names[k%ng])}
			if o.By == ByRegion {
				c.Store, c.Region = "", names[k%ng]
			}
			if dense != nil {
				dense[k] = c
			} else {
				sparse[k] = c
			}
			keys = append(keys, k)
		}
		return c
	}
	// The sums per day and store.
	for k, dt := range b.days {
		if k.day < first || k.day >= end {
			continue
		}
		p := periodOf(k.day)
		chain[p].addDay(dt)
		rowAt(p*ng + group[k.store]).addDay(dt)
	}
	// The points expired, chain-wide.
	expired, pending := b.expiredBy(o.Now)
	expiredIn := make([]int64, np)
	for d, n := range expired {
		if d >= first && d < end {
			expiredIn[periodOf(d)] += n
		}
	}
	// The cards, one at a time. A card's share of the points outstanding
	// goes in as a difference (its balance from period p to q: +balance at
	// p, −balance at q), and only the periods it bought in are visited: a
	// card costs its events, not the report's periods.
	outstandingDiff := make([]int64, np+1)
	periodsTo := func(day int32) int { // how many periods end by day
		i, found := slices.BinarySearch(starts[1:], day)
		if found {
			i++
		}
		return i
	}
	type seen struct { // 16 bytes: one per card and row it bought in
		days      int32
		lastDay   int32
		lastTier  uint16
		fromTier  uint16 // at the card's last sale before the period
		returning bool
	}
	chainSeen := make([]seen, np)
	var chainTouched []int // the periods of chainSeen the card bought in
	rowSeen := map[int]*seen{}
	for _, c := range b.list {
		if len(c.visits) == 0 && b.adjust[c] == nil {
			continue
		}
		for _, p := range chainTouched {
			chainSeen[p] = seen{}
		}
		chainTouched = chainTouched[:0]
		clear(rowSeen)
		var prevTier uint16 // the tier of the card's visit before v
		for _, v := range c.visits {
			if v.day < first {
				prevTier = v.tier
				continue
			}
			if v.day >= end {
				break
			}
			p := periodOf(v.day)
			before := c.visits[0].day < starts[p]
			cs := &chainSeen[p]
			if cs.days == 0 {
				cs.fromTier = prevTier // the visits go by day: every one before v is before the period
				chainTouched = append(chainTouched, p)
			}
			prevTier = v.tier
			if cs.days == 0 || cs.lastDay != v.day {
				cs.days++
			}
			cs.lastDay, cs.lastTier, cs.returning = v.day, v.tier, before
			k := p*ng + group[v.store]
			ss := rowSeen[k]
			if ss == nil {
				ss = &seen{fromTier: cs.fromTier}
				rowSeen[k] = ss
			}
			if ss.days == 0 || ss.lastDay != v.day {
				ss.days++ // one a day, whatever the stores of the region
			}
			ss.lastDay, ss.lastTier, ss.returning = v.day, v.tier, before
		}
		// The balance at each period's end: purchases' points, refunds'
		// and expiries, each list by day, walked together.
		adj, pend := b.adjust[c], pending[c]
		var balance int64
		p := 0
		hold := func(to int) { // the balance stands at the ends of periods p..to-1
			if to > p && balance > 0 {
				outstandingDiff[p] += balance
				outstandingDiff[to] -= balance
			}
			p = max(p, to)
		}
		for i, j, k := 0, 0, 0; ; {
			day, points := int32(math.MaxInt32), int64(0)
			switch {
			case i < len(c.visits) && (j == len(adj) || c.visits[i].day <= adj[j].day) && (k == len(pend) || c.visits[i].day <= pend[k].day):
				day, points = c.visits[i].day, int64(c.visits[i].points)
				i++
			case j < len(adj) && (k == len(pend) || adj[j].day <= pend[k].day):
				day, points = adj[j].day, adj[j].points
				j++
			case k < len(pend):
				day, points = pend[k].day, pend[k].points
				k++
			}
			if day == math.MaxInt32 {
				break
			}
			hold(periodsTo(day))
			balance += points
		}
		hold(np)
		count := func(q *cell, s *seen) {
			q.Active++
			if s.returning {
				q.Returning++
				if s.fromTier != s.lastTier {
					if q.moves == nil {
						q.moves = map[move]int{}
					}
					q.moves[move{s.fromTier, s.lastTier}]++
				}
			}
			if s.days >= 2 {
				q.Repeat++
			}
			q.Tiers[b.tiers[s.lastTier]]++
		}
		for _, p := range chainTouched {
			count(&chain[p], &chainSeen[p])
		}
		for k, s := range rowSeen {
			count(rowAt(k), s)
		}
		if len(c.visits) > 0 {
			if firstDay := c.visits[0].day; firstDay >= first && firstDay < end {
				fp := periodOf(firstDay)
				chain[fp].New++
				rowAt(fp*ng+group[c.visits[0].store]).New++
			}
		}
	}
	outstanding := make([]int64, np)
	var sum int64
	for p := range np {
		sum += outstandingDiff[p]
		outstanding[p] = sum
	}
	// The tiers' ranks: none is 0, the lowest tier 1; unknown tiers have none.
	var rank map[string]int
	if len(o.TierOrder) > 0 {
		rank = map[string]int{"": 0}
		for i, t := range o.TierOrder {
			if _, ok := rank[t]; !ok {
				rank[t] = i + 1
			}
		}
	}
	tierMoves := func(q *cell) {
		q.TierMoves = []TierMove{}
		for mv, n := range q.moves {
			q.TierMoves = append(q.TierMoves, TierMove{From: b.tiers[mv.from], To: b.tiers[mv.to], Cards: n})
		}
		slices.SortFunc(q.TierMoves, func(a, b TierMove) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
		if rank == nil {
			return
		}
		var up, down int
		for _, mv := range q.TierMoves {
			from, okFrom := rank[mv.From]
			to, okTo := rank[mv.To]
			switch {
			case !okFrom || !okTo:
			case to > from:
				up += mv.Cards
			case to < from:
				down += mv.Cards
			}
		}
		q.TiersUp, q.TiersDown = &up, &down
	}
	slices.Sort(keys) // by period, then row
	for p := range np {
		tierMoves(&chain[p])
		ch := chain[p].done()
		ex := expiredIn[p]
		ch.PointsExpired = &ex
		if o.PointValue > 0 {
			v := money.Amount(ex) * o.PointValue
			ch.ExpiredValue = &v
		}
		var breakage float64
		if ch.PointsEarned > 0 {
			breakage = math.Round(1000*float64(ex)/float64(ch.PointsEarned)) / 1000
		}
		ch.Breakage = &breakage
		kp := KPIPeriod{Start: DateString(starts[p]), End: DateString(starts[p+1] - 1), Chain: ch, Stores: []KPI{},
			PointsOutstanding: outstanding[p]}
		if o.PointValue > 0 {
			l := money.Amount(outstanding[p]) * o.PointValue
			kp.Liability = &l
		}
		var list []KPI
		for ; len(keys) > 0 && keys[0] < (p+1)*ng; keys = keys[1:] {
			q := rowAt(keys[0])
			if (o.Store != "" && q.Store != o.Store) || (o.Region != "" && q.Region != o.Region) ||
				q.Sales == 0 && q.Active == 0 && q.Returns.Count == 0 && q.NPS == nil {
				continue
			}
			tierMoves(q)
			list = append(list, q.done())
		}
		slices.SortFunc(list, func(a, b KPI) int { return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Store, b.Store)) })
		if o.By == ByRegion {
			kp.Regions = append([]KPI{}, list...)
		} else if list != nil {
			kp.Stores = list
		}
		rep.Periods = append(rep.Periods, kp)
	}
	return rep, nil
}

func newKPI(store string) KPI {
	return KPI{Store: store, Tiers: map[string]int{}, Partner: map[string]int64{}, Charity: map[string]Charity{}, Returns: &ReturnsKPI{}}
}

func (q *KPI) addDay(dt *DayTotals) {
	q.Sales += dt.Sales
	q.CardSales += dt.CardSales
	q.Revenue += dt.Revenue
	q.PointsEarned += dt.Earned
	q.PointsRedeemed += dt.Redeemed
	for k, v := range dt.Partner {
		q.Partner[k] += v
	}
	for k, v := range dt.Charity {
		c := q.Charity[k]
		c.Amount += v.Amount
		c.Points += v.Points
		q.Charity[k] = c
	}
	q.Returns.Count += dt.Returns.Count
	q.Returns.Amount += dt.Returns.Amount
	q.Returns.PointsReversed += dt.Returns.PointsReversed
	q.Returns.PointsReturned += dt.Returns.PointsReturned
	if dt.NPS != nil {
		if q.NPS == nil {
			q.NPS = &NPS{}
		}
		q.NPS.merge(*dt.NPS)
	}
}

func (q KPI) done() KPI {
	if q.Active > 0 {
		q.RepeatRate = math.Round(1000*float64(q.Repeat)/float64(q.Active)) / 1000
	}
	if q.PointsEarned > 0 {
		q.RedemptionRate = math.Round(1000*float64(q.PointsRedeemed)/float64(q.PointsEarned)) / 1000
	}
	r := *q.Returns
	if q.Revenue > 0 {
		r.Share = math.Round(1e4*float64(r.Amount)/float64(q.Revenue)) / 1e4
	}
	q.Returns = &r
	if q.NPS != nil {
		n := q.NPS.done()
		q.NPS = &n
	}
	return q
}
