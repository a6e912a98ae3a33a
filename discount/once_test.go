package discount

import (
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// TestCatalogForNothing is FuzzApply's finding (seed testdata/fuzz/FuzzApply/
// catalog-for-nothing): the catalog took 504 points for a unit the discounts
// before it had already brought to nothing. A unit the customer gets free is
// never charged points again, and the explanation says why it was not taken.
func TestCatalogForNothing(t *testing.T) {
	mug := Rule{ID: "catalog", Kind: KindCatalog, Items: []CatalogItem{{SKU: "mug", Points: 500, Name: "Кружка"}}}
	free := Rule{ID: "mug-free", Kind: KindPercentOff, Percent: money.Whole, SKUs: []string{"mug"}}
	half := Rule{ID: "mug-half", Kind: KindPercentOff, Percent: 5000, SKUs: []string{"mug"}}
	kopecks := Rule{ID: "two-kopecks", Kind: KindAmountOff, Amount: 2, SKUs: []string{"sku7"}}
	seven := Rule{ID: "catalog", Kind: KindCatalog, Items: []CatalogItem{{SKU: "sku7", Points: 504}}}

	t.Run("free by a promotion: no points, dropped as free", func(t *testing.T) {
		q := explainQuote(t, ruleset(free, mug), asking(basket(line("mug", "gifts", 1, 299_00)), 1000), holder(1000), t0)
		if q.PointsRedeemed != 0 || q.Total != 0 {
			t.Fatalf("redeemed %d points, total %d; want none and 0.00: %+v", q.PointsRedeemed, q.Total, q.Applied)
		}
		d := dropped(q, "catalog")
		if d.Code != "free" || d.Reason != "баллы не списаны: Кружка × 1: уже бесплатно после скидок" {
			t.Errorf("dropped %+v", d)
		}
	})
	t.Run("half price: the half left is worth the points", func(t *testing.T) {
		q := explainQuote(t, ruleset(half, mug), asking(basket(line("mug", "gifts", 1, 299_00)), 1000), holder(1000), t0)
		if got := summarize(q).applied; strings.Join(got, ", ") != "mug-half 149.50, catalog 149.50 -500pt" {
			t.Errorf("applied %q", got)
		}
	})
	t.Run("one kopeck left of three units: one unit taken", func(t *testing.T) {
		// 3 × 0.01 with 0.02 off: 0.01 left, worth one unit; the other two are free.
		q := explainQuote(t, ruleset(kopecks, seven), asking(basket(line("sku7", "alcohol", 3, 1)), 2000), holder(5000), t0)
		a := applied(q, "catalog")
		if a.Redeemed != 504 || a.Amount != 1 || q.Total != 0 {
			t.Fatalf("catalog %+v, total %d; want 504 points for the last 0.01", a, q.Total)
		}
		if a.Reason != "Каталог бонусов: sku7 × 1 за 504 балла" || a.Note != "не взято: sku7 × 2: уже бесплатно после скидок" {
			t.Errorf("reason %q note %q", a.Reason, a.Note)
		}
	})
	t.Run("too few points asked: dropped as balance, saying how many", func(t *testing.T) {
		q := explainQuote(t, ruleset(mug), asking(basket(line("mug", "gifts", 2, 299_00)), 499), holder(1000), t0)
		d := dropped(q, "catalog")
		if d.Code != "balance" || d.Reason != "недостаточно баллов: Кружка × 2: нужно 1000 баллов, к списанию доступно 499 баллов" {
			t.Errorf("dropped %+v", d)
		}
	})
	t.Run("points for one of two", func(t *testing.T) {
		q := explainQuote(t, ruleset(mug), asking(basket(line("mug", "gifts", 2, 299_00)), 700), holder(1000), t0)
		a := applied(q, "catalog")
		if a.Redeemed != 500 || a.Note != "не взято: Кружка × 1: нужно 500 баллов, к списанию доступно 200 баллов" {
			t.Errorf("catalog %+v", a)
		}
	})
}

func applied(q pos.Quote, rule string) pos.Applied {
	for _, a := range q.Applied {
		if a.Rule == rule {
			return a
		}
	}
	return pos.Applied{}
}

func dropped(q pos.Quote, rule string) pos.Dropped {
	for _, d := range q.Dropped {
		if d.Rule == rule {
			return d
		}
	}
	return pos.Dropped{}
}

// TestBirthdayBonusOnce is issue 14's item 7: four sales in the birthday
// window, one of them for 1.00, each earned the 200-point bonus. The bonus is
// paid once per birthday; the birthday discount, a share of each purchase,
// applies to every sale in the window.
func TestBirthdayBonusOnce(t *testing.T) {
	bonus := Rule{ID: "bday-points", Kind: KindBirthday, DaysBefore: 3, DaysAfter: 3, BonusPoints: 200}
	rs := ruleset(birthdayRule(3, 3), bonus, points("bonus", 1, 100_00))
	a := born(3, 5)
	sales := []struct {
		now    string
		amount money.Amount
		bonus  bool
	}{
		{"2025-03-02T10:00:00+03:00", 1_00, true}, // three days before, for 1.00
		{"2025-03-02T10:05:00+03:00", 1000_00, false},
		{"2025-03-05T18:00:00+03:00", 500_00, false}, // on the day
		{"2025-03-08T23:59:00+03:00", 10_00, false},  // the window's last minute
	}
	for i, s := range sales {
		q := explainQuote(t, rs, basket(line("tea", "x", 1, s.amount)), a, at(s.now))
		if got := applied(q, "bday"); got.Amount != s.amount.Percent(1000, money.HalfUp) {
			t.Errorf("sale %d: birthday discount %+v, want 10 %% of %d every time", i+1, got, s.amount)
		}
		b := applied(q, "bday-points")
		if s.bonus != (b.Points == 200) || q.BirthdayBonus != b.Points {
			t.Fatalf("sale %d: bonus %+v, quote's birthday_bonus %d; want the bonus %v", i+1, b, q.BirthdayBonus, s.bonus)
		}
		if !s.bonus {
			d := dropped(q, "bday-points")
			if d.Code != "once" || d.Reason != "бонус ко дню рождения (200 баллов) уже начислен 02.03.2025: один раз за день рождения" {
				t.Errorf("sale %d: dropped %+v", i+1, d)
			}
		}
		if q.BirthdayBonus > 0 { // as the ledger's account view records it
			a.BirthdayBonus = at(s.now).UTC()
		}
	}

	// One rule with both a discount and a bonus: the discount stays, the
	// note says why no points.
	both := birthdayRule(3, 3)
	both.BonusPoints = 200
	q := explainQuote(t, ruleset(both), basket(line("tea", "x", 1, 100_00)), a, at("2025-03-06T12:00:00+03:00"))
	if got := applied(q, "bday"); got.Amount != 10_00 || got.Note != "бонус ко дню рождения (200 баллов) уже начислен 02.03.2025: один раз за день рождения" ||
		q.PointsEarned != 0 || len(q.Dropped) != 0 {
		t.Errorf("applied %+v, points %d, dropped %+v", q.Applied, q.PointsEarned, q.Dropped)
	}
	if q2, _ := Apply(ruleset(both), basket(line("tea", "x", 1, 100_00)), a, at("2025-03-06T12:00:00+03:00")); applied(q2, "bday").Note != applied(q, "bday").Note {
		t.Error("the note differs without Explain")
	}

	tests := []struct {
		name        string
		month, day  int
		last, now   string
		before, aft int
		paid        bool
	}{
		{"next year's birthday pays again", 3, 5, "2025-03-02T10:00:00+03:00", "2026-03-05T10:00:00+03:00", 3, 3, true},
		{"a bonus of last year's window, the year's end between", 1, 2, "2024-12-31T10:00:00+03:00", "2025-12-31T10:00:00+03:00", 3, 3, true},
		{"the same window across the new year", 1, 2, "2024-12-31T10:00:00+03:00", "2025-01-04T10:00:00+03:00", 3, 3, false},
		{"recorded in UTC on the previous day, the same window", 3, 5, "2025-03-01T22:30:00Z", "2025-03-08T10:00:00+03:00", 3, 3, false},
		{"29 February, a common year then a leap year", 2, 29, "2027-02-28T10:00:00+03:00", "2028-02-29T10:00:00+03:00", 0, 0, true},
		{"29 February, the same day", 2, 29, "2027-02-28T10:00:00+03:00", "2027-02-28T20:00:00+03:00", 0, 0, false},
		{"widest windows: 31 days before and after", 7, 1, "2025-05-31T10:00:00+03:00", "2025-08-01T10:00:00+03:00", 31, 31, false},
		{"a bonus HQ's clock put after now", 3, 5, "2025-03-07T10:00:00+03:00", "2025-03-05T10:00:00+03:00", 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{ID: "bday-points", Kind: KindBirthday, DaysBefore: tt.before, DaysAfter: tt.aft, BonusPoints: 200}
			a := born(tt.month, tt.day)
			a.BirthdayBonus = at(tt.last)
			q := explainQuote(t, ruleset(r), basket(line("tea", "x", 1, 100_00)), a, at(tt.now))
			if (q.BirthdayBonus == 200) != tt.paid {
				t.Errorf("bonus %d, applied %+v, dropped %+v; want paid %v", q.BirthdayBonus, q.Applied, q.Dropped, tt.paid)
			}
		})
	}
}

// The bonus of a window is judged on the till's calendar: a sale's time
// moved to another zone stays in the same window.
func TestNearestBirthday(t *testing.T) {
	for _, tt := range []struct {
		date       civil
		month, day int
		want       civil
	}{
		{civil{2025, 3, 2}, 3, 5, civil{2025, 3, 5}},
		{civil{2025, 12, 30}, 1, 2, civil{2026, 1, 2}},
		{civil{2026, 1, 30}, 1, 2, civil{2026, 1, 2}},
		{civil{2025, 3, 1}, 2, 29, civil{2025, 2, 28}},
		{civil{2028, 3, 1}, 2, 29, civil{2028, 2, 29}},
	} {
		if got := nearestBirthday(tt.date, tt.month, tt.day); got != tt.want {
			t.Errorf("nearestBirthday(%v, %d, %d) = %v, want %v", tt.date, tt.month, tt.day, got, tt.want)
		}
	}
	_ = time.UTC
}
