package loyalty

import (
	"math"
	"slices"
)

// CadenceOptions set how a card's purchase cycle is read. The zero value
// means the documented defaults.
type CadenceOptions struct {
	// Window is how many of the most recent intervals between purchase days
	// make the cycle (default 12): a customer's habits change, and an
	// interval from three years ago says little about this month.
	Window int
	// K is how many spreads beyond the cycle a customer may be before they
	// are late (default 2).
	K float64
	// MinSpread is the least spread in days (default 1): a customer who came
	// every 7th day twelve times is late on day 10, not on day 8.
	MinSpread float64
}

func (o CadenceOptions) withDefaults() CadenceOptions {
	if o.Window <= 0 {
		o.Window = 12
	}
	if !(o.K > 0) || math.IsInf(o.K, 0) {
		o.K = 2
	}
	if !(o.MinSpread > 0) || math.IsInf(o.MinSpread, 0) {
		o.MinSpread = 1
	}
	return o
}

// Cadence is one card's purchase cycle as of a day (docs/analytics.md,
// "Purchase cadence").
type Cadence struct {
	// Visits is the number of purchase days up to the day asked for.
	Visits      int
	First, Last int32
	// Intervals is how many intervals between purchase days make the cycle
	// (at most CadenceOptions.Window).
	Intervals int
	// Cycle is the median of those intervals, in days; Spread their
	// spread: 1.4826 × their median absolute deviation from Cycle with three
	// or more intervals, Cycle/2 with fewer, never below MinSpread. Both 0
	// when the card bought on one day only (no cycle yet).
	Cycle, Spread float64
	// Since is the days from the last purchase to the day asked for.
	Since int
	// Next is the expected day of the next purchase: Last + Cycle, rounded.
	// Due is the last day that the customer's own cycle explains:
	// Last + Cycle + K·Spread, rounded down. Both 0 without a cycle.
	Next, Due int32
	// Late: the day asked for is after Due. DaysLate is then the days since
	// Next (how late against the usual cycle).
	Late     bool
	DaysLate int
}

// CadenceOf reads the cycle of a card whose purchase days (ascending,
// distinct) are days, as of day asOf (not before the last of them).
func CadenceOf(days []int32, asOf int32, o CadenceOptions) Cadence {
	var scratch []float64
	return cadenceOf(days, asOf, o.withDefaults(), &scratch)
}

// cadenceOf is CadenceOf with o's defaults filled in and a scratch slice.
func cadenceOf(days []int32, asOf int32, o CadenceOptions, scratch *[]float64) Cadence {
	var c Cadence
	c.Visits = len(days)
	if c.Visits == 0 {
		return c
	}
	c.First, c.Last = days[0], days[len(days)-1]
	c.Since = int(max(asOf-c.Last, 0))
	if c.Visits < 2 {
		return c
	}
	from := max(0, len(days)-1-o.Window)
	iv := (*scratch)[:0]
	for i := from + 1; i < len(days); i++ {
		iv = append(iv, float64(days[i]-days[i-1]))
	}
	*scratch = iv
	c.Intervals = len(iv)
	c.Cycle = median(iv)
	if len(iv) >= 3 {
		for i, v := range iv { // median sorted iv: its order no longer matters
			iv[i] = math.Abs(v - c.Cycle)
		}
		c.Spread = 1.4826 * median(iv)
	} else {
		c.Spread = c.Cycle / 2
	}
	c.Spread = max(c.Spread, o.MinSpread)
	c.Next = c.Last + int32(math.Round(c.Cycle))
	c.Due = c.Last + int32(math.Floor(c.Cycle+o.K*c.Spread))
	if asOf > c.Due {
		c.Late = true
		c.DaysLate = int(asOf - c.Next)
	}
	return c
}

// median of vs (not empty); vs is reordered.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
