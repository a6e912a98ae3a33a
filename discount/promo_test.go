package discount

import (
	"reflect"
	"testing"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func TestPromotions(t *testing.T) {
	amountOff := func(id string, a money.Amount, perUnit bool, skus ...string) Rule {
		return Rule{ID: id, Kind: KindAmountOff, Amount: a, PerUnit: perUnit, SKUs: skus}
	}
	buyGet := func(id string, buy, get int64, p money.BP, cats ...string) Rule {
		return Rule{ID: id, Kind: KindBuyGet, Buy: buy, Get: get, Percent: p, Categories: cats}
	}
	gift := func(min money.Amount) Rule {
		return Rule{ID: "umbrella", Kind: KindGift, GiftSKU: "umbrella", GiftName: "Зонт", MinBasket: min}
	}
	tests := []struct {
		name    string
		rule    Rule
		basket  pos.Basket
		acct    *pos.Account
		totals  []money.Amount
		applied []string
		dropped []string
		gifts   []pos.Gift
	}{
		{
			name:    "percent off a SKU, for everyone",
			rule:    promo("coffee20", 2000, "coffee"),
			basket:  basket(line("coffee", "grocery", 2, 300_00), line("tea", "grocery", 1, 100_00)),
			totals:  []money.Amount{480_00, 100_00},
			applied: []string{"coffee20 120.00"},
		},
		{
			name:    "percent off a category",
			rule:    Rule{ID: "dairy", Kind: KindPercentOff, Percent: 1000, Categories: []string{"dairy"}},
			basket:  basket(line("milk", "dairy", 1, 89_90), line("kefir", "dairy", 1, 70_10), line("tea", "grocery", 1, 100_00)),
			totals:  []money.Amount{80_91, 63_09, 100_00},
			applied: []string{"dairy 16.00"},
		},
		{
			name:    "card only promotion without a card",
			rule:    func() Rule { r := promo("club-only", 2000); r.CardOnly = true; return r }(),
			basket:  basket(line("tea", "grocery", 1, 100_00)),
			totals:  []money.Amount{100_00},
			dropped: []string{"club-only no_card"},
		},
		{
			name:    "amount off the basket above a minimum",
			rule:    func() Rule { r := amountOff("minus100", 100_00, false); r.MinBasket = 1000_00; return r }(),
			basket:  basket(line("a", "x", 1, 900_00), line("b", "x", 1, 300_00)),
			totals:  []money.Amount{825_00, 275_00},
			applied: []string{"minus100 100.00"},
		},
		{
			name:    "minimum basket not reached",
			rule:    func() Rule { r := amountOff("minus100", 100_00, false); r.MinBasket = 1000_00; return r }(),
			basket:  basket(line("a", "x", 1, 999_99)),
			totals:  []money.Amount{999_99},
			dropped: []string{"minus100 min_basket"},
		},
		{
			name: "minimum basket counts only the lines the rule does not exclude",
			rule: func() Rule {
				r := amountOff("minus100", 100_00, false)
				r.MinBasket = 1000_00
				r.ExcludeCategories = []string{"tobacco"}
				return r
			}(),
			basket:  basket(line("a", "x", 1, 900_00), line("cigs", "tobacco", 1, 300_00)),
			totals:  []money.Amount{900_00, 300_00},
			dropped: []string{"minus100 min_basket"},
		},
		{
			name:    "amount off more than the basket: down to zero, not below",
			rule:    amountOff("minus", 500_00, false),
			basket:  basket(line("a", "x", 1, 120_00)),
			totals:  []money.Amount{0},
			applied: []string{"minus 120.00"},
		},
		{
			name:    "amount off per unit, never below zero",
			rule:    amountOff("cola50", 50_00, true, "cola", "chips"),
			basket:  basket(line("cola", "drinks", 3, 40_00), line("chips", "snacks", 2, 120_00), line("tea", "x", 1, 10_00)),
			totals:  []money.Amount{0, 140_00, 10_00},
			applied: []string{"cola50 220.00"},
		},
		{
			name:    "buy 2 get 1: the cheapest unit is free",
			rule:    buyGet("3for2", 2, 1, 0, "snacks"),
			basket:  basket(line("chips", "snacks", 2, 100_00), line("nuts", "snacks", 1, 50_00)),
			totals:  []money.Amount{200_00, 0},
			applied: []string{"3for2 50.00"},
		},
		{
			name:    "buy 2 get 1: seven units, two free",
			rule:    buyGet("3for2", 2, 1, 0, "snacks"),
			basket:  basket(line("chips", "snacks", 5, 100_00), line("nuts", "snacks", 2, 50_00)),
			totals:  []money.Amount{500_00, 0},
			applied: []string{"3for2 100.00"},
		},
		{
			name:    "buy 1 get 1 at half price, free units spill to the next cheapest line",
			rule:    buyGet("half", 1, 1, 5000, "snacks"),
			basket:  basket(line("chips", "snacks", 3, 100_00), line("nuts", "snacks", 1, 50_00)),
			totals:  []money.Amount{250_00, 25_00}, // 2 free: nuts (25.00 off), one chips (50.00 off)
			applied: []string{"half 75.00"},
		},
		{
			name:    "buy 2 get 1: not enough units",
			rule:    buyGet("3for2", 2, 1, 0, "snacks"),
			basket:  basket(line("chips", "snacks", 2, 100_00)),
			totals:  []money.Amount{200_00},
			dropped: []string{"3for2 nothing"},
		},
		{
			name:    "gift owed, not in the basket yet",
			rule:    gift(3000_00),
			basket:  basket(line("a", "x", 1, 3500_00)),
			totals:  []money.Amount{3500_00},
			gifts:   []pos.Gift{{Rule: "umbrella", SKU: "umbrella", Name: "Зонт", Qty: 1}},
			applied: nil,
		},
		{
			name:    "gift in the basket is free, and does not count toward the minimum",
			rule:    gift(3000_00),
			basket:  basket(line("a", "x", 1, 3000_00), line("umbrella", "x", 1, 500_00)),
			totals:  []money.Amount{3000_00, 0},
			gifts:   []pos.Gift{{Rule: "umbrella", SKU: "umbrella", Name: "Зонт", Qty: 1}},
			applied: []string{"umbrella 500.00"},
		},
		{
			name:    "gift below the minimum",
			rule:    gift(3000_00),
			basket:  basket(line("a", "x", 1, 2900_00), line("umbrella", "x", 1, 500_00)),
			totals:  []money.Amount{2900_00, 500_00},
			dropped: []string{"umbrella min_basket"},
		},
		{
			name:    "gift: one unit of two",
			rule:    gift(1000_00),
			basket:  basket(line("a", "x", 1, 3000_00), line("umbrella", "x", 2, 500_00)),
			totals:  []money.Amount{3000_00, 500_00},
			gifts:   []pos.Gift{{Rule: "umbrella", SKU: "umbrella", Name: "Зонт", Qty: 1}},
			applied: []string{"umbrella 500.00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, ruleset(tt.rule), tt.basket, tt.acct, t0)
			if got := lineTotals(q); !reflect.DeepEqual(got, tt.totals) {
				t.Errorf("totals %v, want %v", got, tt.totals)
			}
			s := summarize(q)
			if !reflect.DeepEqual(s.applied, tt.applied) || !reflect.DeepEqual(s.dropped, tt.dropped) {
				t.Errorf("got %q, want applied %q dropped %q", s, tt.applied, tt.dropped)
			}
			if !reflect.DeepEqual(q.Gifts, tt.gifts) {
				t.Errorf("gifts %+v, want %+v", q.Gifts, tt.gifts)
			}
		})
	}
}

func TestRaffle(t *testing.T) {
	raffle := Rule{ID: "spring", Kind: KindRaffle, Tickets: 1, Per: 1000_00, Chance: 2500, Prize: "Поездка в Сочи"}
	rs := ruleset(raffle)
	rs.Seed = "spring-2025"
	b := basket(line("a", "x", 1, 3500_00))
	a := acct(0)
	q := explainQuote(t, rs, b, a, t0)
	if len(q.Raffles) != 1 || q.Raffles[0].Tickets != 3 || len(q.Raffles[0].Code) != 10 {
		t.Fatalf("raffles %+v, want 3 tickets with a code", q.Raffles)
	}
	// The same sale draws the same way; the card's next sale draws afresh.
	again := explainQuote(t, rs, b, a, t0)
	if !reflect.DeepEqual(q.Raffles, again.Raffles) {
		t.Errorf("a second draw gave %+v, then %+v", q.Raffles, again.Raffles)
	}
	next := *a
	next.Sales++
	if n := explainQuote(t, rs, b, &next, t0); n.Raffles[0].Code == q.Raffles[0].Code {
		t.Errorf("the next sale drew the same code %s", n.Raffles[0].Code)
	}
	// Over many sales about a quarter of the tickets win.
	won, tickets := int64(0), int64(0)
	for i := range 2000 {
		a := &pos.Account{Card: "2000000000008", Sales: int64(i)}
		q := explainQuote(t, rs, b, a, t0)
		won += q.Raffles[0].Won
		tickets += q.Raffles[0].Tickets
		if (q.Raffles[0].Won > 0) != (q.Raffles[0].Prize != "") {
			t.Fatalf("prize %q with %d wins", q.Raffles[0].Prize, q.Raffles[0].Won)
		}
	}
	if share := float64(won) / float64(tickets); share < 0.22 || share > 0.28 {
		t.Errorf("%d of %d tickets won (%.3f), want about 0.25", won, tickets, share)
	}
	// Below one step: no tickets; without a card: no raffle.
	small := explainQuote(t, rs, basket(line("a", "x", 1, 999_99)), a, t0)
	if len(small.Raffles) != 0 || summarize(small).dropped[0] != "spring nothing" {
		t.Errorf("small basket: %+v %+v", small.Raffles, small.Dropped)
	}
	if anon := explainQuote(t, rs, b, nil, t0); len(anon.Raffles) != 0 {
		t.Errorf("raffle without a card: %+v", anon.Raffles)
	}
}
