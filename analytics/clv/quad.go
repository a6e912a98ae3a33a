package clv

import (
	"math"
	"slices"
)

// expectedIfAliveQuad evaluates the same expectation as expectedIfAlive
// from the model's definition rather than from the hypergeometric closed
// form. Given x repeat purchases and alive at T, a customer's dropout
// probability is p ~ Beta(a, b+x) and purchase rate λ ~ Gamma(r+x, α+T); a
// customer with (λ, p) alive now makes (1 - e^{-λpt})/p purchases in the
// next t on average; averaging over λ leaves
//
//	∫₀¹ Beta(p; a, b+x) · (1 - (1 + p·u)^{-(r+x)}) / p  dp,   u = t/(α+T).
//
// The integral is taken by adaptive Gauss–Kronrod (7–15 points) in log p
// on (0, ½] and in log(1-p) on [½, 1), where the Beta density's powers and
// the scale 1/u of the bracket are smooth, with the two ends beyond
// 1e-10-small cut-offs integrated in closed form from the leading terms. It
// is slower than the series but has no region where it fails.
func (m BGNBD) expectedIfAliveQuad(x int, T, t float64) float64 {
	xf := float64(x)
	a, bp, k := m.A, m.B+xf, m.R+xf
	u := t / (m.Alpha + T)
	// G(p) = 1 - (1+pu)^{-k}, in [0, 1].
	G := func(p float64) float64 { return -math.Expm1(-k * math.Log1p(u*p)) }
	// The Beta function's logarithm is only a scale here: lgamma of b+x
	// near a million carries an absolute error near 1e-9, which would be a
	// relative error of the answer. So the density is integrated with the
	// same rule and cuts as the expectation, and the ratio of the two
	// integrals cancels the scale and its error.
	lga, _ := math.Lgamma(a)
	lgb, _ := math.Lgamma(bp)
	lgab, _ := math.Lgamma(a + bp)
	lnB := lga + lgb - lgab

	// Left half, p = e^{-s}: dp = p·ds. The expectation's integrand is
	// p^{a-1} q^{b'-1} G(p) / B, the density's p^a q^{b'-1} / B.
	p1 := math.Min(0.25, 1e-10/(u*(k+1)+math.Abs(bp-1)+1))
	left := func(s float64) float64 {
		p := math.Exp(-s)
		return math.Exp((a-1)*(-s)+(bp-1)*math.Log1p(-p)-lnB) * G(p)
	}
	left0 := func(s float64) float64 {
		p := math.Exp(-s)
		return math.Exp(a*(-s) + (bp-1)*math.Log1p(-p) - lnB)
	}
	// Below p1, G(p) ≈ k·u·p and q^{b'-1} ≈ 1: ∫₀^{p1} k·u·p^a/B dp/p, and
	// the density's ∫₀^{p1} p^{a-1}/B dp.
	leftTail := k * u * math.Exp(a*math.Log(p1)-lnB) / a
	leftTail0 := math.Exp(a*math.Log(p1)-lnB) / a
	// Right half, q = 1-p = e^{-w}: dp = q·dw. The expectation's integrand
	// is p^{a-1} q^{b'} g(p) / B with g(p) = G(p)/p, the density's
	// p^{a-1} q^{b'} / B.
	q1 := math.Min(0.25, 1e-10/(math.Abs(a-1)+k+2))
	right := func(w float64) float64 {
		q := math.Exp(-w)
		p := -math.Expm1(-w)
		return math.Exp((a-1)*math.Log1p(-q)+bp*(-w)-lnB) * G(p) / p
	}
	right0 := func(w float64) float64 {
		return math.Exp((a-1)*math.Log1p(-math.Exp(-w)) + bp*(-w) - lnB)
	}
	// Beyond q1, p ≈ 1: ∫₀^{q1} q^{b'-1} G(1)/B dq, and without G(1) for
	// the density.
	rightTail0 := math.Exp(bp*math.Log(q1)-lnB) / bp
	rightTail := G(1) * rightTail0
	// The Beta density can be a spike far narrower than the range (a and
	// b+x in the thousands make it a few hundredths wide in log p), and G
	// rises from 0 to 1 around p = 1/(u·k): the integration starts from
	// pieces cut at both, or a first estimate may miss the spike entirely
	// and report a confident 0.
	mode, spread := betaLogMode(a, bp)
	lf := []float64{-math.Log(mode), spread, math.Log(u * k), 1}
	rf := []float64{-math.Log1p(-mode), betaLogSpread(bp, a)}
	lo, hiL, hiR := math.Ln2, -math.Log(p1), -math.Log(q1)
	v := gaussKronrod(left, lo, hiL, lf...) + leftTail + gaussKronrod(right, lo, hiR, rf...) + rightTail
	norm := gaussKronrod(left0, lo, hiL, lf...) + leftTail0 + gaussKronrod(right0, lo, hiR, rf...) + rightTail0
	v /= norm
	if !(v >= 0) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// Gauss–Kronrod 7–15 nodes and weights on [-1, 1] (nodes ≥ 0; the rule is
// symmetric). xgk[1], xgk[3], xgk[5] and 0 are the Gauss nodes.
var (
	xgk = [8]float64{
		0.991455371120812639206854697526329,
		0.949107912342758524526189684047851,
		0.864864423359769072789712788640926,
		0.741531185599394439863864773280788,
		0.586087235467691130294144845693013,
		0.405845151377397166906606412076961,
		0.207784955007898467600689403773245,
		0,
	}
	wgk = [8]float64{
		0.022935322010529224963732008058970,
		0.063092092629978553290700663189204,
		0.104790010322250183839876322541518,
		0.140653259715525918745189590510238,
		0.169004726639267902826583426598550,
		0.190350578064785409913256402421014,
		0.204432940075298892414161999234649,
		0.209482141084727828012999174891714,
	}
	wg = [4]float64{ // Gauss weights for xgk[1], xgk[3], xgk[5], 0
		0.129484966168869693270611432679082,
		0.279705391489276667901467771423780,
		0.381830050505118944950369775488975,
		0.417959183673469387755102040816327,
	}
)

// gk15 integrates f over [lo, hi] with the 15-point Kronrod rule and returns
// it with the difference from the embedded 7-point Gauss rule as its error.
func gk15(f func(float64) float64, lo, hi float64) (val, err float64) {
	c, h := (lo+hi)/2, (hi-lo)/2
	fc := f(c)
	k := fc * wgk[7]
	g := fc * wg[3]
	for j := 0; j < 7; j++ {
		f1, f2 := f(c-h*xgk[j]), f(c+h*xgk[j])
		k += wgk[j] * (f1 + f2)
		if j%2 == 1 {
			g += wg[j/2] * (f1 + f2)
		}
	}
	return k * h, math.Abs((k - g) * h)
}

// betaLogMode is the mode of Beta(a, b) (a ≥ 1 and b ≥ 1; the nearer end
// otherwise) and the standard deviation of log p under it, √(ψ'(a) - ψ'(a+b))
// ≈ √(1/a - 1/(a+b)): where, and how wide in log p, its mass lies.
func betaLogMode(a, b float64) (mode, spread float64) {
	switch {
	case a <= 1:
		mode = 0
	case b <= 1:
		mode = 1
	default:
		mode = (a - 1) / (a + b - 2)
	}
	return mode, betaLogSpread(a, b)
}

// betaLogSpread is √(1/a - 1/(a+b)), about the standard deviation of log p
// for p ~ Beta(a, b).
func betaLogSpread(a, b float64) float64 { return math.Sqrt(math.Max(1/a-1/(a+b), 0)) }

// gaussKronrod integrates f over [lo, hi] adaptively: it keeps bisecting
// the interval with the largest error estimate until the estimates sum to
// at most 1e-12 of the integral (or 1e-300), or 400 intervals. features
// are (centre, width) pairs of where f changes fast; the first pieces are
// cut at each centre and at ±1, 2, 4 and 8 widths from it, so that no
// feature falls between the nodes of the first estimate.
func gaussKronrod(f func(float64) float64, lo, hi float64, features ...float64) float64 {
	if !(hi > lo) {
		return 0
	}
	cuts := []float64{lo, hi}
	for i := 0; i+1 < len(features); i += 2 {
		c, w := features[i], features[i+1]
		for _, d := range []float64{0, 1, -1, 2, -2, 4, -4, 8, -8} {
			if x := c + d*w; x > lo && x < hi {
				cuts = append(cuts, x)
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	type piece struct{ lo, hi, val, err float64 }
	var pieces []piece
	total, errSum := 0.0, 0.0
	for i := 1; i < len(cuts); i++ {
		v, e := gk15(f, cuts[i-1], cuts[i])
		pieces = append(pieces, piece{cuts[i-1], cuts[i], v, e})
		total += v
		errSum += e
	}
	for len(pieces) < 400 && errSum > math.Max(1e-12*math.Abs(total), 1e-300) {
		worst := 0
		for i, p := range pieces {
			if p.err > pieces[worst].err {
				worst = i
			}
		}
		p := pieces[worst]
		mid := (p.lo + p.hi) / 2
		v1, e1 := gk15(f, p.lo, mid)
		v2, e2 := gk15(f, mid, p.hi)
		pieces[worst] = piece{p.lo, mid, v1, e1}
		pieces = append(pieces, piece{mid, p.hi, v2, e2})
		total, errSum = 0, 0
		for _, q := range pieces {
			total += q.val
			errSum += q.err
		}
	}
	return total
}
