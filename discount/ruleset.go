package discount

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tilld/tilld/money"
)

// Schema is the version of the ruleset format this package reads and applies.
const Schema = 1

// Kind names what a rule does.
type Kind string

// The rule kinds of this cut; see the package documentation.
const (
	KindCardPercent Kind = "card_percent"
	KindTiers       Kind = "tiers"
	KindPoints      Kind = "points"
)

// Ruleset is one published version of a chain's rules.
type Ruleset struct {
	// Schema is the format version; only [Schema] is supported.
	Schema int
	// Version increases with every publication; terminals refuse older ones.
	Version int64
	// Currency of every amount in the rules and of every basket priced with them.
	Currency money.Currency
	// Rules in file order; Apply orders them by Priority and ID.
	Rules []Rule
}

// Rule is one discount or loyalty rule. Which fields matter depends on Kind;
// the others must be left zero.
type Rule struct {
	ID   string
	Kind Kind
	// Priority orders discount rules: lower first, ties by ID. Zero by default.
	Priority int
	// ExcludeCategories lists line categories the rule never touches.
	ExcludeCategories []string

	// Percent is the discount of a card_percent rule, in (0, 100 %].
	Percent money.BP
	// Tiers of a tiers rule, in strictly increasing From.
	Tiers []Tier
	// Points earned for every full Per paid, for a points rule.
	Points int64
	Per    money.Amount
}

// Tier is one level of a cumulative discount.
type Tier struct {
	Name string
	// From is the lifetime spend, in minor units, at which the tier starts (inclusive).
	From    money.Amount
	Percent money.BP
	// Message is a privilege the till shows to a card holder of this tier.
	Message string
}

// ErrInvalidRuleset is matched (errors.Is) by every *ValidationError.
var ErrInvalidRuleset = errors.New("invalid ruleset")

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
// fire, tiers whose percentage goes down, a category excluded twice.
func (rs *Ruleset) Warnings() []Problem {
	_, warns := rs.check()
	return warns
}

// TierFor returns the name of the tier a card with this lifetime spend is in,
// for account views; ok is false when it is in none or there is no tiers rule.
func (rs *Ruleset) TierFor(lifetimeSpend money.Amount) (name string, ok bool) {
	t, ok := rs.Tier(lifetimeSpend)
	return t.Name, ok
}

// Tier is TierFor with the whole tier, message included.
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

// check returns the errors and the warnings of the ruleset.
func (rs *Ruleset) check() (errs, warns []Problem) {
	if rs == nil {
		return []Problem{{Msg: "no ruleset"}}, nil
	}
	top := func(field, format string, args ...any) {
		errs = append(errs, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if rs.Schema != Schema {
		top("schema", "unsupported schema %d; this build reads schema = %d", rs.Schema, Schema)
	}
	if rs.Version < 1 {
		top("version", "must be 1 or more, got %d", rs.Version)
	}
	if c, err := money.ParseCurrency(rs.Currency.Code); err != nil {
		top("currency", "%v", err)
	} else if c.Exponent != rs.Currency.Exponent {
		top("currency", "%s has %d minor-unit digits, not %d", c.Code, c.Exponent, rs.Currency.Exponent)
	}

	seen := make(map[string]int, len(rs.Rules))
	firstTiers := 0
	for i := range rs.Rules {
		r := &rs.Rules[i]
		bad := func(field, format string, args ...any) {
			errs = append(errs, Problem{Rule: r.ID, Index: i + 1, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		warn := func(field, format string, args ...any) {
			warns = append(warns, Problem{Rule: r.ID, Index: i + 1, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case strings.TrimSpace(r.ID) == "":
			bad("id", "missing; every rule needs a unique id")
		case r.ID != strings.TrimSpace(r.ID):
			bad("id", "has leading or trailing spaces")
		case seen[r.ID] > 0:
			bad("id", "duplicate; rule #%d has the same id", seen[r.ID])
		default:
			seen[r.ID] = i + 1
		}
		for j, c := range r.ExcludeCategories {
			if c == "" {
				bad(fmt.Sprintf("exclude_categories[%d]", j+1), "empty category name")
			} else if slices.Index(r.ExcludeCategories, c) < j {
				warn(fmt.Sprintf("exclude_categories[%d]", j+1), "category %q is listed twice", c)
			}
		}
		var own []string
		switch r.Kind {
		case KindCardPercent:
			own = []string{"percent"}
			checkPercent(bad, "percent", r.Percent)
		case KindTiers:
			own = []string{"tier"}
			if firstTiers > 0 {
				bad("kind", "a ruleset has at most one tiers rule (rule #%d is one), so a card is in one tier", firstTiers)
			} else {
				firstTiers = i + 1
			}
			checkTiers(rs.Currency, r, bad, warn)
		case KindPoints:
			own = []string{"points", "per"}
			if r.Points <= 0 {
				bad("points", "must be 1 or more, got %d", r.Points)
			}
			if r.Per <= 0 {
				bad("per", "must be more than 0, got %s", rs.Currency.Format(r.Per))
			}
		case "":
			bad("kind", "missing; want one of card_percent, tiers, points")
		default:
			bad("kind", "unknown kind %q; want one of card_percent, tiers, points", string(r.Kind))
		}
		if own != nil {
			for _, f := range [...]struct {
				name string
				set  bool
			}{{"percent", r.Percent != 0}, {"tier", len(r.Tiers) > 0}, {"points", r.Points != 0}, {"per", r.Per != 0}} {
				if f.set && !slices.Contains(own, f.name) {
					bad(f.name, "not used by %s rules", string(r.Kind))
				}
			}
		}
	}
	if len(errs) == 0 {
		warns = append(warns, rs.neverFire()...)
	}
	return errs, warns
}

func checkPercent(bad func(field, format string, args ...any), field string, p money.BP) {
	if p <= 0 || p > money.Whole {
		bad(field, "must be more than 0 %% and at most 100 %%, got %s", p)
	}
}

func checkTiers(cur money.Currency, r *Rule, bad, warn func(field, format string, args ...any)) {
	if len(r.Tiers) == 0 {
		bad("tier", "a tiers rule needs at least one tier")
		return
	}
	names := make(map[string]int, len(r.Tiers))
	for j, t := range r.Tiers {
		at := func(f string) string { return fmt.Sprintf("tier[%d].%s", j+1, f) }
		switch {
		case strings.TrimSpace(t.Name) == "":
			bad(at("name"), "missing; the till shows it")
		case names[t.Name] > 0:
			bad(at("name"), "duplicate; tier[%d] has the same name", names[t.Name])
		default:
			names[t.Name] = j + 1
		}
		if t.From < 0 {
			bad(at("from"), "must be 0 or more, got %s", cur.Format(t.From))
		}
		checkPercent(bad, at("percent"), t.Percent)
		if j == 0 {
			continue
		}
		prev := r.Tiers[j-1]
		if t.From <= prev.From {
			bad(at("from"), "must be more than tier[%d].from (%s), got %s; list tiers from the lowest spend up",
				j, cur.Format(prev.From), cur.Format(t.From))
		}
		if t.Percent < prev.Percent {
			warn(at("percent"), "%s is less than %s of tier[%d]: a customer loses discount by spending more",
				t.Percent, prev.Percent, j)
		}
	}
}

// neverFire warns about rules an earlier 100 % card discount leaves nothing to
// act on: it zeroes every line it does not exclude, so a later rule that
// excludes at least the same categories sees only zero lines.
func (rs *Ruleset) neverFire() []Problem {
	var warns []Problem
	order := rs.order()
	for k, i := range order {
		later := &rs.Rules[i]
		for _, j := range order[:k] {
			early := &rs.Rules[j]
			if early.Kind != KindCardPercent || early.Percent != money.Whole {
				continue
			}
			if later.Kind != KindPoints && later.Kind != KindCardPercent && later.Kind != KindTiers {
				continue
			}
			covered := true
			for _, c := range early.ExcludeCategories {
				if !later.excludes(c) {
					covered = false
					break
				}
			}
			if covered {
				warns = append(warns, Problem{Rule: later.ID, Index: i + 1,
					Msg: fmt.Sprintf("never fires: rule %q takes 100 %% off every line this rule could touch", early.ID)})
				break
			}
		}
	}
	return warns
}

// order returns rule indices in evaluation order: discount rules by Priority
// then ID, then points rules by Priority then ID.
func (rs *Ruleset) order() []int {
	idx := make([]int, len(rs.Rules))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ra, rb := &rs.Rules[a], &rs.Rules[b]
		if pa, pb := ra.Kind == KindPoints, rb.Kind == KindPoints; pa != pb {
			if pa {
				return 1
			}
			return -1
		}
		if ra.Priority != rb.Priority {
			if ra.Priority < rb.Priority {
				return -1
			}
			return 1
		}
		return strings.Compare(ra.ID, rb.ID)
	})
	return idx
}
