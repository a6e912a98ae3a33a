package discount

import (
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
)

func birthdayRule(before, after int) Rule {
	return Rule{ID: "bday", Kind: KindBirthday, DaysBefore: before, DaysAfter: after, Percent: 1000,
		Text: map[string]string{"ru": "С днём рождения, {name}!", "en": "Happy birthday, {name}!"}}
}

func greetingRule() Rule {
	return Rule{ID: "hello", Kind: KindGreeting,
		Text:     map[string]string{"ru": "Здравствуйте, {name} {patronymic}!", "en": "Hello, {name}!"},
		Nameless: map[string]string{"ru": "Здравствуйте!", "en": "Hello!"}}
}

func born(month, day int) *pos.Account {
	return &pos.Account{Card: "2000000000008", Profile: &pos.Profile{Name: "Василий", Patronymic: "Петрович", BirthMonth: month, BirthDay: day}}
}

func TestBirthday(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		acct    *pos.Account
		now     string
		applies bool
		code    string
	}{
		{"on the day", birthdayRule(0, 0), born(3, 1), "2025-03-01T12:00:00+03:00", true, ""},
		{"the day before, not allowed", birthdayRule(0, 0), born(3, 2), "2025-03-01T12:00:00+03:00", false, "not_birthday"},
		{"three days before", birthdayRule(3, 0), born(3, 4), "2025-03-01T12:00:00+03:00", true, ""},
		{"four days before", birthdayRule(3, 0), born(3, 5), "2025-03-01T12:00:00+03:00", false, "not_birthday"},
		{"after, across the new year", birthdayRule(0, 5), born(12, 30), "2026-01-02T12:00:00+03:00", true, ""},
		{"before, across the new year", birthdayRule(7, 0), born(1, 3), "2025-12-28T12:00:00+03:00", true, ""},
		{"29 February in a common year is the 28th", birthdayRule(0, 0), born(2, 29), "2025-02-28T12:00:00+03:00", true, ""},
		{"29 February in a leap year", birthdayRule(0, 0), born(2, 29), "2028-02-28T12:00:00+03:00", false, "not_birthday"},
		{"the local date decides", birthdayRule(0, 0), born(3, 1), "2025-03-01T01:00:00+03:00", true, ""},
		{"no birthday known", birthdayRule(3, 3), &pos.Account{Card: "x", Profile: &pos.Profile{Name: "Анна"}}, "2025-03-01T12:00:00+03:00", false, "no_profile"},
		{"no profile", birthdayRule(3, 3), &pos.Account{Card: "x"}, "2025-03-01T12:00:00+03:00", false, "no_profile"},
	}
	b := basket(line("tea", "x", 1, 1000_00))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, ruleset(tt.rule), b, tt.acct, at(tt.now))
			code := ""
			if len(q.Dropped) > 0 {
				code = q.Dropped[0].Code
			}
			if (q.Discount == 100_00) != tt.applies || q.Birthday != tt.applies || code != tt.code {
				t.Errorf("discount %d birthday %v code %q, want applies %v code %q", q.Discount, q.Birthday, code, tt.applies, tt.code)
			}
			if tt.applies {
				if q.Greeting != "С днём рождения, Василий!" || !reflect.DeepEqual(q.Flags, []string{"birthday"}) {
					t.Errorf("greeting %q flags %v", q.Greeting, q.Flags)
				}
				if q.Applied[0].Reason != "С днём рождения: скидка 10 %" {
					t.Errorf("reason %q", q.Applied[0].Reason)
				}
			}
		})
	}
}

func TestBirthdayBonusPoints(t *testing.T) {
	r := Rule{ID: "bday-points", Kind: KindBirthday, BonusPoints: 500}
	q := explainQuote(t, ruleset(r, points("bonus", 1, 100_00)), basket(line("tea", "x", 1, 1000_00), line("gum", "y", 1, 0)), born(3, 1), t0)
	if q.PointsEarned != 510 || q.Applied[0].Reason != "С днём рождения: 500 баллов в подарок" {
		t.Errorf("points %d, applied %+v", q.PointsEarned, q.Applied)
	}
	// A bonus on a free basket still sits on its lines, so a refund can take it back.
	q = explainQuote(t, ruleset(r), basket(line("gum", "y", 2, 0)), born(3, 1), t0)
	if q.PointsEarned != 500 || q.Lines[0].Points != 500 {
		t.Errorf("free basket: %d points, line %d", q.PointsEarned, q.Lines[0].Points)
	}
}

func TestGreeting(t *testing.T) {
	profile := func(name, patronymic, lang string) *pos.Account {
		return &pos.Account{Card: "x", Profile: &pos.Profile{Name: name, Patronymic: patronymic, Lang: lang}}
	}
	tests := []struct {
		name  string
		rules []Rule
		acct  *pos.Account
		want  string
	}{
		{"name and patronymic", []Rule{greetingRule()}, profile("Василий", "Петрович", ""), "Здравствуйте, Василий Петрович!"},
		{"Russian asked for", []Rule{greetingRule()}, profile("Василий", "Петрович", "ru"), "Здравствуйте, Василий Петрович!"},
		{"English", []Rule{greetingRule()}, profile("John", "", "en"), "Hello, John!"},
		{"no patronymic", []Rule{greetingRule()}, profile("Анна", "", "ru"), "Здравствуйте, Анна!"},
		{"an unknown language falls back to Russian", []Rule{greetingRule()}, profile("Hans", "", "de"), "Здравствуйте, Hans!"},
		{"the rule's language first", []Rule{func() Rule { r := greetingRule(); r.Lang = "en"; return r }()}, profile("Hans", "", "de"), "Hello, Hans!"},
		{"no name", []Rule{greetingRule()}, profile("", "", "en"), "Hello!"},
		{"no profile", []Rule{greetingRule()}, &pos.Account{Card: "x"}, "Здравствуйте!"},
		{"the first greeting wins", []Rule{withPriority(greetingRule(), 2), withPriority(func() Rule {
			r := greetingRule()
			r.ID, r.Text = "spring", map[string]string{"ru": "С весной, {name}!"}
			return r
		}(), 1)}, profile("Анна", "", "ru"), "С весной, Анна!"},
		{"a birthday greeting comes first", []Rule{greetingRule(), birthdayRule(0, 0)}, born(3, 1), "С днём рождения, Василий!"},
		{"no card, no greeting", []Rule{greetingRule()}, nil, ""},
		{"a name is not read for placeholders", []Rule{greetingRule()}, profile("{patronymic}", "{name}", "ru"), "Здравствуйте, {patronymic} {name}!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, ruleset(tt.rules...), basket(line("tea", "x", 1, 100_00)), tt.acct, at("2025-03-01T12:00:00+03:00"))
			if q.Greeting != tt.want {
				t.Errorf("greeting %q, want %q", q.Greeting, tt.want)
			}
		})
	}
}

// TestAppendFilled fills templates in a buffer that already holds text.
func TestAppendFilled(t *testing.T) {
	for _, tt := range []struct{ tmpl, want string }{
		{"Здравствуйте, {name} {patronymic}!", "> Здравствуйте, Анна Ивановна!"},
		{"{name}{name}", "> АннаАнна"},
		{"{", "> {"},
		{"{{name}}", "> {Анна}"},
		{"Hello!", "> Hello!"},
		{"", "> "},
	} {
		if got := string(appendFilled([]byte("> "), tt.tmpl, "Анна", "Ивановна")); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}

func TestTemplates(t *testing.T) {
	for _, tt := range []struct{ tmpl, problem string }{
		{"Здравствуйте, {name} {patronymic}!", ""},
		{"Hello!", ""},
		{"Hello, {nam}!", "unknown placeholder {nam}; use {name} and {patronymic}"},
		{"Hello, {name!", "a { without its }; placeholders are {name} and {patronymic}"},
		{"Hello, name}!", "a } without its {; placeholders are {name} and {patronymic}"},
	} {
		if got := checkTemplate(tt.tmpl); got != tt.problem {
			t.Errorf("%q: %q, want %q", tt.tmpl, got, tt.problem)
		}
	}
}

// TestBirthdayGoldPartnerHappyHour is the scenario from the issue: a
// birthday customer in the 10 % tier, with a partner card, during a
// happy-hour promotion. The quote shows each rule with its reason.
func TestBirthdayGoldPartnerHappyHour(t *testing.T) {
	happy := promo("happy-hour", 2000, "coffee")
	happy.Name = "Счастливые часы"
	happy.Window.Hours = []Hours{{16 * 60, 18 * 60}}
	happy.Window.Days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	rs := ruleset(
		withPriority(happy, 10),
		withPriority(tiers("cumulative"), 20),
		withPriority(Rule{ID: "aero", Kind: KindPartner, Partner: "aeroflot", Prefixes: []PrefixRange{{"2771", "2771"}}, Percent: 500, Points: 1, Per: 100_00}, 30),
		withPriority(birthdayRule(3, 3), 40),
		points("bonus", 1, 100_00),
		greetingRule(),
	)
	a := born(3, 5)
	a.Card, a.LifetimeSpend = "2771000000001", 12000_00
	b := basket(line("coffee", "grocery", 2, 350_00), line("cake", "bakery", 1, 600_00))
	b.Card = a.Card
	now := at("2025-03-04T17:15:00+03:00") // a Tuesday, happy hour, one day before the birthday
	q := explainQuote(t, rs, b, a, now)
	want := []pos.Applied{
		// 20 % of the coffee (700.00) = 140.00.
		{Rule: "happy-hour", Kind: "percent_off", Amount: 140_00, Reason: "Счастливые часы: скидка 20 %"},
		// Gold: 10 % of 1 160.00 left.
		{Rule: "cumulative", Kind: "tiers", Amount: 116_00, Reason: "Накопительная скидка 10 % (Gold): сумма покупок 12 000,00 ₽ ≥ 10 000,00 ₽"},
		// Partner: 5 % of 1 044.00.
		{Rule: "aero", Kind: "partner", Amount: 52_20, Reason: "Карта партнёра «aeroflot»: скидка 5 %", Partner: "aeroflot"},
		// Birthday: 10 % of 991.80 = 99.18.
		{Rule: "bday", Kind: "birthday", Amount: 99_18, Reason: "С днём рождения: скидка 10 %"},
		// 892.62 paid: 8 points, and 8 more from the partner.
		{Rule: "bonus", Kind: "points", Points: 8, Reason: "1 балл за каждые 100,00 ₽"},
		{Rule: "aero", Kind: "partner", Points: 8, Reason: "Карта партнёра «aeroflot»: 1 балл за каждые 100,00 ₽", Partner: "aeroflot"},
	}
	if !reflect.DeepEqual(q.Applied, want) {
		t.Errorf("applied:\n%+v\nwant\n%+v", q.Applied, want)
	}
	if q.Total != 892_62 || q.Tier != "Gold" || !q.Birthday || q.Greeting != "С днём рождения, Василий!" ||
		q.Partner != "aeroflot" || q.PartnerPoints != 8 || q.PointsEarned != 8 || len(q.Dropped) != 0 {
		t.Errorf("quote %+v", q)
	}
	// An hour later the happy hour is over, and says so.
	later := explainQuote(t, rs, b, a, now.Add(time.Hour))
	if len(later.Dropped) != 1 || later.Dropped[0] != (pos.Dropped{Rule: "happy-hour", Code: "hours", Reason: "не в эти часы: только 16:00-18:00"}) {
		t.Errorf("dropped %+v", later.Dropped)
	}
}
