package discount

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

var (
	rub = money.Currency{Code: "RUB", Exponent: 2}
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func ruleset(rules ...Rule) *Ruleset {
	return &Ruleset{Schema: Schema, Version: 7, Currency: rub, Rules: rules}
}

func card(id string, p money.BP, exclude ...string) Rule {
	return Rule{ID: id, Kind: KindCardPercent, Percent: p, ExcludeCategories: exclude}
}

func tiers(id string, exclude ...string) Rule {
	return Rule{ID: id, Kind: KindTiers, ExcludeCategories: exclude, Tiers: []Tier{
		{Name: "Silver", From: 5000_00, Percent: 500, Message: "Серебряный клиент"},
		{Name: "Gold", From: 10000_00, Percent: 1000},
		{Name: "Platinum", From: 15000_00, Percent: 1500},
	}}
}

func points(id string, n int64, per money.Amount, exclude ...string) Rule {
	return Rule{ID: id, Kind: KindPoints, Points: n, Per: per, ExcludeCategories: exclude}
}

func basket(lines ...pos.Line) pos.Basket { return pos.Basket{Card: "2000000000008", Lines: lines} }

func line(sku, cat string, qty int64, price money.Amount) pos.Line {
	return pos.Line{SKU: sku, Category: cat, Qty: qty, UnitPrice: price}
}

func acct(spend money.Amount) *pos.Account {
	return &pos.Account{Card: "2000000000008", LifetimeSpend: spend}
}

// lineTotals returns Total of each line in the caller's order.
func lineTotals(q pos.Quote) []money.Amount {
	var out []money.Amount
	for _, l := range q.Lines {
		out = append(out, l.Total)
	}
	return out
}

func TestApplyTierBoundaries(t *testing.T) {
	rs := ruleset(tiers("cumulative"))
	b := basket(line("milk", "dairy", 1, 1000_00))
	tests := []struct {
		spend    money.Amount
		tier     string
		discount money.Amount
	}{
		{0, "", 0},
		{4999_99, "", 0},
		{5000_00, "Silver", 50_00},
		{9999_99, "Silver", 50_00},
		{10000_00, "Gold", 100_00},
		{14999_99, "Gold", 100_00},
		{15000_00, "Platinum", 150_00},
		{1_000_000_00, "Platinum", 150_00},
		{-100, "", 0}, // refunds can leave a negative spend
	}
	for _, tt := range tests {
		t.Run(rs.Currency.Format(tt.spend), func(t *testing.T) {
			q, err := Apply(rs, b, acct(tt.spend), t0)
			if err != nil {
				t.Fatal(err)
			}
			if q.Tier != tt.tier || q.Discount != tt.discount {
				t.Errorf("tier %q discount %d, want %q %d", q.Tier, q.Discount, tt.tier, tt.discount)
			}
			name, ok := rs.TierFor(tt.spend)
			if name != tt.tier || ok != (tt.tier != "") {
				t.Errorf("TierFor = %q, %v; want %q", name, ok, tt.tier)
			}
		})
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		rs      *Ruleset
		basket  pos.Basket
		acct    *pos.Account
		totals  []money.Amount // per line, caller's order
		applied []pos.Applied
		tier    string
	}{
		{
			name:   "card percent",
			rs:     ruleset(card("club", 300)),
			basket: basket(line("bread", "bakery", 2, 45_50), line("milk", "dairy", 1, 89_90)),
			acct:   acct(0),
			// 3 % of 180.90 = 5.427 → 5.43, split 91.00 : 89.90 → 2.73 + 2.70.
			totals:  []money.Amount{88_27, 87_20},
			applied: []pos.Applied{{Rule: "club", Kind: "card_percent", Amount: 5_43, Reason: "Скидка 3 % по клубной карте"}},
		},
		{
			name:    "card percent rounds half up once on the sum",
			rs:      ruleset(card("club", 300)),
			basket:  basket(line("a", "", 1, 10), line("b", "", 1, 40)),
			acct:    acct(0),
			totals:  []money.Amount{10, 38}, // 3 % of 0.50 = 0.015 → 0.02, all on the larger line
			applied: []pos.Applied{{Rule: "club", Kind: "card_percent", Amount: 2, Reason: "Скидка 3 % по клубной карте"}},
		},
		{
			name:    "rounding once on the sum: 30 × 0.10 at 3 % is 0.09, not 0",
			rs:      ruleset(card("club", 300)),
			basket:  basket(repeatLine(line("gum", "candy", 1, 10), 30)...),
			acct:    acct(0),
			totals:  append(repeatAmount(9, 9), repeatAmount(10, 21)...), // the first 9 in canonical order
			applied: []pos.Applied{{Rule: "club", Kind: "card_percent", Amount: 9, Reason: "Скидка 3 % по клубной карте"}},
		},
		{
			name:    "fractional percent",
			rs:      ruleset(card("club", 250)),
			basket:  basket(line("a", "", 1, 100_00)),
			acct:    acct(0),
			totals:  []money.Amount{97_50},
			applied: []pos.Applied{{Rule: "club", Kind: "card_percent", Amount: 2_50, Reason: "Скидка 2,5 % по клубной карте"}},
		},
		{
			name:    "excluded category keeps its price",
			rs:      ruleset(card("club", 1000, "tobacco", "alcohol")),
			basket:  basket(line("cigs", "tobacco", 1, 200_00), line("wine", "alcohol", 1, 700_00), line("tea", "grocery", 1, 300_00)),
			acct:    acct(0),
			totals:  []money.Amount{200_00, 700_00, 270_00},
			applied: []pos.Applied{{Rule: "club", Kind: "card_percent", Amount: 30_00, Reason: "Скидка 10 % по клубной карте"}},
		},
		{
			name:    "every line excluded: no entry",
			rs:      ruleset(card("club", 1000, "tobacco")),
			basket:  basket(line("cigs", "tobacco", 3, 200_00)),
			acct:    acct(0),
			totals:  []money.Amount{600_00},
			applied: []pos.Applied{},
		},
		{
			name:    "no card: nothing applies",
			rs:      ruleset(card("club", 300), tiers("cumulative"), points("bonus", 1, 100_00)),
			basket:  basket(line("tea", "grocery", 1, 1000_00)),
			acct:    nil,
			totals:  []money.Amount{1000_00},
			applied: []pos.Applied{},
		},
		{
			name:   "stacking: 3 % then 10 % is 12.7 %",
			rs:     ruleset(withPriority(card("club", 300), 1), withPriority(tiers("cumulative"), 2)),
			basket: basket(line("tea", "grocery", 1, 1000_00)),
			acct:   acct(12000_00),
			totals: []money.Amount{873_00},
			applied: []pos.Applied{
				{Rule: "club", Kind: "card_percent", Amount: 30_00, Reason: "Скидка 3 % по клубной карте"},
				{Rule: "cumulative", Kind: "tiers", Amount: 97_00, Reason: "Накопительная скидка 10 % (Gold): сумма покупок 12 000,00 ₽ ≥ 10 000,00 ₽"},
			},
			tier: "Gold",
		},
		{
			name:   "priority decides the order",
			rs:     ruleset(withPriority(card("club", 300), 2), withPriority(tiers("cumulative"), 1)),
			basket: basket(line("tea", "grocery", 1, 1000_00)),
			acct:   acct(12000_00),
			totals: []money.Amount{873_00},
			applied: []pos.Applied{
				{Rule: "cumulative", Kind: "tiers", Amount: 100_00, Reason: "Накопительная скидка 10 % (Gold): сумма покупок 12 000,00 ₽ ≥ 10 000,00 ₽"},
				{Rule: "club", Kind: "card_percent", Amount: 27_00, Reason: "Скидка 3 % по клубной карте"},
			},
			tier: "Gold",
		},
		{
			name:   "equal priority: by id",
			rs:     ruleset(card("b-second", 5000), card("a-first", 1000)),
			basket: basket(line("tea", "grocery", 1, 100_00)),
			acct:   acct(0),
			totals: []money.Amount{45_00},
			applied: []pos.Applied{
				{Rule: "a-first", Kind: "card_percent", Amount: 10_00, Reason: "Скидка 10 % по клубной карте"},
				{Rule: "b-second", Kind: "card_percent", Amount: 45_00, Reason: "Скидка 50 % по клубной карте"},
			},
		},
		{
			name:   "100 % leaves zero, never negative, and a later rule adds nothing",
			rs:     ruleset(withPriority(card("free", 10000), 1), withPriority(card("more", 5000), 2)),
			basket: basket(line("tea", "grocery", 3, 33_33)),
			acct:   acct(0),
			totals: []money.Amount{0},
			applied: []pos.Applied{
				{Rule: "free", Kind: "card_percent", Amount: 99_99, Reason: "Скидка 100 % по клубной карте"},
			},
		},
		{
			name:   "points on the amount paid after discounts, rounded down",
			rs:     ruleset(card("club", 300), points("bonus", 1, 100_00)),
			basket: basket(line("tea", "grocery", 1, 1000_00)),
			acct:   acct(0),
			totals: []money.Amount{970_00}, // 9.70 hundreds paid → 9 points
			applied: []pos.Applied{
				{Rule: "club", Kind: "card_percent", Amount: 30_00, Reason: "Скидка 3 % по клубной карте"},
				{Rule: "bonus", Kind: "points", Points: 9, Reason: "1 балл за каждые 100,00 ₽"},
			},
		},
		{
			name:   "points run after discounts whatever their priority",
			rs:     ruleset(withPriority(points("bonus", 2, 100_00), -5), withPriority(card("club", 300), 10)),
			basket: basket(line("tea", "grocery", 1, 1000_00)),
			acct:   acct(0),
			totals: []money.Amount{970_00},
			applied: []pos.Applied{
				{Rule: "club", Kind: "card_percent", Amount: 30_00, Reason: "Скидка 3 % по клубной карте"},
				{Rule: "bonus", Kind: "points", Points: 18, Reason: "2 балла за каждые 100,00 ₽"},
			},
		},
		{
			name:    "points exclude categories",
			rs:      ruleset(points("bonus", 5, 10_00, "tobacco")),
			basket:  basket(line("cigs", "tobacco", 1, 500_00), line("tea", "grocery", 1, 19_99)),
			acct:    acct(0),
			totals:  []money.Amount{500_00, 19_99},
			applied: []pos.Applied{{Rule: "bonus", Kind: "points", Points: 5, Reason: "5 баллов за каждые 10,00 ₽"}},
		},
		{
			name:    "less than one unit of points: no entry",
			rs:      ruleset(points("bonus", 1, 100_00)),
			basket:  basket(line("tea", "grocery", 1, 99_99)),
			acct:    acct(0),
			totals:  []money.Amount{99_99},
			applied: []pos.Applied{},
		},
		{
			name:    "free lines take no share",
			rs:      ruleset(card("club", 1000)),
			basket:  basket(line("gift", "promo", 1, 0), line("tea", "grocery", 1, 10_00)),
			acct:    acct(0),
			totals:  []money.Amount{0, 9_00},
			applied: []pos.Applied{{Rule: "club", Kind: "card_percent", Amount: 1_00, Reason: "Скидка 10 % по клубной карте"}},
		},
		{
			name:    "tier reached but everything excluded: tier shown, no discount",
			rs:      ruleset(tiers("cumulative", "tobacco")),
			basket:  basket(line("cigs", "tobacco", 1, 200_00)),
			acct:    acct(5000_00),
			totals:  []money.Amount{200_00},
			applied: []pos.Applied{},
			tier:    "Silver",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := Apply(tt.rs, tt.basket, tt.acct, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got := lineTotals(q); !reflect.DeepEqual(got, tt.totals) {
				t.Errorf("line totals %v, want %v", got, tt.totals)
			}
			if !reflect.DeepEqual(q.Applied, tt.applied) {
				t.Errorf("applied:\n got %+v\nwant %+v", q.Applied, tt.applied)
			}
			if q.Tier != tt.tier {
				t.Errorf("tier %q, want %q", q.Tier, tt.tier)
			}
			checkQuote(t, tt.basket, q)
			if q.Currency != "RUB" || q.RulesetVersion != 7 {
				t.Errorf("currency %q version %d, want RUB 7", q.Currency, q.RulesetVersion)
			}
		})
	}
}

func withPriority(r Rule, p int) Rule { r.Priority = p; return r }

func repeatLine(l pos.Line, n int) []pos.Line {
	out := make([]pos.Line, n)
	for i := range out {
		out[i] = l
	}
	return out
}

func repeatAmount(a money.Amount, n int) []money.Amount {
	out := make([]money.Amount, n)
	for i := range out {
		out[i] = a
	}
	return out
}

// checkQuote fails t for every invariant q breaks.
func checkQuote(t *testing.T, b pos.Basket, q pos.Quote) {
	t.Helper()
	for _, p := range quoteProblems(b, q) {
		t.Error(p)
	}
}

// quoteProblems lists the invariants q breaks as a quote for b.
func quoteProblems(b pos.Basket, q pos.Quote) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(q.Lines) != len(b.Lines) {
		bad("%d priced lines for %d lines", len(q.Lines), len(b.Lines))
		return out
	}
	var sum, sub, disc money.Amount
	var linePts, lineRedeemed, linePartner int64
	for i, l := range q.Lines {
		if l.Line != b.Lines[i] {
			bad("line %d is %+v, want %+v (caller's order)", i, l.Line, b.Lines[i])
		}
		if l.Amount != l.UnitPrice*money.Amount(l.Qty) || l.Amount-l.Discount != l.Total {
			bad("line %d: amount %d discount %d total %d do not add up", i, l.Amount, l.Discount, l.Total)
		}
		if l.Discount < 0 || l.Total < 0 {
			bad("line %d: negative discount %d or total %d", i, l.Discount, l.Total)
		}
		if l.Points < 0 || l.Redeemed < 0 || l.PartnerPoints < 0 {
			bad("line %d: negative points %+v", i, l)
		}
		if l.Redeemed > 0 && l.Discount == 0 {
			bad("line %d: %d points paid for a line they took nothing off: %+v", i, l.Redeemed, l)
		}
		sum += l.Total
		sub += l.Amount
		disc += l.Discount
		linePts += l.Points
		lineRedeemed += l.Redeemed
		linePartner += l.PartnerPoints
	}
	var applied money.Amount
	var pts, partnerPts, redeemed int64
	for _, a := range q.Applied {
		if a.Amount < 0 || a.Points < 0 || a.Redeemed < 0 || a.Capped < 0 || a.Amount == 0 && a.Points == 0 {
			bad("applied %+v: want a positive amount or points", a)
		}
		if a.Reason == "" {
			bad("applied %+v has no reason", a)
		}
		if a.Redeemed > 0 && a.Amount == 0 {
			bad("applied %+v takes %d points for nothing", a, a.Redeemed)
		}
		applied += a.Amount
		redeemed += a.Redeemed
		if a.Partner != "" && a.Points > 0 {
			partnerPts += a.Points
		} else {
			pts += a.Points
		}
	}
	var donated int64
	for _, d := range q.Donations {
		if d.Amount < 0 || d.Points < 0 || d.Amount == 0 && d.Points == 0 || d.Cause == "" {
			bad("donation %+v", d)
		}
		donated += d.Points
	}
	if sum != q.Total || sub != q.Subtotal || disc != q.Discount || q.Subtotal-q.Discount != q.Total {
		bad("sum(lines.Total) %d Total %d, sum(lines.Amount) %d Subtotal %d, sum(lines.Discount) %d Discount %d",
			sum, q.Total, sub, q.Subtotal, disc, q.Discount)
	}
	if applied != q.Discount || pts-donated != q.PointsEarned || partnerPts != q.PartnerPoints || redeemed != q.PointsRedeemed {
		bad("applied add up to %d, %d points (%d donated), %d partner points, %d redeemed; quote says %d, %d, %d, %d",
			applied, pts, donated, partnerPts, redeemed, q.Discount, q.PointsEarned, q.PartnerPoints, q.PointsRedeemed)
	}
	if linePts != q.PointsEarned || lineRedeemed != q.PointsRedeemed || linePartner != q.PartnerPoints {
		bad("lines carry %d points, %d redeemed, %d partner points; quote says %d, %d, %d",
			linePts, lineRedeemed, linePartner, q.PointsEarned, q.PointsRedeemed, q.PartnerPoints)
	}
	if q.PointsValue < 0 || q.PointsValue > q.Discount || (q.PointsRedeemed == 0) != (q.PointsValue == 0) {
		bad("points value %d for %d points, discount %d", q.PointsValue, q.PointsRedeemed, q.Discount)
	}
	if len(q.Lots) > 0 {
		var fromLots int64
		for _, l := range q.Lots {
			fromLots += l.Points
		}
		if fromLots != q.PointsRedeemed {
			bad("lots give %d points, %d redeemed", fromLots, q.PointsRedeemed)
		}
	}
	if q.Applied == nil {
		bad("Applied is nil; want an empty list so JSON shows []")
	}
	return out
}

func TestApplyAllocationIgnoresLineOrder(t *testing.T) {
	// 50 % of 1.00 = 0.50 split 33:33:34 gives 16.5, 16.5, 17: one of the two
	// equal lines gets the odd kopeck, and it must be the same one (the first
	// in canonical order, SKU "a") however the lines were rung up.
	rs := ruleset(card("half", 5000))
	orders := [][]pos.Line{
		{line("a", "x", 1, 33), line("b", "x", 1, 33), line("c", "x", 1, 34)},
		{line("c", "x", 1, 34), line("b", "x", 1, 33), line("a", "x", 1, 33)},
		{line("b", "x", 1, 33), line("c", "x", 1, 34), line("a", "x", 1, 33)},
	}
	for _, lines := range orders {
		q, err := Apply(rs, basket(lines...), acct(0), t0)
		if err != nil {
			t.Fatal(err)
		}
		checkQuote(t, basket(lines...), q)
		for _, l := range q.Lines {
			want := map[string]money.Amount{"a": 17, "b": 16, "c": 17}[l.SKU]
			if l.Discount != want {
				t.Errorf("order %v: line %s discount %d, want %d", skus(lines), l.SKU, l.Discount, want)
			}
		}
	}
}

func skus(lines []pos.Line) []string {
	var s []string
	for _, l := range lines {
		s = append(s, l.SKU)
	}
	return s
}

func TestApplyErrors(t *testing.T) {
	good := ruleset(card("club", 300))
	// The largest valid basket: MaxLines lines of MaxLineAmount, 10^15 in all.
	maxLine := line("gold bar", "", int64(pos.MaxLineAmount/pos.MaxUnitPrice), pos.MaxUnitPrice)
	var biggest []pos.Line
	for range pos.MaxLines {
		biggest = append(biggest, maxLine)
	}
	tests := []struct {
		name   string
		rs     *Ruleset
		basket pos.Basket
		check  func(error) bool
	}{
		{"empty basket", good, pos.Basket{}, func(err error) bool { var ie *pos.InputError; return errors.As(err, &ie) }},
		{"bad qty", good, basket(line("a", "", 0, 1)), func(err error) bool { var ie *pos.InputError; return errors.As(err, &ie) && ie.Field == "lines[1].qty" }},
		{"line too large", good, basket(line("a", "", pos.MaxQty, pos.MaxUnitPrice)), func(err error) bool {
			var ie *pos.InputError
			return errors.As(err, &ie) && ie.Field == "lines[1].qty"
		}},
		{"points overflow", ruleset(points("bonus", maxPoints, 1)), basket(biggest...), func(err error) bool { return errors.Is(err, money.ErrOverflow) }},
		{"nil ruleset", nil, basket(line("a", "", 1, 1)), func(err error) bool { return errors.Is(err, ErrInvalidRuleset) }},
		{"invalid ruleset", ruleset(card("club", 20000)), basket(line("a", "", 1, 1)), func(err error) bool {
			var ve *ValidationError
			return errors.As(err, &ve) && ve.Problems[0].Field == "percent"
		}},
		{"not yet effective", &Ruleset{Schema: Schema, Version: 7, Currency: rub, Effective: Moment{At: t0.Add(time.Second)}},
			basket(line("a", "", 1, 1)), func(err error) bool { return errors.Is(err, ErrNotEffective) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(tt.rs, tt.basket, acct(0), t0)
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("largest basket", func(t *testing.T) {
		q, err := Apply(ruleset(card("club", 10000), points("bonus", 1, 1)), basket(biggest...), acct(0), t0)
		if err != nil {
			t.Fatal(err)
		}
		checkQuote(t, basket(biggest...), q)
		if q.Total != 0 || q.Subtotal != pos.MaxLines*pos.MaxLineAmount {
			t.Errorf("subtotal %d total %d after 100 %%, want %d and 0", q.Subtotal, q.Total, pos.MaxLines*pos.MaxLineAmount)
		}
	})
	t.Run("effective at its moment", func(t *testing.T) {
		rs := &Ruleset{Schema: Schema, Version: 7, Currency: rub, Effective: Moment{At: t0}}
		if _, err := Apply(rs, basket(line("a", "", 1, 1)), nil, t0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReasons(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatMoney(rub, 0), "0,00 ₽"},
		{formatMoney(rub, 5), "0,05 ₽"},
		{formatMoney(rub, 999_99), "999,99 ₽"},
		{formatMoney(rub, 1000_00), "1 000,00 ₽"},
		{formatMoney(rub, 12345678_90), "12 345 678,90 ₽"},
		{formatMoney(rub, -1500_00), "-1 500,00 ₽"},
		{formatMoney(money.Currency{Code: "JPY"}, 1234567), "1 234 567 JPY"},
		{formatMoney(money.Currency{Code: "KWD", Exponent: 3}, 1234), "1,234 KWD"},
		{formatPercent(300), "3 %"},
		{formatPercent(250), "2,5 %"},
		{formatPercent(1), "0,01 %"},
		{formatPercent(10000), "100 %"},
		{pointsReason(rub, &Rule{Points: 1, Per: 100_00}), "1 балл за каждые 100,00 ₽"},
		{pointsReason(rub, &Rule{Points: 3, Per: 50_00}), "3 балла за каждые 50,00 ₽"},
		{pointsReason(rub, &Rule{Points: 11, Per: 1000_00}), "11 баллов за каждые 1 000,00 ₽"},
		{pointsReason(rub, &Rule{Points: 21, Per: 1}), "21 балл за каждые 0,01 ₽"},
		{pointsReason(rub, &Rule{Points: 112, Per: 1}), "112 баллов за каждые 0,01 ₽"},
		{pointsReason(rub, &Rule{Points: 104, Per: 1}), "104 балла за каждые 0,01 ₽"},
		{string(appendTierReason(nil, rub, Tier{Name: "Gold", From: 10000_00, Percent: 1000}, 12000_00)), "Накопительная скидка 10 % (Gold): сумма покупок 12 000,00 ₽ ≥ 10 000,00 ₽"},
		{string(appendTierReason([]byte("1.5."), rub, Tier{Name: "S", From: 5000_00, Percent: 250}, 5000_00)), "1.5.Накопительная скидка 2,5 % (S): сумма покупок 5 000,00 ₽ ≥ 5 000,00 ₽"},
		{string(appendTimes([]byte("2.0 "), 150)), "2.0 ×1,5"},
		{string(appendTimes(nil, 200)), "×2"},
		{string(appendRedeemReason([]byte("."), rub, &Rule{}, 300, 300_00, "весь доступный остаток")), ".Оплата баллами: 300 баллов = 300,00 ₽ (весь доступный остаток)"},
		{string(appendRedeemReason(nil, rub, &Rule{Name: "Баллы"}, 1, 1_50, "")), "Баллы: 1 балл = 1,50 ₽"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestApplyConcurrent: one ruleset shared by concurrent tills gives each the
// same quote (run with -race to check that Apply only reads it).
func TestApplyConcurrent(t *testing.T) {
	rs := ruleset(card("club", 300, "tobacco"), tiers("cumulative"), points("bonus", 1, 100_00))
	b := basket(line("tea", "grocery", 2, 349_90), line("cigs", "tobacco", 1, 250_00), line("milk", "dairy", 3, 89_90))
	want, err := Apply(rs, b, acct(12000_00), t0)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 200 {
				q, err := Apply(rs, b, acct(12000_00), t0)
				if err == nil && !reflect.DeepEqual(q, want) {
					err = fmt.Errorf("got %+v, want %+v", q, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestAllocatorMatchesMoney: the engine's allocator gives exactly what
// money.Allocate gives, so quotes are what the documentation promises.
func TestAllocatorMatchesMoney(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var a allocator
	for i := range 20000 {
		n := 1 + r.IntN(40)
		w := make([]money.Amount, n)
		var sum money.Amount
		for j := range w {
			switch r.IntN(4) {
			case 0:
			case 1:
				w[j] = money.Amount(1 + r.IntN(3))
			default:
				w[j] = money.Amount(r.Int64N(int64(pos.MaxLineAmount)))
			}
			sum += w[j]
		}
		var total money.Amount
		if sum > 0 {
			switch r.IntN(3) {
			case 0:
				total = money.Amount(r.Int64N(int64(sum) + 1))
			case 1:
				total = money.Amount(r.IntN(100))
			default:
				total = sum + money.Amount(r.IntN(1000)) // more than the weights: points
			}
		}
		want, err := money.Allocate(total, w)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]money.Amount, n)
		a.into(got, total, w)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: %d over %v: got %v, want %v", i, total, w, got, want)
		}
	}
}
