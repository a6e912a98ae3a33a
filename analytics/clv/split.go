package clv

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Purchase is one purchase by one customer. Only its calendar day counts:
// the models see purchases on the same day as one purchase, whose value is
// the day's total.
type Purchase struct {
	Customer string
	// Day is the purchase's calendar date, read in Day's own location.
	Day time.Time
	// Amount is what the customer paid, in major units of one currency
	// (not negative; returns are not purchases).
	Amount float64
}

// SplitOptions sets the periods of Split.
type SplitOptions struct {
	// CalibrationEnd is the last day of the calibration period (inclusive).
	// Required.
	CalibrationEnd time.Time
	// HoldoutEnd is the last day of the holdout period (inclusive), after
	// CalibrationEnd; the zero time means no holdout.
	HoldoutEnd time.Time
	// UnitDays is the number of days in one time unit of the model; 0 means
	// 7 (weeks, as in the paper).
	UnitDays int
}

func (o SplitOptions) unit() float64 {
	if o.UnitDays <= 0 {
		return 7
	}
	return float64(o.UnitDays)
}

// HoldoutLength is the length of the holdout period in model time units:
// the t to forecast it with ExpectedPurchases.
func (o SplitOptions) HoldoutLength() float64 {
	if o.HoldoutEnd.IsZero() {
		return 0
	}
	return float64(dayNumber(o.HoldoutEnd)-dayNumber(o.CalibrationEnd)) / o.unit()
}

// History is one customer's purchases split into calibration and holdout.
type History struct {
	Customer string
	// First is the day of the first purchase (midnight UTC).
	First time.Time
	// Calibration summarises the calibration period for BG/NBD.
	Calibration Summary
	// Spend is the count and mean value of the repeat purchases in the
	// calibration period, for Gamma-Gamma (Mean is 0 when X is 0).
	Spend Spend
	// Holdout is the number of purchase days in the holdout period.
	Holdout int
}

// Split turns purchases into one History per customer whose first purchase
// is on or before o.CalibrationEnd (those first seen later are not part of
// the calibration sample and are left out), ordered by customer. t_x and T
// count whole days from the first purchase's day, divided by o.UnitDays: a
// customer first seen on the calibration's last day has T = 0.
func Split(ps []Purchase, o SplitOptions) ([]History, error) {
	if o.CalibrationEnd.IsZero() {
		return nil, fmt.Errorf("split purchases: %w: no calibration end", ErrBadInput)
	}
	calEnd := dayNumber(o.CalibrationEnd)
	holdEnd := calEnd
	if !o.HoldoutEnd.IsZero() {
		holdEnd = dayNumber(o.HoldoutEnd)
		if holdEnd < calEnd {
			return nil, fmt.Errorf("split purchases: %w: holdout end %s is before calibration end %s",
				ErrBadInput, o.HoldoutEnd.Format(time.DateOnly), o.CalibrationEnd.Format(time.DateOnly))
		}
	}
	custs, err := daily(ps)
	if err != nil {
		return nil, fmt.Errorf("split purchases: %w", err)
	}
	unit := o.unit()
	out := make([]History, 0, len(custs))
	for _, c := range custs {
		first := c.days[0].day
		if first > calEnd {
			continue
		}
		h := History{Customer: c.id, First: dayTime(first), Calibration: Summary{T: float64(calEnd-first) / unit}}
		var spend float64
		for _, d := range c.days[1:] {
			switch {
			case d.day <= calEnd:
				h.Calibration.X++
				h.Calibration.TX = float64(d.day-first) / unit
				spend += d.amount
			case d.day <= holdEnd:
				h.Holdout++
			}
		}
		h.Spend.X = h.Calibration.X
		if h.Spend.X > 0 {
			h.Spend.Mean = spend / float64(h.Spend.X)
		}
		out = append(out, h)
	}
	return out, nil
}

// Summaries returns the calibration summaries of hs, in order.
func Summaries(hs []History) []Summary {
	out := make([]Summary, len(hs))
	for i, h := range hs {
		out[i] = h.Calibration
	}
	return out
}

// Spends returns the calibration spend of hs, in order.
func Spends(hs []History) []Spend {
	out := make([]Spend, len(hs))
	for i, h := range hs {
		out[i] = h.Spend
	}
	return out
}

type dayTotal struct {
	day    int64
	amount float64
}

type customerDays struct {
	id   string
	days []dayTotal // ascending, one per purchase day
}

// daily groups purchases by customer and day, ordered by customer id.
func daily(ps []Purchase) ([]customerDays, error) {
	type rec struct {
		id  string
		day int64
		amt float64
	}
	rs := make([]rec, len(ps))
	for i, p := range ps {
		if !finite(p.Amount) || p.Amount < 0 {
			return nil, fmt.Errorf("purchase %d (customer %q): %w: amount %v is not a finite non-negative number", i, p.Customer, ErrBadInput, p.Amount)
		}
		if p.Day.IsZero() {
			return nil, fmt.Errorf("purchase %d (customer %q): %w: no day", i, p.Customer, ErrBadInput)
		}
		rs[i] = rec{p.Customer, dayNumber(p.Day), p.Amount}
	}
	slices.SortFunc(rs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.day, b.day))
	})
	var out []customerDays
	for i, r := range rs {
		if i == 0 || r.id != rs[i-1].id {
			out = append(out, customerDays{id: r.id})
		}
		c := &out[len(out)-1]
		if n := len(c.days); n > 0 && c.days[n-1].day == r.day {
			c.days[n-1].amount += r.amt
			continue
		}
		c.days = append(c.days, dayTotal{r.day, r.amt})
	}
	return out, nil
}

// dayNumber is t's calendar date, in t's location, as days since 1970-01-01.
func dayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func dayTime(n int64) time.Time { return time.Unix(n*86400, 0).UTC() }

// Period is one period of a tracking comparison: repeat purchases the
// customers made and those the model expected.
type Period struct {
	// N counts periods from 1.
	N int
	// Start is the period's first day (midnight UTC).
	Start time.Time
	// Actual and Expected are the repeat purchases in the period;
	// CumActual and CumExpected their running totals from period 1.
	Actual, Expected, CumActual, CumExpected float64
}

// TrackOptions sets the periods of Track.
type TrackOptions struct {
	// Start is the first day of period 1. Required.
	Start time.Time
	// Periods is how many periods to track; it must be positive.
	Periods int
	// UnitDays is the length of a period in days, which is also the model's
	// time unit; 0 means 7 (weeks).
	UnitDays int
}

// Track compares, period by period, the repeat purchases customers made
// with those m expects (the paper's Figures 1 and 2): a customer first seen
// on day f is expected to have made E[X((D-f)/unit)] repeat purchases by the
// last day D of a period (D-f counted in days, as Split counts t_x and T).
// For customers first seen before Start only what is expected from Start
// on counts; purchases after the last period are ignored.
func (m BGNBD) Track(ps []Purchase, o TrackOptions) ([]Period, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	if o.Start.IsZero() || o.Periods <= 0 {
		return nil, fmt.Errorf("track: %w: need a start day and a positive number of periods (got %d)", ErrBadInput, o.Periods)
	}
	if o.Periods > 1e6 {
		return nil, fmt.Errorf("track: %w: %d periods is more than a million", ErrBadInput, o.Periods)
	}
	custs, err := daily(ps)
	if err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	unitDays := int64(o.UnitDays)
	if unitDays <= 0 {
		unitDays = 7
	}
	unit := float64(unitDays)
	start := dayNumber(o.Start)
	out := make([]Period, o.Periods)
	firsts := map[int64]float64{} // first day → customers first seen then
	for _, c := range custs {
		firsts[c.days[0].day]++
		for _, d := range c.days[1:] {
			if d.day < start {
				continue
			}
			if k := (d.day - start) / unitDays; k < int64(o.Periods) {
				out[k].Actual++
			}
		}
	}
	firstDays := make([]int64, 0, len(firsts))
	for f := range firsts {
		firstDays = append(firstDays, f)
	}
	slices.Sort(firstDays)
	prev := make([]float64, len(firstDays)) // each cohort's E[X] at the end of the previous period
	for j, f := range firstDays {
		if f < start {
			prev[j] = m.ExpectedRepeat(float64(start-1-f) / unit)
		}
	}
	var cumA, cumE float64
	for k := range out {
		last := start + int64(k+1)*unitDays - 1
		var e float64
		for j, f := range firstDays {
			if f > last {
				break
			}
			now := m.ExpectedRepeat(float64(last-f) / unit)
			e += firsts[f] * (now - prev[j])
			prev[j] = now
		}
		cumA += out[k].Actual
		cumE += e
		out[k].N = k + 1
		out[k].Start = dayTime(start + int64(k)*unitDays)
		out[k].Expected = e
		out[k].CumActual, out[k].CumExpected = cumA, cumE
	}
	return out, nil
}
