package clv

import (
	"fmt"
	"math"
)

// ValueOptions sets the horizon and the discounting of LifetimeValue. It has
// no defaults: the period is in the model's time unit, which only the
// caller knows.
type ValueOptions struct {
	// Periods is the horizon in periods; it must be positive.
	Periods int
	// PeriodLength is one period in the model's time unit (e.g. 52/12 for a
	// month when the unit is a week); it must be positive.
	PeriodLength float64
	// DiscountRate is the rate per period (0.01 for 1 % a month); 0 means
	// no discounting. It must not be negative.
	DiscountRate float64
}

// Validate reports whether o describes a horizon.
func (o ValueOptions) Validate() error {
	switch {
	case o.Periods <= 0:
		return fmt.Errorf("%w: value horizon of %d periods is not positive", ErrBadInput, o.Periods)
	case o.Periods > 1e6:
		return fmt.Errorf("%w: value horizon of %d periods is more than a million", ErrBadInput, o.Periods)
	case !finite(o.PeriodLength) || o.PeriodLength <= 0:
		return fmt.Errorf("%w: period length %v is not positive and finite", ErrBadInput, o.PeriodLength)
	case !finite(o.DiscountRate) || o.DiscountRate < 0:
		return fmt.Errorf("%w: discount rate %v is not finite and non-negative", ErrBadInput, o.DiscountRate)
	}
	return nil
}

// LifetimeValue is the customer's discounted expected spend over the
// horizon, a discrete-time sum (as in the lifetimes library, not the
// continuous-time DERT of FHL 2005b):
//
//	CLV = Σ_{k=1..K} spend · (E[Y(kΔ)] - E[Y((k-1)Δ)]) / (1+d)^k
//
// where E[Y(t)] is ExpectedPurchases(c, t), Δ the period length, d the
// discount rate and spend the expected value of one purchase (e.g.
// GammaGamma.ExpectedSpend). Purchases in period k are discounted as if
// made at its end. It is revenue: multiply by a margin for profit.
func (m BGNBD) LifetimeValue(c Summary, spend float64, o ValueOptions) (float64, error) {
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("lifetime value: %w", err)
	}
	if err := c.Validate(); err != nil {
		return 0, fmt.Errorf("lifetime value: %w", err)
	}
	if err := o.Validate(); err != nil {
		return 0, fmt.Errorf("lifetime value: %w", err)
	}
	if !finite(spend) || spend < 0 {
		return 0, fmt.Errorf("lifetime value: %w: spend per purchase %v is not finite and non-negative", ErrBadInput, spend)
	}
	var v, prev float64
	logDisc := math.Log1p(o.DiscountRate)
	for k := 1; k <= o.Periods; k++ {
		e := m.ExpectedPurchases(c, float64(k)*o.PeriodLength)
		v += (e - prev) * math.Exp(-float64(k)*logDisc)
		prev = e
	}
	return spend * v, nil
}
