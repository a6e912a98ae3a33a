// Package discount is the pricing engine of a till: a pure function from a
// ruleset, a basket, the card's account view and the current time to a priced
// quote with an explanation of every discount and every point earned.
//
// The engine does no I/O, reads no clock and uses no randomness, so the same
// inputs give the same quote on every terminal and at HQ, which re-prices every
// synced sale to audit it. A test in this package fails if it ever imports a
// package that does I/O. Reading the human-edited rules file is the job of the
// sub-package rulesfile; this package only holds the rules once they are
// decoded, checks them ([Ruleset.Validate]) and applies them ([Apply]).
//
// # Rule kinds
//
//   - card_percent: a fixed percentage off for any identified card holder.
//   - tiers: a cumulative discount chosen by the card's lifetime spend
//     recorded before this purchase; the highest tier whose From is at most
//     the spend applies (boundaries inclusive).
//   - points: N points for every full M of money paid after all discounts,
//     rounded down.
//
// Every kind may exclude categories of goods (ExcludeCategories, matched
// exactly against pos.Line.Category). Without a card (a nil account) no rule of
// this first cut applies: all three are card-holder rules.
//
// # Stacking and rounding
//
// Discount rules run one after another in ascending Priority, ties broken by ID.
// Each takes its percentage of what is left of the eligible lines after the
// rules before it, so 3 % then 10 % is 12.7 %, not 13 %. A rule's discount is
// computed once on the sum it applies to, rounded half up to the minor unit,
// and split across the eligible lines in proportion to what is left of each
// with [money.Allocate] (largest remainder), so the lines add up to the total
// exactly and no line ever goes below zero. Lines are put in a canonical order
// before any split, so the result does not depend on the order the cashier
// rang them up in.
//
// Points rules run after every discount rule, whatever their priority, on the
// amount actually paid for the lines they do not exclude, and round down: a
// customer never earns a point for money not spent.
package discount
