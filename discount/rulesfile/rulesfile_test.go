package rulesfile

import (
	"bytes"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/money"
)

const header = "schema = 1\nversion = 3\ncurrency = \"RUB\"\n"

func TestParseExample(t *testing.T) {
	rs, err := Parse(discount.Example)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Schema != 1 || rs.Version != 1 || rs.Currency != (money.Currency{Code: "RUB", Exponent: 2}) {
		t.Errorf("header: %+v", rs)
	}
	want := []discount.Rule{
		{ID: "club-card", Kind: discount.KindCardPercent, Priority: 10, Percent: 300, ExcludeCategories: []string{"tobacco"}},
		{ID: "cumulative", Kind: discount.KindTiers, Priority: 20, ExcludeCategories: []string{"tobacco"}, Tiers: []discount.Tier{
			{Name: "Silver", From: 5000_00, Percent: 500, Message: "Серебряный клиент: бесплатная упаковка подарков"},
			{Name: "Gold", From: 10000_00, Percent: 1000, Message: "Золотой клиент: бесплатная доставка"},
			{Name: "Platinum", From: 15000_00, Percent: 1500, Message: "Платиновый клиент: персональный консультант"},
		}},
		{ID: "bonus", Kind: discount.KindPoints, Points: 1, Per: 100_00, ExcludeCategories: []string{"tobacco"}},
		{ID: "hello", Kind: discount.KindGreeting,
			Text:     map[string]string{"ru": "Здравствуйте, {name} {patronymic}!", "en": "Hello, {name}!"},
			Nameless: map[string]string{"ru": "Здравствуйте!", "en": "Hello!"}},
	}
	if len(rs.Rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rs.Rules), len(want))
	}
	for i := range want {
		if got := rs.Rules[i]; !equalRules(got, want[i]) {
			t.Errorf("rule %d:\n got %+v\nwant %+v", i+1, got, want[i])
		}
	}
}

func equalRules(a, b discount.Rule) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Priority == b.Priority && a.Percent == b.Percent &&
		a.Points == b.Points && a.Per == b.Per &&
		strings.Join(a.ExcludeCategories, ",") == strings.Join(b.ExcludeCategories, ",") &&
		len(a.Tiers) == len(b.Tiers) && (len(a.Tiers) == 0 || equalTiers(a.Tiers, b.Tiers))
}

func equalTiers(a, b []discount.Tier) bool { return reflect.DeepEqual(a, b) }

// TestParseNumbers: percentages and amounts as strings, integers and floats,
// all exact.
func TestParseNumbers(t *testing.T) {
	tests := []struct {
		percent string
		want    money.BP
	}{
		{`"3%"`, 300},
		{`"3 %"`, 300},
		{`"2.5"`, 250},
		{`"2,5 %"`, 250},
		{`3`, 300},
		{`2.5`, 250},
		{`0.01`, 1},
		{`12.34`, 1234}, // 12.34 is not exact in binary; its shortest form is
		{`100`, 10000},
		{`1e1`, 1000},
	}
	for _, tt := range tests {
		t.Run("percent="+tt.percent, func(t *testing.T) {
			rs, err := Parse([]byte(header + "[[rule]]\nid = \"c\"\nkind = \"card_percent\"\npercent = " + tt.percent + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if rs.Rules[0].Percent != tt.want {
				t.Errorf("got %d bp, want %d", rs.Rules[0].Percent, tt.want)
			}
		})
	}
	amounts := []struct {
		per  string
		want money.Amount
	}{
		{`"100.00"`, 100_00},
		{`"100"`, 100_00},
		{`"1 000,50"`, 1000_50},
		{`100`, 100_00},
		{`0.1`, 10},
		{`4999.99`, 4999_99},
		{`0.29`, 29}, // 0.29 * 100 in floats is 28.999999999999996
	}
	for _, tt := range amounts {
		t.Run("per="+tt.per, func(t *testing.T) {
			rs, err := Parse([]byte(header + "[[rule]]\nid = \"p\"\nkind = \"points\"\npoints = 1\nper = " + tt.per + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if rs.Rules[0].Per != tt.want {
				t.Errorf("got %d, want %d", rs.Rules[0].Per, tt.want)
			}
		})
	}
	t.Run("JPY has no minor unit", func(t *testing.T) {
		src := "schema = 1\nversion = 1\ncurrency = \"JPY\"\n[[rule]]\nid = \"p\"\nkind = \"points\"\npoints = 1\nper = 100\n"
		rs, err := Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if rs.Rules[0].Per != 100 || rs.Currency.Exponent != 0 {
			t.Errorf("per %d exponent %d, want 100 and 0", rs.Rules[0].Per, rs.Currency.Exponent)
		}
	})
	t.Run("inline tables", func(t *testing.T) {
		src := header + `rule = [{id = "c", kind = "card_percent", percent = 5}, {id = "t", kind = "tiers", tier = [{name = "A", from = 0, percent = 1}]}]` + "\n"
		rs, err := Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(rs.Rules) != 2 || rs.Rules[1].Tiers[0].Name != "A" {
			t.Errorf("got %+v", rs.Rules)
		}
	})
	t.Run("no rules", func(t *testing.T) {
		rs, err := Parse([]byte(header))
		if err != nil || len(rs.Rules) != 0 {
			t.Errorf("got %+v, %v", rs, err)
		}
	})
}

// TestParseErrors: each broken file gives exactly the listed problems, in
// file order, with their lines.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Problem.String() prefixes
	}{
		{"not TOML", "schema = 1\nversion = \n", []string{
			"line 2: not valid TOML: expected value but found '\\n' instead",
		}},
		{"duplicate key is TOML's problem", "schema = 1\nschema = 2\n", []string{
			"line 2: not valid TOML: Key 'schema' has already been defined.",
		}},
		{"empty file", "", []string{
			"schema: missing; write schema = 1",
			"version: missing",
			"currency: missing",
		}},
		{"header", "schema = 2\nversion = -1\ncurrency = \"RUR\"\n", []string{
			"line 1: schema: unsupported schema 2; this build reads schema = 1",
			"line 2: version: must be 1 or more, got -1",
		}},
		{"header types", "schema = \"1\"\nversion = 1.5\ncurrency = 643\nowner = \"hq\"\n", []string{
			"line 1: schema: must be an integer, got a string",
			"line 2: version: must be an integer, got a float",
			"line 3: currency: must be a string such as \"RUB\", got an integer",
			"line 4: owner: unknown key; the top level has schema, version, currency, effective, seed, limits, rule",
		}},
		{"bad currency code", "schema = 1\nversion = 1\ncurrency = \"rub\"\n", []string{
			`line 3: currency: currency "rub": want a three-letter ISO 4217 code such as RUB`,
		}},
		{"rule is not a table", header + "rule = 5\n", []string{
			"line 4: rule: must be a list of [[rule]] tables, got an integer",
		}},
		{"card percent", header + `
[[rule]]
id = "a"
kind = "card_percent"
percent = "150%"

[[rule]]
id = "b"
kind = "card_percent"
percent = "2.555"

[[rule]]
id = "c"
kind = "card_percent"
percent = true

[[rule]]
id = "d"
kind = "card_percent"
percent = "-3%"

[[rule]]
id = "e"
kind = "card_percent"
`, []string{
			`line 8: rule "a" (#1): percent: must be more than 0 % and at most 100 %, got 150%`,
			`line 13: rule "b" (#2): percent: percentage "2.555": more than 2 digits after the decimal point`,
			`line 18: rule "c" (#3): percent: must be a number or a string such as "5%" or "100.00", got a boolean`,
			`line 23: rule "d" (#4): percent: must be more than 0 % and at most 100 %, got -3%`,
			`line 25: rule "e" (#5): percent: missing; write e.g. percent = "5%"`,
		}},
		{"ids and kinds", header + `
[[rule]]
kind = "card_percent"
percent = 3

[[rule]]
id = "x"
kind = "coupon"
percent = 3

[[rule]]
id = "x"
percent = 3

[[rule]]
id = 7
kind = "card_percent"
percent = 3
`, []string{
			`line 5: rule #1: id: missing; every rule needs a unique id`,
			`line 11: rule "x" (#2): kind: unknown kind "coupon"; want one of card_percent, tiers, points`,
			`line 14: rule "x" (#3): kind: missing; want one of card_percent, tiers, points`,
			`line 15: rule "x" (#3): id: duplicate; rule #2 has the same id`,
			`line 19: rule #4: id: must be a string, got an integer`,
		}},
		{"unknown and foreign keys", header + `
[[rule]]
id = "c"
kind = "card_percent"
percnt = 3
per = "100"
exclude_categories = "tobacco"
`, []string{
			`line 5: rule "c" (#1): percent: missing`,
			`line 8: rule "c" (#1): percnt: unknown key (did you mean "percent"?); card_percent rules have percent, and the keys of every rule: id, kind, name, priority,`,
			`line 9: rule "c" (#1): per: not used by card_percent rules (it belongs to points, partner and raffle rules)`,
			`line 10: rule "c" (#1): exclude_categories: must be a list of strings such as ["tobacco"], got a string`,
		}},
		{"categories", header + `
[[rule]]
id = "c"
kind = "card_percent"
percent = 3
exclude_categories = [
  "tobacco",
  1,
  "",
]
`, []string{
			`line 9: rule "c" (#1): exclude_categories[2]: must be a string, got an integer`,
			`line 9: rule "c" (#1): exclude_categories[3]: empty category name`,
		}},
		{"tiers", header + `
[[rule]]
id = "t"
kind = "tiers"
priority = "high"

  [[rule.tier]]
  name = "Silver"
  from = "5000.00"
  percent = "5%"

  [[rule.tier]]
  name = "Gold"
  from = "4000.00"
  percent = "10%"
  colour = "gold"

  [[rule.tier]]
  from = "1e4"
  percent = "15%"

  [[rule.tier]]
  name = "Gold"
  from = 20000.001
`, []string{
			`line 8: rule "t" (#1): priority: must be an integer, got a string`,
			`line 17: rule "t" (#1): tier[2].from: must be more than tier[1].from (5000.00), got 4000.00; list tiers from the lowest spend up`,
			`line 19: rule "t" (#1): tier[2].colour: unknown key; a tier has name, from, percent, message`,
			`line 21: rule "t" (#1): tier[3].name: missing; the till shows it`,
			`line 22: rule "t" (#1): tier[3].from: amount "1e4" in RUB: unexpected character 'e'`,
			`line 25: rule "t" (#1): tier[4].percent: missing`,
			`line 26: rule "t" (#1): tier[4].name: duplicate; tier[2] has the same name`,
			`line 27: rule "t" (#1): tier[4].from: amount "20000.001" in RUB: more than 2 digits after the decimal point`,
		}},
		{"tiers without tiers", header + "[[rule]]\nid = \"t\"\nkind = \"tiers\"\n[[rule]]\nid = \"u\"\nkind = \"tiers\"\ntier = []\n", []string{
			`line 4: rule "t" (#1): tier: missing; add [[rule.tier]] tables with name, from and percent`,
			`line 9: rule "u" (#2): kind: a ruleset has at most one tiers rule (rule #1 is one), so a card is in one tier`,
			`line 10: rule "u" (#2): tier: a tiers rule needs at least one tier`,
		}},
		{"points", header + `
[[rule]]
id = "p"
kind = "points"
points = 0
per = "0"

[[rule]]
id = "q"
kind = "points"
points = 1.5
per = "-100"
`, []string{
			`line 8: rule "p" (#1): points: must be 1 or more, got 0`,
			`line 9: rule "p" (#1): per: must be more than 0, got 0.00`,
			`line 14: rule "q" (#2): points: must be a whole number, got a float`,
			`line 15: rule "q" (#2): per: must be more than 0, got -100.00`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse([]byte(tt.src))
			if rs != nil {
				t.Errorf("Parse returned a ruleset with an error: %+v", rs)
			}
			var ve *discount.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, discount.ErrInvalidRuleset) {
				t.Fatalf("err = %v, want a *discount.ValidationError", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i+1, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCheckWarnings(t *testing.T) {
	src := header + `
[[rule]]
id = "free"
kind = "card_percent"
priority = 1
percent = 100

[[rule]]
id = "t"
kind = "tiers"
priority = 2
exclude_categories = ["tobacco", "tobacco"]
  [[rule.tier]]
  name = "A"
  from = 0
  percent = 10
  [[rule.tier]]
  name = "B"
  from = 100
  percent = 5
`
	rs, warns, err := Check([]byte(src))
	if err != nil || rs == nil {
		t.Fatalf("warnings are not errors: %v", err)
	}
	want := []string{
		`line 11: rule "t" (#2): never fires: rule "free" takes 100 % off every line this rule could touch`,
		`line 15: rule "t" (#2): exclude_categories[2]: category "tobacco" is listed twice`,
		`line 23: rule "t" (#2): tier[2].percent: 5% is less than 10% of tier[1]: a customer loses discount by spending more`,
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Warnings come back with the errors, so an editor sees both at once.
	_, warns, err = Check([]byte(strings.Replace(src, `id = "free"`, `id = ""`, 1)))
	if err == nil || len(warns) != 2 {
		t.Errorf("with an error: err %v, %d warnings; want an error and 2 warnings", err, len(warns))
	}
}

// TestOwnImports: this package reads no files itself; only the TOML library
// it uses imports os.
func TestOwnImports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs `go list` and needs the go command: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(bytes.TrimSpace(out)))
	if len(imports) == 0 {
		t.Fatal("go list shows no imports")
	}
	for _, imp := range imports {
		switch imp {
		case "os", "os/exec", "io/fs", "io/ioutil", "net", "net/http", "syscall", "math/rand", "math/rand/v2", "crypto/rand":
			t.Errorf("rulesfile imports %s; it turns bytes into rules and does no I/O of its own", imp)
		}
	}
}

// TestParseExpiry: a points rule's expire_months and expire_period, and the
// error naming the rule and key when they are wrong.
func TestParseExpiry(t *testing.T) {
	rs, err := Parse([]byte(header + `
[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"
expire_months = 12
expire_period = "year"
`))
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Rules[0]; r.ExpireMonths != 12 || r.ExpirePeriod != "year" {
		t.Errorf("expire_months %d, expire_period %q; want 12, year", r.ExpireMonths, r.ExpirePeriod)
	}
	_, err = Parse([]byte(header + `
[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"
expire_period = "decade"
`))
	if err == nil || !strings.Contains(err.Error(), "bonus") || !strings.Contains(err.Error(), `expire_period: unknown period "decade"`) {
		t.Errorf("error %v, want one naming rule bonus and expire_period", err)
	}
}
