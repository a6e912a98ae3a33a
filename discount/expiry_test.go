package discount

import (
	"strings"
	"testing"
	"time"
)

func TestPointsExpire(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, msk) }
	tests := []struct {
		months int64
		period string
		sold   time.Time
		want   time.Time
	}{
		{0, "", at(2026, 3, 10, 12), time.Time{}},
		{6, "", at(2026, 1, 15, 14), at(2026, 7, 15, 0)},
		{1, "", at(2026, 1, 31, 9), at(2026, 2, 28, 0)},   // February has no 31st
		{12, "", at(2024, 2, 29, 9), at(2025, 2, 28, 0)},  // nor 29th in 2025
		{3, "", at(2026, 11, 30, 23), at(2027, 2, 28, 0)}, // over the year's end
		{0, "year", at(2026, 3, 10, 12), at(2027, 1, 1, 0)},
		{12, "year", at(2026, 3, 10, 12), at(2028, 1, 1, 0)},
		{0, "quarter", at(2026, 5, 31, 23), at(2026, 7, 1, 0)},
		{1, "quarter", at(2026, 12, 5, 1), at(2027, 4, 1, 0)},
		{0, "month", at(2026, 12, 31, 23), at(2027, 1, 1, 0)},
		// Late at night on the till's clock is still that day, whatever UTC says.
		{6, "", time.Date(2026, 1, 14, 22, 30, 0, 0, time.UTC), at(2026, 7, 15, 0).Add(0)},
	}
	for _, tt := range tests {
		r := Rule{ExpireMonths: tt.months, ExpirePeriod: tt.period}
		sold := tt.sold
		if sold.Location() == time.UTC {
			sold = sold.In(msk) // 01:30 on the 15th in Moscow
		}
		if got := r.PointsExpire(sold); !got.Equal(tt.want) {
			t.Errorf("%d months, period %q, sold %s: expire %s, want %s", tt.months, tt.period, sold, got, tt.want)
		}
	}
}

func TestQuotePointsExpire(t *testing.T) {
	r := points("bonus", 1, 100_00)
	r.ExpireMonths = 6
	rs := ruleset(r)
	sold := time.Date(2026, 1, 15, 14, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	q := explainQuote(t, rs, basket(line("arabica", "coffee", 1, 300_00)), acct(0), sold)
	if q.PointsEarned != 3 || !q.PointsExpire.Equal(time.Date(2026, 7, 15, 0, 0, 0, 0, sold.Location())) {
		t.Errorf("earned %d expiring %s, want 3 expiring 2026-07-15 00:00 MSK", q.PointsEarned, q.PointsExpire)
	}
	// Nothing earned: nothing expires.
	q = explainQuote(t, rs, basket(line("arabica", "coffee", 1, 50_00)), acct(0), sold)
	if q.PointsEarned != 0 || !q.PointsExpire.IsZero() {
		t.Errorf("earned %d expiring %s, want none", q.PointsEarned, q.PointsExpire)
	}
}

func TestCheckExpiry(t *testing.T) {
	a, b := points("a", 1, 100_00), points("b", 2, 100_00)
	a.ExpireMonths, b.ExpireMonths = 6, 12
	bad := points("c", 1, 100_00)
	bad.ExpireMonths, bad.ExpirePeriod = -1, "week"
	for _, tt := range []struct {
		rules []Rule
		want  []string
	}{
		{[]Rule{a, b}, []string{`rule "b"`, "expire_months", "otherwise than by rule #1 (expire_months = 6)"}},
		{[]Rule{bad}, []string{"expire_months: must be between 0 and 1200, got -1", `expire_period: unknown period "week"`}},
	} {
		err := ruleset(tt.rules...).Validate()
		if err == nil {
			t.Errorf("%+v: valid", tt.rules)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	b.ExpireMonths = 6
	if err := ruleset(a, b).Validate(); err != nil {
		t.Errorf("rules that agree: %v", err)
	}
}
