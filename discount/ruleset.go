package discount

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tilld/tilld/money"
)

// Schema is the version of the ruleset format this package reads and applies.
const Schema = 1

// Ruleset is one published version of a chain's rules.
//
// Apply checks and compiles a ruleset the first time it sees it and keeps the
// compiled form inside it, so a Ruleset must not be modified once it has been
// used; build a new one instead.
type Ruleset struct {
	// Schema is the format version; only [Schema] is supported.
	Schema int
	// Version increases with every publication; terminals refuse older ones.
	Version int64
	// Currency of every amount in the rules and of every basket priced with them.
	Currency money.Currency
	// Effective is when the ruleset starts to apply; zero means at once. A
	// till keeps its previous ruleset until then; Apply refuses to price with
	// it before then ([ErrNotEffective]).
	Effective Moment
	// Seed makes this publication's raffle draws differ from other
	// publications'; empty means the version number.
	Seed string
	// Limits bound what the discount rules may take together.
	Limits Limits
	// Rules in file order; Apply orders them by phase, Priority and ID.
	Rules []Rule

	prog atomic.Pointer[program]
}

// Limits are the caps and floors of a ruleset. Zero values mean no limit.
// They bound discounts, not payment with points.
type Limits struct {
	// BasketDiscount is the most the discount rules may take off a basket,
	// as a share of its subtotal.
	BasketDiscount money.BP
	// LineDiscount is the most they may take off one line, as a share of
	// the line's amount.
	LineDiscount money.BP
	// Floors are the lowest unit prices discounts may bring SKUs down to.
	Floors []Floor
	// OfflinePointsPerDay is the most points a card may redeem per day on
	// one terminal while that terminal is offline (pos.Account.Offline).
	OfflinePointsPerDay int64
	// OfflineReturn is the most money one return may give back while the
	// terminal cannot ask HQ for the sale it returns (a sale of another
	// terminal, taken back on what its receipt says); OfflineReturnsPerDay
	// the most all such returns at one terminal may give back in a day.
	// Zero (both unset): no such return is taken. Both or neither are set.
	OfflineReturn        money.Amount
	OfflineReturnsPerDay money.Amount
}

// Floor is the lowest unit price discounts may bring a SKU down to.
type Floor struct {
	SKU   string
	Price money.Amount
}

// Rule is one discount or loyalty rule. Which fields matter depends on Kind
// (see [Kind.Keys]); the others must be left zero.
type Rule struct {
	ID   string
	Kind Kind
	// Name is what the till shows for the rule ("Счастливые часы"); the
	// reasons fall back to a title of the kind.
	Name string
	// Priority orders rules within their phase: lower first, ties by ID.
	Priority int
	// ExcludeCategories lists line categories the rule never touches.
	ExcludeCategories []string

	// Conditions, for any kind. A rule applies only where and when they hold.

	// Group makes the rule exclusive with the other rules of the same
	// group: of those that would apply, only the best for the customer does.
	Group string
	// Stores, Regions and Terminals scope the rule: when any is set, the
	// basket's store, region or terminal must be listed in one of them.
	Stores, Regions, Terminals []string
	// Window is when the rule applies, on the terminal's wall clock.
	Window Window
	// MinBasket is the least the basket must cost before discounts, counting
	// the lines the rule does not exclude (and, for a gift, not the gift).
	MinBasket money.Amount
	// CardOnly limits a promotion to card holders; every other kind needs a
	// card anyway.
	CardOnly bool

	// SKUs and Categories are the lines a promotion targets; a line matches
	// if either lists it. Both empty: every line.
	SKUs, Categories []string

	// Percent is the discount of card_percent, percent_off, partner and
	// birthday rules, and the discount on the free units of buy_get (zero
	// means 100 %), in (0, 100 %].
	Percent money.BP
	// Tiers of a tiers rule, in strictly increasing From.
	Tiers []Tier
	// Points earned for every full Per paid, for points and partner rules;
	// Per is also the spend per raffle ticket.
	Points int64
	Per    money.Amount
	// Multipliers of a points rule, by SKU or category.
	Multipliers []Multiplier
	// ExpireMonths and ExpirePeriod, on a points rule, say when the points
	// a sale earns expire (Rule.PointsExpire); both zero: never.
	ExpireMonths int64
	ExpirePeriod string
	// Amount off, for amount_off: once per basket, or per unit when PerUnit.
	Amount  money.Amount
	PerUnit bool
	// Buy N, get M: of every Buy+Get matching units, the Get cheapest are free.
	Buy, Get int64
	// The gift of a gift rule; GiftQty zero means 1.
	GiftSKU  string
	GiftName string
	GiftQty  int64
	// PointValue is the money one point pays for, in a redeem rule.
	PointValue money.Amount
	// MaxShare is the most of the basket a redemption may pay (zero: all of it).
	MaxShare money.BP
	// MinBalance is the least balance a card needs to redeem at all.
	MinBalance int64
	// Items of a catalog rule: SKUs the customer may take for points.
	Items []CatalogItem
	// Partner is the id of a partner program; Prefixes are the card-number
	// ranges that belong to it.
	Partner  string
	Prefixes []PrefixRange
	// DaysBefore and DaysAfter widen a birthday rule's window around the
	// birthday; BonusPoints are given once inside it.
	DaysBefore, DaysAfter int
	BonusPoints           int64
	// Text is a greeting template by language ("ru", "en") for greeting and
	// birthday rules; Nameless is used when the customer's name is unknown.
	// Lang is the language used when the customer's is not in Text.
	Text     map[string]string
	Nameless map[string]string
	Lang     string
	// EveryDays is how often an nps rule lets the till ask one card.
	EveryDays int64
	// Cause of a charity rule, and what it gives: the total rounded up to a
	// multiple of RoundTo, or PointsShare of the points earned. Without
	// Always, only when the customer agreed (pos.Basket.Donate).
	Cause       string
	RoundTo     money.Amount
	PointsShare money.BP
	Always      bool
	// Tickets of a raffle rule per basket (per full Per, when Per is set),
	// each winning Prize with probability Chance in a deterministic draw.
	Tickets int64
	Chance  money.BP
	Prize   string
}

// Tier is one level of a cumulative discount.
type Tier struct {
	Name string
	// From is the lifetime spend, in minor units, at which the tier starts (inclusive).
	From    money.Amount
	Percent money.BP
	// Message is a privilege the till shows to a card holder of this tier.
	Message string
	// Flags are privileges the till acts on ("free_delivery"); they are
	// copied into pos.Quote.Flags.
	Flags []string
}

// Multiplier multiplies the points a line earns; a SKU multiplier wins over
// a category one.
type Multiplier struct {
	SKU      string
	Category string
	// Times in hundredths: 200 is ×2, 150 is ×1.5; at most ×10.
	Times int64
}

// MaxTimes is the largest multiplier, ×10, which keeps every weighted sum of a
// valid basket inside int64.
const MaxTimes = 1000

// CatalogItem is a SKU a card holder may take for points instead of money.
type CatalogItem struct {
	SKU    string
	Points int64 // per unit
	Name   string
}

// PrefixRange is the card numbers whose first len(From) digits, read as a
// number, lie between From and To inclusive. From and To have the same length.
type PrefixRange struct {
	From, To string
}

// Contains reports whether card starts with a prefix in the range.
func (p PrefixRange) Contains(card string) bool {
	n := len(p.From)
	if len(card) < n {
		return false
	}
	head := card[:n]
	for i := 0; i < n; i++ {
		if head[i] < '0' || head[i] > '9' {
			return false
		}
	}
	// Equal-length digit strings compare like the numbers they spell.
	return head >= p.From && head <= p.To
}

// Moment is a point in time: an instant, or with Local a wall-clock time
// that means the same hour in every time zone (a chain-wide "8 March 00:00").
type Moment struct {
	At    time.Time
	Local bool
}

// IsZero reports whether the moment is unset.
func (m Moment) IsZero() bool { return m.At.IsZero() }

// String writes the moment as RFC 3339, without an offset when it is local.
func (m Moment) String() string {
	if m.Local {
		return m.At.Format("2006-01-02T15:04:05")
	}
	return m.At.Format(time.RFC3339)
}

// Window is when a rule applies: from Starts (inclusive) to Ends
// (exclusive), on the listed Days of the week, in the listed Hours of the
// day, all on the wall clock of the now given to Apply. Empty parts do not
// restrict.
type Window struct {
	Starts, Ends Moment
	Days         []time.Weekday
	Hours        []Hours
}

// Hours is a span of the day in minutes from midnight, From inclusive, To
// exclusive. From > To wraps past midnight (22:00–02:00).
type Hours struct {
	From, To int
}

// String writes the span as "10:00-12:00".
func (h Hours) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", h.From/60, h.From%60, h.To/60, h.To%60)
}

// ErrInvalidRuleset is matched (errors.Is) by every *ValidationError.
var ErrInvalidRuleset = errors.New("invalid ruleset")

// ErrNotEffective is returned by Apply for a ruleset whose Effective time is
// after now: the till must keep pricing with its previous ruleset.
var ErrNotEffective = errors.New("ruleset not yet effective")

// Problem is one thing wrong (or suspicious) in a ruleset.
type Problem struct {
	// Rule is the ID of the rule concerned; empty for the ruleset's own fields
	// or when the rule has no ID.
	Rule string
	// Index is the rule's position in the file, from 1; 0 for the ruleset's own fields.
	Index int
	// Field is the key as written in the rules file, with 1-based positions:
	// "percent", "tier[2].from", "exclude_categories[1]", "schema".
	Field string
	// Line in the rules file, from 1; 0 when unknown (a ruleset built in code).
	Line int
	// Msg says what is wrong, in words an HQ editor can act on.
	Msg string
}

// String writes the problem as `line 12: rule "club-card": percent: must be …`.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	switch {
	case p.Rule != "" && p.Index > 0:
		fmt.Fprintf(&b, "rule %q (#%d): ", p.Rule, p.Index)
	case p.Rule != "":
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	case p.Index > 0:
		fmt.Fprintf(&b, "rule #%d: ", p.Index)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem that makes a ruleset unusable.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid ruleset: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid ruleset: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalidRuleset) match.
func (e *ValidationError) Unwrap() error { return ErrInvalidRuleset }

// Validate checks everything Apply relies on and returns a *ValidationError
// listing every problem, or nil.
func (rs *Ruleset) Validate() error {
	errs, _ := rs.check()
	if len(errs) > 0 {
		return &ValidationError{Problems: errs}
	}
	return nil
}

// Warnings lists what is allowed but probably not meant: a rule that can never
// fire or that another rule always shadows, tiers whose percentage goes down,
// a category excluded twice.
func (rs *Ruleset) Warnings() []Problem {
	_, warns := rs.check()
	return warns
}

// EffectiveAt reports whether the ruleset applies at now.
func (rs *Ruleset) EffectiveAt(now time.Time) bool {
	return rs.Effective.IsZero() || !before(now, rs.Effective)
}

// TierFor returns the name of the tier a card with this lifetime spend is in,
// for account views; ok is false when it is in none or there is no tiers rule.
func (rs *Ruleset) TierFor(lifetimeSpend money.Amount) (name string, ok bool) {
	t, ok := rs.Tier(lifetimeSpend)
	return t.Name, ok
}

// Tier is TierFor with the whole tier, message and flags included.
func (rs *Ruleset) Tier(lifetimeSpend money.Amount) (Tier, bool) {
	if rs == nil {
		return Tier{}, false
	}
	for i := range rs.Rules {
		if rs.Rules[i].Kind == KindTiers {
			return rs.Rules[i].tierFor(lifetimeSpend)
		}
	}
	return Tier{}, false
}

// tierFor picks the highest tier whose From is at most spend.
func (r *Rule) tierFor(spend money.Amount) (Tier, bool) {
	for i := len(r.Tiers) - 1; i >= 0; i-- {
		if spend >= r.Tiers[i].From {
			return r.Tiers[i], true
		}
	}
	return Tier{}, false
}

func (r *Rule) excludes(category string) bool {
	for _, c := range r.ExcludeCategories {
		if c == category {
			return true
		}
	}
	return false
}
