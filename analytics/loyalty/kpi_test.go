package loyalty

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
)

func day(y int, m time.Month, d int) int32 { return DayOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC), 0) }

// TestKPIByHand checks October and November 2026 of the worked example
// (docs/analytics.md, "Programme KPIs"), a point worth 1.00 RUB.
func TestKPIByHand(t *testing.T) {
	rep, err := fixtureBook().KPIs(KPIOptions{From: day(2026, 10, 1), To: day(2026, 11, 30), PointValue: 1_00, TierOrder: []string{"silver", "gold"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Periods) != 2 || rep.Periods[0].Start != "2026-10-01" || rep.Periods[0].End != "2026-10-31" || rep.Periods[1].End != "2026-11-30" {
		t.Fatalf("periods %+v", rep.Periods)
	}
	kpi := func(store string, sales, cardSales int64, revenue money.Amount, active, new, returning, repeat int, rate float64,
		earned, redeemed int64, redemption float64, tiers map[string]int, partner map[string]int64, charity map[string]Charity) KPI {
		q := KPI{Store: store, Sales: sales, CardSales: cardSales, Revenue: revenue, Active: active, New: new, Returning: returning,
			Repeat: repeat, RepeatRate: rate, PointsEarned: earned, PointsRedeemed: redeemed, RedemptionRate: redemption,
			Tiers: tiers, Partner: partner, Charity: charity, Returns: &ReturnsKPI{}, TierMoves: []TierMove{}}
		var up, down int
		q.TiersUp, q.TiersDown = &up, &down
		if store == "" { // no lot expires in the example: nothing expired, nothing broken
			var zero int64
			var none money.Amount
			var breakage float64
			q.PointsExpired, q.ExpiredValue, q.Breakage = &zero, &none, &breakage
		}
		return q
	}
	none := map[string]int64{}
	noCharity := map[string]Charity{}
	oct := rep.Periods[0]
	want := kpi("", 5, 5, 3800_00, 3, 2, 1, 1, 0.333, 380, 250, 0.658, map[string]int{"silver": 1, "": 2}, none, noCharity)
	if !reflect.DeepEqual(oct.Chain, want) {
		t.Errorf("October, chain:\n got %+v\nwant %+v", oct.Chain, want)
	}
	wantStores := []KPI{
		kpi("S1", 3, 3, 1800_00, 3, 2, 1, 0, 0, 180, 0, 0, map[string]int{"silver": 1, "": 2}, none, noCharity),
		kpi("S2", 2, 2, 2000_00, 1, 0, 1, 1, 1, 200, 250, 1.25, map[string]int{"": 1}, none, noCharity),
	}
	if !reflect.DeepEqual(oct.Stores, wantStores) {
		t.Errorf("October, stores:\n got %+v\nwant %+v", oct.Stores, wantStores)
	}
	if oct.PointsOutstanding != 240 || oct.Liability == nil || *oct.Liability != 240_00 {
		t.Errorf("October: %d points outstanding, liability %v; want 240 and 240.00", oct.PointsOutstanding, oct.Liability)
	}

	nov := rep.Periods[1]
	want = kpi("", 7, 6, 4399_00, 3, 1, 2, 1, 0.333, 430, 100, 0.233, map[string]int{"gold": 1, "": 2},
		map[string]int64{"aero": 40}, map[string]Charity{"children": {Amount: 5_00, Points: 3}})
	up := 1 // A: silver in October, gold at her last sale in November
	want.TierMoves, want.TiersUp = []TierMove{{From: "silver", To: "gold", Cards: 1}}, &up
	if !reflect.DeepEqual(nov.Chain, want) {
		t.Errorf("November, chain:\n got %+v\nwant %+v", nov.Chain, want)
	}
	wantStores = []KPI{
		kpi("S1", 6, 5, 2399_00, 2, 0, 2, 1, 0.5, 230, 100, 0.435, map[string]int{"gold": 1, "": 1}, none,
			map[string]Charity{"children": {Amount: 5_00, Points: 3}}),
		kpi("S2", 1, 1, 2000_00, 1, 1, 0, 0, 0, 200, 0, 0, map[string]int{"": 1}, map[string]int64{"aero": 40}, noCharity),
	}
	wantStores[0].TierMoves, wantStores[0].TiersUp = want.TierMoves, &up
	if !reflect.DeepEqual(nov.Stores, wantStores) {
		t.Errorf("November, stores:\n got %+v\nwant %+v", nov.Stores, wantStores)
	}
	if nov.PointsOutstanding != 570 || *nov.Liability != 570_00 {
		t.Errorf("November: %d points outstanding, liability %v; want 570 and 570.00", nov.PointsOutstanding, *nov.Liability)
	}

	// One store, by week: the week of Monday 2026-11-16 at S1 holds A's
	// redemption.
	rep, err = fixtureBook().KPIs(KPIOptions{Period: PeriodWeek, From: day(2026, 11, 18), To: day(2026, 11, 18), Store: "S1"})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Periods; len(p) != 1 || p[0].Start != "2026-11-16" || p[0].End != "2026-11-22" || len(p[0].Stores) != 1 ||
		p[0].Stores[0].PointsRedeemed != 100 || p[0].Chain.Active != 2 || p[0].Liability != nil {
		t.Errorf("week of 2026-11-16 at S1: %+v", p)
	}
}

// TestKPITierMovesByHand checks the tier moves of December 2026 when the
// worked example goes on (docs/analytics.md, "Tier movements"): A falls
// back to silver at S2; C reaches gold; D buys at S1 in silver, then at S2
// in gold; E comes back in "bronze", a tier the order does not know; F's
// first purchase is no move.
func TestKPITierMovesByHand(t *testing.T) {
	b := fixtureBook()
	for _, s := range []struct {
		card, store, tier string
		day               int
	}{{"A", "S2", "silver", 3}, {"C", "S1", "gold", 5}, {"D", "S1", "silver", 2}, {"D", "S2", "gold", 4}, {"E", "S1", "bronze", 1}, {"F", "S2", "gold", 6}} {
		b.Add(Sale{Card: s.card, Store: s.store, Terminal: s.store + "-1", Day: day(2026, 12, s.day), Currency: "RUB", Total: 100_00, Tier: s.tier})
	}
	type moves struct {
		list     []TierMove
		up, down int
	}
	for _, order := range [][]string{{"silver", "gold"}, nil} {
		rep, err := b.KPIs(KPIOptions{From: day(2026, 12, 1), To: day(2026, 12, 31), TierOrder: order})
		if err != nil {
			t.Fatal(err)
		}
		dec := rep.Periods[0]
		for _, c := range []struct {
			name  string
			got   KPI
			want  moves
			tiers map[string]int
		}{
			{"chain", dec.Chain, moves{[]TierMove{{"", "bronze", 1}, {"", "gold", 2}, {"gold", "silver", 1}}, 2, 1},
				map[string]int{"silver": 1, "gold": 3, "bronze": 1}},
			{"S1", dec.Stores[0], moves{[]TierMove{{"", "bronze", 1}, {"", "gold", 1}, {"", "silver", 1}}, 2, 0},
				map[string]int{"silver": 1, "gold": 1, "bronze": 1}},
			{"S2", dec.Stores[1], moves{[]TierMove{{"", "gold", 1}, {"gold", "silver", 1}}, 1, 1},
				map[string]int{"silver": 1, "gold": 2}},
		} {
			if !reflect.DeepEqual(c.got.TierMoves, c.want.list) || !reflect.DeepEqual(c.got.Tiers, c.tiers) {
				t.Errorf("December, %s, order %v: moves %+v, tiers %v; want %+v, %v", c.name, order, c.got.TierMoves, c.got.Tiers, c.want.list, c.tiers)
			}
			switch {
			case order == nil && (c.got.TiersUp != nil || c.got.TiersDown != nil):
				t.Errorf("December, %s, no order: up %v, down %v; want null", c.name, c.got.TiersUp, c.got.TiersDown)
			case order != nil && (c.got.TiersUp == nil || *c.got.TiersUp != c.want.up || *c.got.TiersDown != c.want.down):
				t.Errorf("December, %s: up %v, down %v; want %d, %d", c.name, c.got.TiersUp, c.got.TiersDown, c.want.up, c.want.down)
			}
		}
	}
}

func TestKPIOptions(t *testing.T) {
	b := fixtureBook()
	for _, o := range []KPIOptions{{Period: "year"}, {From: 10, To: 9}, {PointValue: -1}, {Period: PeriodDay, From: 0, To: 20000}, {By: "terminal"}} {
		if _, err := b.KPIs(o); !errors.Is(err, ErrKPIOptions) {
			t.Errorf("%+v: %v; want ErrKPIOptions", o, err)
		}
	}
}
