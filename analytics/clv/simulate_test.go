package clv_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/tilld/tilld/analytics/clv"
)

// simCustomer is one customer drawn from the BG/NBD's own story: λ ~
// Gamma(r, α), p ~ Beta(a, b); while alive, purchases arrive as a Poisson
// process of rate λ, and after each repeat purchase the customer leaves for
// good with probability p.
type simCustomer struct {
	cal     clv.Summary
	holdout int // repeat purchases in (T, T+horizon]
}

// simulate draws n customers of age T drawn by age(), each also followed for
// horizon time units after T.
func simulate(m clv.BGNBD, n int, age func(*rand.Rand) float64, horizon float64, seed uint64) []simCustomer {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	lambda := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
	drop := distuv.Beta{Alpha: m.A, Beta: m.B, Src: rng}
	out := make([]simCustomer, n)
	for i := range out {
		T := age(rng)
		l, p := lambda.Rand(), drop.Rand()
		c := simCustomer{cal: clv.Summary{T: T}}
		for now := 0.0; l > 0; {
			now += rng.ExpFloat64() / l
			if now > T+horizon {
				break
			}
			if now <= T {
				c.cal.X++
				c.cal.TX = now
			} else {
				c.holdout++
			}
			if rng.Float64() < p {
				break
			}
		}
		out[i] = c
	}
	return out
}

func simSummaries(cs []simCustomer) []clv.Summary {
	out := make([]clv.Summary, len(cs))
	for i, c := range cs {
		out[i] = c.cal
	}
	return out
}

// cdnowLike are the published CDNOW parameters: the truth the synthetic
// tests and benchmarks draw from.
var cdnowLike = clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}

// cohortAge spreads first purchases over 12 weeks before a 39-week
// calibration end, as in CDNOW.
func cohortAge(rng *rand.Rand) float64 { return 27 + 12*rng.Float64() }

// TestSimulatedRecovery fits customers drawn from known parameters and
// checks each estimate is within 4 of its standard errors of the truth, and
// that the model's forecast of the next 39 weeks, summed over customers,
// is within 4 standard deviations of what the simulated customers did.
func TestSimulatedRecovery(t *testing.T) {
	const n = 20000
	cs := simulate(cdnowLike, n, cohortAge, 39, 7)
	fit, err := clv.FitBGNBD(simSummaries(cs), clv.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d customers: r=%.4f±%.4f α=%.3f±%.3f a=%.3f±%.3f b=%.3f±%.3f (%d iterations)", n,
		fit.Params.R, fit.StdErr.R, fit.Params.Alpha, fit.StdErr.Alpha, fit.Params.A, fit.StdErr.A, fit.Params.B, fit.StdErr.B, fit.Iterations)
	checkRecovered(t, fit, cdnowLike, 4)

	var actual, expected, sq float64
	for _, c := range cs {
		e := fit.Params.ExpectedPurchases(c.cal, 39)
		actual += float64(c.holdout)
		expected += e
		sq += (float64(c.holdout) - e) * (float64(c.holdout) - e)
	}
	sd := math.Sqrt(sq)
	t.Logf("holdout: %v actual, %.1f expected (sd %.1f)", actual, expected, sd)
	if math.Abs(actual-expected) > 4*sd {
		t.Errorf("holdout: %v purchases, expected %.1f: more than 4 sd (%.1f) apart", actual, expected, sd)
	}
}

// estimate is one fitted parameter next to the truth it was drawn from.
type estimate struct {
	name          string
	got, se, want float64
}

func estimates(fit clv.BGNBDFit, truth clv.BGNBD) []estimate {
	return []estimate{
		{"r", fit.Params.R, fit.StdErr.R, truth.R},
		{"alpha", fit.Params.Alpha, fit.StdErr.Alpha, truth.Alpha},
		{"a", fit.Params.A, fit.StdErr.A, truth.A},
		{"b", fit.Params.B, fit.StdErr.B, truth.B},
	}
}

func checkRecovered(t testing.TB, fit clv.BGNBDFit, truth clv.BGNBD, k float64) {
	t.Helper()
	for _, c := range estimates(fit, truth) {
		if !(c.se > 0) || math.Abs(c.got-c.want) > k*c.se {
			t.Errorf("%s = %.5f ± %.5f, truth %v: more than %v standard errors away", c.name, c.got, c.se, c.want, k)
		}
	}
}

// TestSimulatedExpectedRepeat checks E[X(t)] against the mean of simulated
// customers all observed for t.
func TestSimulatedExpectedRepeat(t *testing.T) {
	for _, m := range []clv.BGNBD{cdnowLike, {R: 2, Alpha: 3, A: 2.5, B: 4}} {
		for _, tt := range []float64{1, 13, 78} {
			cs := simulate(m, 40000, func(*rand.Rand) float64 { return tt }, 0, uint64(tt))
			var sum, sq float64
			for _, c := range cs {
				x := float64(c.cal.X)
				sum += x
				sq += x * x
			}
			n := float64(len(cs))
			mean := sum / n
			se := math.Sqrt((sq/n - mean*mean) / n)
			if want := m.ExpectedRepeat(tt); math.Abs(mean-want) > 4*se {
				t.Errorf("%+v: simulated mean X(%v) = %.4f ± %.4f, E[X(t)] = %.4f", m, tt, mean, se, want)
			}
		}
	}
}

// TestSimulatedGammaGamma draws spend from known Gamma-Gamma parameters and
// checks the fit recovers them within 4 standard errors.
func TestSimulatedGammaGamma(t *testing.T) {
	truth := clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	rng := rand.New(rand.NewPCG(3, 4))
	nu := distuv.Gamma{Alpha: truth.Q, Beta: truth.Gamma, Src: rng}
	var ss []clv.Spend
	for range 20000 {
		v := nu.Rand()
		z := distuv.Gamma{Alpha: truth.P, Beta: v, Src: rng}
		x := 1 + rng.IntN(6)
		var sum float64
		for range x {
			sum += z.Rand()
		}
		ss = append(ss, clv.Spend{X: x, Mean: sum / float64(x)})
	}
	fit, err := clv.FitGammaGamma(ss, clv.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []estimate{{"p", fit.Params.P, fit.StdErr.P, truth.P}, {"q", fit.Params.Q, fit.StdErr.Q, truth.Q}, {"gamma", fit.Params.Gamma, fit.StdErr.Gamma, truth.Gamma}} {
		if !(c.se > 0) || math.Abs(c.got-c.want) > 4*c.se {
			t.Errorf("%s = %.4f ± %.4f, truth %v", c.name, c.got, c.se, c.want)
		}
	}
}
