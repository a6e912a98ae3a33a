package discount

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func redeemRule(value money.Amount, share money.BP, minBalance int64) Rule {
	return Rule{ID: "pay", Kind: KindRedeem, PointValue: value, MaxShare: share, MinBalance: minBalance}
}

func holder(points int64) *pos.Account {
	return &pos.Account{Card: "2000000000008", Points: points}
}

func asking(b pos.Basket, points int64) pos.Basket { b.RedeemPoints = points; return b }

func TestMultipliers(t *testing.T) {
	r := points("bonus", 1, 100_00, "tobacco")
	r.Multipliers = []Multiplier{{Category: "coffee", Times: 200}, {SKU: "tea1", Times: 150}, {Category: "tea", Times: 300}}
	b := basket(line("arabica", "coffee", 1, 300_00), line("tea1", "tea", 1, 200_00), line("milk", "dairy", 1, 100_00), line("cigs", "tobacco", 1, 500_00))
	q := explainQuote(t, ruleset(r), b, acct(0), t0)
	// 300 × 2 + 200 × 1.5 (the SKU wins over its category's ×3) + 100 = 1 000 → 10 points.
	if q.PointsEarned != 10 {
		t.Fatalf("points %d, want 10", q.PointsEarned)
	}
	if got := []int64{q.Lines[0].Points, q.Lines[1].Points, q.Lines[2].Points, q.Lines[3].Points}; !reflect.DeepEqual(got, []int64{6, 3, 1, 0}) {
		t.Errorf("points per line %v, want [6 3 1 0]", got)
	}
	if want := "1 балл за каждые 100,00 ₽ (×2 coffee, ×1,5 tea1)"; q.Applied[0].Reason != want {
		t.Errorf("reason %q, want %q", q.Applied[0].Reason, want)
	}
}

func TestRedemption(t *testing.T) {
	b := basket(line("tea", "grocery", 1, 600_00), line("coffee", "grocery", 1, 400_00))
	earn := points("bonus", 1, 100_00)
	tests := []struct {
		name     string
		rules    []Rule
		basket   pos.Basket
		acct     *pos.Account
		redeemed int64
		value    money.Amount
		earned   int64
		reason   string // of the redemption, or the dropped code
	}{
		{"as asked", []Rule{redeemRule(1_00, 5000, 100), earn}, asking(b, 300), holder(800), 300, 300_00, 7,
			"Оплата баллами: 300 баллов = 300,00 ₽"},
		{"at most half the basket", []Rule{redeemRule(1_00, 5000, 100), earn}, asking(b, 700), holder(800), 500, 500_00, 5,
			"Оплата баллами: 500 баллов = 500,00 ₽ (не больше 50 % покупки)"},
		{"at most the balance", []Rule{redeemRule(1_00, 0, 0), earn}, asking(b, 700), holder(250), 250, 250_00, 7,
			"Оплата баллами: 250 баллов = 250,00 ₽ (весь доступный остаток)"},
		{"at most the basket", []Rule{redeemRule(1_00, 0, 0)}, asking(b, 5000), holder(5000), 1000, 1000_00, 0,
			"Оплата баллами: 1000 баллов = 1 000,00 ₽ (не больше суммы покупки)"},
		{"a point worth 10 kopecks, whole points only", []Rule{redeemRule(10, 5000, 0)}, asking(basket(line("a", "x", 1, 100_05)), 1000), holder(1000), 500, 50_00, 0,
			"Оплата баллами: 500 баллов = 50,00 ₽ (не больше 50 % покупки)"},
		{"below the minimum balance", []Rule{redeemRule(1_00, 5000, 100)}, asking(b, 50), holder(99), 0, 0, 0, "balance"},
		{"not asked", []Rule{redeemRule(1_00, 5000, 100)}, b, holder(800), 0, 0, 0, "no_request"},
		{"no card", []Rule{redeemRule(1_00, 5000, 100)}, asking(b, 300), nil, 0, 0, 0, "no_card"},
		{"excluded lines are not paid with points", []Rule{func() Rule { r := redeemRule(1_00, 0, 0); r.ExcludeCategories = []string{"tobacco"}; return r }()},
			asking(basket(line("cigs", "tobacco", 1, 300_00), line("tea", "x", 1, 100_00)), 1000), holder(1000), 100, 100_00, 0,
			"Оплата баллами: 100 баллов = 100,00 ₽ (не больше суммы покупки)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, ruleset(tt.rules...), tt.basket, tt.acct, t0)
			if q.PointsRedeemed != tt.redeemed || q.PointsValue != tt.value || q.PointsEarned != tt.earned {
				t.Errorf("redeemed %d (%d), earned %d; want %d (%d), %d", q.PointsRedeemed, q.PointsValue, q.PointsEarned, tt.redeemed, tt.value, tt.earned)
			}
			got := ""
			if tt.redeemed > 0 {
				got = q.Applied[0].Reason
			} else if len(q.Dropped) > 0 {
				got = q.Dropped[0].Code
			}
			if got != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestLots(t *testing.T) {
	day := func(s string) time.Time { return at(s + "T00:00:00Z") }
	a := &pos.Account{Card: "2000000000008", Points: 600, Lots: []pos.PointsLot{
		{Points: 100, Earned: day("2024-01-10"), Expires: day("2025-01-10")}, // expired at t0
		{Points: 200, Earned: day("2024-06-01"), Expires: day("2026-06-01")},
		{Points: 300, Earned: day("2024-03-01")}, // never expires
		{Points: 50, Earned: day("2024-06-01"), Expires: day("2025-12-01")},
	}}
	rs := ruleset(redeemRule(1_00, 0, 0))
	b := basket(line("tea", "x", 1, 10000_00))
	tests := []struct {
		ask  int64
		lots []pos.LotUse
	}{
		{250, []pos.LotUse{{Lot: 2, Earned: day("2024-03-01"), Points: 250}}},
		{400, []pos.LotUse{
			{Lot: 2, Earned: day("2024-03-01"), Points: 300},
			// Same day earned: the one that expires sooner first.
			{Lot: 3, Earned: day("2024-06-01"), Expires: day("2025-12-01"), Points: 50},
			{Lot: 1, Earned: day("2024-06-01"), Expires: day("2026-06-01"), Points: 50},
		}},
		{10000, []pos.LotUse{ // the expired lot is never used: 550 usable
			{Lot: 2, Earned: day("2024-03-01"), Points: 300},
			{Lot: 3, Earned: day("2024-06-01"), Expires: day("2025-12-01"), Points: 50},
			{Lot: 1, Earned: day("2024-06-01"), Expires: day("2026-06-01"), Points: 200},
		}},
	}
	for _, tt := range tests {
		q := explainQuote(t, rs, asking(b, tt.ask), a, t0)
		if !reflect.DeepEqual(q.Lots, tt.lots) {
			t.Errorf("ask %d: lots\n%+v\nwant\n%+v", tt.ask, q.Lots, tt.lots)
		}
	}
	// A balance below the lots (an overdraft being recovered) bounds redemption.
	low := *a
	low.Points = 120
	if q := explainQuote(t, rs, asking(b, 1000), &low, t0); q.PointsRedeemed != 120 {
		t.Errorf("balance 120: redeemed %d", q.PointsRedeemed)
	}
}

func TestCatalog(t *testing.T) {
	cat := Rule{ID: "catalog", Kind: KindCatalog, Items: []CatalogItem{{SKU: "mug", Points: 500, Name: "Кружка"}}}
	b := basket(line("mug", "gifts", 2, 299_00), line("tea", "x", 1, 400_00))
	tests := []struct {
		name    string
		rules   []Rule
		ask     int64
		balance int64
		totals  []money.Amount
		applied []string
	}{
		{"one mug for 500 points", []Rule{cat}, 600, 1000, []money.Amount{299_00, 400_00}, []string{"catalog 299.00 -500pt"}},
		{"two mugs", []Rule{cat}, 1000, 1000, []money.Amount{0, 400_00}, []string{"catalog 598.00 -1000pt"}},
		{"not enough for a mug", []Rule{cat}, 499, 1000, []money.Amount{598_00, 400_00}, nil},
		{"the rest pays the basket", []Rule{cat, redeemRule(1_00, 0, 0)}, 600, 1000, []money.Amount{256_22, 342_78},
			[]string{"catalog 299.00 -500pt", "pay 100.00 -100pt"}},
		{"the balance bounds both", []Rule{cat, redeemRule(1_00, 0, 0)}, 2000, 700, []money.Amount{213_45, 285_55},
			[]string{"catalog 299.00 -500pt", "pay 200.00 -200pt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, ruleset(tt.rules...), asking(b, tt.ask), holder(tt.balance), t0)
			if got := lineTotals(q); !reflect.DeepEqual(got, tt.totals) {
				t.Errorf("totals %v, want %v", got, tt.totals)
			}
			if got := summarize(q).applied; !reflect.DeepEqual(got, tt.applied) {
				t.Errorf("applied %q, want %q", got, tt.applied)
			}
		})
	}
	q := explainQuote(t, ruleset(cat), asking(b, 600), holder(1000), t0)
	if want := "Каталог бонусов: Кружка × 1 за 500 баллов"; q.Applied[0].Reason != want {
		t.Errorf("reason %q, want %q", q.Applied[0].Reason, want)
	}
}

func TestOfflineLimit(t *testing.T) {
	rs := ruleset(redeemRule(1_00, 0, 0))
	rs.Limits.OfflinePointsPerDay = 500
	b := asking(basket(line("tea", "x", 1, 1000_00)), 300)
	tests := []struct {
		name    string
		offline bool
		today   int64
		want    int64
		explain string
	}{
		{"online: no limit", false, 900, 300, "Оплата баллами: 300 баллов = 300,00 ₽"},
		{"offline, room left", true, 100, 300, "Оплата баллами: 300 баллов = 300,00 ₽"},
		{"offline, capped", true, 400, 100, "Оплата баллами: 100 баллов = 100,00 ₽ (не больше 500 баллов в день без связи с сервером)"},
		{"offline, used up", true, 500, 0, "offline_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := holder(1000)
			a.Offline, a.OfflineRedeemedToday = tt.offline, tt.today
			q := explainQuote(t, rs, b, a, t0)
			got := ""
			if len(q.Applied) > 0 {
				got = q.Applied[0].Reason
			} else if len(q.Dropped) > 0 {
				got = q.Dropped[0].Code
			}
			if q.PointsRedeemed != tt.want || got != tt.explain {
				t.Errorf("redeemed %d %q, want %d %q", q.PointsRedeemed, got, tt.want, tt.explain)
			}
		})
	}
}

func TestPartner(t *testing.T) {
	partner := Rule{ID: "aero", Kind: KindPartner, Partner: "aeroflot", Prefixes: []PrefixRange{{"2771", "2771"}, {"4000", "4099"}},
		Percent: 500, Points: 2, Per: 100_00}
	rs := ruleset(partner, points("bonus", 1, 100_00))
	b := basket(line("tea", "x", 1, 1000_00))
	tests := []struct {
		card    string
		applied []string
	}{
		{"2771000000001", []string{"aero 50.00", "bonus 0.00 +9pt", "aero 0.00 +18pt"}},
		{"4050123412341234", []string{"aero 50.00", "bonus 0.00 +9pt", "aero 0.00 +18pt"}},
		{"4100123412341234", []string{"bonus 0.00 +10pt"}},
		{"27", []string{"bonus 0.00 +10pt"}},
	}
	for _, tt := range tests {
		t.Run(tt.card, func(t *testing.T) {
			a := &pos.Account{Card: tt.card}
			q := explainQuote(t, rs, b, a, t0)
			if got := summarize(q).applied; !reflect.DeepEqual(got, tt.applied) {
				t.Errorf("applied %q, want %q", got, tt.applied)
			}
			partnerOf := len(tt.applied) == 3
			if partnerOf != (q.Partner == "aeroflot") || partnerOf != (q.PartnerPoints == 18) {
				t.Errorf("partner %q, %d points", q.Partner, q.PartnerPoints)
			}
			for _, ap := range q.Applied {
				if (ap.Rule == "aero") != (ap.Partner == "aeroflot") {
					t.Errorf("applied %+v: partner id", ap)
				}
			}
			if partnerOf && (q.PointsEarned != 9 || q.Applied[0].Reason != "Карта партнёра «aeroflot»: скидка 5 %") {
				t.Errorf("points %d (want 9, the partner's are apart), reason %q", q.PointsEarned, q.Applied[0].Reason)
			}
		})
	}
}

func TestPartnerOverlap(t *testing.T) {
	a := Rule{ID: "a", Kind: KindPartner, Partner: "A", Prefixes: []PrefixRange{{"4000", "4099"}}, Percent: 100}
	b := Rule{ID: "b", Kind: KindPartner, Partner: "B", Prefixes: []PrefixRange{{"40501", "40599"}}, Percent: 100}
	c := Rule{ID: "c", Kind: KindPartner, Partner: "A", Prefixes: []PrefixRange{{"4050", "4050"}}, Points: 1, Per: 100}
	err := ruleset(a, b).Validate()
	if err == nil || !strings.Contains(err.Error(), `rule "b" (#2): prefixes[1]: 40501-40599 overlaps 4000-4099 of partner "A" (rule #1)`) {
		t.Errorf("overlap of two partners: %v", err)
	}
	if err := ruleset(a, c).Validate(); err != nil {
		t.Errorf("one partner's rules may overlap: %v", err)
	}
	for _, tt := range []struct {
		a, b PrefixRange
		want bool
	}{
		{PrefixRange{"40", "41"}, PrefixRange{"4100", "4199"}, true},
		{PrefixRange{"40", "41"}, PrefixRange{"4200", "4299"}, false},
		{PrefixRange{"4000", "4099"}, PrefixRange{"39", "39"}, false},
		{PrefixRange{"4099", "4099"}, PrefixRange{"409", "410"}, true},
	} {
		if overlap(tt.a, tt.b) != tt.want || overlap(tt.b, tt.a) != tt.want {
			t.Errorf("overlap(%v, %v) != %v", tt.a, tt.b, tt.want)
		}
	}
}

func TestCharity(t *testing.T) {
	roundUp := Rule{ID: "kids", Kind: KindCharity, Cause: "Детский фонд", RoundTo: 10_00}
	share := Rule{ID: "forest", Kind: KindCharity, Cause: "Лес", PointsShare: 1000}
	b := basket(line("tea", "x", 1, 1234_56))
	tests := []struct {
		name      string
		rules     []Rule
		donate    bool
		donations []pos.Donation
		earned    int64
		dropped   []string
	}{
		{"round up to 10", []Rule{roundUp}, true, []pos.Donation{{Rule: "kids", Cause: "Детский фонд", Amount: 5_44}}, 0, nil},
		{"without consent", []Rule{roundUp}, false, nil, 0, []string{"kids opt_in"}},
		{"always", []Rule{func() Rule { r := roundUp; r.Always = true; return r }()}, false, []pos.Donation{{Rule: "kids", Cause: "Детский фонд", Amount: 5_44}}, 0, nil},
		{"a share of the points", []Rule{points("bonus", 2, 100_00), share}, true, []pos.Donation{{Rule: "forest", Cause: "Лес", Points: 2}}, 22, nil},
		{"a share of too few points", []Rule{points("bonus", 1, 1000_00), share}, true, nil, 1, []string{"forest nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bb := b
			bb.Donate = tt.donate
			q := explainQuote(t, ruleset(tt.rules...), bb, acct(0), t0)
			if !reflect.DeepEqual(q.Donations, tt.donations) || q.PointsEarned != tt.earned || !reflect.DeepEqual(summarize(q).dropped, tt.dropped) {
				t.Errorf("donations %+v earned %d dropped %q; want %+v %d %q", q.Donations, q.PointsEarned, summarize(q).dropped, tt.donations, tt.earned, tt.dropped)
			}
			if q.Total != 1234_56 {
				t.Errorf("a donation changed the total: %d", q.Total)
			}
		})
	}
	exact := basket(line("tea", "x", 1, 1230_00))
	exact.Donate = true
	if q := explainQuote(t, ruleset(roundUp), exact, nil, t0); len(q.Donations) != 0 {
		t.Errorf("nothing to round: %+v", q.Donations)
	}
}
