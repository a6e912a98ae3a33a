package rulesfile

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/internal/tomlpos"
	"github.com/tilld/tilld/money"
)

func chain(t testing.TB) []byte {
	t.Helper()
	src, err := os.ReadFile("../testdata/rules/chain.toml")
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestParseChain reads the full example file, one rule of every kind.
func TestParseChain(t *testing.T) {
	rs, warns, err := Check(chain(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	msk := time.FixedZone("", 3*3600)
	day := func(y int, m time.Month, d int) discount.Moment {
		return discount.Moment{At: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), Local: true}
	}
	if !rs.Effective.At.Equal(time.Date(2025, 3, 1, 0, 0, 0, 0, msk)) || rs.Effective.Local || rs.Effective.String() != "2025-03-01T00:00:00+03:00" {
		t.Errorf("effective %v", rs.Effective)
	}
	if rs.Seed != "spring-2025" || rs.Version != 42 {
		t.Errorf("seed %q version %d", rs.Seed, rs.Version)
	}
	wantLimits := discount.Limits{BasketDiscount: 5000, LineDiscount: 7000, OfflinePointsPerDay: 1000, OfflineReturn: 3000_00, OfflineReturnsPerDay: 10000_00,
		Floors: []discount.Floor{{SKU: "4600000000017", Price: 59_90}}}
	if !reflect.DeepEqual(rs.Limits, wantLimits) {
		t.Errorf("limits %+v", rs.Limits)
	}
	ru := func(ru, en string) map[string]string { return map[string]string{"ru": ru, "en": en} }
	want := map[string]discount.Rule{
		"club-card": {ID: "club-card", Kind: discount.KindCardPercent, Priority: 10, Group: "card", Percent: 300, ExcludeCategories: []string{"tobacco"}},
		"aeroflot": {ID: "aeroflot", Kind: discount.KindPartner, Priority: 10, Group: "card", Partner: "aeroflot",
			Prefixes: []discount.PrefixRange{{From: "2771", To: "2771"}, {From: "4276", To: "4279"}}, Percent: 500, Points: 1, Per: 100_00,
			ExcludeCategories: []string{"tobacco"}},
		"birthday": {ID: "birthday", Kind: discount.KindBirthday, Priority: 40, DaysBefore: 3, DaysAfter: 3, Percent: 1000,
			ExcludeCategories: []string{"tobacco", "alcohol"}, Text: ru("С днём рождения, {name}!", "Happy birthday, {name}!")},
		"happy-hour": {ID: "happy-hour", Kind: discount.KindPercentOff, Name: "Счастливые часы", Priority: 5, Categories: []string{"coffee"}, Percent: 2000,
			Window: discount.Window{Days: []time.Weekday{1, 2, 3, 4, 5}, Hours: []discount.Hours{{From: 16 * 60, To: 18 * 60}}}},
		"women-day": {ID: "women-day", Kind: discount.KindAmountOff, Name: "8 Марта", Priority: 30, Amount: 300_00, MinBasket: 3000_00,
			Window: discount.Window{Starts: day(2025, 3, 7), Ends: day(2025, 3, 9)}, Regions: []string{"msk", "spb"},
			ExcludeCategories: []string{"tobacco", "alcohol"}},
		"cola-minus":   {ID: "cola-minus", Kind: discount.KindAmountOff, Name: "Кола дешевле", Priority: 6, SKUs: []string{"4600000000031"}, Amount: 20_00, PerUnit: true},
		"snacks-3for2": {ID: "snacks-3for2", Kind: discount.KindBuyGet, Name: "Снеки 2+1", Priority: 7, Categories: []string{"snacks"}, Buy: 2, Get: 1},
		"umbrella": {ID: "umbrella", Kind: discount.KindGift, Name: "Зонт в подарок", Priority: 50, GiftSKU: "4600000000048", GiftName: "Зонт",
			MinBasket: 5000_00, Stores: []string{"msk-012"}},
		"pay-with-points": {ID: "pay-with-points", Kind: discount.KindRedeem, PointValue: 1_00, MaxShare: 5000, MinBalance: 100,
			ExcludeCategories: []string{"tobacco", "alcohol"}},
		"bonus-catalog": {ID: "bonus-catalog", Kind: discount.KindCatalog, Items: []discount.CatalogItem{{SKU: "4600000000055", Name: "Кружка", Points: 500}}},
		"bonus": {ID: "bonus", Kind: discount.KindPoints, Points: 1, Per: 100_00, ExcludeCategories: []string{"tobacco"},
			Multipliers: []discount.Multiplier{{Category: "coffee", Times: 200}, {SKU: "4600000000024", Times: 150}}},
		"birthday-points": {ID: "birthday-points", Kind: discount.KindBirthday, BonusPoints: 200},
		"hello": {ID: "hello", Kind: discount.KindGreeting, Text: ru("Здравствуйте, {name} {patronymic}!", "Hello, {name}!"),
			Nameless: ru("Здравствуйте!", "Hello!")},
		"round-up": {ID: "round-up", Kind: discount.KindCharity, Cause: "Фонд «Подари жизнь»", RoundTo: 10_00},
		"spring-raffle": {ID: "spring-raffle", Kind: discount.KindRaffle, Per: 1000_00, Tickets: 1, Chance: 500, Prize: "Сертификат на 1 000 ₽",
			Window: discount.Window{Starts: day(2025, 3, 1), Ends: day(2025, 6, 1)}},
		"welcome": {ID: "welcome", Kind: discount.KindWelcome, Name: "Добро пожаловать", Percent: 1000, BonusPoints: 100,
			ExcludeCategories: []string{"tobacco", "alcohol"}},
		"nps": {ID: "nps", Kind: discount.KindNPS, Name: "Оцените нас", EveryDays: 90},
	}
	kinds := map[discount.Kind]bool{}
	for _, r := range rs.Rules {
		kinds[r.Kind] = true
		if r.Kind == discount.KindTiers {
			if len(r.Tiers) != 3 || !reflect.DeepEqual(r.Tiers[2].Flags, []string{"free_delivery", "personal_assistant"}) {
				t.Errorf("tiers %+v", r.Tiers)
			}
			continue
		}
		w, ok := want[r.ID]
		if !ok {
			t.Errorf("unexpected rule %q", r.ID)
			continue
		}
		if !reflect.DeepEqual(r, w) {
			t.Errorf("rule %s:\n got %+v\nwant %+v", r.ID, r, w)
		}
	}
	for _, k := range discount.Kinds {
		if !kinds[k] {
			t.Errorf("chain.toml has no %s rule", k)
		}
	}
}

func TestMoments(t *testing.T) {
	tests := []struct {
		value string
		want  string // Moment.String(), or the problem
		local bool
	}{
		{`2025-03-08`, "2025-03-08T00:00:00", true},
		{`2025-03-08T10:30:00`, "2025-03-08T10:30:00", true},
		{`2025-03-08T10:30:00+05:00`, "2025-03-08T10:30:00+05:00", false},
		{`2025-03-08T10:30:00Z`, "2025-03-08T10:30:00Z", false},
		{`"2025-03-08"`, "2025-03-08T00:00:00", true},
		{`"2025-03-08T10:30:00+03:00"`, "2025-03-08T10:30:00+03:00", false},
		{`10:30:00`, "starts: a time of day alone is not a moment", false},
		{`"8 March"`, `starts: "8 March" is not a date`, false},
		{`20250308`, "starts: must be a date such as", false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			rs, err := Parse([]byte(header + "[[rule]]\nid = \"p\"\nkind = \"percent_off\"\npercent = 5\nstarts = " + tt.value + "\n"))
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %q", err, tt.want)
				}
				return
			}
			m := rs.Rules[0].Window.Starts
			if m.String() != tt.want || m.Local != tt.local {
				t.Errorf("got %s local %v, want %s local %v", m, m.Local, tt.want, tt.local)
			}
		})
	}
}

// TestParseErrorsNewKinds: broken files with the new keys give exactly the
// listed problems with their lines.
func TestParseErrorsNewKinds(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Problem.String() prefixes
	}{
		{"windows", header + `
[[rule]]
id = "w"
kind = "percent_off"
percent = 10
starts = 2025-03-09
ends = 2025-03-08
days = ["mon", "someday", 3]
hours = ["10:00-12:00", "25:00-26:00", "09:00-09:00", "noon"]
`, []string{
			`line 10: rule "w" (#1): ends: 2025-03-08T00:00:00 is not after starts (2025-03-09T00:00:00)`,
			`line 11: rule "w" (#1): days[3]: must be a string, got an integer`,
			`line 11: rule "w" (#1): days[2]: "someday" is not a day; write mon, tue, wed, thu, fri, sat or sun`,
			`line 12: rule "w" (#1): hours[2]: "25:00-26:00": write a span of the day such as "10:00-12:00"`,
			`line 12: rule "w" (#1): hours[4]: "noon": write a span of the day`,
			`line 12: rule "w" (#1): hours[3]: 09:00-09:00 is empty; from and to must differ`,
		}},
		{"promotions", header + `
[[rule]]
id = "a"
kind = "amount_off"
per_unit = "yes"

[[rule]]
id = "b"
kind = "buy_get"
buy = 0
get = 1.5
skus = ["x", "x"]
categories = [""]

[[rule]]
id = "g"
kind = "gift"
gift_qty = -1
card_only = true
`, []string{
			`line 5: rule "a" (#1): amount: missing; write an amount in major units, e.g. amount = "50.00"`,
			`line 8: rule "a" (#1): per_unit: must be true or false, got a string`,
			`line 13: rule "b" (#2): buy: must be between 1 and 1000, got 0`,
			`line 14: rule "b" (#2): get: must be a whole number, got a float`,
			`line 16: rule "b" (#2): categories[1]: empty category name`,
			`line 18: rule "g" (#3): gift_sku: missing; the SKU the cashier hands over`,
			`line 21: rule "g" (#3): gift_qty: must be between 1 and 1000000, got -1`,
		}},
		{"points", header + `
[[rule]]
id = "p"
kind = "points"
points = 1
per = 100

  [[rule.multiplier]]
  times = 2

  [[rule.multiplier]]
  sku = "x"
  category = "y"
  times = "2%"

  [[rule.multiplier]]
  category = "coffee"
  times = 11
  colour = "red"

[[rule]]
id = "r"
kind = "redeem"
point_value = 0
max_share = "150%"
group = "g"

[[rule]]
id = "c"
kind = "catalog"
  [[rule.item]]
  sku = "mug"
  [[rule.item]]
  sku = "mug"
  points = 0
`, []string{
			`line 11: rule "p" (#1): multiplier[1].sku: a multiplier needs a sku or a category`,
			`line 16: rule "p" (#1): multiplier[2].category: set sku or category, not both`,
			`line 17: rule "p" (#1): multiplier[2].times: "2%": write a multiplier such as 2 or "1.5", not a percentage`,
			`line 21: rule "p" (#1): multiplier[3].times: must be more than 0 and at most 10 (×10), got ×11`,
			`line 22: rule "p" (#1): multiplier[3].colour: unknown key; a multiplier has sku, category, times`,
			`line 27: rule "r" (#2): point_value: must be more than 0 and at most 1000000000.00, got 0.00`,
			`line 28: rule "r" (#2): max_share: must be more than 0 % and at most 100 %, got 150%`,
			`line 29: rule "r" (#2): group: redeem rules cannot be in an exclusive group`,
			`line 34: rule "c" (#3): item[1].points: missing; the points one unit costs`,
			`line 37: rule "c" (#3): item[2].sku: duplicate; item[1] has the same SKU`,
			`line 38: rule "c" (#3): item[2].points: must be between 1 and 1000000000, got 0`,
		}},
		{"partners, birthdays, greetings", header + `
[[rule]]
id = "p"
kind = "partner"
prefixes = ["27a1", "4000-39", "5000-4000"]

[[rule]]
id = "b"
kind = "birthday"
days_before = 40

[[rule]]
id = "h"
kind = "greeting"
text = "Hello"
lang = "EN"

[[rule]]
id = "h2"
kind = "greeting"
text = { ru = "Привет, {nam}!", english = "Hi" }
`, []string{
			`line 5: rule "p" (#1): partner: missing; the id of the partner program`,
			`line 5: rule "p" (#1): percent: a partner rule gives a percent, points per amount, or both; it has neither`,
			`line 8: rule "p" (#1): prefixes[1]: "27a1": want digits, or two runs of digits joined by -`,
			`line 8: rule "p" (#1): prefixes[2]: "4000-39": both ends of a range need the same number of digits`,
			`line 8: rule "p" (#1): prefixes[3]: "5000-4000": the range runs backwards`,
			`line 10: rule "b" (#2): percent: a birthday rule gives a percent, bonus_points or a greeting text; it has none`,
			`line 13: rule "b" (#2): days_before: must be between 0 and 31 days, got 40`,
			`line 18: rule "h" (#3): text: must be a table of texts by language`,
			`line 19: rule "h" (#3): lang: want a language code of 2 or 3 lowercase letters such as "ru", got "EN"`,
			`line 24: rule "h2" (#4): text.english: want a language code of 2 or 3 lowercase letters`,
			`line 24: rule "h2" (#4): text.ru: unknown placeholder {nam}; use {name} and {patronymic}`,
		}},
		{"charity, raffle, limits", header + `
effective = 12:00:00

[limits]
basket_discount = "0%"
offline_points_per_day = -5
maximum = 3
  [[limits.floor]]
  sku = "milk"
  price = "-1"
  [[limits.floor]]
  sku = "milk"
  price = 10

[[rule]]
id = "c"
kind = "charity"
cause = "Лес"
round_to = "10.00"
points_share = "5%"

[[rule]]
id = "r"
kind = "raffle"
tickets = 0
chance = "5%"
`, []string{
			`line 5: effective: a time of day alone is not a moment`,
			`line 8: limits.basket_discount: 0 % is ambiguous here; leave it out for no limit`,
			`line 9: limits.offline_points_per_day: must be between 0 (no limit) and 1000000000, got -5`,
			`line 10: limits.maximum: unknown key; [limits] has basket_discount, line_discount, offline_points_per_day, offline_return, offline_returns_per_day, floor`,
			`line 13: limits.floor[1].price: must be between 0 and 1000000000.00, got -1.00`,
			`line 15: limits.floor[2].sku: duplicate; floor[1] has the same SKU`,
			`line 23: rule "c" (#1): points_share: set round_to or points_share, not both`,
			`line 25: rule "r" (#2): prize: missing; a ticket that wins, wins something`,
			`line 28: rule "r" (#2): tickets: must be between 1 and 1000000000, got 0`,
		}},
		{"offline returns: one without the other", header + `
[limits]
offline_return = "3000.00"
`, []string{
			`line 5: limits.offline_returns_per_day: missing; offline_return is set, so say how much all returns taken offline at one till may give back in a day, e.g. offline_returns_per_day = "15000.00"`,
		}},
		{"offline returns: the day's below one return's", header + `
[limits]
offline_return = "3000.00"
offline_returns_per_day = "2000"
`, []string{
			`line 6: limits.offline_return: 3000.00 is above offline_returns_per_day (2000.00): one return could give back more than a whole day allows`,
		}},
		{"offline returns: bad amounts", header + `
[limits]
offline_return = "-1"
offline_returns_per_day = "100.001"
`, []string{
			`line 6: limits.offline_return: must be between 0 and 1000000000.00, got -1.00`,
			`line 7: limits.offline_returns_per_day: amount "100.001" in RUB: more than 2 digits after the decimal point`,
		}},
		{"keys of other kinds", header + `
[[rule]]
id = "x"
kind = "greeting"
text = { ru = "Привет" }
percent = 5
per_unit = true
colour = "red"
`, []string{
			`line 9: rule "x" (#1): percent: not used by greeting rules (it belongs to card_percent, percent_off, buy_get, partner, birthday and welcome rules)`,
			`line 10: rule "x" (#1): per_unit: not used by greeting rules (it belongs to amount_off rules)`,
			`line 11: rule "x" (#1): colour: unknown key; greeting rules have text, nameless, lang, and the keys of every rule`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse([]byte(tt.src))
			if rs != nil {
				t.Errorf("Parse returned a ruleset with an error")
			}
			var ve *discount.ValidationError
			if !errors.As(err, &ve) {
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

func TestShadowWarnings(t *testing.T) {
	src := header + `
[[rule]]
id = "hello"
kind = "greeting"
text = { ru = "Здравствуйте!" }

[[rule]]
id = "hello-spring"
kind = "greeting"
priority = 5
text = { ru = "С весной!" }

[[rule]]
id = "big"
kind = "card_percent"
group = "g"
percent = 10

[[rule]]
id = "small"
kind = "card_percent"
group = "g"
percent = 5

[[rule]]
id = "gift"
kind = "gift"
gift_sku = "umbrella"
`
	_, warns, err := Check([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`line 10: rule "hello-spring" (#2): never fires: rule "hello" comes first and always applies; only one greeting rule applies to a basket`,
		`line 25: rule "small" (#4): group: never fires: in group "g" rule "big" gives 10% on the same lines, at least this rule's 5%`,
		`line 28: rule "gift" (#5): min_basket: not set: every basket gets the gift`,
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestParseAmountsInChainCurrency: the chain file's amounts are kopecks.
func TestParseAmountsInChainCurrency(t *testing.T) {
	rs, err := Parse(chain(t))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Currency != (money.Currency{Code: "RUB", Exponent: 2}) {
		t.Errorf("currency %+v", rs.Currency)
	}
}

// TestBrokenExample is the example of docs/rules.md, "Validation": the text
// there is this error, word for word.
func TestBrokenExample(t *testing.T) {
	src, err := os.ReadFile("testdata/broken.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Check(src)
	want := `invalid ruleset: 6 problems:
	line 9: rule "club-card" (#1): percent: percentage "30 %%": unexpected character '%'; write e.g. "5%" or "2.5" (at most 2 decimals)
	line 11: rule #2: id: missing; every rule needs a unique id
	line 14: rule #2: per: amount "100.001" in RUB: more than 2 digits after the decimal point
	line 21: rule "happy" (#3): hours[2]: "25:00-26:00": write a span of the day such as "10:00-12:00" (or "22:00-02:00" across midnight)
	line 23: rule "club-card-2" (#4): percent: missing; write e.g. percent = "5%"
	line 26: rule "club-card-2" (#4): percnt: unknown key (did you mean "percent"?); card_percent rules have percent, and the keys of every rule: id, kind, name, priority, exclude_categories, group, stores, regions, terminals, starts, ends, days, hours, min_basket`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

// sample is a value of each type, as a rules file writes it.
var sample = map[discount.ValueType]string{
	discount.ValueString:     `"x"`,
	discount.ValueBool:       `true`,
	discount.ValueInt:        `3`,
	discount.ValueDays:       `2`,
	discount.ValuePercent:    `"5%"`,
	discount.ValueAmount:     `"10.00"`,
	discount.ValueMultiplier: `"1.5"`,
	discount.ValueStrings:    `["x"]`,
	discount.ValueTexts:      `{ ru = "Привет" }`,
	discount.ValuePrefixes:   `["2771", "4000-4099"]`,
}

// everyKey is a rules file with one rule of kind with every key of its
// kind set, but skip.
func everyKey(t *testing.T, kind discount.Kind, skip string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s[[rule]]\nid = \"r\"\nkind = %q\n", header, kind)
	for _, k := range kind.Keys() {
		v, ok := sample[k.Type]
		if k.Type == discount.ValueTables {
			var fields []string
			for _, f := range k.Fields {
				fields = append(fields, f.Name+" = "+sample[f.Type])
			}
			v, ok = "[{ "+strings.Join(fields, ", ")+" }]", true
		}
		if !ok {
			t.Fatalf("key %s: no sample value of type %s", k.Name, k.Type)
		}
		if k.Name != skip {
			fmt.Fprintf(&b, "%s = %s\n", k.Name, v)
		}
	}
	return b.String()
}

// TestEveryKeyDecodes: the rules file reads every key of every kind in the
// kinds table into the rule, whatever its type; a kind added to the table
// with a key of a new type fails here until this package reads the type.
func TestEveryKeyDecodes(t *testing.T) {
	for _, kind := range discount.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			src := everyKey(t, kind, "")
			var doc map[string]any
			if _, err := toml.Decode(src, &doc); err != nil {
				t.Fatal(err)
			}
			d := &decoder{loc: tomlpos.Locate([]byte(src)), failed: map[fieldKey]bool{}}
			rs := d.ruleset(doc)
			if len(d.problems) > 0 {
				t.Fatalf("decoding\n%s\ngave %v", src, d.problems)
			}
			for _, k := range kind.Keys() {
				if reflect.ValueOf(k.Value(&rs.Rules[0])).Elem().IsZero() {
					t.Errorf("key %s = %s was not read into the rule", k.Name, sample[k.Type])
				}
			}
		})
	}
}

// TestRequiredKeys: a required key left out is reported once, with the
// table's hint, on the rule's line.
func TestRequiredKeys(t *testing.T) {
	for _, kind := range discount.Kinds {
		for _, k := range kind.Keys() {
			if k.Required == "" {
				continue
			}
			t.Run(string(kind)+"/"+k.Name, func(t *testing.T) {
				_, _, err := Check([]byte(everyKey(t, kind, k.Name)))
				var ve *discount.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a *discount.ValidationError", err)
				}
				want := discount.Problem{Line: 4, Rule: "r", Index: 1, Field: k.Name, Msg: "missing; " + k.Required}
				n := 0
				for _, p := range ve.Problems {
					if p.Field == k.Name {
						n++
						if p != want {
							t.Errorf("problem %q, want %q", p, want)
						}
					}
				}
				if n != 1 {
					t.Errorf("%d problems with %s, want 1: %v", n, k.Name, err)
				}
			})
		}
	}
}
