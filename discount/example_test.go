package discount_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// The worked example of docs/rules.md, on the chain's example rules.
func ExampleApply() {
	rs, err := rulesfile.Parse(discount.Example)
	if err != nil {
		panic(err)
	}
	basket := pos.Basket{Card: "2000000000008", Lines: []pos.Line{
		{SKU: "coffee", Category: "grocery", Qty: 2, UnitPrice: 549_90},
		{SKU: "cheese", Category: "dairy", Qty: 1, UnitPrice: 899_00},
		{SKU: "cigarettes", Category: "tobacco", Qty: 1, UnitPrice: 250_00},
	}}
	acct := &pos.Account{Card: "2000000000008", LifetimeSpend: 12000_00}
	q, err := discount.Apply(rs, basket, acct, now)
	if err != nil {
		panic(err)
	}
	cur := rs.Currency
	for _, l := range q.Lines {
		fmt.Printf("%-10s %8s −%6s = %8s\n", l.SKU, cur.Format(l.Amount), cur.Format(l.Discount), cur.Format(l.Total))
	}
	fmt.Printf("subtotal %s, discount %s, total %s, tier %s, points %d\n",
		cur.Format(q.Subtotal), cur.Format(q.Discount), cur.Format(q.Total), q.Tier, q.PointsEarned)
	for _, a := range q.Applied {
		fmt.Printf("%s: %s (%s, %d points)\n", a.Rule, a.Reason, cur.Format(a.Amount), a.Points)
	}
	// Output:
	// coffee      1099.80 −139.67 =   960.13
	// cheese       899.00 −114.17 =   784.83
	// cigarettes   250.00 −  0.00 =   250.00
	// subtotal 2248.80, discount 253.84, total 1994.96, tier Gold, points 17
	// club-card: Скидка 3 % по клубной карте (59.96, 0 points)
	// cumulative: Накопительная скидка 10 % (Gold): сумма покупок 12 000,00 ₽ ≥ 10 000,00 ₽ (193.88, 0 points)
	// bonus: 1 балл за каждые 100,00 ₽ (0.00, 17 points)
}

// A refund of part of a sale gives back the money and takes back the points
// in proportion; the rest, later, gives back exactly what is left.
func ExampleRefund() {
	rs, err := rulesfile.Parse(discount.Example)
	if err != nil {
		panic(err)
	}
	basket := pos.Basket{Card: "2000000000008", Lines: []pos.Line{{SKU: "coffee", Category: "grocery", Qty: 3, UnitPrice: 333_33}}}
	q, err := discount.Apply(rs, basket, &pos.Account{Card: "2000000000008"}, now)
	if err != nil {
		panic(err)
	}
	sale := pos.Sale{ID: "s-1", Card: basket.Card, At: now, Quote: q}
	fmt.Printf("paid %s, earned %d points\n", rs.Currency.Format(q.Total), q.PointsEarned)
	for _, step := range [][]pos.ReturnLine{{{Line: 1, Qty: 1}}, {{Line: 1, Qty: 2, Before: 1}}} {
		r, err := discount.Refund(sale, step)
		if err != nil {
			panic(err)
		}
		fmt.Printf("refund %d unit(s): %s back, %d points taken back\n", step[0].Qty, rs.Currency.Format(r.Amount), r.PointsReversed)
	}
	_, err = discount.Refund(sale, []pos.ReturnLine{{Line: 1, Qty: 1, Before: 3}})
	fmt.Println(err)
	// Output:
	// paid 969.99, earned 9 points
	// refund 1 unit(s): 323.33 back, 3 points taken back
	// refund 2 unit(s): 646.66 back, 6 points taken back
	// refund sale s-1: line 1 (coffee): 3 sold, 3 refunded before, 1 asked: refund exceeds what was sold
}

// With Explain, the quote says why every other rule did not apply.
func ExampleApplyWith() {
	rs, err := rulesfile.Parse(discount.Example)
	if err != nil {
		panic(err)
	}
	basket := pos.Basket{Card: "2000000000008", Lines: []pos.Line{{SKU: "cigarettes", Category: "tobacco", Qty: 1, UnitPrice: 250_00}}}
	q, err := discount.ApplyWith(rs, basket, &pos.Account{Card: "2000000000008", LifetimeSpend: 100_00}, now, discount.Options{Explain: true})
	if err != nil {
		panic(err)
	}
	for _, d := range q.Dropped {
		fmt.Printf("%s: %s (%s)\n", d.Rule, d.Reason, d.Code)
	}
	// Output:
	// club-card: правилу не на что действовать в этом чеке (nothing)
	// cumulative: сумма покупок меньше порога первого уровня (no_tier)
	// bonus: правилу не на что действовать в этом чеке (nothing)
}

func ExampleRuleset_TierFor() {
	rs, err := rulesfile.Parse(discount.Example)
	if err != nil {
		panic(err)
	}
	for _, spend := range []money.Amount{4999_99, 5000_00, 10000_00, 15000_00} {
		name, ok := rs.TierFor(spend)
		fmt.Println(rs.Currency.Format(spend), name, ok)
	}
	t, _ := rs.Tier(15000_00)
	fmt.Println(t.Message)
	// Output:
	// 4999.99  false
	// 5000.00 Silver true
	// 10000.00 Gold true
	// 15000.00 Platinum true
	// Платиновый клиент: персональный консультант
}

func TestExampleParses(t *testing.T) {
	rs, warns, err := rulesfile.Check(discount.Example)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("example.toml has warnings: %v", warns)
	}
	if rs.Currency.Code != "RUB" || len(rs.Rules) != 4 {
		t.Errorf("example.toml: currency %s, %d rules; want RUB and 4", rs.Currency.Code, len(rs.Rules))
	}
}

// BenchmarkApply prices a 30-line basket for a Gold card with the example rules.
func BenchmarkApply(b *testing.B) {
	rs, err := rulesfile.Parse(discount.Example)
	if err != nil {
		b.Fatal(err)
	}
	cats := []string{"grocery", "dairy", "bakery", "tobacco", "household"}
	var basket pos.Basket
	for i := range 30 {
		basket.Lines = append(basket.Lines, pos.Line{
			SKU:       fmt.Sprintf("46%011d", i*7919),
			Category:  cats[i%len(cats)],
			Qty:       int64(1 + i%3),
			UnitPrice: money.Amount(49_90 + i*37_13),
		})
	}
	acct := &pos.Account{Card: "2000000000008", LifetimeSpend: 12000_00}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := discount.Apply(rs, basket, acct, now); err != nil {
			b.Fatal(err)
		}
	}
}

// The starter ruleset parses without warnings in any currency, has no rules,
// and is version 1, below every ruleset a chain publishes after it.
func TestStarterParses(t *testing.T) {
	for _, code := range []string{"RUB", "EUR", "JPY", "KWD"} {
		cur, err := money.ParseCurrency(code)
		if err != nil {
			t.Fatal(err)
		}
		rs, warns, err := rulesfile.Check(discount.Starter(cur))
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if len(warns) != 0 {
			t.Errorf("%s: warnings: %v", code, warns)
		}
		if rs.Currency != cur || rs.Version != 1 || len(rs.Rules) != 0 {
			t.Errorf("%s: currency %v, version %d, %d rules; want %v, 1, none", code, rs.Currency, rs.Version, len(rs.Rules), cur)
		}
	}
}
