package loyalty

import (
	"cmp"
	"errors"
	"math"
	"slices"

	"github.com/tilld/tilld/analytics/clv"
	"github.com/tilld/tilld/money"
)

// Segments, in the order a customer is tried against them: the first that
// fits is the customer's (docs/analytics.md, "Loyalty indicator and
// segments").
const (
	SegmentNew       = "new"       // first purchase within Options.NewDays
	SegmentLost      = "lost"      // P(alive) below LostBelow, or nothing for LostDays
	SegmentAtRisk    = "at_risk"   // late on their own cycle, P(alive) below AtRiskBelow, or a detractor
	SegmentChampions = "champions" // R, F and M scores all 4 or 5
	SegmentLoyal     = "loyal"     // F score 4 or 5
	SegmentOneTime   = "one_time"  // one purchase day, neither new nor lost
	SegmentRegular   = "regular"   // everyone else
)

// Segments lists the segments in the order they are tried.
var Segments = []string{SegmentNew, SegmentLost, SegmentAtRisk, SegmentChampions, SegmentLoyal, SegmentOneTime, SegmentRegular}

// Options set the analysis. The zero value means the documented defaults.
type Options struct {
	Cadence CadenceOptions
	// NewDays: a customer whose first purchase is at most this many days
	// before the day asked for is new (default 30).
	NewDays int
	// LostDays: a customer without a purchase for more than this many days
	// is lost whatever the model says (default 365).
	LostDays int
	// LostBelow and AtRiskBelow are the P(alive) under which a customer is
	// lost (default 0.3) or at risk (default 0.6).
	LostBelow, AtRiskBelow float64
	// NPS is each card's latest answer to "how likely are you to recommend
	// us" (0-10), where one is known; nil: none is.
	NPS map[string]int
	// Goals is the chain's visit-frequency goal per segment, in days between
	// visits (seed 003: every month? every week?); "*" applies to segments
	// without their own. Default: {"*": 30}.
	Goals map[string]int
}

func (o Options) withDefaults() Options {
	if o.NewDays <= 0 {
		o.NewDays = 30
	}
	if o.LostDays <= 0 {
		o.LostDays = 365
	}
	if !(o.LostBelow > 0) || o.LostBelow > 1 {
		o.LostBelow = 0.3
	}
	if !(o.AtRiskBelow > 0) || o.AtRiskBelow > 1 {
		o.AtRiskBelow = 0.6
	}
	if len(o.Goals) == 0 {
		o.Goals = map[string]int{"*": 30}
	}
	return o
}

// Goal returns the visit-frequency goal of a segment in days, 0 when none.
func (o Options) Goal(segment string) int {
	if g, ok := o.Goals[segment]; ok {
		return g
	}
	return o.Goals["*"]
}

// Model is the customer-base model the analysis reads P(alive) and value
// from, fitted by FitModel; the zero Model has neither (too little data).
type Model struct {
	// BGNBD is set when the purchase model could be fitted; its unit is a
	// week (UnitDays).
	BGNBD *clv.BGNBDFit `json:"bgnbd,omitempty"`
	// Spend is set when the spend model could be fitted, in major units.
	Spend *clv.GammaGammaFit `json:"spend,omitempty"`
	// Penalized: the data were too thin for plain maximum likelihood and
	// the fit used clv.FitOptions.Penalty.
	Penalized bool `json:"penalized,omitempty"`
	// Why says why a model is missing.
	Why string `json:"why,omitempty"`
	// Customers is the number of cards the model was fitted to (at most
	// about FitSample), AsOf the last day of their calibration period.
	Customers int   `json:"customers"`
	AsOf      int32 `json:"-"`
}

// UnitDays is the model's time unit: a week, as in the paper.
const UnitDays = 7

// penalty is the pull towards 1 of a fit on data too thin for plain maximum
// likelihood (a small store, a new programme).
const penalty = 0.01

// fitIterations caps each fit's iterations: a fit converges in a few dozen
// (24 on CDNOW); one that has not by then is tried again with the penalty
// rather than left to run, so that a scheduled refit of a million cards
// stays bounded.
const fitIterations = 200

// FitSample is the most cards a model is fitted to: of a larger book, a
// sample of about this many, chosen by a hash of the card number (the same
// cards on every replica, whatever order the sales came in). 100 000
// customers determine the four parameters to well under 1 % (a million
// recover them within 0.2-2.5 %, docs/benchmarks.md), and the fit's cost
// grows with the customers.
const FitSample = 100_000

// FitModel fits BG/NBD and Gamma-Gamma to the cards' purchase days up to
// asOf (a sample of FitSample of a larger book). A fit the data cannot
// determine, or that has not converged in 200 iterations, is tried again
// with a penalty; when that fails too, the model is left out and Why says
// why. Amounts are read in major units of the book's currency.
func FitModel(b *Book, asOf int32) Model {
	m := Model{AsOf: asOf}
	var sums []clv.Summary
	var spends []clv.Spend
	exp := exponent(b.Currency)
	var d Days
	every := uint32((len(b.list) + FitSample - 1) / FitSample)
	for _, c := range b.list {
		if every > 1 && fnv32(c.Number)%every != 0 {
			continue
		}
		d = c.daysUpTo(asOf, d)
		if len(d.Day) == 0 {
			continue
		}
		s := summaryOf(d.Day, asOf)
		sums = append(sums, s)
		if s.X > 0 {
			var total money.Amount
			for _, v := range d.Spend[1:] {
				total += v
			}
			if total > 0 {
				spends = append(spends, clv.Spend{X: s.X, Mean: major(total, exp) / float64(s.X)})
			}
		}
	}
	m.Customers = len(sums)
	if len(sums) == 0 {
		m.Why = "no card bought anything"
		return m
	}
	fit, err := clv.FitBGNBD(sums, clv.FitOptions{MaxIterations: fitIterations})
	if err != nil && !errors.Is(err, clv.ErrBadInput) {
		fit, err = clv.FitBGNBD(sums, clv.FitOptions{MaxIterations: fitIterations, Penalty: penalty})
		m.Penalized = err == nil
	}
	if err != nil {
		m.Why = err.Error()
		return m
	}
	m.BGNBD = &fit
	if len(spends) == 0 {
		return m
	}
	gg, err := clv.FitGammaGamma(spends, clv.FitOptions{MaxIterations: fitIterations})
	if err != nil && !errors.Is(err, clv.ErrBadInput) {
		gg, err = clv.FitGammaGamma(spends, clv.FitOptions{MaxIterations: fitIterations, Penalty: penalty})
		m.Penalized = m.Penalized || err == nil
	}
	switch {
	case err != nil:
		m.Why = "no spend model: " + err.Error()
	default:
		if _, merr := gg.Params.MeanSpend(); merr == nil {
			m.Spend = &gg
		} else {
			m.Why = "no spend model: " + merr.Error()
		}
	}
	return m
}

func summaryOf(days []int32, asOf int32) clv.Summary {
	first, last := days[0], days[len(days)-1]
	s := clv.Summary{X: len(days) - 1, T: float64(asOf-first) / UnitDays}
	if s.X > 0 {
		s.TX = float64(last-first) / UnitDays
	}
	return s
}

// exponent is the currency's fraction digits, 2 when it is not known.
func exponent(code string) int {
	if c, err := money.ParseCurrency(code); err == nil {
		return c.Exponent
	}
	return 2
}

func major(a money.Amount, exp int) float64 { return float64(a) / math.Pow10(exp) }

// Customer is one card's analysis as of a day.
type Customer struct {
	Card string
	Cadence
	// Home is the index of the card's home store: the one it bought at most
	// often (of two, the one it bought at last).
	Home uint16
	card *Card
	// Spend is the card's total, Mean its mean per purchase day.
	Spend money.Amount
	Mean  money.Amount
	// Points is the card's balance from its sales (earned minus redeemed).
	Points int64
	// R, F, M are the recency, frequency and monetary scores, 1 (worst
	// fifth of the customers) to 5 (best fifth).
	R, F, M int
	// PAlive is P(alive) under the model, NaN without one.
	PAlive float64
	// NPS is the card's latest NPS answer, -1 when none is known.
	NPS int
	// Indicator is the loyalty indicator, 0-100.
	Indicator int
	Segment   string
	// MeetsGoal: the card comes back as often as its segment's goal asks.
	MeetsGoal bool
}

// Analysis is every card's analysis as of one day.
type Analysis struct {
	AsOf      int32
	Currency  string
	Customers []Customer // by card number
	book      *Book
	opts      Options
}

// Store returns the name of a store index of the analysis.
func (a *Analysis) Store(i uint16) string { return a.book.store(i) }

// StoreNames returns the names of the stores a customer bought at, most
// visited first: the first is the home store.
func (a *Analysis) StoreNames(c *Customer) []string {
	idx := c.card.storesUpTo(a.AsOf)
	out := make([]string, len(idx))
	for i, s := range idx {
		out[i] = a.book.store(s)
	}
	return out
}

// Options returns the options the analysis ran with, defaults filled in.
func (a *Analysis) Options() Options { return a.opts }

// Analyze reads every card of the book that bought on or before asOf, as of
// asOf, with model m (the zero Model: none). The customers come in the
// order the book first saw them; the reports sort their rows.
func Analyze(b *Book, asOf int32, m Model, o Options) *Analysis {
	o = o.withDefaults()
	o.Cadence = o.Cadence.withDefaults()
	a := &Analysis{AsOf: asOf, Currency: b.Currency, book: b, opts: o}
	a.Customers = make([]Customer, 0, len(b.list))
	var d Days
	var iv []float64
	var sv []storeVisits
	for _, card := range b.list {
		d = card.daysUpTo(asOf, d)
		if len(d.Day) == 0 {
			continue
		}
		c := Customer{Card: card.Number, card: card, Cadence: cadenceOf(d.Day, asOf, o.Cadence, &iv), PAlive: math.NaN(), NPS: -1}
		c.Home, sv, _ = card.home(asOf, sv)
		for _, v := range card.visits {
			if v.day > asOf {
				break
			}
			c.Points += int64(v.points)
		}
		for _, s := range d.Spend {
			c.Spend += s
		}
		c.Mean = c.Spend / money.Amount(len(d.Day))
		if m.BGNBD != nil {
			c.PAlive = m.BGNBD.Params.PAlive(summaryOf(d.Day, asOf))
		}
		if n, ok := o.NPS[card.Number]; ok && n >= 0 && n <= 10 {
			c.NPS = n
		}
		a.Customers = append(a.Customers, c)
	}
	a.score()
	for i := range a.Customers {
		c := &a.Customers[i]
		c.Indicator = indicator(c)
		c.Segment = o.segment(c, asOf)
		if g := o.Goal(c.Segment); g > 0 {
			c.MeetsGoal = c.Visits >= 2 && c.Cycle <= float64(g) && c.Since <= g
		}
	}
	return a
}

// score gives every customer R, F and M scores: 1 + ⌊5·w/n⌋, where w is the
// number of the n customers strictly worse on that measure (a longer time
// since the last purchase; fewer purchase days; a lower mean spend). Equal
// values get equal scores, so when every customer is alike on a measure
// everyone scores 1 on it.
func (a *Analysis) score() {
	n := len(a.Customers)
	if n == 0 {
		return
	}
	vs := make([]int64, n)
	rank := func(val func(*Customer) int64, set func(*Customer, int)) {
		for i := range a.Customers {
			vs[i] = val(&a.Customers[i])
		}
		slices.Sort(vs)
		for i := range a.Customers {
			c := &a.Customers[i]
			worse, _ := slices.BinarySearch(vs, val(c)) // values strictly below
			set(c, 1+5*worse/n)
		}
	}
	rank(func(c *Customer) int64 { return -int64(c.Since) }, func(c *Customer, s int) { c.R = s })
	rank(func(c *Customer) int64 { return int64(c.Visits) }, func(c *Customer, s int) { c.F = s })
	rank(func(c *Customer) int64 { return int64(c.Mean) }, func(c *Customer, s int) { c.M = s })
}

// indicator is the loyalty indicator, 0-100: a weighted mean of the
// components known, each read on 0..1: P(alive) (weight 0.4), the R, F and
// M scores as (score-1)/4 (0.2 each), and the NPS answer as score/10
// (0.2, when known). A missing component's weight is left out.
func indicator(c *Customer) int {
	type part struct{ w, v float64 }
	parts := []part{{0.2, float64(c.R-1) / 4}, {0.2, float64(c.F-1) / 4}, {0.2, float64(c.M-1) / 4}}
	if !math.IsNaN(c.PAlive) {
		parts = append(parts, part{0.4, c.PAlive})
	}
	if c.NPS >= 0 {
		parts = append(parts, part{0.2, float64(c.NPS) / 10})
	}
	var w, v float64
	for _, p := range parts {
		w += p.w
		v += p.w * p.v
	}
	return int(math.Round(100 * v / w))
}

func (o Options) segment(c *Customer, asOf int32) string {
	known := !math.IsNaN(c.PAlive)
	switch {
	case int(asOf-c.First) <= o.NewDays:
		return SegmentNew
	case known && c.PAlive < o.LostBelow, c.Since > o.LostDays:
		return SegmentLost
	case c.Late, known && c.PAlive < o.AtRiskBelow, c.NPS >= 0 && c.NPS <= 6:
		return SegmentAtRisk
	case c.R >= 4 && c.F >= 4 && c.M >= 4:
		return SegmentChampions
	case c.F >= 4:
		return SegmentLoyal
	case c.Visits == 1:
		return SegmentOneTime
	}
	return SegmentRegular
}

// Filter says which customers a report keeps: of a home store, of
// segments; the zero Filter keeps everyone.
type Filter struct {
	Store    string   // "" every store
	Segments []string // none: every segment
}

// Keep reports whether the filter keeps c.
func (a *Analysis) Keep(f Filter, c *Customer) bool {
	if f.Store != "" && a.book.store(c.Home) != f.Store {
		return false
	}
	return len(f.Segments) == 0 || slices.Contains(f.Segments, c.Segment)
}

// HomeStore returns the customer's home store (most visits), "" when none.
func (a *Analysis) HomeStore(c *Customer) string {
	return a.book.store(c.Home)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, cmp.Compare)
	return out
}

// fnv32 is the 32-bit FNV-1a hash of s.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
