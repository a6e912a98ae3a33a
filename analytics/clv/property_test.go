package clv_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tilld/tilld/analytics/clv"
)

// TestFitEdges: no data, one customer, no repeat purchase at all, and bad
// summaries give a clear error, never a NaN or a panic; a penalty turns the
// thin cases into finite fits.
func TestFitEdges(t *testing.T) {
	one := []clv.Summary{{X: 2, TX: 10, T: 30}}
	noRepeat := []clv.Summary{{T: 30}, {T: 12}, {T: 0}}
	for _, c := range []struct {
		name string
		cs   []clv.Summary
		want error
	}{
		{"no data", nil, clv.ErrNoCustomers},
		{"one customer", one, clv.ErrNotIdentified},
		{"no repeat purchase", noRepeat, clv.ErrNotIdentified},
		{"negative x", []clv.Summary{{X: 1, TX: 1, T: 2}, {X: -1, T: 3}}, clv.ErrBadInput},
		{"t_x after T", []clv.Summary{{X: 1, TX: 4, T: 3}}, clv.ErrBadInput},
		{"NaN T", []clv.Summary{{X: 0, T: math.NaN()}}, clv.ErrBadInput},
		{"infinite T", []clv.Summary{{X: 0, T: math.Inf(1)}}, clv.ErrBadInput},
		{"t_x without repeat", []clv.Summary{{X: 0, TX: 1, T: 3}}, clv.ErrBadInput},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := clv.FitBGNBD(c.cs, clv.FitOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			t.Log(err)
		})
	}
	_, err := clv.FitBGNBD([]clv.Summary{{X: 1, TX: 1, T: 2}, {X: -1, T: 3}}, clv.FitOptions{})
	if err == nil || !strings.Contains(err.Error(), "customer 1") {
		t.Errorf("error %v does not name customer 1", err)
	}

	for name, cs := range map[string][]clv.Summary{"one customer": one, "no repeat purchase": noRepeat, "one purchase each": {{T: 5}, {X: 1, TX: 2, T: 5}}} {
		fit, err := clv.FitBGNBD(cs, clv.FitOptions{Penalty: 0.1})
		if err != nil {
			t.Errorf("%s with a penalty: %v", name, err)
			continue
		}
		if err := fit.Params.Validate(); err != nil || !finite(fit.LogLikelihood) {
			t.Errorf("%s with a penalty: %+v: %v", name, fit, err)
		}
		for _, c := range cs {
			checkPredictions(t, fit.Params, c)
		}
	}

	if _, err := clv.FitGammaGamma(nil, clv.FitOptions{}); !errors.Is(err, clv.ErrNoCustomers) {
		t.Errorf("Gamma-Gamma on no data: %v", err)
	}
	if _, err := clv.FitGammaGamma([]clv.Spend{{X: 0}, {X: 0, Mean: 3}}, clv.FitOptions{}); !errors.Is(err, clv.ErrNoCustomers) {
		t.Errorf("Gamma-Gamma with no repeat customer: %v", err)
	}
	if _, err := clv.FitGammaGamma([]clv.Spend{{X: 2, Mean: 10}, {X: 1, Mean: 0}}, clv.FitOptions{}); !errors.Is(err, clv.ErrBadInput) || !strings.Contains(err.Error(), "customer 1") {
		t.Errorf("Gamma-Gamma with a zero mean: %v", err)
	}
	if _, err := clv.FitGammaGamma([]clv.Spend{{X: 2, Mean: 10}}, clv.FitOptions{}); !errors.Is(err, clv.ErrNotIdentified) {
		t.Errorf("Gamma-Gamma on one customer: %v", err)
	}
	if fit, err := clv.FitGammaGamma([]clv.Spend{{X: 2, Mean: 10}}, clv.FitOptions{Penalty: 0.1}); err != nil || fit.Params.Validate() != nil {
		t.Errorf("Gamma-Gamma on one customer with a penalty: %+v, %v", fit, err)
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

var horizons = []float64{0, 1e-9, 0.5, 1, 39, 1e3, 1e6, 1e12, clv.MaxHorizon, math.Inf(1)}

// checkPredictions checks everything the model predicts for c is finite
// and sensible: P(alive) in [0, 1], expectations non-negative and
// non-decreasing in the horizon, a lifetime value that is finite.
func checkPredictions(t *testing.T, m clv.BGNBD, c clv.Summary) {
	t.Helper()
	pa := m.PAlive(c)
	if !(pa >= 0 && pa <= 1) {
		t.Errorf("%+v %+v: P(alive) = %v", m, c, pa)
	}
	prevCond, prevRand := 0.0, 0.0
	for _, h := range horizons {
		e := m.ExpectedPurchases(c, h)
		if !finite(e) || e < 0 || e < prevCond*(1-1e-9) {
			t.Errorf("%+v %+v: E[Y(%v)] = %v (previous horizon %v)", m, c, h, e, prevCond)
		}
		prevCond = e
		r := m.ExpectedRepeat(h)
		if !finite(r) || r < 0 || r < prevRand*(1-1e-9) {
			t.Errorf("%+v: E[X(%v)] = %v (previous horizon %v)", m, h, r, prevRand)
		}
		prevRand = r
	}
	v, err := m.LifetimeValue(c, 25, clv.ValueOptions{Periods: 6, PeriodLength: 52.0 / 12, DiscountRate: 0.01})
	if err != nil || !finite(v) || v < 0 {
		t.Errorf("%+v %+v: CLV = %v, %v", m, c, v, err)
	}
}

// TestPredictionProperties sweeps parameters from 10⁻³ to 10³ and customers
// from brand new to a million purchases over a trillion weeks.
func TestPredictionProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	logU := func() float64 { return math.Exp((2*rng.Float64() - 1) * 3 * math.Ln10) }
	models := []clv.BGNBD{cdnowLike, {R: 1, Alpha: 1, A: 1, B: 1}, {R: 0.3, Alpha: 4, A: 0.6, B: 0.4}}
	for range 20 {
		models = append(models, clv.BGNBD{R: logU(), Alpha: logU(), A: logU(), B: logU()})
	}
	var customers []clv.Summary
	for _, T := range []float64{0, 1e-9, 38.86, 1e12} {
		customers = append(customers, clv.Summary{T: T})
		for _, x := range []int{1, 10, 1000000} {
			for _, tx := range []float64{0, T / 2, T} {
				customers = append(customers, clv.Summary{X: x, TX: tx, T: T})
			}
		}
	}
	for _, m := range models {
		for _, c := range customers {
			checkPredictions(t, m, c)
		}
	}
	// One purchase and no more: the BG/NBD has no death before a repeat
	// purchase, so P(alive) is 1 whatever T.
	if p := cdnowLike.PAlive(clv.Summary{T: 1e12}); p != 1 {
		t.Errorf("P(alive | x=0) = %v, want 1", p)
	}
	// A customer who bought often and stopped long ago is almost surely gone.
	if p := cdnowLike.PAlive(clv.Summary{X: 20, TX: 10, T: 1000}); p > 1e-6 {
		t.Errorf("P(alive | 20 purchases, last 990 weeks ago) = %v", p)
	}
}

// TestSpendProperties: expected spend is a weighted mean of the population
// mean and the customer's own, moving to the customer's with more purchases.
func TestSpendProperties(t *testing.T) {
	g := clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	pop, err := g.MeanSpend()
	if err != nil || math.Abs(pop-g.P*g.Gamma/(g.Q-1)) > 1e-12 {
		t.Fatalf("population mean %v, %v", pop, err)
	}
	prev := pop
	for _, x := range []int{1, 2, 5, 20, 1000} {
		e, err := g.ExpectedSpend(clv.Spend{X: x, Mean: 100})
		if err != nil || !(e > prev && e < 100) {
			t.Errorf("x=%d: expected spend %v (previous %v), %v", x, e, prev, err)
		}
		prev = e
	}
	if _, err := (clv.GammaGamma{P: 1, Q: 0.5, Gamma: 1}).MeanSpend(); !errors.Is(err, clv.ErrNoMean) {
		t.Errorf("q < 1: %v, want ErrNoMean", err)
	}
}

func TestLifetimeValue(t *testing.T) {
	m := cdnowLike
	c := clv.Summary{X: 3, TX: 20, T: 38}
	const spend = 30.0
	one, err := m.LifetimeValue(c, spend, clv.ValueOptions{Periods: 1, PeriodLength: 4})
	if err != nil || math.Abs(one-spend*m.ExpectedPurchases(c, 4)) > 1e-12 {
		t.Errorf("one undiscounted period: %v, %v; want %v", one, err, spend*m.ExpectedPurchases(c, 4))
	}
	// Undiscounted, the sum telescopes to spend × E[Y(horizon)].
	all, _ := m.LifetimeValue(c, spend, clv.ValueOptions{Periods: 12, PeriodLength: 4})
	if want := spend * m.ExpectedPurchases(c, 48); math.Abs(all-want) > 1e-9*want {
		t.Errorf("12 undiscounted periods: %v, want %v", all, want)
	}
	disc, _ := m.LifetimeValue(c, spend, clv.ValueOptions{Periods: 12, PeriodLength: 4, DiscountRate: 0.02})
	if !(disc < all && disc > all/math.Pow(1.02, 12)) {
		t.Errorf("discounted at 2 %%: %v, undiscounted %v", disc, all)
	}
	for _, o := range []clv.ValueOptions{{}, {Periods: 1}, {Periods: 1, PeriodLength: -1}, {Periods: 1, PeriodLength: 1, DiscountRate: -0.1}, {Periods: 1, PeriodLength: math.NaN()}} {
		if _, err := m.LifetimeValue(c, spend, o); !errors.Is(err, clv.ErrBadInput) {
			t.Errorf("%+v: %v, want ErrBadInput", o, err)
		}
	}
	if _, err := m.LifetimeValue(c, math.NaN(), clv.ValueOptions{Periods: 1, PeriodLength: 1}); !errors.Is(err, clv.ErrBadInput) {
		t.Errorf("NaN spend: %v", err)
	}
	if _, err := (clv.BGNBD{R: 1, Alpha: 0, A: 1, B: 1}).LifetimeValue(c, spend, clv.ValueOptions{Periods: 1, PeriodLength: 1}); !errors.Is(err, clv.ErrBadInput) {
		t.Errorf("alpha 0: %v", err)
	}
}

// FuzzPredictions feeds arbitrary parameters, customers and horizons,
// mapped into their domains, to every prediction.
//
// It runs below 1 000 execs/s on one core, by its nature: each input is
// checked at ten horizons, twice each, plus a six-period lifetime value,
// and the long horizons go through the adaptive quadrature. One exec costs
// 0.7–1.4 ms (BenchmarkPredictionsCheck-style loop over checkPredictions,
// measured 2026-12-02 at load 15 on this 2-core machine; about half that
// alone), so 364 execs/s in docs/fuzzing.md's loaded run, ~1 200/s in a
// quieter one.
func FuzzPredictions(f *testing.F) {
	f.Add(0.243, 4.414, 0.793, 2.426, uint32(2), 30.43, 38.86)
	f.Add(1.0, 1.0, 1.0, 1.0, uint32(0), 0.0, 0.0)
	f.Add(0.3, 4.0, 0.6, 0.4, uint32(1000000), 1e12, 1e12)
	f.Fuzz(func(t *testing.T, r, alpha, a, b float64, x uint32, tx, T float64) {
		pos := func(v float64) float64 {
			v = math.Abs(v)
			if !finite(v) || v < 1e-4 || v > 1e4 {
				return 1
			}
			return v
		}
		m := clv.BGNBD{R: pos(r), Alpha: pos(alpha), A: pos(a), B: pos(b)}
		T = math.Abs(T)
		if !finite(T) || T > 1e12 {
			T = 1e12
		}
		tx = math.Min(math.Abs(tx), T)
		if !finite(tx) {
			tx = T
		}
		c := clv.Summary{X: int(x % 10000000), TX: tx, T: T}
		if c.X == 0 {
			c.TX = 0
		}
		checkPredictions(t, m, c)
	})
}

func TestExpectedSpendBadMean(t *testing.T) {
	g := clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	for _, m := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := g.ExpectedSpend(clv.Spend{X: 2, Mean: m}); !errors.Is(err, clv.ErrBadInput) {
			t.Errorf("mean %v: %v, want ErrBadInput", m, err)
		}
	}
}
