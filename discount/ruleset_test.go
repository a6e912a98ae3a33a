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

func TestValidateNewKinds(t *testing.T) {
	privileges := tiers("t")
	privileges.Tiers[0].Percent, privileges.Tiers[0].Flags = 0, []string{"free_parking"}
	bare := tiers("t")
	bare.Tiers[0].Percent, bare.Tiers[0].Message = 0, ""
	tests := []struct {
		name string
		rs   *Ruleset
		want string // the one problem, or "" for none
	}{
		{"a tier with privileges only", ruleset(privileges), ""},
		{"a tier with nothing", ruleset(bare), `rule "t" (#1): tier[1].percent: must be more than 0 % and at most 100 %, got 0%`},
		{"group of points and discounts", ruleset(inGroup(card("c", 300), "g"), inGroup(points("p", 1, 100), "g")),
			`rule "p" (#2): group: group "g" mixes discounts with points-only rules (rule #1); a group's rules must compete on the same thing`},
		{"a kind that cannot compete", ruleset(inGroup(Rule{ID: "h", Kind: KindGreeting, Text: map[string]string{"ru": "Привет"}}, "g")),
			`rule "h" (#1): group: greeting rules cannot be in an exclusive group`},
		{"fields of another kind", ruleset(Rule{ID: "g", Kind: KindGreeting, Text: map[string]string{"ru": "Привет"}, Buy: 2}),
			`rule "g" (#1): buy: not used by greeting rules`},
		{"two partners, one range", ruleset(
			Rule{ID: "a", Kind: KindPartner, Partner: "A", Prefixes: []PrefixRange{{"4000", "4099"}}, Percent: 100},
			Rule{ID: "b", Kind: KindPartner, Partner: "B", Prefixes: []PrefixRange{{"40", "40"}}, Percent: 100}),
			`rule "b" (#2): prefixes[1]: 40 overlaps 4000-4099 of partner "A" (rule #1); a card belongs to one partner`},
		{"a window that ends before it starts", ruleset(windowed(Window{Starts: instant("2025-03-02T00:00:00Z"), Ends: instant("2025-03-01T00:00:00Z")})),
			`rule "w" (#1): ends: 2025-03-01T00:00:00Z is not after starts (2025-03-02T00:00:00Z)`},
		{"an unknown placeholder", ruleset(Rule{ID: "h", Kind: KindGreeting, Text: map[string]string{"ru": "Привет, {имя}"}}),
			`rule "h" (#1): text.ru: unknown placeholder {имя}; use {name} and {patronymic}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rs.Validate()
			var ve *ValidationError
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.want != "" && (!errors.As(err, &ve) || len(ve.Problems) != 1):
				t.Errorf("err = %v, want one problem", err)
			case tt.want != "" && ve.Problems[0].String() != tt.want:
				t.Errorf("problem %q\nwant    %q", ve.Problems[0].String(), tt.want)
			}
		})
	}
	// A privileges-only tier shows its flags and gives no discount.
	q := explainQuote(t, ruleset(privileges), basket(line("tea", "x", 1, 100_00)), acct(5000_00), t0)
	if q.Tier != "Silver" || q.Discount != 0 || len(q.Flags) != 1 || q.Flags[0] != "free_parking" {
		t.Errorf("quote %+v", q)
	}
}
