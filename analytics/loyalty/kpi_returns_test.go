package loyalty

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// returnsBook is the example of docs/analytics.md, "Returns, expiry and NPS
// in the KPIs": two cards whose points expire, a refund, NPS answers, and
// three stores in two regions, on tills in Moscow (UTC+3).
func returnsBook() *Book {
	msk := time.FixedZone("MSK", 3*3600)
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, msk) }
	nov1 := time.Date(2026, 11, 1, 0, 0, 0, 0, msk)
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, msk)
	sale := func(card, store, region string, when time.Time, total money.Amount, earned, redeemed int64, expires time.Time, uses ...pos.LotUse) Sale {
		return Sale{Card: card, Store: store, Region: region, Terminal: store + "-1", Day: DayOf(when, 3*3600), Currency: "RUB",
			Total: total, Earned: earned, Redeemed: redeemed, At: when, Expires: expires, Lots: uses}
	}
	b := NewBook()
	b.Add(sale("X", "S1", "north", at(10, 5), 1000_00, 100, 0, nov1))
	b.Add(sale("Y", "S1", "north", at(10, 3), 200_00, 20, 0, nov1))
	b.Add(sale("X", "S2", "south", at(10, 10), 500_00, 50, 0, time.Time{}))
	b.AddRefund(Refund{Card: "X", Store: "S2", Terminal: "S2-1", Day: DayOf(at(10, 20), 3*3600), Currency: "RUB",
		Back: 200_00, Spend: 200_00, Reversed: 20, SaleAt: at(10, 10), At: at(10, 20)})
	b.Add(sale("Y", "S3", "north", at(10, 25), 100_00, 0, 10, time.Time{}, pos.LotUse{Lot: 0, Earned: at(10, 3), Expires: nov1, Points: 10}))
	b.Add(sale("X", "S1", "north", at(11, 15), 300_00, 30, 0, dec1))
	for _, a := range []Answer{{Store: "S1", Region: "north", Day: day(2026, 10, 5), Asked: true, Score: 10},
		{Store: "S1", Region: "north", Day: day(2026, 10, 6), Asked: true, Score: 9},
		{Store: "S1", Region: "north", Day: day(2026, 10, 7), Asked: true, Score: 3},
		{Store: "S2", Region: "south", Day: day(2026, 11, 20), Asked: true, Score: 8}} {
		b.AddAnswer(a)
	}
	return b
}

// TestKPIReturnsExpiryByHand checks the returns, expired points, breakage
// and NPS of the KPI report against the example worked by hand in
// docs/analytics.md, by store and by region.
func TestKPIReturnsExpiryByHand(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	rep, err := returnsBook().KPIs(KPIOptions{From: day(2026, 10, 1), To: day(2026, 12, 5), PointValue: 1_00, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Periods) != 3 {
		t.Fatalf("periods: %+v", rep.Periods)
	}
	for i, want := range []struct {
		sales                    int64
		revenue                  money.Amount
		earned, redeemed         int64
		returns                  ReturnsKPI
		expired                  int64
		breakage                 float64
		outstanding              int64
		answers, score           float64 // score NaN: no answers
		active, newMembers, reps int
	}{
		{4, 1800_00, 170, 10, ReturnsKPI{Count: 1, Amount: 200_00, Share: 0.1111, PointsReversed: 20}, 0, 0, 140, 3, 33.3, 2, 2, 2},
		{1, 300_00, 30, 0, ReturnsKPI{}, 110, 3.667, 60, 1, 0, 1, 0, 0},
		{0, 0, 0, 0, ReturnsKPI{}, 30, 0, 30, 0, math.NaN(), 0, 0, 0},
	} {
		p := rep.Periods[i]
		c := p.Chain
		if c.Sales != want.sales || c.Revenue != want.revenue || c.PointsEarned != want.earned || c.PointsRedeemed != want.redeemed ||
			*c.Returns != want.returns || *c.PointsExpired != want.expired || *c.ExpiredValue != money.Amount(want.expired)*1_00 ||
			*c.Breakage != want.breakage || p.PointsOutstanding != want.outstanding || *p.Liability != money.Amount(want.outstanding)*1_00 ||
			c.Active != want.active || c.New != want.newMembers || c.Repeat != want.reps {
			t.Errorf("%s: chain %+v returns %+v expired %d (%d) breakage %v; outstanding %d; want %+v",
				p.Start, c, *c.Returns, *c.PointsExpired, *c.ExpiredValue, *c.Breakage, p.PointsOutstanding, want)
		}
		switch {
		case math.IsNaN(want.score) && c.NPS != nil:
			t.Errorf("%s: NPS %+v; want none", p.Start, *c.NPS)
		case !math.IsNaN(want.score) && (c.NPS == nil || float64(c.NPS.Answers) != want.answers || *c.NPS.Score != want.score):
			t.Errorf("%s: NPS %+v; want %v answers, score %v", p.Start, c.NPS, want.answers, want.score)
		}
	}
	oct := rep.Periods[0]
	if len(oct.Stores) != 3 || oct.Stores[0].Store != "S1" || oct.Stores[1].Store != "S2" {
		t.Fatalf("October's stores: %+v", oct.Stores)
	}
	s1, s2 := oct.Stores[0], oct.Stores[1]
	if s1.Sales != 2 || s1.Revenue != 1200_00 || s1.Returns.Count != 0 || s1.NPS == nil || *s1.NPS.Score != 33.3 || s1.PointsExpired != nil {
		t.Errorf("October at S1: %+v", s1)
	}
	if want := (ReturnsKPI{Count: 1, Amount: 200_00, Share: 0.4, PointsReversed: 20}); s2.Sales != 1 || *s2.Returns != want || s2.NPS != nil {
		t.Errorf("October at S2: %+v, returns %+v; want %+v", s2, *s2.Returns, want)
	}

	// By region: S1 and S3 are the north, S2 the south.
	rep, err = returnsBook().KPIs(KPIOptions{From: day(2026, 10, 1), To: day(2026, 10, 31), By: ByRegion, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	oct = rep.Periods[0]
	if rep.By != ByRegion || len(oct.Stores) != 0 || len(oct.Regions) != 2 {
		t.Fatalf("October by region: %+v", oct)
	}
	north, south := oct.Regions[0], oct.Regions[1]
	wantNorth := KPI{Region: "north", Sales: 3, CardSales: 3, Revenue: 1300_00, Active: 2, New: 2, Repeat: 1, RepeatRate: 0.5,
		PointsEarned: 120, PointsRedeemed: 10, RedemptionRate: 0.083, Returns: &ReturnsKPI{}, Tiers: map[string]int{"": 2},
		Partner: map[string]int64{}, Charity: map[string]Charity{}, TierMoves: []TierMove{}}
	n := NPS{Answers: 3, Promoters: 2, Detractors: 1, Asked: 3, AnsweredAsked: 3}.done()
	wantNorth.NPS = &n
	if !reflect.DeepEqual(north, wantNorth) {
		t.Errorf("October in the north:\n got %+v\nwant %+v", north, wantNorth)
	}
	if south.Region != "south" || south.Active != 1 || south.New != 0 || south.Returns.Count != 1 || south.Returns.Share != 0.4 {
		t.Errorf("October in the south: %+v", south)
	}
	rep, _ = returnsBook().KPIs(KPIOptions{From: day(2026, 10, 1), To: day(2026, 10, 31), By: ByRegion, Region: "south"})
	if r := rep.Periods[0].Regions; len(r) != 1 || r[0].Region != "south" {
		t.Errorf("only the south: %+v", r)
	}
	// Without Now, only the expiry an event recorded: X's 100 points.
	rep, _ = returnsBook().KPIs(KPIOptions{From: day(2026, 11, 1), To: day(2026, 12, 5)})
	if e := *rep.Periods[0].Chain.PointsExpired; e != 100 || rep.Periods[0].Chain.ExpiredValue != nil {
		t.Errorf("November without the clock: %d expired; want 100 (value unknown)", e)
	}
}

// TestCLVDistribution: ten buckets of whole major units from 0 to the
// highest value, every customer in one.
func TestCLVDistribution(t *testing.T) {
	got := distribution([]money.Amount{0, 1, 100_00, 250_00, 999_99, 1000_00}, 2)
	if len(got) != 10 || got[0].UpTo != 100_00 || got[9].UpTo != 1000_00 {
		t.Fatalf("buckets %+v; want ten of 100.00 up to 1 000.00", got)
	}
	want := []int{3, 0, 1, 0, 0, 0, 0, 0, 0, 2}
	for i, b := range got {
		if b.Customers != want[i] {
			t.Errorf("bucket up to %d: %d customers, want %d", b.UpTo, b.Customers, want[i])
		}
	}
	if got := distribution([]money.Amount{0, 0}, 0); got[0].UpTo != 1 || got[0].Customers != 2 {
		t.Errorf("all zero: %+v", got)
	}
	if got := distribution(nil, 2); got == nil || len(got) != 0 {
		t.Errorf("no customers: %+v", got)
	}
	rep := Analyze(fixtureBook(), asOf, cdnowModel, Options{}).CLV(Model{}, Filter{}, 10)
	if rep.Distribution == nil {
		t.Error("no model: the distribution is null, want []")
	}
}
