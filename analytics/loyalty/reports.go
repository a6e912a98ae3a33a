package loyalty

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/analytics/clv"
	"github.com/tilld/tilld/money"
)

// The reports as HQ's admin API serves them (JSON) and tillhq prints them.
// Money is in minor units with the report's currency; a person reads it
// through money.Display. Days are dates ("2026-11-23"), cycles and spreads
// days (one decimal), P(alive) null when there is no model.

// CustomerRow is one card in the cadence, overdue and CLV reports.
type CustomerRow struct {
	Card      string       `json:"card"`
	Visits    int          `json:"visits"`
	First     string       `json:"first"`
	Last      string       `json:"last"`
	Cycle     float64      `json:"cycle_days"`
	Spread    float64      `json:"spread_days"`
	Next      string       `json:"next,omitempty"`
	Due       string       `json:"due,omitempty"`
	Since     int          `json:"days_since"`
	Late      bool         `json:"late"`
	DaysLate  int          `json:"days_late,omitempty"`
	Stores    []string     `json:"stores"`
	Spend     money.Amount `json:"spend"`
	Points    int64        `json:"points"`
	R         int          `json:"r"`
	F         int          `json:"f"`
	M         int          `json:"m"`
	PAlive    *float64     `json:"p_alive"`
	NPS       *int         `json:"nps"`
	Indicator int          `json:"indicator"`
	Segment   string       `json:"segment"`
	MeetsGoal bool         `json:"meets_goal"`
	// Value is the customer's expected spend in the next year, discounted
	// (the CLV report only; null without a model).
	Value *money.Amount `json:"value,omitempty"`
	// Holder, Phone and Email are the card holder's (the overdue list only);
	// Phone and Email only when the holder consented to be contacted.
	Holder  string `json:"holder,omitempty"`
	Consent bool   `json:"consent,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
}

// DateString writes a day as YYYY-MM-DD.
func DateString(day int32) string { return Date(day).Format(time.DateOnly) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// Row returns the customer as a report row.
func (a *Analysis) Row(c *Customer) CustomerRow {
	r := CustomerRow{Card: c.Card, Visits: c.Visits, First: DateString(c.First), Last: DateString(c.Last),
		Cycle: round1(c.Cycle), Spread: round1(c.Spread), Since: c.Since, Late: c.Late, DaysLate: c.DaysLate,
		Stores: a.StoreNames(c), Spend: c.Spend, Points: c.Points, R: c.R, F: c.F, M: c.M,
		Indicator: c.Indicator, Segment: c.Segment, MeetsGoal: c.MeetsGoal}
	if c.Cycle > 0 {
		r.Next, r.Due = DateString(c.Next), DateString(c.Due)
	}
	if !math.IsNaN(c.PAlive) {
		p := math.Round(c.PAlive*1000) / 1000
		r.PAlive = &p
	}
	if c.NPS >= 0 {
		n := c.NPS
		r.NPS = &n
	}
	return r
}

// CadenceReport is `tillhq report cadence`: how often the customers come
// back, who is late, and the chain's visit-frequency goals.
type CadenceReport struct {
	AsOf      string `json:"as_of"`
	Currency  string `json:"currency"`
	Filter    Filter `json:"filter"`
	Customers int    `json:"customers"`
	// WithCycle counts the customers with two purchase days or more; Late
	// those of them past their due day.
	WithCycle int `json:"with_cycle"`
	Late      int `json:"late"`
	// MedianCycle is the median of their cycles, in days (0 when none).
	MedianCycle float64 `json:"median_cycle_days"`
	// Cycles counts the customers with a cycle by its length.
	Cycles []Bucket `json:"cycles"`
	// Goals is the chain's visit-frequency goal per segment, and how many
	// of the segment's customers meet it.
	Goals []GoalRow `json:"goals"`
	// Rows are the customers, latest last purchase first, at most the limit
	// asked for; Truncated says how many more there are.
	Rows      []CustomerRow `json:"rows"`
	Truncated int           `json:"truncated,omitempty"`
}

// Bucket is a count of customers whose cycle is at most UpTo days (0: any
// longer).
type Bucket struct {
	Label     string `json:"label"`
	UpTo      int    `json:"up_to_days"`
	Customers int    `json:"customers"`
}

var cycleBuckets = []int{7, 14, 30, 60, 90, 180, 365, 0}

// GoalRow is a segment's visit-frequency goal: come back at least every
// EveryDays days (a customer meets it with a cycle of at most that and no
// longer since the last purchase).
type GoalRow struct {
	Segment   string  `json:"segment"`
	EveryDays int     `json:"every_days"`
	Customers int     `json:"customers"`
	Meeting   int     `json:"meeting"`
	Share     float64 `json:"share"` // Meeting / Customers, 0 when none
}

// Cadence returns the cadence report of the customers f keeps, with at most
// limit rows (0: none, negative: all).
func (a *Analysis) Cadence(f Filter, limit int) CadenceReport {
	rep := CadenceReport{AsOf: DateString(a.AsOf), Currency: a.Currency, Filter: f, Cycles: []Bucket{}, Rows: []CustomerRow{}}
	for _, up := range cycleBuckets {
		label := fmt.Sprintf("up to %d days", up)
		if up == 0 {
			label = "longer"
		}
		rep.Cycles = append(rep.Cycles, Bucket{Label: label, UpTo: up})
	}
	var cycles []float64
	var kept []*Customer
	goals := map[string]*GoalRow{}
	for i := range a.Customers {
		c := &a.Customers[i]
		if !a.Keep(f, c) {
			continue
		}
		rep.Customers++
		kept = append(kept, c)
		g := goals[c.Segment]
		if g == nil {
			g = &GoalRow{Segment: c.Segment, EveryDays: a.opts.Goal(c.Segment)}
			goals[c.Segment] = g
		}
		g.Customers++
		if c.MeetsGoal {
			g.Meeting++
		}
		if c.Cycle == 0 {
			continue
		}
		rep.WithCycle++
		cycles = append(cycles, c.Cycle)
		if c.Late {
			rep.Late++
		}
		for j, up := range cycleBuckets {
			if up == 0 || c.Cycle <= float64(up) {
				rep.Cycles[j].Customers++
				break
			}
		}
	}
	if len(cycles) > 0 {
		rep.MedianCycle = round1(median(cycles))
	}
	for _, s := range Segments {
		if g := goals[s]; g != nil {
			if g.Customers > 0 {
				g.Share = math.Round(1000*float64(g.Meeting)/float64(g.Customers)) / 1000
			}
			rep.Goals = append(rep.Goals, *g)
		}
	}
	if rep.Goals == nil {
		rep.Goals = []GoalRow{}
	}
	slices.SortFunc(kept, func(x, y *Customer) int { return cmp.Or(cmp.Compare(y.Last, x.Last), cmp.Compare(x.Card, y.Card)) })
	rep.Rows, rep.Truncated = a.rows(kept, limit)
	return rep
}

func (a *Analysis) rows(cs []*Customer, limit int) ([]CustomerRow, int) {
	n := len(cs)
	if limit >= 0 && limit < n {
		n = limit
	}
	out := make([]CustomerRow, 0, n)
	for _, c := range cs[:n] {
		out = append(out, a.Row(c))
	}
	return out, len(cs) - n
}

// OverdueReport is `tillhq report overdue`: the customers late on their own
// cycle, for reminders (seed 004: "when a customer is late, a manager calls").
type OverdueReport struct {
	AsOf     string        `json:"as_of"`
	Currency string        `json:"currency"`
	Filter   Filter        `json:"filter"`
	Late     int           `json:"late"`
	Rows     []CustomerRow `json:"rows"`
	// Truncated is how many late customers the limit left out.
	Truncated int `json:"truncated,omitempty"`
}

// Overdue returns the late customers f keeps, the longest overdue first
// (then by card), at most limit (negative: all). Holders are the caller's
// to fill in (Rows[i].Holder, and contacts where consent was given).
func (a *Analysis) Overdue(f Filter, limit int) OverdueReport {
	rep := OverdueReport{AsOf: DateString(a.AsOf), Currency: a.Currency, Filter: f}
	var late []*Customer
	for i := range a.Customers {
		c := &a.Customers[i]
		if c.Late && a.Keep(f, c) {
			late = append(late, c)
		}
	}
	slices.SortFunc(late, func(x, y *Customer) int {
		return cmp.Or(cmp.Compare(y.DaysLate, x.DaysLate), cmp.Compare(x.Card, y.Card))
	})
	rep.Late = len(late)
	rep.Rows, rep.Truncated = a.rows(late, limit)
	return rep
}

// WriteOverdueCSV writes the overdue list as CSV for a spreadsheet or a
// call list: money through money.Display, contacts only where given.
func WriteOverdueCSV(w io.Writer, rep OverdueReport) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"card", "holder", "phone", "email", "last_purchase", "usual_cycle_days", "spread_days",
		"expected", "days_late", "stores", "segment", "visits", "spend", "p_alive"})
	for _, r := range rep.Rows {
		p := ""
		if r.PAlive != nil {
			p = strconv.FormatFloat(*r.PAlive, 'f', 3, 64)
		}
		cw.Write([]string{r.Card, r.Holder, r.Phone, r.Email, r.Last, strconv.FormatFloat(r.Cycle, 'f', 1, 64),
			strconv.FormatFloat(r.Spread, 'f', 1, 64), r.Next, strconv.Itoa(r.DaysLate), strings.Join(r.Stores, " "),
			r.Segment, strconv.Itoa(r.Visits), money.Display(r.Spend, rep.Currency), p})
	}
	cw.Flush()
	return cw.Error()
}

// SegmentReport is `tillhq report segments`: the loyalty indicator's
// segments, chain-wide and per home store.
type SegmentReport struct {
	AsOf      string       `json:"as_of"`
	Customers int          `json:"customers"`
	Segments  []SegmentRow `json:"segments"`
	Stores    []StoreRow   `json:"stores"`
	// NPSKnown counts the customers whose NPS answer is known.
	NPSKnown int `json:"nps_known"`
}

// SegmentRow is one segment's customers and their mean indicator.
type SegmentRow struct {
	Segment       string  `json:"segment"`
	Customers     int     `json:"customers"`
	MeanIndicator float64 `json:"mean_indicator"`
}

// StoreRow is one home store's customers by segment.
type StoreRow struct {
	Store     string         `json:"store"`
	Customers int            `json:"customers"`
	Segments  map[string]int `json:"segments"`
}

// Segments returns the segment report.
func (a *Analysis) Segments() SegmentReport {
	rep := SegmentReport{AsOf: DateString(a.AsOf), Customers: len(a.Customers), Segments: []SegmentRow{}, Stores: []StoreRow{}}
	count := map[string]int{}
	sum := map[string]int{}
	stores := map[string]*StoreRow{}
	for i := range a.Customers {
		c := &a.Customers[i]
		count[c.Segment]++
		sum[c.Segment] += c.Indicator
		if c.NPS >= 0 {
			rep.NPSKnown++
		}
		h := a.HomeStore(c)
		s := stores[h]
		if s == nil {
			s = &StoreRow{Store: h, Segments: map[string]int{}}
			stores[h] = s
		}
		s.Customers++
		s.Segments[c.Segment]++
	}
	for _, s := range Segments {
		row := SegmentRow{Segment: s, Customers: count[s]}
		if row.Customers > 0 {
			row.MeanIndicator = round1(float64(sum[s]) / float64(row.Customers))
		}
		rep.Segments = append(rep.Segments, row)
	}
	for _, k := range sortedKeys(stores) {
		rep.Stores = append(rep.Stores, *stores[k])
	}
	return rep
}

// ValueOptions are the CLV report's horizon: a year of months discounted at
// 1 % a month.
var ValueOptions = clv.ValueOptions{Periods: 12, PeriodLength: 52.0 / 12, DiscountRate: 0.01}

// CLVReport is `tillhq report clv`: the model's parameters, and the cards by
// their expected value over the next year.
type CLVReport struct {
	AsOf     string `json:"as_of"`
	Currency string `json:"currency"`
	Model    Model  `json:"model"`
	// Horizon says what Value is.
	Horizon string `json:"horizon"`
	// Total is the sum of every customer's value.
	Total money.Amount `json:"total"`
	// MeanSpend is the spend model's expected value of a purchase for a
	// customer it knows nothing of (0 without one).
	MeanSpend money.Amount `json:"mean_spend"`
	// Distribution counts every customer the filter keeps by value: ten
	// buckets of equal width (a whole number of major units) from 0 to the
	// highest value, each up to and including UpTo; empty without a model.
	Distribution []ValueBucket `json:"distribution"`
	Rows         []CustomerRow `json:"rows"`
	Truncated    int           `json:"truncated,omitempty"`
}

// ValueBucket is a count of customers whose value is at most UpTo (and
// above the bucket before's).
type ValueBucket struct {
	UpTo      money.Amount `json:"up_to"`
	Customers int          `json:"customers"`
}

// distribution counts values in ten buckets of equal width, a whole number
// of major units (10^exp minor units), from 0 to the highest value.
func distribution(values []money.Amount, exp int) []ValueBucket {
	if len(values) == 0 {
		return []ValueBucket{}
	}
	var hi money.Amount
	for _, v := range values {
		hi = max(hi, v)
	}
	unit := money.Amount(math.Pow10(exp))
	width := max((hi+10*unit-1)/(10*unit), 1) * unit // hi/10, up to a whole major unit
	out := make([]ValueBucket, 10)
	for i := range out {
		out[i].UpTo = width * money.Amount(i+1)
	}
	for _, v := range values {
		i := 0
		if v > 0 {
			i = min(int((v-1)/width), 9)
		}
		out[i].Customers++
	}
	return out
}

// CLV returns the CLV report: every customer f keeps valued with model m,
// the most valuable first, at most limit rows (negative: all).
func (a *Analysis) CLV(m Model, f Filter, limit int) CLVReport {
	rep := CLVReport{AsOf: DateString(a.AsOf), Currency: a.Currency, Model: m, Rows: []CustomerRow{}, Distribution: []ValueBucket{},
		Horizon: "expected spend in the next 12 months, discounted at 1 % a month (BG/NBD × Gamma-Gamma)"}
	if m.BGNBD == nil || m.Spend == nil {
		if rep.Model.Why == "" {
			rep.Model.Why = "no spend model: no customer has a repeat purchase yet"
		}
		return rep
	}
	exp := exponent(a.Currency)
	if ms, err := m.Spend.Params.MeanSpend(); err == nil {
		rep.MeanSpend = minor(ms, exp)
	}
	type valued struct {
		c *Customer
		v money.Amount
	}
	var vs []valued
	for i := range a.Customers {
		c := &a.Customers[i]
		if !a.Keep(f, c) {
			continue
		}
		v := a.value(m, c, exp)
		rep.Total += v
		vs = append(vs, valued{c, v})
	}
	values := make([]money.Amount, len(vs))
	for i, v := range vs {
		values[i] = v.v
	}
	rep.Distribution = distribution(values, exp)
	slices.SortFunc(vs, func(x, y valued) int { return cmp.Or(cmp.Compare(y.v, x.v), cmp.Compare(x.c.Card, y.c.Card)) })
	n := len(vs)
	if limit >= 0 && limit < n {
		n = limit
	}
	for _, v := range vs[:n] {
		r := a.Row(v.c)
		val := v.v
		r.Value = &val
		rep.Rows = append(rep.Rows, r)
	}
	rep.Truncated = len(vs) - n
	return rep
}

// value is a customer's CLV in minor units (0 when the model cannot say).
func (a *Analysis) value(m Model, c *Customer, exp int) money.Amount {
	d := c.card.DaysUpTo(a.AsOf)
	s := summaryOf(d.Day, a.AsOf)
	sp := clv.Spend{X: s.X}
	if s.X > 0 {
		var t money.Amount
		for _, v := range d.Spend[1:] {
			t += v
		}
		sp.Mean = major(t, exp) / float64(s.X)
	}
	spend, err := m.Spend.Params.ExpectedSpend(sp)
	if err != nil {
		return 0
	}
	v, err := m.BGNBD.Params.LifetimeValue(s, spend, ValueOptions)
	if err != nil {
		return 0
	}
	return minor(v, exp)
}

func minor(v float64, exp int) money.Amount {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return money.Amount(math.Round(v * math.Pow10(exp)))
}
