// Package clv models a customer base from purchase histories alone: who is
// still a customer, how many purchases each will make, what each spends and
// what each is worth.
//
// It implements the BG/NBD model of Fader, Hardie and Lee (2005), "Counting
// Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
// Marketing Science 24(2), fitted by maximum likelihood from per-customer
// summaries (x repeat purchases, the last at t_x, observed for T time
// units); the Gamma-Gamma spend model of Fader, Hardie and Lee (2005b), "RFM
// and CLV: Using Iso-Value Curves for Customer Base Analysis", Journal of
// Marketing Research 42(4); a customer lifetime value that discounts expected
// purchases times expected spend period by period; and the calibration /
// holdout split and period-by-period tracking that show how well a fit
// predicts.
//
// The package is pure: no I/O, no clock, no randomness. Time is measured in
// whole days and converted to the model's unit (weeks by default), so the same
// purchases give the same answer everywhere. docs/analytics.md has the
// formulas, the validation on the CDNOW data the paper used, and the
// assumptions.
package clv
