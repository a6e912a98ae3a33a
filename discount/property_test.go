package discount

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Property tests: random valid rulesets and random baskets, with a fixed seed
// so a failure reproduces. The engine itself never sees randomness.

var categories = []string{"", "dairy", "bakery", "tobacco", "alcohol", "promo"}

func randomRuleset(r *rand.Rand) *Ruleset {
	rs := ruleset()
	n := r.IntN(5)
	haveTiers := false
	for i := range n {
		rule := Rule{ID: fmt.Sprintf("r%d", r.IntN(1000)*10+i), Priority: r.IntN(3) - 1}
		for _, c := range categories {
			if r.IntN(5) == 0 {
				rule.ExcludeCategories = append(rule.ExcludeCategories, c)
			}
		}
		if slices.Contains(rule.ExcludeCategories, "") {
			rule.ExcludeCategories = slices.DeleteFunc(rule.ExcludeCategories, func(c string) bool { return c == "" })
		}
		switch k := r.IntN(3); {
		case k == 0:
			rule.Kind = KindCardPercent
			rule.Percent = randomPercent(r)
		case k == 1 && !haveTiers:
			haveTiers = true
			rule.Kind = KindTiers
			from := money.Amount(0)
			for j := range 1 + r.IntN(4) {
				from += money.Amount(r.IntN(10000_00))
				if j > 0 {
					from++ // strictly increasing
				}
				rule.Tiers = append(rule.Tiers, Tier{Name: fmt.Sprintf("T%d", j), From: from, Percent: randomPercent(r)})
			}
		default:
			rule.Kind = KindPoints
			rule.Points = 1 + r.Int64N(10)
			rule.Per = money.Amount(1 + r.Int64N(500_00))
		}
		rs.Rules = append(rs.Rules, rule)
	}
	return rs
}

func randomPercent(r *rand.Rand) money.BP {
	switch r.IntN(10) {
	case 0:
		return money.Whole
	case 1:
		return 1
	default:
		return money.BP(1 + r.IntN(5000))
	}
}

func randomBasket(r *rand.Rand) pos.Basket {
	var b pos.Basket
	for i := range 1 + r.IntN(40) {
		l := pos.Line{
			SKU:      fmt.Sprintf("sku%d", r.IntN(8)), // repeats on purpose: identical lines happen
			Category: categories[r.IntN(len(categories))],
			Qty:      1 + r.Int64N(3),
		}
		switch r.IntN(10) {
		case 0:
			l.UnitPrice = 0
		case 1:
			l.UnitPrice = money.Amount(1 + r.IntN(9)) // kopecks: rounding at its worst
		case 2:
			l.UnitPrice = pos.MaxUnitPrice
			l.Qty = 1 + r.Int64N(5)
		default:
			l.UnitPrice = money.Amount(r.IntN(5000_00))
		}
		if i > 0 && r.IntN(6) == 0 {
			l = b.Lines[r.IntN(i)] // an exact duplicate
		}
		b.Lines = append(b.Lines, l)
	}
	return b
}

func randomAccount(r *rand.Rand) *pos.Account {
	if r.IntN(5) == 0 {
		return nil
	}
	return &pos.Account{Card: "2000000000008", LifetimeSpend: money.Amount(r.Int64N(40000_00))}
}

func TestApplyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20250301, 7))
	const runs = 3000
	for i := range runs {
		rs, b, a := randomRuleset(r), randomBasket(r), randomAccount(r)
		if err := rs.Validate(); err != nil {
			t.Fatalf("run %d: the generator made an invalid ruleset: %v", i, err)
		}
		q, err := Apply(rs, b, a, t0)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("run %d: %s\nrules %+v\nbasket %+v\naccount %+v\nquote %+v", i, fmt.Sprintf(format, args...), rs.Rules, b, a, q)
		}
		if ps := quoteProblems(b, q); len(ps) > 0 {
			fail("invariants broken:\n%s", strings.Join(ps, "\n"))
		}

		// Same inputs, same output.
		again, err := Apply(rs, b, a, t0)
		if err != nil || !reflect.DeepEqual(q, again) {
			fail("a second run gave %+v, %v", again, err)
		}

		// Shuffled lines: the same result for each line, the same totals.
		perm := r.Perm(len(b.Lines))
		shuffled := pos.Basket{Card: b.Card, Lines: make([]pos.Line, len(b.Lines))}
		for j, p := range perm {
			shuffled.Lines[p] = b.Lines[j]
		}
		sq, err := Apply(rs, shuffled, a, t0)
		if err != nil {
			fail("shuffled: %v", err)
		}
		if !reflect.DeepEqual(sortedLines(q.Lines), sortedLines(sq.Lines)) {
			fail("shuffling changed the per-line results:\n%v\n%v", sortedLines(q.Lines), sortedLines(sq.Lines))
		}
		q.Lines, sq.Lines = nil, nil
		if !reflect.DeepEqual(q, sq) {
			fail("shuffling changed the quote: %+v", sq)
		}

		if a == nil && (q.Discount != 0 || q.PointsEarned != 0 || len(q.Applied) != 0 || q.Tier != "") {
			fail("rules applied without a card")
		}
		// A category a rule excludes gets nothing from it: with one discount
		// rule, excluded lines keep their full price.
		if discountRules(rs) == 1 {
			excl := firstDiscountRule(rs).ExcludeCategories
			for _, l := range q.Lines {
				if slices.Contains(excl, l.Category) && l.Discount != 0 {
					fail("excluded line %+v got a discount", l)
				}
			}
		}
	}
}

func discountRules(rs *Ruleset) int {
	n := 0
	for _, r := range rs.Rules {
		if r.Kind != KindPoints {
			n++
		}
	}
	return n
}

func firstDiscountRule(rs *Ruleset) Rule {
	for _, r := range rs.Rules {
		if r.Kind != KindPoints {
			return r
		}
	}
	return Rule{}
}

// sortedLines is a canonical listing of priced lines, for comparing results
// whose line order differs; identical lines are interchangeable.
func sortedLines(ls []pos.PricedLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = fmt.Sprintf("%+v", l)
	}
	slices.Sort(out)
	return out
}

// TestApplyNeverMoreThanPercent: one percent rule gives exactly the rounded
// percentage of the eligible sum, never more than any line is worth.
func TestApplyNeverMoreThanPercent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := randomBasket(r)
		p := randomPercent(r)
		rs := ruleset(card("club", p, "tobacco"))
		q, err := Apply(rs, b, acct(0), t0)
		if err != nil {
			t.Fatal(err)
		}
		var eligible money.Amount
		for _, l := range b.Lines {
			if l.Category != "tobacco" {
				eligible += l.Amount()
			}
		}
		want, _ := money.MulDiv(eligible, int64(p), int64(money.Whole), money.HalfUp)
		if q.Discount != want {
			t.Fatalf("run %d: %s of %d gave %d, want %d (lines %s)", i, p, eligible, q.Discount, want,
				strings.Join(sortedLines(q.Lines), "; "))
		}
	}
}
