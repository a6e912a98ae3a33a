package clv

import (
	"errors"
	"fmt"
	"math"
)

// Errors returned by the fits and checks of this package.
var (
	// ErrNoCustomers: a fit was given no customer it could use.
	ErrNoCustomers = errors.New("clv: no customers to fit")
	// ErrBadInput: a summary, a purchase or a parameter is out of its domain
	// (negative, NaN, infinite, t_x after T, ...); the wrapping error names it.
	ErrBadInput = errors.New("clv: bad input")
	// ErrNotIdentified: the likelihood has no finite maximum for these data
	// (too few customers or repeat purchases: the best fit runs off to a
	// parameter of 0 or infinity). Add data or set FitOptions.Penalty.
	ErrNotIdentified = errors.New("clv: the data do not determine the parameters")
	// ErrNoConvergence: the optimizer stopped at FitOptions.MaxIterations or
	// could not improve any more before the gradient was small enough.
	ErrNoConvergence = errors.New("clv: the fit did not converge")
	// ErrNoMean: the fitted spend distribution has no finite mean (q ≤ 1), so a
	// customer's expected spend cannot be stated.
	ErrNoMean = errors.New("clv: the spend model has no finite mean")
)

// Summary is what the BG/NBD model needs to know of one customer over a
// calibration period, in the model's time unit (weeks, for CDNOW).
type Summary struct {
	// X is the number of repeat purchases: purchases after the first one,
	// purchases on one day counting once.
	X int
	// TX (recency) is the time from the first purchase to the last repeat
	// purchase; 0 when X is 0.
	TX float64
	// T (age) is the time from the first purchase to the end of the
	// calibration period.
	T float64
}

// Validate reports whether s can be a customer's summary: X ≥ 0,
// 0 ≤ TX ≤ T < ∞, and TX = 0 when X = 0.
func (s Summary) Validate() error {
	switch {
	case s.X < 0:
		return fmt.Errorf("%w: x = %d repeat purchases is negative", ErrBadInput, s.X)
	case !finite(s.T) || s.T < 0:
		return fmt.Errorf("%w: T = %v is not a finite non-negative time", ErrBadInput, s.T)
	case !finite(s.TX) || s.TX < 0:
		return fmt.Errorf("%w: t_x = %v is not a finite non-negative time", ErrBadInput, s.TX)
	case s.TX > s.T:
		return fmt.Errorf("%w: t_x = %v is after T = %v", ErrBadInput, s.TX, s.T)
	case s.X == 0 && s.TX != 0:
		return fmt.Errorf("%w: t_x = %v with no repeat purchase (x = 0)", ErrBadInput, s.TX)
	}
	return nil
}

// BGNBD holds the four parameters of the BG/NBD model. While alive, a
// customer buys as a Poisson process with rate λ ~ Gamma(shape R, rate
// Alpha); after each repeat purchase the customer drops out for good with
// probability p ~ Beta(A, B). Alpha is in the model's time unit.
type BGNBD struct {
	R, Alpha, A, B float64
}

// Validate reports whether all four parameters are positive and finite.
func (m BGNBD) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"r", m.R}, {"alpha", m.Alpha}, {"a", m.A}, {"b", m.B}} {
		if !finite(p.v) || p.v <= 0 {
			return fmt.Errorf("%w: BG/NBD parameter %s = %v is not positive and finite", ErrBadInput, p.name, p.v)
		}
	}
	return nil
}

// LogLikelihood is the log-likelihood of the customers' summaries under m
// (FHL 2005), summed over customers.
func (m BGNBD) LogLikelihood(cs []Summary) (float64, error) {
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("log-likelihood: %w", err)
	}
	d, err := newBGData(cs)
	if err != nil {
		return 0, fmt.Errorf("log-likelihood: %w", err)
	}
	theta := []float64{math.Log(m.R), math.Log(m.Alpha), math.Log(m.A), math.Log(m.B)}
	return -d.negLL(theta, nil) * float64(d.n), nil
}

// PAlive is the probability that a customer with summary c is still alive
// at the end of the calibration period (Fader, Hardie & Lee's note "Computing P(alive)
// using the BG/NBD model"). The model lets a customer drop out only after a
// repeat purchase, so a customer who made none is alive with probability 1:
// read "alive" for such customers as "never shown any sign of leaving".
func (m BGNBD) PAlive(c Summary) float64 {
	if c.X == 0 {
		return 1
	}
	return 1 / (1 + math.Exp(m.logOdds(c)))
}

// logOdds is log[(a/(b+x-1)) ((α+T)/(α+t_x))^(r+x)], the log odds of death
// at T against being alive, for x > 0.
func (m BGNBD) logOdds(c Summary) float64 {
	x := float64(c.X)
	return math.Log(m.A) - math.Log(m.B+x-1) + (m.R+x)*(math.Log(m.Alpha+c.T)-math.Log(m.Alpha+c.TX))
}

// MaxHorizon is the longest forecast horizon, in model time units; longer
// ones (+Inf included) are computed as MaxHorizon. With a ≤ 1 the expected
// number of purchases grows without bound (E[1/p] is infinite), so an
// infinite horizon would have no finite answer.
const MaxHorizon = 1e15

// ExpectedPurchases is the number of purchases a customer with summary c is
// expected to make in the t time units after the end of the calibration
// period (FHL 2005, eq. 10). It is 0 for t ≤ 0.
func (m BGNBD) ExpectedPurchases(c Summary, t float64) float64 {
	if !(t > 0) {
		return 0
	}
	t = min(t, MaxHorizon)
	alive := m.PAlive(c)
	if alive == 0 {
		return 0
	}
	return m.expectedIfAlive(c.X, c.T, t) * alive
}

// ExpectedRepeat is E[X(t)], the number of repeat purchases a customer
// chosen at random is expected to make in the t time units after the first
// purchase (FHL 2005, eq. 9). It is 0 for t ≤ 0; see MaxHorizon.
func (m BGNBD) ExpectedRepeat(t float64) float64 {
	if !(t > 0) {
		return 0
	}
	return m.expectedIfAlive(0, 0, min(t, MaxHorizon))
}

// expectedIfAlive is the numerator of FHL 2005 eq. 10,
//
//	(a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z)],  z = t/(α+T+t),
//
// the purchases expected in the next t of a customer known to be alive;
// with x = T = 0 it is E[X(t)] (eq. 9). Euler's transformation
// 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns it into
//
//	(C/ε) · [1 - (1-z)^ε · 2F1(a+b-1-r, ε; C; z)],  ε = a-1, C = a+b+x-1,
//
// whose hypergeometric parameters no longer grow with x, and writing
// 2F1 = 1 + ε·H/C takes both 1/ε and 1/C out:
//
//	-[C · expm1(ε·L)/ε + (1-z)^ε · H],  L = log(1-z),
//	H = Σ_{n≥1} (A')_n (ε+1)_{n-1} z^n / ((C+1)_{n-1} n!),  A' = a+b-1-r.
//
// So a = 1 and a+b+x = 1 need no special case, and nothing cancels for a
// short forecast or a very old customer. Where the series is slow (z near
// 1) or its terms cancel (a large r makes A' large and negative), the
// expectation is integrated from its definition instead
// (expectedIfAliveQuad).
func (m BGNBD) expectedIfAlive(x int, T, t float64) float64 {
	if v, ok := m.expectedIfAliveSeries(x, T, t); ok {
		return v
	}
	return m.expectedIfAliveQuad(x, T, t)
}

// expectedIfAliveSeries is the series evaluation of expectedIfAlive; it
// reports false when the result cannot be trusted to about 1e-11.
func (m BGNBD) expectedIfAliveSeries(x int, T, t float64) (float64, bool) {
	xf := float64(x)
	den := m.Alpha + T + t
	z := t / den
	L := math.Log1p(-z)
	if z > 0.5 {
		L = math.Log(m.Alpha+T) - math.Log(den) // 1-z loses digits near 1
	}
	eps := m.A - 1
	c := m.A + m.B + xf - 1
	ap := m.A + m.B - 1 - m.R
	e1 := L
	if eps != 0 {
		e1 = math.Expm1(eps*L) / eps
	}
	h, ok := hyperH(ap, eps, c, z)
	if !ok {
		return 0, false
	}
	p1, p2 := c*e1, math.Exp(eps*L)*h
	v := -(p1 + p2)
	if !finite(v) || v < 0 || math.Abs(v) < 1e-4*math.Max(math.Abs(p1), math.Abs(p2)) {
		return 0, false
	}
	return v, true
}

// seriesTerms caps the power series for H; beyond it (z near 1) the
// expectation is integrated instead.
const seriesTerms = 2000

// hyperH sums H = C·(2F1(A', ε; C; z) - 1)/ε as a power series. It reports
// false when the series has not converged to double precision within
// seriesTerms terms, or when its terms are so much larger than their sum
// that cancellation has eaten more than four digits.
func hyperH(ap, eps, c, z float64) (float64, bool) {
	if z == 0 {
		return 0, true
	}
	term := ap * z
	sum := term
	largest := math.Abs(term)
	for n := 1; n < seriesTerms; n++ {
		fn := float64(n)
		term *= (ap + fn) * (eps + fn) / ((c + fn) * (fn + 1)) * z
		sum += term
		largest = math.Max(largest, math.Abs(term))
		if math.Abs(term) <= 1e-17*math.Abs(sum) || term == 0 {
			return sum, finite(sum) && largest <= 1e4*math.Abs(sum)
		}
	}
	return sum, false
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
