package main

import (
	"strings"
	"testing"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// A quote prints each line's unit price under PRICE and its amount under
// AMOUNT, every amount in major units with the currency, the rules that
// applied and did not in one aligned table, the tier's message and the
// privileges.
func TestPrintQuote(t *testing.T) {
	q := pos.Quote{
		Currency: "RUB",
		Lines: []pos.PricedLine{
			{Line: pos.Line{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 9990}, Amount: 19980, Discount: 2597, Total: 17383},
			{Line: pos.Line{SKU: "cigarettes", Category: "tobacco", Qty: 1, UnitPrice: 25000}, Amount: 25000, Total: 25000},
		},
		Subtotal: 44980, Discount: 2597, Total: 42383, PointsEarned: 4, Tier: "Gold", RulesetVersion: 2,
		TierMessage: "Золотой клиент: бесплатная доставка", Flags: []string{"free_delivery"}, Birthday: true,
		Applied: []pos.Applied{
			{Rule: "club-card", Amount: 599, Reason: "Скидка 3 % по клубной карте"},
			{Rule: "cumulative", Amount: 1998, Reason: "Gold: 10 %"},
			{Rule: "bonus", Points: 4, Reason: "1 балл за каждые 100,00 ₽"},
		},
		Dropped: []pos.Dropped{{Rule: "happy-hour", Code: "window", Reason: "only 17:00–19:00"}},
	}
	var b strings.Builder
	if err := printQuote(&b, q, &till.Customer{Card: "2000000000022", Tier: "Gold", Points: 10, LifetimeSpend: 1200000}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"customer 2000000000022: tier Gold, 10 points, lifetime 12000.00 RUB\n",
		"tier Gold: Золотой клиент: бесплатная доставка\n",
		"privileges: free_delivery, birthday\n",
		"         SKU  QTY       PRICE      AMOUNT   DISCOUNT       TOTAL\n",
		"        milk    2   99.90 RUB  199.80 RUB  25.97 RUB  173.83 RUB\n",
		"  cigarettes    1  250.00 RUB  250.00 RUB   0.00 RUB  250.00 RUB\n",
		"  club-card    -5.99 RUB  Скидка 3 % по клубной карте\n",
		"  cumulative  -19.98 RUB  Gold: 10 %\n",
		"  bonus           +4 pts  1 балл за каждые 100,00 ₽\n",
		"subtotal 449.80 RUB  discount 25.97 RUB  total 423.83 RUB  points +4  (rules v2)\n",
		"not applied:\n  happy-hour      window  only 17:00–19:00\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
