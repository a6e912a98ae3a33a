package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Spend is what the Gamma-Gamma model needs to know of one customer: how
// many repeat purchases (of the same period as the BG/NBD summary) and
// their mean value in major units.
type Spend struct {
	X    int
	Mean float64
}

// GammaGamma holds the parameters of the Gamma-Gamma spend model (FHL
// 2005b; Fader & Hardie's note "The Gamma-Gamma Model of Monetary Value"):
// a customer's purchase values are Gamma(shape P, rate ν) around their own
// mean P/ν, and ν ~ Gamma(shape Q, rate Gamma) across customers. Spend is
// assumed independent of the purchase process.
type GammaGamma struct {
	P, Q, Gamma float64
}

// Validate reports whether all three parameters are positive and finite.
func (g GammaGamma) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"p", g.P}, {"q", g.Q}, {"gamma", g.Gamma}} {
		if !finite(p.v) || p.v <= 0 {
			return fmt.Errorf("%w: Gamma-Gamma parameter %s = %v is not positive and finite", ErrBadInput, p.name, p.v)
		}
	}
	return nil
}

// MeanSpend is the population's expected value of one purchase, pγ/(q-1).
// It returns ErrNoMean when q ≤ 1.
func (g GammaGamma) MeanSpend() (float64, error) {
	return g.ExpectedSpend(Spend{})
}

// ExpectedSpend is the expected value of a future purchase by a customer
// whose repeat purchases are s (FHL 2005b):
//
//	(γ + x·m̄)·p / (p·x + q - 1),
//
// a weighted mean of the population mean pγ/(q-1) and the customer's own
// m̄ that leans on the customer more the more purchases there are. With
// s.X = 0 it is the population mean. It returns ErrNoMean when p·x + q ≤ 1
// and ErrBadInput for a mean that is negative or not finite.
func (g GammaGamma) ExpectedSpend(s Spend) (float64, error) {
	var x, m float64
	if s.X > 0 {
		if !finite(s.Mean) || s.Mean < 0 {
			return 0, fmt.Errorf("expected spend: %w: mean spend %v of %d purchases is not finite and non-negative", ErrBadInput, s.Mean, s.X)
		}
		x, m = float64(s.X), s.Mean
	}
	den := g.P*x + g.Q - 1
	if !(den > 0) {
		return 0, fmt.Errorf("%w: p·x + q - 1 = %v (p = %v, q = %v, x = %v)", ErrNoMean, den, g.P, g.Q, x)
	}
	return (g.Gamma + x*m) * g.P / den, nil
}

// GammaGammaFit is the result of FitGammaGamma.
type GammaGammaFit struct {
	Params GammaGamma
	// StdErr are asymptotic standard errors, as for BGNBDFit.StdErr.
	StdErr        GammaGamma
	LogLikelihood float64
	// Customers is how many customers with repeat purchases were fitted.
	Customers               int
	Iterations, Evaluations int
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood to the
// customers with at least one repeat purchase; those with none carry no
// spend information and are skipped. A customer with repeat purchases
// needs a positive, finite mean: ErrBadInput names the first that has not.
// The likelihood of a customer with x purchases of mean m̄ is
//
//	Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m̄^(px-1) · x^(px) / (γ + x·m̄)^(px+q).
func FitGammaGamma(ss []Spend, o FitOptions) (GammaGammaFit, error) {
	d, err := newGGData(ss)
	if err != nil {
		return GammaGammaFit{}, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	f, err := fitLogParams(d.negLL, 3, d.n, o)
	if err != nil {
		return GammaGammaFit{}, fmt.Errorf("fit Gamma-Gamma to %d customers: %w", d.n, err)
	}
	p, se := f.params, f.stdErr
	return GammaGammaFit{
		Params:        GammaGamma{P: p[0], Q: p[1], Gamma: p[2]},
		StdErr:        GammaGamma{P: se[0], Q: se[1], Gamma: se[2]},
		LogLikelihood: f.logLik,
		Customers:     d.n,
		Iterations:    f.iterations,
		Evaluations:   f.evaluations,
	}, nil
}

type ggData struct {
	n       int
	x, logX []float64
	m, logM []float64
}

func newGGData(ss []Spend) (*ggData, error) {
	d := &ggData{}
	for i, s := range ss {
		if s.X < 0 {
			return nil, fmt.Errorf("customer %d: %w: x = %d repeat purchases is negative", i, ErrBadInput, s.X)
		}
		if s.X == 0 {
			continue
		}
		if !finite(s.Mean) || s.Mean <= 0 {
			return nil, fmt.Errorf("customer %d: %w: mean spend %v of %d purchases is not positive and finite", i, ErrBadInput, s.Mean, s.X)
		}
		x := float64(s.X)
		d.x, d.logX = append(d.x, x), append(d.logX, math.Log(x))
		d.m, d.logM = append(d.m, s.Mean), append(d.logM, math.Log(s.Mean))
	}
	d.n = len(d.x)
	if d.n == 0 {
		return nil, ErrNoCustomers
	}
	return d, nil
}

// negLL is the negative log-likelihood per customer at theta = (log p,
// log q, log γ), with its gradient in grad when that is not nil.
func (d *ggData) negLL(theta, grad []float64) float64 {
	p, q, g := math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2])
	lgq, _ := math.Lgamma(q)
	logG := math.Log(g)
	var psq float64
	if grad != nil {
		psq = mathext.Digamma(q)
	}
	var ll, gp, gq, gg float64
	for i, x := range d.x {
		px := p * x
		lpxq, _ := math.Lgamma(px + q)
		lpx, _ := math.Lgamma(px)
		lgx := math.Log(g + x*d.m[i])
		ll += lpxq - lpx - lgq + q*logG + (px-1)*d.logM[i] + px*d.logX[i] - (px+q)*lgx
		if grad != nil {
			dpxq := mathext.Digamma(px + q)
			gp += x * (dpxq - mathext.Digamma(px) + d.logM[i] + d.logX[i] - lgx)
			gq += dpxq - psq + logG - lgx
			gg += q/g - (px+q)/(g+x*d.m[i])
		}
	}
	n := float64(d.n)
	if grad != nil {
		grad[0] = -p * gp / n
		grad[1] = -q * gq / n
		grad[2] = -g * gg / n
	}
	return -ll / n
}
