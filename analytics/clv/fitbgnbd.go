package clv

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// BGNBDFit is the result of FitBGNBD.
type BGNBDFit struct {
	// Params are the maximum-likelihood estimates.
	Params BGNBD
	// StdErr are their asymptotic standard errors, from the inverse of the
	// observed information (the Hessian of the negative log-likelihood,
	// penalty included, by central differences of its analytic gradient),
	// carried from the log scale by the delta method.
	StdErr BGNBD
	// LogLikelihood is the log-likelihood at Params, summed over customers
	// (without the penalty).
	LogLikelihood float64
	// Customers is how many summaries were fitted.
	Customers int
	// Iterations and Evaluations are the optimizer's BFGS iterations and
	// calls of the log-likelihood with its gradient.
	Iterations, Evaluations int
}

// FitBGNBD fits the BG/NBD model to customers' summaries by maximum
// likelihood (FHL 2005). It returns ErrNoCustomers for none,
// ErrBadInput naming the first bad summary, and ErrNotIdentified when the
// data cannot determine the four parameters (e.g. a single customer, or no
// repeat purchase at all) unless o.Penalty is set.
func FitBGNBD(cs []Summary, o FitOptions) (BGNBDFit, error) {
	d, err := newBGData(cs)
	if err != nil {
		return BGNBDFit{}, fmt.Errorf("fit BG/NBD: %w", err)
	}
	f, err := fitLogParams(d.negLL, 4, d.n, o)
	if err != nil {
		return BGNBDFit{}, fmt.Errorf("fit BG/NBD to %d customers: %w", d.n, err)
	}
	p, se := f.params, f.stdErr
	return BGNBDFit{
		Params:        BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3]},
		StdErr:        BGNBD{R: se[0], Alpha: se[1], A: se[2], B: se[3]},
		LogLikelihood: f.logLik,
		Customers:     d.n,
		Iterations:    f.iterations,
		Evaluations:   f.evaluations,
	}, nil
}

// bgData is the customers in columns, with the repeat counts replaced by an
// index into the distinct counts: every term that depends on x alone (the
// log-gamma and digamma calls) is computed once per distinct x.
type bgData struct {
	n      int
	xs     []float64 // distinct repeat counts, ascending
	counts []float64 // customers per distinct count
	xi     []int32   // each customer's index into xs
	tx, T  []float64
	// scratch per distinct x, reused between evaluations
	la4, dr, da, db []float64
}

func newBGData(cs []Summary) (*bgData, error) {
	if len(cs) == 0 {
		return nil, ErrNoCustomers
	}
	seen := map[int]bool{}
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("customer %d: %w", i, err)
		}
		seen[c.X] = true
	}
	distinct := make([]int, 0, len(seen))
	for x := range seen {
		distinct = append(distinct, x)
	}
	slices.Sort(distinct)
	index := make(map[int]int32, len(distinct))
	d := &bgData{n: len(cs), xs: make([]float64, len(distinct)), counts: make([]float64, len(distinct)),
		xi: make([]int32, len(cs)), tx: make([]float64, len(cs)), T: make([]float64, len(cs)),
		la4: make([]float64, len(distinct)), dr: make([]float64, len(distinct)),
		da: make([]float64, len(distinct)), db: make([]float64, len(distinct))}
	for k, x := range distinct {
		index[x] = int32(k)
		d.xs[k] = float64(x)
	}
	for i, c := range cs {
		k := index[c.X]
		d.xi[i], d.tx[i], d.T[i] = k, c.TX, c.T
		d.counts[k]++
	}
	return d, nil
}

// negLL is the negative log-likelihood per customer at the log-parameters
// theta = (log r, log α, log a, log b). With grad non-nil it also stores the
// gradient with respect to theta. Following Fader & Hardie's "Implementing
// the BG/NBD model" note, a customer's likelihood is A1·A2·(A3 + δ_{x>0}A4):
//
//	ln A1 = lnΓ(r+x) - lnΓ(r) + r ln α
//	ln A2 = lnΓ(a+b) + lnΓ(b+x) - lnΓ(b) - lnΓ(a+b+x)
//	ln A3 = -(r+x) ln(α+T)
//	ln A4 = ln a - ln(b+x-1) - (r+x) ln(α+t_x)
//
// and ln(A3 + A4) is taken as a log-sum-exp: A3 and A4 underflow long
// before their logarithms lose any digit.
func (d *bgData) negLL(theta, grad []float64) float64 {
	r, al, a, b := math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2]), math.Exp(theta[3])
	lgr, _ := math.Lgamma(r)
	lgab, _ := math.Lgamma(a + b)
	lgb, _ := math.Lgamma(b)
	var psr, psab, psb float64
	if grad != nil {
		psr, psab, psb = mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	}
	logA := math.Log(a)
	var ll, gr, gal, ga, gb float64
	for k, x := range d.xs {
		lrx, _ := math.Lgamma(r + x)
		lbx, _ := math.Lgamma(b + x)
		labx, _ := math.Lgamma(a + b + x)
		ll += d.counts[k] * (lrx - lgr + lgab + lbx - lgb - labx)
		if x > 0 {
			d.la4[k] = logA - math.Log(b+x-1)
		}
		if grad != nil {
			psrx, psbx, psabx := mathext.Digamma(r+x), mathext.Digamma(b+x), mathext.Digamma(a+b+x)
			gr += d.counts[k] * (psrx - psr)
			ga += d.counts[k] * (psab - psabx)
			gb += d.counts[k] * (psab + psbx - psb - psabx)
			if x > 0 {
				d.db[k] = -1 / (b + x - 1)
			}
		}
	}
	n := float64(d.n)
	logAl := math.Log(al)
	ll += n * r * logAl
	gr += n * logAl
	gal += n * r / al
	for i, k := range d.xi {
		x := d.xs[k]
		rx := r + x
		lT := math.Log(al + d.T[i])
		l3 := -rx * lT
		if x == 0 {
			ll += l3
			if grad != nil {
				gr -= lT
				gal -= rx / (al + d.T[i])
			}
			continue
		}
		ltx := math.Log(al + d.tx[i])
		l4 := d.la4[k] - rx*ltx
		e := math.Exp(-math.Abs(l3 - l4)) // the smaller of A3, A4 over the larger
		ll += math.Max(l3, l4) + math.Log1p(e)
		if grad != nil {
			w4 := 1 / (1 + e) // A4/(A3+A4)
			if l3 > l4 {
				w4 = e / (1 + e)
			}
			w3 := 1 - w4
			gr -= w3*lT + w4*ltx
			gal -= rx * (w3/(al+d.T[i]) + w4/(al+d.tx[i]))
			ga += w4 / a
			gb += w4 * d.db[k]
		}
	}
	if grad != nil {
		// d/dθ = p · d/dp for p = e^θ; per customer and negated.
		grad[0] = -r * gr / n
		grad[1] = -al * gal / n
		grad[2] = -a * ga / n
		grad[3] = -b * gb / n
	}
	return -ll / n
}
