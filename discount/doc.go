// Package discount is the pricing engine of a till: a pure function from a
// ruleset, a basket, the card's account view and the current time to a priced
// quote with an explanation of every discount and every point earned.
//
// The engine does no I/O, reads no clock and uses no randomness (a raffle
// draws from a hash of the sale), so the same inputs give the same quote on
// every terminal and at HQ, which re-prices every synced sale to audit it. A
// test in this package fails if it ever imports a package that does I/O.
// Reading the human-edited rules file is the job of the sub-package
// rulesfile; this package holds the rules once they are decoded, checks them
// ([Ruleset.Validate], [Ruleset.Warnings]), applies them ([Apply],
// [ApplyWith], and [ApplyTo] for a caller pricing basket after basket into
// one quote) and refunds sales made with them ([Refund]).
//
// docs/rules.md describes every rule kind with a worked example; the kinds
// are listed in [Kinds]. Everything the package knows about a kind (its
// keys, when its rules run, whom they are for, its checks, its reasons and
// the engine's hooks that evaluate it) is its entry in one table,
// kindTable in kinds.go, which the checker, the engine, the rulesfile
// package and docs/rules.md read: adding a kind is one entry, its
// evaluator and its tests.
//
// # Phases
//
// A basket is priced in four phases, each running its rules in ascending
// Priority, ties broken by ID (each kind's entry says its phase):
//
//  1. Discounts: each takes its share of what is left of the lines it
//     reaches after the rules before it (3 % then 10 % is 12.7 %), within
//     the ruleset's [Limits].
//  2. Payment with points: the bonus catalog and redemption, within the
//     balance of unexpired lots, the share of the basket points may pay and
//     the offline daily limit.
//  3. Earning: points rules (with multipliers), partner points and bonuses,
//     on what is paid in money after the first two phases, rounded down:
//     nobody earns a point for money not spent.
//  4. After the total: charity (a round-up or a share of the points earned),
//     raffle tickets and the greeting.
//
// Rules apply only where and when their conditions hold: scope (stores,
// regions, terminals), a window on the terminal's wall clock (dates, days,
// hours), a minimum basket, and a card for every kind but the promotions
// and the charity round-up. Of the rules of one exclusive group that may
// apply, only the one giving the customer most applies.
//
// # Rounding and splitting
//
// A rule's discount is computed once on the sum of what it applies to,
// rounded half up to the minor unit, and split over the lines in proportion
// to what is left of each by the largest remainder method (as
// [money.Allocate]), so the lines add up to the total exactly and no line
// ever goes below zero. Lines are put in a canonical order before any split,
// so the result does not depend on the order they were rung up in. Points
// earned and paid are split over the lines the same way, so that [Refund]
// can reverse them in proportion to what comes back.
//
// # Explanations
//
// Every rule that changed the price or the points has an entry in
// pos.Quote.Applied with its amount and a reason the till shows. With
// Options.Explain, every other rule of the ruleset is in pos.Quote.Dropped
// with a stable code and a reason: outside its window or scope, beaten in
// its group, capped by a limit, nothing to act on.
//
// # Performance
//
// A ruleset is validated and compiled once, on first use: rules are put in
// evaluation order and promotions indexed by the SKUs and categories they
// target, so a basket only looks at the rules that can touch it.
package discount
