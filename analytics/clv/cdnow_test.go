package clv_test

import (
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/clv"
	"github.com/tilld/tilld/analytics/clv/cdnow"
)

// The paper's set-up on the CDNOW sample: calibration is the first 39 weeks
// of 1997, the holdout the 39 weeks after, time in weeks.
var (
	cdnowStart    = time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)
	cdnowCalEnd   = time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)
	cdnowHoldEnd  = time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC)
	cdnowSplitOpt = clv.SplitOptions{CalibrationEnd: cdnowCalEnd, HoldoutEnd: cdnowHoldEnd}
)

var cdnowOnce struct {
	sync.Once
	purchases []clv.Purchase
	err       error
}

// cdnowPurchases reads testdata/CDNOW_sample.txt (a copy of
// shared/data/cdnow/CDNOW_sample.txt) once per test binary.
func cdnowPurchases(tb testing.TB) []clv.Purchase {
	tb.Helper()
	cdnowOnce.Do(func() {
		f, err := os.Open("testdata/CDNOW_sample.txt")
		if err != nil {
			cdnowOnce.err = err
			return
		}
		defer f.Close()
		rs, err := cdnow.Parse(f)
		cdnowOnce.purchases, cdnowOnce.err = cdnow.Purchases(rs), err
	})
	if cdnowOnce.err != nil {
		tb.Fatal(cdnowOnce.err)
	}
	return cdnowOnce.purchases
}

func cdnowHistories(tb testing.TB) []clv.History {
	tb.Helper()
	hs, err := clv.Split(cdnowPurchases(tb), cdnowSplitOpt)
	if err != nil {
		tb.Fatal(err)
	}
	return hs
}

// round rounds v to the given number of decimals, as the paper prints.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// TestCDNOWPaper reproduces FHL (2005): the BG/NBD fit on the 2 357
// customers of the CDNOW sample matches the published parameters and
// log-likelihood to the digits printed, and the Gamma-Gamma fit on the 946
// repeat customers matches FHL (2005b).
func TestCDNOWPaper(t *testing.T) {
	hs := cdnowHistories(t)
	var repeaters, repeats, holdout int
	for _, h := range hs {
		if h.Calibration.X > 0 {
			repeaters++
		}
		repeats += h.Calibration.X
		holdout += h.Holdout
	}
	if len(hs) != 2357 || repeaters != 946 {
		t.Fatalf("%d customers of whom %d repeat, want 2357 and 946 (the paper's sample)", len(hs), repeaters)
	}

	fit, err := clv.FitBGNBD(clv.Summaries(hs), clv.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := fit.Params
	t.Logf("BG/NBD r=%.6f α=%.6f a=%.6f b=%.6f LL=%.4f (%d iterations, %d evaluations); %d repeat purchases in calibration, %d in holdout",
		p.R, p.Alpha, p.A, p.B, fit.LogLikelihood, fit.Iterations, fit.Evaluations, repeats, holdout)
	for _, c := range []struct {
		name      string
		got, want float64
		decimals  int
	}{
		{"r", p.R, 0.243, 3},
		{"alpha", p.Alpha, 4.414, 3},
		{"a", p.A, 0.793, 3},
		{"b", p.B, 2.426, 3},
		{"log-likelihood", fit.LogLikelihood, -9582.4, 1},
	} {
		if got := round(c.got, c.decimals); got != c.want {
			t.Errorf("BG/NBD %s = %.6f rounds to %v, the paper has %v", c.name, c.got, got, c.want)
		}
	}
	if ll, err := p.LogLikelihood(clv.Summaries(hs)); err != nil || math.Abs(ll-fit.LogLikelihood) > 1e-9 {
		t.Errorf("LogLikelihood at the fit: %v, %v; the fit reports %v", ll, err, fit.LogLikelihood)
	}
	// Fader & Hardie's note "Implementing the BG/NBD model ... in Excel"
	// works this customer: x = 2, t_x = 30.43, T = 38.86, next 39 weeks.
	if got := p.ExpectedPurchases(clv.Summary{X: 2, TX: 30.43, T: 38.86}, 39); round(got, 3) != 1.226 {
		t.Errorf("E[Y(39) | x=2, t_x=30.43, T=38.86] = %.6f, the note has 1.226", got)
	}

	gg, err := clv.FitGammaGamma(clv.Spends(hs), clv.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Gamma-Gamma p=%.6f q=%.6f γ=%.6f LL=%.4f on %d customers (%d iterations)",
		gg.Params.P, gg.Params.Q, gg.Params.Gamma, gg.LogLikelihood, gg.Customers, gg.Iterations)
	// The Gamma-Gamma assumes spend independent of frequency: FHL 2005b
	// report a correlation of 0.11 between x and the mean spend on CDNOW.
	var n, sx, sm, sxx, smm, sxm float64
	for _, h := range hs {
		if h.Spend.X == 0 {
			continue
		}
		x, m := float64(h.Spend.X), h.Spend.Mean
		n, sx, sm, sxx, smm, sxm = n+1, sx+x, sm+m, sxx+x*x, smm+m*m, sxm+x*m
	}
	corr := (sxm/n - sx/n*sm/n) / math.Sqrt((sxx/n-sx*sx/n/n)*(smm/n-sm*sm/n/n))
	t.Logf("correlation of repeat purchases and their mean value: %.3f", corr)
	if math.Abs(corr) > 0.2 {
		t.Errorf("correlation of x and mean spend %.3f: the Gamma-Gamma's independence assumption fails here", corr)
	}
	if gg.Customers != 946 {
		t.Errorf("Gamma-Gamma fitted %d customers, want the 946 with a repeat purchase", gg.Customers)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p", gg.Params.P, 6.25}, {"q", gg.Params.Q, 3.74}, {"gamma", gg.Params.Gamma, 15.44}} {
		if got := round(c.got, 2); got != c.want {
			t.Errorf("Gamma-Gamma %s = %.6f rounds to %v, FHL 2005b has %v", c.name, c.got, got, c.want)
		}
	}
}

// TestCDNOWHoldout checks the fit's forecast of the holdout period: the
// total expected repeat purchases of weeks 40–78, customer by customer,
// against the actual ones, and that customers' expectations rank them:
// those expected to buy more did buy more. The model under-forecasts this
// holdout: it has no seasonality, and the holdout has bursts (weeks 45 and
// 62–63 in docs/clv-cdnow.svg) it cannot foresee; docs/analytics.md has the
// numbers. The check is that the total is within 15 %.
func TestCDNOWHoldout(t *testing.T) {
	hs := cdnowHistories(t)
	fit, err := clv.FitBGNBD(clv.Summaries(hs), clv.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	horizon := cdnowSplitOpt.HoldoutLength()
	if horizon != 39 {
		t.Fatalf("holdout of %v weeks, want 39", horizon)
	}
	var actual, expected float64
	var hi, lo struct{ n, actual float64 }
	for _, h := range hs {
		e := fit.Params.ExpectedPurchases(h.Calibration, horizon)
		actual += float64(h.Holdout)
		expected += e
		if e >= 1 {
			hi.n++
			hi.actual += float64(h.Holdout)
		} else {
			lo.n++
			lo.actual += float64(h.Holdout)
		}
	}
	t.Logf("holdout: %v actual repeat purchases, %.1f expected; mean actual %.2f where E ≥ 1 (%v customers), %.2f elsewhere",
		actual, expected, hi.actual/hi.n, hi.n, lo.actual/lo.n)
	if math.Abs(expected-actual)/actual > 0.15 {
		t.Errorf("expected %.1f holdout purchases, actual %v: more than 15 %% apart", expected, actual)
	}
	if !(hi.actual/hi.n > 3*lo.actual/lo.n) {
		t.Errorf("customers expected to buy ≥ 1 bought %.2f each, the others %.2f: the forecast does not rank customers",
			hi.actual/hi.n, lo.actual/lo.n)
	}
}
