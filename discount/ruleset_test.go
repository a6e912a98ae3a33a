package discount

import (
	"errors"
	"strings"
	"testing"

	"github.com/tilld/tilld/money"
)

func TestValidate(t *testing.T) {
	type want struct {
		index int
		field string
		msg   string // substring
	}
	tests := []struct {
		name string
		rs   *Ruleset
		want []want // every problem, in order
	}{
		{"nil", nil, []want{{0, "", "no ruleset"}}},
		{"top level", &Ruleset{Schema: 2, Version: 0, Currency: money.Currency{Code: "rub"}}, []want{
			{0, "schema", "unsupported schema 2"},
			{0, "version", "must be 1 or more"},
			{0, "currency", "three-letter ISO 4217"},
		}},
		{"currency exponent", &Ruleset{Schema: 1, Version: 1, Currency: money.Currency{Code: "JPY", Exponent: 2}}, []want{
			{0, "currency", "JPY has 0 minor-unit digits, not 2"},
		}},
		{"ids", ruleset(card("", 300), card(" x", 300), card("a", 300), card("a", 300)), []want{
			{1, "id", "missing"},
			{2, "id", "leading or trailing spaces"},
			{4, "id", "duplicate; rule #3"},
		}},
		{"kinds", ruleset(Rule{ID: "a"}, Rule{ID: "b", Kind: "coupon"}), []want{
			{1, "kind", "missing"},
			{2, "kind", `unknown kind "coupon"`},
		}},
		{"percent range", ruleset(card("zero", 0), card("neg", -5), card("over", 10001), card("all", 10000)), []want{
			{1, "percent", "more than 0 % and at most 100 %, got 0%"},
			{2, "percent", "got -0.05%"},
			{3, "percent", "got 100.01%"},
		}},
		{"fields of another kind", ruleset(Rule{ID: "c", Kind: KindCardPercent, Percent: 300, Points: 1, Per: 100}), []want{
			{1, "points", "not used by card_percent rules"},
			{1, "per", "not used by card_percent rules"},
		}},
		{"points", ruleset(points("p", 0, 0), points("q", -1, -100)), []want{
			{1, "points", "1 or more"},
			{1, "per", "more than 0, got 0.00"},
			{2, "points", "1 or more, got -1"},
			{2, "per", "got -1.00"},
		}},
		{"no tiers", ruleset(Rule{ID: "t", Kind: KindTiers}), []want{
			{1, "tier", "at least one tier"},
		}},
		{"tiers", ruleset(Rule{ID: "t", Kind: KindTiers, Tiers: []Tier{
			{Name: "A", From: -1, Percent: 500},
			{Name: "", From: 100, Percent: 0},
			{Name: "A", From: 100, Percent: 700},
		}}), []want{
			{1, "tier[1].from", "0 or more, got -0.01"},
			{1, "tier[2].name", "missing"},
			{1, "tier[2].percent", "more than 0 %"},
			{1, "tier[3].name", "duplicate; tier[1]"},
			{1, "tier[3].from", "more than tier[2].from (1.00), got 1.00"},
		}},
		{"two tiers rules", ruleset(tiers("t1"), tiers("t2")), []want{
			{2, "kind", "at most one tiers rule (rule #1 is one)"},
		}},
		{"empty category", ruleset(card("c", 300, "tobacco", "")), []want{
			{1, "exclude_categories[2]", "empty category name"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rs.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidRuleset) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(ve.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				p := ve.Problems[i]
				if p.Index != w.index || p.Field != w.field || !strings.Contains(p.Msg, w.msg) {
					t.Errorf("problem %d = %+v, want #%d %s containing %q", i, p, w.index, w.field, w.msg)
				}
			}
		})
	}
}

func TestValidateGood(t *testing.T) {
	rs := ruleset(card("club", 300, "tobacco"), tiers("cumulative"), points("bonus", 1, 100_00))
	if err := rs.Validate(); err != nil {
		t.Fatal(err)
	}
	if w := rs.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v, want none", w)
	}
}

func TestWarnings(t *testing.T) {
	decreasing := tiers("t")
	decreasing.Tiers[2].Percent = 700
	tests := []struct {
		name string
		rs   *Ruleset
		want []string // Problem.String() of each warning
	}{
		{"percent goes down", ruleset(decreasing), []string{
			`rule "t" (#1): tier[3].percent: 7% is less than 10% of tier[2]: a customer loses discount by spending more`,
		}},
		{"category twice", ruleset(card("c", 300, "tobacco", "alcohol", "tobacco")), []string{
			`rule "c" (#1): exclude_categories[3]: category "tobacco" is listed twice`,
		}},
		{"after 100 %", ruleset(
			withPriority(card("free", 10000, "tobacco"), 1),
			withPriority(card("later", 500, "tobacco", "alcohol"), 2), // sees only zeroed lines
			withPriority(card("tobacco-too", 500), 3),                 // still has tobacco lines
			points("bonus", 1, 100),                                   // tobacco still paid for
			points("bonus-no-tobacco", 1, 100, "tobacco"),
		), []string{
			`rule "later" (#2): never fires: rule "free" takes 100 % off every line this rule could touch`,
			`rule "bonus-no-tobacco" (#5): never fires: rule "free" takes 100 % off every line this rule could touch`,
		}},
		{"100 % before, not after", ruleset(withPriority(card("small", 500), 1), withPriority(card("free", 10000), 2)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.rs.Validate(); err != nil {
				t.Fatalf("warnings only, got error %v", err)
			}
			var got []string
			for _, w := range tt.rs.Warnings() {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestTier(t *testing.T) {
	rs := ruleset(card("club", 300), tiers("cumulative"))
	tier, ok := rs.Tier(7000_00)
	if !ok || tier.Name != "Silver" || tier.Message != "Серебряный клиент" || tier.Percent != 500 {
		t.Errorf("Tier(7000.00) = %+v, %v", tier, ok)
	}
	if _, ok := ruleset(card("club", 300)).TierFor(1e9); ok {
		t.Error("a ruleset without tiers put a card in a tier")
	}
	var nilRS *Ruleset
	if _, ok := nilRS.TierFor(0); ok {
		t.Error("nil ruleset put a card in a tier")
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Line: 12, Rule: "club-card", Index: 1, Field: "percent", Msg: "bad"}, `line 12: rule "club-card" (#1): percent: bad`},
		{Problem{Index: 3, Field: "id", Msg: "missing"}, `rule #3: id: missing`},
		{Problem{Rule: "x", Msg: "never fires"}, `rule "x": never fires`},
		{Problem{Line: 1, Field: "schema", Msg: "unsupported"}, `line 1: schema: unsupported`},
		{Problem{Line: 4, Msg: "not valid TOML"}, `line 4: not valid TOML`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
	one := (&ValidationError{Problems: []Problem{tests[0].p}}).Error()
	if one != `invalid ruleset: line 12: rule "club-card" (#1): percent: bad` {
		t.Errorf("one problem: %q", one)
	}
	two := (&ValidationError{Problems: []Problem{tests[0].p, tests[1].p}}).Error()
	if two != "invalid ruleset: 2 problems:\n\tline 12: rule \"club-card\" (#1): percent: bad\n\trule #3: id: missing" {
		t.Errorf("two problems: %q", two)
	}
}
