package loyalty

import (
	"math"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/clv"
	"github.com/tilld/tilld/money"
)

// The worked example of docs/analytics.md: five cards, two stores, as of
// 2026-11-30. Every figure the tests below expect was computed by hand there.

var asOf = DayOf(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), 0)

type fixtureSale struct {
	card     string
	daysAgo  int32
	store    string
	total    money.Amount
	earned   int64
	redeemed int64
	tier     string
	extra    func(*Sale) // the programme's extras: a partner, a donation
}

var fixture = []fixtureSale{
	{"A", 35, "S1", 500_00, 50, 0, "silver", nil}, {"A", 28, "S1", 500_00, 50, 0, "silver", nil},
	{"A", 21, "S1", 500_00, 50, 0, "silver", nil}, {"A", 14, "S1", 500_00, 50, 100, "silver", nil},
	{"A", 7, "S1", 500_00, 50, 0, "gold", nil},
	{"B", 66, "S2", 1000_00, 100, 0, "", nil}, {"B", 56, "S2", 1000_00, 100, 0, "", nil},
	{"B", 44, "S1", 1000_00, 100, 0, "", nil}, {"B", 30, "S2", 1000_00, 100, 250, "", nil},
	{"C", 40, "S1", 300_00, 30, 0, "", nil},
	{"C", 20, "S1", 300_00, 30, 0, "", func(s *Sale) { s.Donations = []Donation{{Cause: "children", Amount: 5_00, Points: 3}} }},
	{"D", 10, "S2", 2000_00, 200, 0, "", func(s *Sale) { s.Partner, s.PartnerPoints = "aero", 40 }},
	{"E", 200, "S1", 100_00, 10, 0, "", nil},
	{"", 7, "S1", 99_00, 0, 0, "", nil}, // a sale without a card
}

func fixtureBook() *Book {
	b := NewBook()
	// Added newest first: the book must not care about the order.
	for i := len(fixture) - 1; i >= 0; i-- {
		f := fixture[i]
		s := Sale{Card: f.card, Store: f.store, Terminal: f.store + "-1", Day: asOf - f.daysAgo, Currency: "RUB",
			Total: f.total, Earned: f.earned, Redeemed: f.redeemed, Tier: f.tier}
		if f.extra != nil {
			f.extra(&s)
		}
		b.Add(s)
	}
	return b
}

// cdnowModel is the paper's CDNOW fit, so that P(alive) can be worked by hand.
var cdnowModel = Model{BGNBD: &clv.BGNBDFit{Params: clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}}}

func TestCadenceByHand(t *testing.T) {
	for _, tc := range []struct {
		name             string
		days             []int32 // days ago
		cycle, spread    float64
		since            int
		next, due        int32 // days from asOf
		late             bool
		daysLate, visits int
	}{
		{"weekly", []int32{35, 28, 21, 14, 7}, 7, 1, 7, 0, 2, false, 0, 5},
		{"late", []int32{66, 56, 44, 30}, 12, 2.9652, 30, -18, -13, true, 18, 4},
		{"two visits", []int32{40, 20}, 20, 10, 20, 0, 20, false, 0, 2},
		{"one visit", []int32{10}, 0, 0, 10, 0, 0, false, 0, 1},
		{"none", nil, 0, 0, 0, 0, 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			days := make([]int32, len(tc.days))
			for i, d := range tc.days {
				days[i] = asOf - d
			}
			c := CadenceOf(days, asOf, CadenceOptions{})
			if c.Visits != tc.visits || c.Cycle != tc.cycle || math.Abs(c.Spread-tc.spread) > 1e-9 || c.Since != tc.since ||
				c.Late != tc.late || c.DaysLate != tc.daysLate {
				t.Fatalf("got %+v; want cycle %v spread %v since %d late %v by %d", c, tc.cycle, tc.spread, tc.since, tc.late, tc.daysLate)
			}
			if tc.cycle > 0 && (c.Next != asOf+tc.next || c.Due != asOf+tc.due) {
				t.Fatalf("next %d due %d; want %d %d", c.Next-asOf, c.Due-asOf, tc.next, tc.due)
			}
		})
	}
}

func TestCadenceWindow(t *testing.T) {
	// Twenty monthly intervals, then twelve weekly ones: the window of 12
	// sees only the weekly habit.
	var days []int32
	d := int32(0)
	for range 21 {
		days = append(days, d)
		d += 30
	}
	d -= 30
	for range 12 {
		d += 7
		days = append(days, d)
	}
	c := CadenceOf(days, d+3, CadenceOptions{})
	if c.Cycle != 7 || c.Intervals != 12 {
		t.Fatalf("cycle %v over %d intervals; want 7 over 12", c.Cycle, c.Intervals)
	}
	if c := CadenceOf(days, d+3, CadenceOptions{Window: 100}); c.Cycle != 30 {
		t.Fatalf("whole history: cycle %v; want 30 (20 of 32 intervals monthly)", c.Cycle)
	}
}

func TestAnalysisByHand(t *testing.T) {
	a := Analyze(fixtureBook(), asOf, cdnowModel, Options{NPS: map[string]int{"A": 9, "C": 11}, Goals: map[string]int{"*": 30, SegmentLoyal: 7}})
	want := map[string]struct {
		r, f, m   int
		pAlive    float64
		indicator int
		segment   string
		meets     bool
		stores    []string
		points    int64
	}{
		"A": {5, 5, 3, 0.8094809896912174, 84, SegmentLoyal, true, []string{"S1"}, 150},
		"B": {2, 4, 4, 0.6266635694709876, 60, SegmentAtRisk, true, []string{"S2", "S1"}, 150},
		"C": {3, 3, 2, 0.6695659459538212, 52, SegmentRegular, true, []string{"S1"}, 60},
		"D": {4, 1, 5, 1, 75, SegmentNew, false, []string{"S2"}, 200},
		"E": {1, 1, 1, 1, 40, SegmentOneTime, false, []string{"S1"}, 10},
	}
	if len(a.Customers) != len(want) {
		t.Fatalf("%d customers; want %d", len(a.Customers), len(want))
	}
	for i := range a.Customers {
		c := &a.Customers[i]
		w := want[c.Card]
		stores := a.StoreNames(c)
		if c.R != w.r || c.F != w.f || c.M != w.m || math.Abs(c.PAlive-w.pAlive) > 1e-12 || c.Indicator != w.indicator ||
			c.Segment != w.segment || c.MeetsGoal != w.meets || len(stores) != len(w.stores) || stores[0] != w.stores[0] || c.Points != w.points {
			t.Errorf("%s: R%d F%d M%d P(alive) %v indicator %d %s meets %v stores %v points %d; want %+v",
				c.Card, c.R, c.F, c.M, c.PAlive, c.Indicator, c.Segment, c.MeetsGoal, stores, c.Points, w)
		}
	}
	// C's answer of 11 is not an NPS answer and is ignored.
	for _, c := range a.Customers {
		if c.Card == "C" && c.NPS != -1 {
			t.Errorf("C's NPS = %d; want unknown", c.NPS)
		}
	}

	rep := a.Cadence(Filter{}, -1)
	if rep.Customers != 5 || rep.WithCycle != 3 || rep.Late != 1 || rep.MedianCycle != 12 {
		t.Errorf("cadence report %d customers, %d with a cycle, %d late, median %v; want 5, 3, 1, 12",
			rep.Customers, rep.WithCycle, rep.Late, rep.MedianCycle)
	}
	goals := map[string]GoalRow{}
	for _, g := range rep.Goals {
		goals[g.Segment] = g
	}
	if g := goals[SegmentLoyal]; g.EveryDays != 7 || g.Customers != 1 || g.Meeting != 1 {
		t.Errorf("loyal goal %+v; want every 7 days, 1 of 1", g)
	}
	if g := goals[SegmentNew]; g.EveryDays != 30 || g.Customers != 1 || g.Meeting != 0 {
		t.Errorf("new goal %+v; want every 30 days, 0 of 1", g)
	}
	if rep.Rows[0].Card != "A" || rep.Rows[4].Card != "E" {
		t.Errorf("rows not latest purchase first: %s … %s", rep.Rows[0].Card, rep.Rows[4].Card)
	}

	od := a.Overdue(Filter{}, -1)
	if od.Late != 1 || len(od.Rows) != 1 || od.Rows[0].Card != "B" || od.Rows[0].DaysLate != 18 || od.Rows[0].Last != "2026-10-31" ||
		od.Rows[0].Next != "2026-11-12" {
		t.Fatalf("overdue %+v; want B, 18 days late, last 2026-10-31, expected 2026-11-12", od)
	}
	if od := a.Overdue(Filter{Store: "S1"}, -1); od.Late != 0 {
		t.Errorf("overdue at S1: %d; want 0 (B's home store is S2)", od.Late)
	}
	if od := a.Overdue(Filter{Store: "S2", Segments: []string{SegmentAtRisk}}, -1); od.Late != 1 {
		t.Errorf("overdue at S2 at risk: %d; want 1", od.Late)
	}

	seg := a.Segments()
	if seg.Customers != 5 || seg.NPSKnown != 1 || len(seg.Stores) != 2 || seg.Stores[0].Store != "S1" || seg.Stores[0].Customers != 3 ||
		seg.Stores[1].Segments[SegmentAtRisk] != 1 || seg.Stores[1].Segments[SegmentNew] != 1 {
		t.Errorf("segments %+v", seg)
	}
}
