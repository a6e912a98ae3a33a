package discount

import (
	"errors"
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
)

var msk = time.FixedZone("MSK", 3*3600)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func local(s string) Moment {
	t, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		panic(err)
	}
	return Moment{At: t, Local: true}
}

func instant(s string) Moment { return Moment{At: at(s)} }

func windowed(w Window) Rule {
	r := promo("w", 1000)
	r.Window = w
	return r
}

func TestWindowsAndScope(t *testing.T) {
	b := basket(line("tea", "grocery", 1, 100_00))
	tests := []struct {
		name string
		rule Rule
		b    pos.Basket
		now  string
		code string // "" when the rule applies
	}{
		{"instant window: inside", windowed(Window{Starts: instant("2025-03-01T10:00:00+03:00"), Ends: instant("2025-03-01T14:00:00+03:00")}), b, "2025-03-01T11:00:00+03:00", ""},
		{"instant window: same instant in another zone", windowed(Window{Starts: instant("2025-03-01T10:00:00+03:00"), Ends: instant("2025-03-01T14:00:00+03:00")}), b, "2025-03-01T08:00:00Z", ""},
		{"instant window: ends is exclusive", windowed(Window{Starts: instant("2025-03-01T10:00:00+03:00"), Ends: instant("2025-03-01T14:00:00+03:00")}), b, "2025-03-01T14:00:00+03:00", "ended"},
		{"instant window: starts is inclusive", windowed(Window{Starts: instant("2025-03-01T10:00:00+03:00")}), b, "2025-03-01T10:00:00+03:00", ""},
		{"instant window: not yet", windowed(Window{Starts: instant("2025-03-01T10:00:00+03:00")}), b, "2025-03-01T09:59:59+03:00", "not_yet"},
		{"local date: by wall clock in Vladivostok", windowed(Window{Starts: local("2025-03-08T00:00:00")}), b, "2025-03-08T00:30:00+10:00", ""},
		{"local date: still the 7th in Moscow", windowed(Window{Starts: local("2025-03-08T00:00:00")}), b, "2025-03-07T23:59:59+03:00", "not_yet"},
		{"local end", windowed(Window{Ends: local("2025-03-09T00:00:00")}), b, "2025-03-09T00:00:00+05:00", "ended"},
		{"weekend: Saturday", windowed(Window{Days: []time.Weekday{time.Saturday, time.Sunday}}), b, "2025-03-01T12:00:00+03:00", ""},
		{"weekend: Monday", windowed(Window{Days: []time.Weekday{time.Saturday, time.Sunday}}), b, "2025-03-03T12:00:00+03:00", "day"},
		{"weekday by the local date, not UTC", windowed(Window{Days: []time.Weekday{time.Monday}}), b, "2025-03-03T01:00:00+03:00", ""},
		{"happy hours: inside", windowed(Window{Hours: []Hours{{10 * 60, 12 * 60}}}), b, "2025-03-01T11:59:00+03:00", ""},
		{"happy hours: end is exclusive", windowed(Window{Hours: []Hours{{10 * 60, 12 * 60}}}), b, "2025-03-01T12:00:00+03:00", "hours"},
		{"happy hours: second span", windowed(Window{Hours: []Hours{{10 * 60, 12 * 60}, {18 * 60, 20 * 60}}}), b, "2025-03-01T19:00:00+03:00", ""},
		{"overnight: before midnight", windowed(Window{Hours: []Hours{{22 * 60, 2 * 60}}}), b, "2025-03-01T23:00:00+03:00", ""},
		{"overnight: after midnight", windowed(Window{Hours: []Hours{{22 * 60, 2 * 60}}}), b, "2025-03-02T01:59:00+03:00", ""},
		{"overnight: morning", windowed(Window{Hours: []Hours{{22 * 60, 2 * 60}}}), b, "2025-03-02T02:00:00+03:00", "hours"},
		{"until midnight", windowed(Window{Hours: []Hours{{20 * 60, 24 * 60}}}), b, "2025-03-01T23:59:59+03:00", ""},
		{"store listed", scoped(Rule{Stores: []string{"s1"}}), at3("s1", "msk", "t1"), "2025-03-01T12:00:00+03:00", ""},
		{"region listed", scoped(Rule{Stores: []string{"s1"}, Regions: []string{"msk"}}), at3("s2", "msk", "t9"), "2025-03-01T12:00:00+03:00", ""},
		{"terminal listed", scoped(Rule{Terminals: []string{"t9"}}), at3("s2", "spb", "t9"), "2025-03-01T12:00:00+03:00", ""},
		{"elsewhere", scoped(Rule{Stores: []string{"s1"}, Regions: []string{"msk"}}), at3("s2", "spb", "t9"), "2025-03-01T12:00:00+03:00", "scope"},
		{"a basket that says nowhere", scoped(Rule{Regions: []string{"msk"}}), b, "2025-03-01T12:00:00+03:00", "scope"},
		{"no scope: everywhere", scoped(Rule{}), at3("s2", "spb", "t9"), "2025-03-01T12:00:00+03:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, ruleset(tt.rule), tt.b, nil, at(tt.now))
			code := ""
			if len(q.Dropped) > 0 {
				code = q.Dropped[0].Code
				if q.Dropped[0].Reason == "" {
					t.Error("no reason")
				}
			}
			if code != tt.code || (code == "") != (q.Discount == 10_00) {
				t.Errorf("code %q discount %d, want %q", code, q.Discount, tt.code)
			}
		})
	}
}

func scoped(r Rule) Rule {
	p := promo("w", 1000)
	p.Stores, p.Regions, p.Terminals = r.Stores, r.Regions, r.Terminals
	return p
}

func at3(store, region, terminal string) pos.Basket {
	b := basket(line("tea", "grocery", 1, 100_00))
	b.Store, b.Region, b.Terminal = store, region, terminal
	return b
}

func TestEffective(t *testing.T) {
	rs := ruleset(card("club", 300))
	rs.Effective = instant("2025-04-01T00:00:00+03:00")
	b := basket(line("tea", "grocery", 1, 100_00))
	if _, err := Apply(rs, b, acct(0), at("2025-03-31T23:59:59+03:00")); !errors.Is(err, ErrNotEffective) {
		t.Errorf("before: %v, want ErrNotEffective", err)
	}
	if rs.EffectiveAt(at("2025-03-31T23:59:59+03:00")) || !rs.EffectiveAt(at("2025-04-01T00:00:00+03:00")) {
		t.Error("EffectiveAt")
	}
	q, err := Apply(rs, b, acct(0), at("2025-04-01T00:00:00+03:00"))
	if err != nil || q.Discount != 3_00 {
		t.Errorf("at the moment: %v, discount %d", err, q.Discount)
	}
}

func TestWindowWarnings(t *testing.T) {
	ended := windowed(Window{Ends: instant("2025-03-01T00:00:00+03:00")})
	noDay := windowed(Window{Starts: local("2025-03-03T00:00:00"), Ends: local("2025-03-05T00:00:00"), Days: []time.Weekday{time.Saturday}})
	noDay.ID = "noday"
	rs := ruleset(ended, noDay)
	rs.Effective = instant("2025-03-01T00:00:00+03:00")
	var got []string
	for _, w := range rs.Warnings() {
		got = append(got, w.String())
	}
	want := []string{
		`rule "noday" (#2): days: never fires: no day from 2025-03-03T00:00:00 to 2025-03-05T00:00:00 is one of its days`,
		`rule "w" (#1): ends: never fires: it ends (2025-03-01T00:00:00+03:00) before the ruleset takes effect (2025-03-01T00:00:00+03:00)`,
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("warnings:\n%q\nwant\n%q", got, want)
	}
}
