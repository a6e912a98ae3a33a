package clv_test

import (
	"flag"
	"math"
	"testing"

	"github.com/tilld/tilld/analytics/clv"
)

var benchCustomers = flag.Int("bench.customers", 1000000, "synthetic customers in BenchmarkFitSynthetic")

// BenchmarkFitCDNOW is the paper's fit: 2 357 customers, weeks 1–39.
func BenchmarkFitCDNOW(b *testing.B) {
	cs := clv.Summaries(cdnowHistories(b))
	var fit clv.BGNBDFit
	for b.Loop() {
		var err error
		if fit, err = clv.FitBGNBD(cs, clv.FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fit.Iterations), "iterations")
	b.ReportMetric(float64(fit.Evaluations), "evaluations")
}

// BenchmarkFitGammaGammaCDNOW is the spend fit on CDNOW's 946 repeat
// customers.
func BenchmarkFitGammaGammaCDNOW(b *testing.B) {
	ss := clv.Spends(cdnowHistories(b))
	var fit clv.GammaGammaFit
	for b.Loop() {
		var err error
		if fit, err = clv.FitGammaGamma(ss, clv.FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fit.Iterations), "iterations")
}

// BenchmarkFitSynthetic fits -bench.customers customers (a million by
// default) drawn from the CDNOW parameters, and reports how far each
// estimate landed from the truth, relative ("rel-err-") and in its own
// standard errors ("z-"). Drawing them is not timed.
func BenchmarkFitSynthetic(b *testing.B) {
	cs := simSummaries(simulate(cdnowLike, *benchCustomers, cohortAge, 0, 42))
	var fit clv.BGNBDFit
	for b.Loop() {
		var err error
		if fit, err = clv.FitBGNBD(cs, clv.FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	checkRecovered(b, fit, cdnowLike, 4)
	b.Logf("%d customers: r=%.4f±%.4f α=%.4f±%.4f a=%.4f±%.4f b=%.4f±%.4f", fit.Customers,
		fit.Params.R, fit.StdErr.R, fit.Params.Alpha, fit.StdErr.Alpha, fit.Params.A, fit.StdErr.A, fit.Params.B, fit.StdErr.B)
	b.ReportMetric(float64(fit.Iterations), "iterations")
	b.ReportMetric(float64(fit.Evaluations), "evaluations")
	for _, c := range estimates(fit, cdnowLike) {
		b.ReportMetric(math.Abs(c.got-c.want)/c.want, "rel-err-"+c.name)
		b.ReportMetric((c.got-c.want)/c.se, "z-"+c.name)
	}
}

// BenchmarkExpectedPurchases is one customer's forecast for the next 39
// weeks (the series), and for the next 10⁶ weeks (the quadrature).
func BenchmarkExpectedPurchases(b *testing.B) {
	c := clv.Summary{X: 2, TX: 30.43, T: 38.86}
	b.Run("39weeks", func(b *testing.B) {
		for b.Loop() {
			cdnowLike.ExpectedPurchases(c, 39)
		}
	})
	b.Run("1e6weeks", func(b *testing.B) {
		for b.Loop() {
			cdnowLike.ExpectedPurchases(c, 1e6)
		}
	})
}

// BenchmarkLifetimeValue is one customer's two-year value by months.
func BenchmarkLifetimeValue(b *testing.B) {
	c := clv.Summary{X: 2, TX: 30.43, T: 38.86}
	o := clv.ValueOptions{Periods: 24, PeriodLength: 52.0 / 12, DiscountRate: 0.01}
	for b.Loop() {
		if _, err := cdnowLike.LifetimeValue(c, 35, o); err != nil {
			b.Fatal(err)
		}
	}
}
