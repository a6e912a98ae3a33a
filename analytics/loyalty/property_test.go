package loyalty

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Reports on no data, one customer, one purchase, and random small books
// give sensible answers: no error, no NaN or infinity anywhere (JSON would
// refuse them), counts that add up.

func allReports(t *testing.T, b *Book, asOf int32) {
	t.Helper()
	m := FitModel(b, asOf)
	for _, model := range []Model{{}, m, cdnowModel} {
		a := Analyze(b, asOf, model, Options{NPS: map[string]int{"A": 0}})
		for i := range a.Customers {
			c := &a.Customers[i]
			if c.Indicator < 0 || c.Indicator > 100 || c.R < 1 || c.R > 5 || c.F < 1 || c.F > 5 || c.M < 1 || c.M > 5 ||
				(!math.IsNaN(c.PAlive) && (c.PAlive < 0 || c.PAlive > 1)) || c.Cycle < 0 || c.Spread < 0 || c.Segment == "" {
				t.Fatalf("customer %+v", c)
			}
		}
		cad := a.Cadence(Filter{}, -1)
		od := a.Overdue(Filter{}, -1)
		seg := a.Segments()
		clvRep := a.CLV(model, Filter{}, -1)
		if cad.Customers != len(a.Customers) || seg.Customers != len(a.Customers) || od.Late != cad.Late || len(cad.Rows) != cad.Customers {
			t.Fatalf("counts disagree: cadence %d (late %d), segments %d, overdue %d, customers %d", cad.Customers, cad.Late, seg.Customers, od.Late, len(a.Customers))
		}
		n := 0
		for _, s := range seg.Segments {
			n += s.Customers
		}
		if n != seg.Customers {
			t.Fatalf("segments add up to %d of %d", n, seg.Customers)
		}
		kpi, err := b.KPIs(KPIOptions{From: asOf - 400, To: asOf, PointValue: 50})
		if err != nil {
			t.Fatal(err)
		}
		byRegion, err := b.KPIs(KPIOptions{From: asOf - 400, To: asOf, By: ByRegion, Now: Date(asOf).Add(12 * time.Hour), TierOrder: []string{"silver", "gold"}})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range byRegion.Periods {
			if p.Chain.PointsExpired == nil || *p.Chain.PointsExpired < 0 || p.PointsOutstanding < 0 || kpi.Periods[i].Chain.Sales != p.Chain.Sales {
				t.Fatalf("by region, %s: %+v", p.Start, p)
			}
			var sales int64
			for _, r := range p.Regions {
				sales += r.Sales
			}
			if sales != p.Chain.Sales {
				t.Fatalf("%s: the regions' %d sales of the chain's %d", p.Start, sales, p.Chain.Sales)
			}
			// Tier moves: returning cards only, each once, to the tier the
			// row counts it in; every tier ordered, so each is up or down.
			for _, k := range append([]KPI{p.Chain}, p.Regions...) {
				moved, to := 0, map[string]int{}
				for _, m := range k.TierMoves {
					if m.From == m.To || m.Cards <= 0 {
						t.Fatalf("%s, %q: move %+v", p.Start, k.Region, m)
					}
					moved += m.Cards
					to[m.To] += m.Cards
				}
				for tier, n := range to {
					if n > k.Tiers[tier] {
						t.Fatalf("%s, %q: %d moved to %q of %d there", p.Start, k.Region, n, tier, k.Tiers[tier])
					}
				}
				if moved > k.Returning || k.TiersUp == nil || *k.TiersUp+*k.TiersDown != moved {
					t.Fatalf("%s, %q: %d moves, %d returning, up %v down %v", p.Start, k.Region, moved, k.Returning, k.TiersUp, k.TiersDown)
				}
			}
		}
		var w strings.Builder
		if err := WriteOverdueCSV(&w, od); err != nil {
			t.Fatal(err)
		}
		for _, rep := range []any{cad, od, seg, clvRep, kpi, byRegion} {
			if _, err := json.Marshal(rep); err != nil {
				t.Fatalf("%T does not encode: %v", rep, err)
			}
			checkFinite(t, reflect.ValueOf(rep), reflect.TypeOf(rep).Name())
		}
	}
}

// checkFinite fails on a NaN or infinite float anywhere in v.
func checkFinite(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Float64, reflect.Float32:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("%s = %v", path, f)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkFinite(t, v.Elem(), path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkFinite(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			checkFinite(t, v.Index(i), path)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			checkFinite(t, v.MapIndex(k), path)
		}
	}
}

func TestReportsOnThinData(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		b := NewBook()
		allReports(t, b, asOf)
		a := Analyze(b, asOf, FitModel(b, asOf), Options{})
		if rep := a.Cadence(Filter{}, 10); rep.Customers != 0 || rep.MedianCycle != 0 || len(rep.Rows) != 0 {
			t.Errorf("empty cadence %+v", rep)
		}
		if m := FitModel(b, asOf); m.BGNBD != nil || m.Why == "" {
			t.Errorf("model of nothing: %+v", m)
		}
	})
	t.Run("one purchase", func(t *testing.T) {
		b := NewBook()
		b.Add(Sale{Card: "A", Store: "S1", Day: asOf - 3, Currency: "RUB", Total: 100_00, Earned: 5})
		allReports(t, b, asOf)
		c := Analyze(b, asOf, FitModel(b, asOf), Options{}).Customers[0]
		if c.Visits != 1 || c.Cycle != 0 || c.Late || c.Segment != SegmentNew || c.Points != 5 {
			t.Errorf("one purchase: %+v", c)
		}
	})
	t.Run("one customer", func(t *testing.T) {
		b := NewBook()
		for d := int32(100); d > 0; d -= 9 {
			b.Add(Sale{Card: "A", Store: "S1", Day: asOf - d, Currency: "RUB", Total: 100_00})
		}
		allReports(t, b, asOf)
	})
	t.Run("a purchase after the day asked for", func(t *testing.T) {
		b := NewBook()
		b.Add(Sale{Card: "A", Store: "S1", Day: asOf + 3, Currency: "RUB", Total: 100_00})
		allReports(t, b, asOf)
		if a := Analyze(b, asOf, Model{}, Options{}); len(a.Customers) != 0 {
			t.Errorf("a customer who first bought after the day: %+v", a.Customers)
		}
	})
	t.Run("zero and negative totals, other currency", func(t *testing.T) {
		b := NewBook()
		b.Add(Sale{Card: "A", Store: "S1", Day: asOf - 30, Currency: "RUB"})
		b.Add(Sale{Card: "A", Store: "S1", Day: asOf - 20, Currency: "RUB", Total: -5_00, Redeemed: 1 << 40})
		b.Add(Sale{Card: "A", Store: "S1", Day: asOf - 10, Currency: "EUR", Total: 5_00})
		allReports(t, b, asOf)
		if b.Foreign != 1 {
			t.Errorf("foreign sales %d; want 1", b.Foreign)
		}
	})
	t.Run("a refund and an answer without a sale", func(t *testing.T) {
		b := NewBook()
		b.AddRefund(Refund{Card: "A", Store: "S1", Day: asOf - 3, Currency: "RUB", Back: 10_00, Reversed: 5, At: Date(asOf - 3)})
		b.AddAnswer(Answer{Store: "S2", Region: "north", Day: asOf - 2, Asked: true, Score: 2})
		allReports(t, b, asOf)
		if a := Analyze(b, asOf, Model{}, Options{}); len(a.Customers) != 0 {
			t.Errorf("a refund made a customer: %+v", a.Customers)
		}
	})
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for range 30 {
			b := NewBook()
			cards, stores := 1+r.IntN(40), 1+r.IntN(4)
			for range r.IntN(300) {
				s := Sale{Card: string(rune('A' + r.IntN(cards))), Store: string(rune('a' + r.IntN(stores))), Day: asOf - int32(r.IntN(500)),
					Currency: "RUB", Total: money.Amount(r.IntN(10_000_00)), Earned: int64(r.IntN(100)), Redeemed: int64(r.IntN(50)),
					Tier: []string{"", "silver", "gold"}[r.IntN(3)], Region: []string{"", "north", "south"}[r.IntN(3)]}
				s.At = Date(s.Day).Add(10 * time.Hour)
				if r.IntN(2) == 0 {
					s.Expires = Date(s.Day + int32(r.IntN(200)))
				}
				b.Add(s)
				switch r.IntN(10) {
				case 0:
					b.AddRefund(Refund{Card: s.Card, Store: s.Store, Day: s.Day + int32(r.IntN(3)), Currency: "RUB", Back: s.Total / 2,
						Reversed: s.Earned, Returned: s.Redeemed / 2, ReturnedLots: []pos.PointsLot{{Points: s.Redeemed / 2, Earned: s.At}},
						SaleAt: s.At, At: s.At.Add(time.Hour)})
				case 1:
					b.AddAnswer(Answer{Store: s.Store, Region: s.Region, Day: s.Day, Asked: r.IntN(2) == 0, Score: r.IntN(12) - 1})
				}
			}
			allReports(t, b, asOf)
		}
	})
}

// FuzzCadence: any purchase days give a cycle that is finite, not negative,
// and late only past its due day.
func FuzzCadence(f *testing.F) {
	f.Add([]byte{7, 7, 7, 7}, uint16(3), uint8(12))
	f.Add([]byte{}, uint16(0), uint8(0))
	f.Add([]byte{0, 0, 255}, uint16(65535), uint8(1))
	f.Fuzz(func(t *testing.T, gaps []byte, after uint16, window uint8) {
		var days []int32
		d := int32(0)
		for i, g := range gaps {
			if i > 0 && g == 0 {
				continue // distinct days
			}
			d += int32(g)
			days = append(days, d)
		}
		asOf := d + int32(after)
		c := CadenceOf(days, asOf, CadenceOptions{Window: int(window)})
		if math.IsNaN(c.Cycle) || math.IsNaN(c.Spread) || c.Cycle < 0 || c.Spread < 0 || c.Since < 0 ||
			c.Late != (c.Cycle > 0 && asOf > c.Due) || (c.Late && c.DaysLate < 0) {
			t.Fatalf("days %v as of %d: %+v", days, asOf, c)
		}
	})
}
