package loyalty

import (
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
	// Store, when set, keeps that store's rows alone (the chain's stay).
	Store string
	// PointValue is what one point pays for, in minor units (the ruleset's
	// redeem rule); 0 when unknown: the liability is then not stated.
	PointValue money.Amount
}

// KPIReport is `tillhq report kpi`: the programme's figures per period, for
// the chain and per store (docs/analytics.md, "Programme KPIs").
type KPIReport struct {
	Currency   string       `json:"currency"`
	Period     string       `json:"period"`
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
	// PointsOutstanding is the points on every card at the period's end
	// (balances above zero; an overdrawn card owes, it is not owed);
	// Liability their value at PointValue (null when it is not known).
	PointsOutstanding int64         `json:"points_outstanding"`
	Liability         *money.Amount `json:"liability"`
}

// KPI is the programme's figures for one period, chain-wide (Store "") or
// at one store.
type KPI struct {
	Store string `json:"store,omitempty"`
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
	// PointsExpired and Returns are null until HQ records points expiry and
	// returns (Missing says so).
	PointsExpired *int64      `json:"points_expired"`
	Returns       *ReturnsKPI `json:"returns"`
	// Tiers counts the active cards by the tier of their last sale in the
	// period ("" when the ruleset has no tiers).
	Tiers map[string]int `json:"tiers"`
	// Partner is the points each partner programme owes its cards for the
	// period's sales; Charity what each cause received.
	Partner map[string]int64   `json:"partner"`
	Charity map[string]Charity `json:"charity"`
}

// ReturnsKPI is the returns of a period: how many, the money given back,
// and the points taken back and given back. Filled once HQ records returns.
type ReturnsKPI struct {
	Count          int64        `json:"count"`
	Amount         money.Amount `json:"amount"`
	PointsReversed int64        `json:"points_reversed"`
	PointsReturned int64        `json:"points_returned"`
}

// kpiMissing is what the KPI report cannot state from what HQ holds today.
var kpiMissing = []string{
	"points_expired: HQ does not record points expiry yet",
	"returns: HQ does not record returns yet; revenue and points are the sales' as sold",
	"tier movements: a card's tier is read from its last sale in each period; HQ keeps no tier history beyond that",
}

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
	switch {
	case o.Period != PeriodDay && o.Period != PeriodWeek && o.Period != PeriodMonth:
		return KPIReport{}, fmt.Errorf("%w: period %q: want day, week or month", ErrKPIOptions, o.Period)
	case o.To < o.From:
		return KPIReport{}, fmt.Errorf("%w: to %s is before from %s", ErrKPIOptions, DateString(o.To), DateString(o.From))
	case o.PointValue < 0:
		return KPIReport{}, fmt.Errorf("%w: point value %d is negative", ErrKPIOptions, o.PointValue)
	}
	rep := KPIReport{Currency: b.Currency, Period: o.Period, From: DateString(o.From), To: DateString(o.To), PointValue: o.PointValue,
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
	ns := len(b.stores)
	chain := make([]KPI, np)
	stores := make([]KPI, np*ns) // period p, store s at p*ns+s
	for i := range chain {
		chain[i] = newKPI("")
		for s := range ns {
			stores[i*ns+s] = newKPI(b.stores[s])
		}
	}
	// The sums per day and store.
	for k, dt := range b.days {
		if k.day < first || k.day >= end {
			continue
		}
		p := periodOf(k.day)
		for _, q := range []*KPI{&chain[p], &stores[p*ns+int(k.store)]} {
			q.addDay(dt)
		}
	}
	// The cards, one at a time.
	outstanding := make([]int64, np)
	type seen struct {
		days      int
		lastDay   int32
		lastTier  uint16
		returning bool
	}
	chainSeen := make([]seen, np)
	storeSeen := map[int]*seen{}
	for _, c := range b.list {
		if len(c.visits) == 0 {
			continue
		}
		clear(chainSeen)
		clear(storeSeen)
		firstDay, firstStore := c.visits[0].day, c.visits[0].store
		var balance int64
		p := 0
		for _, v := range c.visits {
			for p < np && v.day >= starts[p+1] {
				if balance > 0 {
					outstanding[p] += balance
				}
				p++
			}
			balance += int64(v.points)
			if v.day < first || v.day >= end {
				continue
			}
			before := firstDay < starts[p]
			cs := &chainSeen[p]
			if cs.days == 0 || cs.lastDay != v.day {
				cs.days++
			}
			cs.lastDay, cs.lastTier, cs.returning = v.day, v.tier, before
			k := p*ns + int(v.store)
			ss := storeSeen[k]
			if ss == nil {
				ss = &seen{}
				storeSeen[k] = ss
			}
			ss.days++ // one visit per day and store
			ss.lastDay, ss.lastTier, ss.returning = v.day, v.tier, before
		}
		for ; p < np; p++ {
			if balance > 0 {
				outstanding[p] += balance
			}
		}
		count := func(q *KPI, s *seen) {
			q.Active++
			if s.returning {
				q.Returning++
			}
			if s.days >= 2 {
				q.Repeat++
			}
			q.Tiers[b.tiers[s.lastTier]]++
		}
		for i := range chainSeen {
			if chainSeen[i].days > 0 {
				count(&chain[i], &chainSeen[i])
			}
		}
		for k, s := range storeSeen {
			count(&stores[k], s)
		}
		if firstDay >= first && firstDay < end {
			fp := periodOf(firstDay)
			chain[fp].New++
			stores[fp*ns+int(firstStore)].New++
		}
	}
	for p := range np {
		kp := KPIPeriod{Start: DateString(starts[p]), End: DateString(starts[p+1] - 1), Chain: chain[p].done(), Stores: []KPI{},
			PointsOutstanding: outstanding[p]}
		if o.PointValue > 0 {
			l := money.Amount(outstanding[p]) * o.PointValue
			kp.Liability = &l
		}
		for s := range ns {
			q := stores[p*ns+s]
			if (o.Store != "" && q.Store != o.Store) || q.Sales == 0 && q.Active == 0 {
				continue
			}
			kp.Stores = append(kp.Stores, q.done())
		}
		slices.SortFunc(kp.Stores, func(a, b KPI) int {
			switch {
			case a.Store < b.Store:
				return -1
			case a.Store > b.Store:
				return 1
			}
			return 0
		})
		rep.Periods = append(rep.Periods, kp)
	}
	return rep, nil
}

func newKPI(store string) KPI {
	return KPI{Store: store, Tiers: map[string]int{}, Partner: map[string]int64{}, Charity: map[string]Charity{}}
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
}

func (q KPI) done() KPI {
	if q.Active > 0 {
		q.RepeatRate = math.Round(1000*float64(q.Repeat)/float64(q.Active)) / 1000
	}
	if q.PointsEarned > 0 {
		q.RedemptionRate = math.Round(1000*float64(q.PointsRedeemed)/float64(q.PointsEarned)) / 1000
	}
	return q
}
