package clv

import (
	"fmt"
	"math"
)

// FitOptions tunes a maximum-likelihood fit. The zero value fits without a
// penalty, with the tolerances documented on each field.
//
// The fits minimise the mean negative log-likelihood per customer over the
// logarithms of the parameters (so every parameter stays positive). First
// BFGS: an inverse-Hessian approximation started at the identity, scaled
// after the first step (Nocedal & Wright, eq. 6.20), updated only when the
// step's curvature sᵀy is positive, with a backtracking Armijo line search
// (c₁ = 10⁻⁴, step halved, at most 60 times) whose steps are capped at 2
// in log-parameter space (a factor e² per parameter), until the gradient
// is below 10⁻⁶. Then Newton steps on the central-difference Hessian of the
// analytic gradient, each kept only if it shrinks the gradient, until the
// gradient is below GradientTolerance. Log-parameters are bounded by ±30;
// a fit that ends beyond ±20 has run off towards 0 or ∞ (ErrNotIdentified).
type FitOptions struct {
	// MaxIterations caps the BFGS iterations; 0 means 1000.
	MaxIterations int
	// GradientTolerance: the fit has converged when every component of the
	// gradient of the mean negative log-likelihood with respect to the
	// log-parameters is at most this; 0 means 1e-9.
	GradientTolerance float64
	// Penalty, when positive, adds Penalty·Σ(ln θᵢ)² to the mean negative
	// log-likelihood: a pull of every parameter towards 1 (a log-normal
	// prior) that keeps the fit finite on data too thin to determine it.
	// 0 means plain maximum likelihood.
	Penalty float64
}

func (o FitOptions) withDefaults() FitOptions {
	if o.MaxIterations <= 0 {
		o.MaxIterations = 1000
	}
	if !(o.GradientTolerance > 0) {
		o.GradientTolerance = 1e-9
	}
	if !(o.Penalty > 0) || math.IsInf(o.Penalty, 0) {
		o.Penalty = 0
	}
	return o
}

func (o FitOptions) penalty(theta, grad []float64) float64 {
	if o.Penalty == 0 {
		return 0
	}
	var s float64
	for i, t := range theta {
		s += t * t
		if grad != nil {
			grad[i] += 2 * o.Penalty * t
		}
	}
	return o.Penalty * s
}

// mlFit is a maximum-likelihood fit on the log scale: the estimates e^θ,
// their standard errors and the log-likelihood summed over n customers.
type mlFit struct {
	params, stdErr          []float64
	logLik                  float64
	iterations, evaluations int
}

// fitLogParams maximises the likelihood whose mean negative log per
// customer is negLL, over k log-parameters started at 0 (every parameter 1),
// and adds the standard errors.
func fitLogParams(negLL objective, k, n int, o FitOptions) (mlFit, error) {
	o = o.withDefaults()
	obj := func(theta, grad []float64) float64 {
		return negLL(theta, grad) + o.penalty(theta, grad)
	}
	res, err := minimize(obj, make([]float64, k), o)
	if err != nil {
		return mlFit{}, err
	}
	se, err := stdErrors(obj, res.theta, float64(n))
	if err != nil {
		return mlFit{}, err
	}
	f := mlFit{params: make([]float64, k), stdErr: se, logLik: -negLL(res.theta, nil) * float64(n),
		iterations: res.iterations, evaluations: res.evaluations}
	for i, t := range res.theta {
		f.params[i] = math.Exp(t)
	}
	return f, nil
}

// objective returns the value at theta and, when grad is not nil, stores
// the gradient there. It returns +Inf (or NaN) where it is not defined.
type objective func(theta, grad []float64) float64

type optResult struct {
	theta                   []float64
	f                       float64
	iterations, evaluations int
}

const (
	// thetaLimit bounds the log-parameters: e^±30 is beyond any sensible
	// rate, scale or shape, and keeps every intermediate finite. A fit that
	// ends beyond identifiedLimit ran off towards 0 or infinity.
	thetaLimit      = 30
	identifiedLimit = 20
	maxStep         = 2
)

// polishFrom is the gradient size below which BFGS hands over to Newton's
// method: near the optimum the mean log-likelihood changes by less than its
// own rounding error (about 1e-16 of its value) from step to step, so a line
// search on it can no longer tell better from worse, while the analytic
// gradient still can.
const polishFrom = 1e-6

// minimize runs BFGS from theta0 until the gradient is below polishFrom (or
// the line search stalls), then Newton steps on the finite-difference
// Hessian of the analytic gradient, each accepted only if it shrinks the
// gradient, until the gradient is below o.GradientTolerance (see
// FitOptions).
func minimize(f objective, theta0 []float64, o FitOptions) (optResult, error) {
	bounded := func(theta, grad []float64) float64 {
		for _, t := range theta {
			if math.Abs(t) > thetaLimit {
				return math.Inf(1)
			}
		}
		return f(theta, grad)
	}
	res, g, stalled := bfgs(bounded, theta0, o)
	if res.theta == nil {
		return res, fmt.Errorf("%w: the log-likelihood is not finite at the starting point", ErrBadInput)
	}
	flat := false
	if maxAbs(g) > o.GradientTolerance && maxAbs(g) <= polishFrom {
		g, flat = polish(bounded, &res, g, o)
	}
	if maxAbs(g) <= o.GradientTolerance {
		return res, nil
	}
	if flat {
		return res, fmt.Errorf("%w: the likelihood is flat or saddle-shaped where the search stopped (largest gradient component %.3g)",
			ErrNotIdentified, maxAbs(g))
	}
	why := fmt.Sprintf("%d iterations", res.iterations)
	if stalled {
		why = fmt.Sprintf("the line search found no lower point after %d iterations", res.iterations)
	}
	return res, fmt.Errorf("%w: %s (largest gradient component %.3g, tolerance %.3g)",
		outOfRange(res.theta, ErrNoConvergence), why, maxAbs(g), o.GradientTolerance)
}

// bfgs minimises f from theta0 until the gradient is below polishFrom and
// o.GradientTolerance is reached or can no longer be approached by a line
// search. It returns the point reached, its gradient and whether the line
// search stalled. res.theta is nil when f is not finite at theta0.
func bfgs(f objective, theta0 []float64, o FitOptions) (res optResult, g []float64, stalled bool) {
	k := len(theta0)
	x := append([]float64(nil), theta0...)
	g = make([]float64, k)
	fx := f(x, g)
	res.evaluations = 1
	if !finite(fx) || !allFinite(g) {
		return res, g, false
	}
	h := identity(k)
	p, xn, gn, s, y, hy := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	defer func() { res.theta, res.f = x, fx }()
	for ; res.iterations < o.MaxIterations; res.iterations++ {
		if maxAbs(g) <= max(o.GradientTolerance, polishFrom) {
			return res, g, false
		}
		mulVec(p, h, g)
		for i := range p {
			p[i] = -p[i]
		}
		if dot(p, g) >= 0 { // not a descent direction: restart from steepest descent
			h = identity(k)
			for i := range p {
				p[i] = -g[i]
			}
		}
		if m := maxAbs(p); m > maxStep {
			for i := range p {
				p[i] *= maxStep / m
			}
		}
		slope := dot(p, g)
		step, fn := 1.0, math.Inf(1)
		accepted := false
		for try := 0; try < 60; try++ {
			for i := range xn {
				xn[i] = x[i] + step*p[i]
			}
			fn = f(xn, gn)
			res.evaluations++
			if finite(fn) && allFinite(gn) && fn <= fx+1e-4*step*slope {
				accepted = true
				break
			}
			step /= 2
		}
		if !accepted {
			return res, g, true
		}
		for i := range s {
			s[i] = xn[i] - x[i]
			y[i] = gn[i] - g[i]
		}
		sy := dot(s, y)
		if sy > 1e-12*math.Sqrt(dot(s, s)*dot(y, y)) {
			if res.iterations == 0 {
				scale := sy / dot(y, y)
				for i := range h {
					for j := range h[i] {
						h[i][j] *= scale
					}
				}
			}
			bfgsUpdate(h, s, y, hy, sy)
		}
		copy(x, xn)
		copy(g, gn)
		fx = fn
	}
	return res, g, false
}

// polish takes Newton steps from res.theta, whose gradient is g, while they
// shrink the largest gradient component, at most 20 times. It updates res
// and returns the final gradient, and whether it stopped on a Hessian that
// is not positive definite (no proper maximum of the likelihood there).
func polish(f objective, res *optResult, g []float64, o FitOptions) ([]float64, bool) {
	k := len(g)
	xn, gn, step := make([]float64, k), make([]float64, k), make([]float64, k)
	for i := 0; i < 20 && maxAbs(g) > o.GradientTolerance; i++ {
		hess := hessian(f, res.theta, 1)
		res.evaluations += 2 * k
		inv, ok := invertSPD(hess)
		if !ok {
			return g, true
		}
		mulVec(step, inv, g)
		for j := range xn {
			xn[j] = res.theta[j] - step[j]
		}
		fn := f(xn, gn)
		res.evaluations++
		if !finite(fn) || !allFinite(gn) || maxAbs(gn) >= maxAbs(g) {
			break
		}
		res.iterations++
		copy(res.theta, xn)
		copy(g, gn)
		res.f = fn
	}
	return g, false
}

// outOfRange tells a fit that ran off towards a parameter of 0 or ∞ apart
// from one that merely stalled.
func outOfRange(theta []float64, otherwise error) error {
	if maxAbs(theta) > identifiedLimit {
		return ErrNotIdentified
	}
	return otherwise
}

// bfgsUpdate replaces h by (I - ρsyᵀ) h (I - ρysᵀ) + ρssᵀ, ρ = 1/sᵀy.
func bfgsUpdate(h [][]float64, s, y, hy []float64, sy float64) {
	rho := 1 / sy
	mulVec(hy, h, y)
	yhy := dot(y, hy)
	for i := range h {
		for j := range h[i] {
			h[i][j] += -rho*(hy[i]*s[j]+s[i]*hy[j]) + (rho*rho*yhy+rho)*s[i]*s[j]
		}
	}
}

// stdErrors returns the standard errors of the parameters e^θ at the
// optimum theta of f (a mean over n customers): the Hessian of n·f by
// central differences of the analytic gradient, inverted by Cholesky, and
// carried from θ to e^θ by the delta method. A Hessian that is not positive
// definite means the optimum is not a proper maximum of the likelihood.
func stdErrors(f objective, theta []float64, n float64) ([]float64, error) {
	if maxAbs(theta) > identifiedLimit {
		return nil, ErrNotIdentified
	}
	k := len(theta)
	hess := hessian(f, theta, n)
	inv, ok := invertSPD(hess)
	if !ok {
		return nil, fmt.Errorf("%w: the likelihood is flat or saddle-shaped at the optimum", ErrNotIdentified)
	}
	se := make([]float64, k)
	for i := range se {
		se[i] = math.Exp(theta[i]) * math.Sqrt(inv[i][i])
	}
	return se, nil
}

// hessian is n times the Hessian of f at theta, by central differences
// (step 1e-4) of f's analytic gradient, symmetrised.
func hessian(f objective, theta []float64, n float64) [][]float64 {
	k := len(theta)
	hess := make([][]float64, k)
	gp, gm, tp := make([]float64, k), make([]float64, k), make([]float64, k)
	const step = 1e-4
	for j := 0; j < k; j++ {
		copy(tp, theta)
		tp[j] = theta[j] + step
		f(tp, gp)
		tp[j] = theta[j] - step
		f(tp, gm)
		hess[j] = make([]float64, k)
		for i := 0; i < k; i++ {
			hess[j][i] = n * (gp[i] - gm[i]) / (2 * step)
		}
	}
	for i := 0; i < k; i++ {
		for j := 0; j < i; j++ {
			v := (hess[i][j] + hess[j][i]) / 2
			hess[i][j], hess[j][i] = v, v
		}
	}
	return hess
}

// invertSPD inverts a symmetric positive-definite matrix by Cholesky
// factorisation; it reports false when the matrix is not positive definite
// (or not finite).
func invertSPD(a [][]float64) ([][]float64, bool) {
	k := len(a)
	l := make([][]float64, k)
	for i := range l {
		l[i] = make([]float64, k)
	}
	for j := 0; j < k; j++ {
		d := a[j][j]
		for m := 0; m < j; m++ {
			d -= l[j][m] * l[j][m]
		}
		if !(d > 0) || !finite(d) {
			return nil, false
		}
		l[j][j] = math.Sqrt(d)
		for i := j + 1; i < k; i++ {
			v := a[i][j]
			for m := 0; m < j; m++ {
				v -= l[i][m] * l[j][m]
			}
			l[i][j] = v / l[j][j]
		}
	}
	// inverse = L⁻ᵀ L⁻¹; solve column by column.
	inv := make([][]float64, k)
	for i := range inv {
		inv[i] = make([]float64, k)
	}
	col, z := make([]float64, k), make([]float64, k)
	for c := 0; c < k; c++ {
		for i := range col {
			col[i] = 0
		}
		col[c] = 1
		for i := 0; i < k; i++ { // L z = e_c
			v := col[i]
			for m := 0; m < i; m++ {
				v -= l[i][m] * z[m]
			}
			z[i] = v / l[i][i]
		}
		for i := k - 1; i >= 0; i-- { // Lᵀ x = z
			v := z[i]
			for m := i + 1; m < k; m++ {
				v -= l[m][i] * inv[m][c]
			}
			inv[i][c] = v / l[i][i]
		}
	}
	for i := range inv {
		for j := range inv[i] {
			if !finite(inv[i][j]) {
				return nil, false
			}
		}
	}
	return inv, true
}

func identity(k int) [][]float64 {
	m := make([][]float64, k)
	for i := range m {
		m[i] = make([]float64, k)
		m[i][i] = 1
	}
	return m
}

func mulVec(dst []float64, m [][]float64, v []float64) {
	for i := range m {
		var s float64
		for j, mij := range m[i] {
			s += mij * v[j]
		}
		dst[i] = s
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if !finite(x) {
			return false
		}
	}
	return true
}
