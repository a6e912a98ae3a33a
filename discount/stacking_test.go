package discount

import (
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func promo(id string, p money.BP, skus ...string) Rule {
	return Rule{ID: id, Kind: KindPercentOff, Percent: p, SKUs: skus}
}

func inGroup(r Rule, g string) Rule { r.Group = g; return r }

// explainQuote prices with explanations and checks the invariants.
func explainQuote(t *testing.T, rs *Ruleset, b pos.Basket, a *pos.Account, now time.Time) pos.Quote {
	t.Helper()
	q, err := ApplyWith(rs, b, a, now, Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, b, q)
	return q
}

// summary is what a test compares: every applied rule's id, amount, points
// and capped amount, and every dropped rule's id and code.
type summary struct {
	applied []string
	dropped []string
}

func summarize(q pos.Quote) summary {
	var s summary
	for _, a := range q.Applied {
		s.applied = append(s.applied, a.Rule+" "+fmtAmount(a.Amount)+pointsSuffix(a))
	}
	for _, d := range q.Dropped {
		s.dropped = append(s.dropped, d.Rule+" "+d.Code)
	}
	return s
}

func fmtAmount(a money.Amount) string { return rub.Format(a) }

func pointsSuffix(a pos.Applied) string {
	s := ""
	if a.Points != 0 {
		s += " +" + itoa(a.Points) + "pt"
	}
	if a.Redeemed != 0 {
		s += " -" + itoa(a.Redeemed) + "pt"
	}
	if a.Capped != 0 {
		s += " capped " + fmtAmount(a.Capped)
	}
	return s
}

func itoa(n int64) string { return money.Currency{Code: "XXX"}.Format(money.Amount(n)) }

func TestStacking(t *testing.T) {
	coffeeTea := basket(line("coffee", "grocery", 1, 200_00), line("tea", "grocery", 1, 800_00))
	tests := []struct {
		name   string
		rs     *Ruleset
		basket pos.Basket
		acct   *pos.Account
		want   summary
	}{
		{
			name:   "exclusive group: the best for the customer wins",
			rs:     ruleset(inGroup(card("club", 300), "main"), inGroup(tiers("cumulative"), "main"), inGroup(promo("coffee15", 1500, "coffee"), "main")),
			basket: coffeeTea,
			acct:   acct(12000_00), // Gold, 10 %
			want: summary{
				applied: []string{"cumulative 100.00"},
				dropped: []string{"club group", "coffee15 group"},
			},
		},
		{
			name:   "exclusive group: a tie goes to the earlier rule",
			rs:     ruleset(inGroup(withPriority(card("b", 500), 1), "g"), inGroup(withPriority(card("a", 500), 2), "g")),
			basket: coffeeTea,
			acct:   acct(0),
			want:   summary{applied: []string{"b 50.00"}, dropped: []string{"a group"}},
		},
		{
			name:   "exclusive group: members that cannot apply do not compete",
			rs:     ruleset(inGroup(tiers("cumulative"), "g"), inGroup(card("club", 300), "g"), inGroup(promo("milk", 5000, "milk"), "g")),
			basket: coffeeTea,
			acct:   acct(0), // no tier
			want:   summary{applied: []string{"club 30.00"}, dropped: []string{"cumulative no_tier", "milk no_lines"}},
		},
		{
			name:   "rules outside the group still stack",
			rs:     ruleset(inGroup(withPriority(card("club", 300), 1), "g"), inGroup(withPriority(card("club2", 200), 1), "g"), withPriority(promo("coffee", 1000, "coffee"), 2)),
			basket: coffeeTea,
			acct:   acct(0),
			// 3 % of 1000 = 30.00; then 10 % of what is left of coffee (194.00) = 19.40.
			want: summary{applied: []string{"club 30.00", "coffee 19.40"}, dropped: []string{"club2 group"}},
		},
		{
			name:   "basket limit caps the later rule",
			rs:     withLimits(ruleset(withPriority(card("club", 1500), 1), withPriority(promo("all", 1000), 2)), Limits{BasketDiscount: 2000}),
			basket: coffeeTea,
			acct:   acct(0),
			// 15 % = 150.00; 10 % of 850.00 = 85.00 but only 50.00 is left under 20 %.
			want: summary{applied: []string{"club 150.00", "all 50.00 capped 35.00"}},
		},
		{
			name:   "basket limit reached: the rule is dropped as capped",
			rs:     withLimits(ruleset(withPriority(card("club", 2000), 1), withPriority(promo("all", 1000), 2)), Limits{BasketDiscount: 2000}),
			basket: coffeeTea,
			acct:   acct(0),
			want:   summary{applied: []string{"club 200.00"}, dropped: []string{"all capped"}},
		},
		{
			name:   "line limit",
			rs:     withLimits(ruleset(promo("coffee", 2000, "coffee")), Limits{LineDiscount: 1000}),
			basket: coffeeTea,
			want:   summary{applied: []string{"coffee 20.00 capped 20.00"}}, // 20 % of 200.00 wanted
		},
		{
			name: "line limit counts what earlier rules took",
			rs: withLimits(ruleset(withPriority(promo("coffee", 800, "coffee"), 1), withPriority(promo("coffee2", 800, "coffee"), 2)),
				Limits{LineDiscount: 1000}),
			basket: coffeeTea,
			// 8 % of 200.00 = 16.00; then 8 % of 184.00 = 14.72, of which 4.00 fits under 10 %.
			want: summary{applied: []string{"coffee 16.00", "coffee2 4.00 capped 10.72"}},
		},
		{
			name:   "floor price",
			rs:     withLimits(ruleset(card("club", 2000)), Limits{Floors: []Floor{{SKU: "milk", Price: 90_00}}}),
			basket: basket(line("milk", "dairy", 2, 100_00), line("tea", "grocery", 1, 100_00)),
			acct:   acct(0),
			// 20 % of 300.00 = 60.00: milk 40.00 (only 20.00 above the floor), tea 20.00.
			want: summary{applied: []string{"club 40.00 capped 20.00"}},
		},
		{
			name:   "floor above the price: no discount on that line",
			rs:     withLimits(ruleset(card("club", 2000)), Limits{Floors: []Floor{{SKU: "milk", Price: 150_00}}}),
			basket: basket(line("milk", "dairy", 1, 100_00)),
			acct:   acct(0),
			want:   summary{dropped: []string{"club capped"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, tt.rs, tt.basket, tt.acct, t0)
			if got := summarize(q); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			// Without Explain, the same prices and no Dropped list.
			plain, err := Apply(tt.rs, tt.basket, tt.acct, t0)
			if err != nil {
				t.Fatal(err)
			}
			if plain.Dropped != nil {
				t.Errorf("Dropped without Explain: %v", plain.Dropped)
			}
			q.Dropped = nil
			if !reflect.DeepEqual(plain, q) {
				t.Errorf("explain changed the quote:\n%+v\n%+v", plain, q)
			}
		})
	}
}

func withLimits(rs *Ruleset, l Limits) *Ruleset { rs.Limits = l; return rs }

func TestLimitsRespected(t *testing.T) {
	// Many rules, tight limits: no line below its floor or over its share,
	// the basket never over its share.
	rs := withLimits(ruleset(
		withPriority(card("club", 3000), 1),
		withPriority(promo("all", 5000), 2),
		withPriority(Rule{ID: "minus", Kind: KindAmountOff, Amount: 70_00, PerUnit: true}, 3),
		withPriority(Rule{ID: "b1g1", Kind: KindBuyGet, Buy: 1, Get: 1}, 4),
	), Limits{BasketDiscount: 4000, LineDiscount: 6000, Floors: []Floor{{SKU: "milk", Price: 80_00}}})
	b := basket(line("milk", "dairy", 3, 100_00), line("tea", "grocery", 2, 150_00), line("gum", "candy", 5, 30_00))
	q := explainQuote(t, rs, b, acct(0), t0)
	if q.Discount > q.Subtotal*40/100 {
		t.Errorf("discount %d over 40 %% of %d", q.Discount, q.Subtotal)
	}
	for _, l := range q.Lines {
		if l.Discount > l.Amount*60/100 {
			t.Errorf("line %s discount %d over 60 %% of %d", l.SKU, l.Discount, l.Amount)
		}
		if l.SKU == "milk" && l.Total < 80_00*money.Amount(l.Qty) {
			t.Errorf("milk at %d, under its floor", l.Total)
		}
	}
}
