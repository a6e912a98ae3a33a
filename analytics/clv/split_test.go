package clv_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/clv"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestSplit works a small fixture by hand.
func TestSplit(t *testing.T) {
	moscow := time.FixedZone("MSK", 3*3600)
	ps := []clv.Purchase{
		{Customer: "b", Day: day(2026, 1, 12), Amount: 7},  // first seen after the calibration: left out
		{Customer: "a", Day: day(2026, 1, 15), Amount: 30}, // holdout
		{Customer: "a", Day: day(2026, 1, 1), Amount: 10},
		{Customer: "a", Day: day(2026, 1, 8), Amount: 20},
		{Customer: "a", Day: day(2026, 1, 1), Amount: 5}, // same day as the first: one purchase of 15
		{Customer: "c", Day: day(2026, 1, 10), Amount: 3},
		// 23:30 in Moscow on 3 January is still the 3rd there (20:30 UTC)
		{Customer: "d", Day: time.Date(2026, 1, 3, 23, 30, 0, 0, moscow), Amount: 1},
		{Customer: "d", Day: time.Date(2026, 1, 10, 0, 10, 0, 0, moscow), Amount: 4},
		{Customer: "a", Day: day(2026, 2, 1), Amount: 99}, // after the holdout: ignored
	}
	o := clv.SplitOptions{CalibrationEnd: day(2026, 1, 10), HoldoutEnd: day(2026, 1, 31)}
	hs, err := clv.Split(ps, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []clv.History{
		{Customer: "a", First: day(2026, 1, 1), Calibration: clv.Summary{X: 1, TX: 1, T: 9.0 / 7}, Spend: clv.Spend{X: 1, Mean: 20}, Holdout: 1},
		{Customer: "c", First: day(2026, 1, 10), Calibration: clv.Summary{T: 0}},
		{Customer: "d", First: day(2026, 1, 3), Calibration: clv.Summary{X: 1, TX: 1, T: 1}, Spend: clv.Spend{X: 1, Mean: 4}},
	}
	if len(hs) != len(want) {
		t.Fatalf("%d histories, want %d: %+v", len(hs), len(want), hs)
	}
	for i := range want {
		if hs[i] != want[i] {
			t.Errorf("history %d:\n got %+v\nwant %+v", i, hs[i], want[i])
		}
	}
	if got := o.HoldoutLength(); got != 3 {
		t.Errorf("holdout length %v weeks, want 3", got)
	}
	// days as the unit
	hs, _ = clv.Split(ps, clv.SplitOptions{CalibrationEnd: day(2026, 1, 10), UnitDays: 1})
	if hs[0].Calibration != (clv.Summary{X: 1, TX: 7, T: 9}) || hs[0].Holdout != 0 {
		t.Errorf("in days: %+v", hs[0])
	}
}

func TestSplitErrors(t *testing.T) {
	good := clv.Purchase{Customer: "a", Day: day(2026, 1, 1), Amount: 1}
	for _, c := range []struct {
		name string
		ps   []clv.Purchase
		o    clv.SplitOptions
		says string
	}{
		{"no calibration end", []clv.Purchase{good}, clv.SplitOptions{}, "no calibration end"},
		{"holdout before calibration", []clv.Purchase{good}, clv.SplitOptions{CalibrationEnd: day(2026, 2, 1), HoldoutEnd: day(2026, 1, 1)}, "before calibration end"},
		{"negative amount", []clv.Purchase{good, {Customer: "x", Day: day(2026, 1, 1), Amount: -5}}, clv.SplitOptions{CalibrationEnd: day(2026, 2, 1)}, `purchase 1 (customer "x")`},
		{"NaN amount", []clv.Purchase{{Customer: "x", Day: day(2026, 1, 1), Amount: math.NaN()}}, clv.SplitOptions{CalibrationEnd: day(2026, 2, 1)}, "amount NaN"},
		{"no day", []clv.Purchase{{Customer: "x", Amount: 1}}, clv.SplitOptions{CalibrationEnd: day(2026, 2, 1)}, "no day"},
	} {
		_, err := clv.Split(c.ps, c.o)
		if !errors.Is(err, clv.ErrBadInput) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want ErrBadInput saying %q", c.name, err, c.says)
		}
	}
	if hs, err := clv.Split(nil, clv.SplitOptions{CalibrationEnd: day(2026, 1, 1)}); err != nil || len(hs) != 0 {
		t.Errorf("no purchases: %v, %v", hs, err)
	}
}

// TestTrack checks the tracking counts by hand and its expectations
// against ExpectedRepeat.
func TestTrack(t *testing.T) {
	m := cdnowLike
	ps := []clv.Purchase{
		{Customer: "a", Day: day(2026, 1, 1)},
		{Customer: "a", Day: day(2026, 1, 2)},  // period 1
		{Customer: "a", Day: day(2026, 1, 2)},  // same day: once
		{Customer: "a", Day: day(2026, 1, 20)}, // period 3
		{Customer: "b", Day: day(2026, 1, 9)},
		{Customer: "b", Day: day(2026, 1, 14)}, // period 2
		{Customer: "b", Day: day(2026, 2, 20)}, // after the 3 periods
		{Customer: "c", Day: day(2025, 12, 1)}, // first seen before the start
		{Customer: "c", Day: day(2025, 12, 20)},
		{Customer: "c", Day: day(2026, 1, 3)}, // period 1
	}
	got, err := m.Track(ps, clv.TrackOptions{Start: day(2026, 1, 1), Periods: 3})
	if err != nil {
		t.Fatal(err)
	}
	wantActual := []float64{2, 1, 1}
	// day numbers from 2026-01-01: a first on 0, b on 8, c on -31
	firsts := []float64{0, 8, -31}
	cum := func(k int) float64 { // expected repeat purchases from the start to the end of period k
		var s float64
		for _, f := range firsts {
			last := float64(7*k - 1)
			if f > last {
				continue
			}
			s += m.ExpectedRepeat((last-f)/7) - m.ExpectedRepeat(math.Max(-1-f, 0)/7)
		}
		return s
	}
	var cumA float64
	for k, p := range got {
		cumA += wantActual[k]
		if p.N != k+1 || !p.Start.Equal(day(2026, 1, 1+7*k)) || p.Actual != wantActual[k] || p.CumActual != cumA {
			t.Errorf("period %d: %+v, want %v actual (%v cumulative)", k+1, p, wantActual[k], cumA)
		}
		if w := cum(k + 1); math.Abs(p.CumExpected-w) > 1e-12 || math.Abs(p.Expected-(w-cum(k))) > 1e-12 {
			t.Errorf("period %d: expected %v (cumulative %v), want %v (%v)", k+1, p.Expected, p.CumExpected, w-cum(k), w)
		}
	}
	for _, o := range []clv.TrackOptions{{}, {Start: day(2026, 1, 1)}, {Start: day(2026, 1, 1), Periods: -2}} {
		if _, err := m.Track(ps, o); !errors.Is(err, clv.ErrBadInput) {
			t.Errorf("%+v: %v, want ErrBadInput", o, err)
		}
	}
	if p, err := m.Track(nil, clv.TrackOptions{Start: day(2026, 1, 1), Periods: 2}); err != nil || p[1].CumExpected != 0 || p[1].CumActual != 0 {
		t.Errorf("no purchases: %+v, %v", p, err)
	}
}
