package pos

import (
	"reflect"
	"testing"
	"time"
)

func TestLotsExpire(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 11, 0, 0, 0, time.UTC)
	exp := t0.AddDate(0, 6, 0)
	// 50 points that never expire, then a sale earning 30 expiring at exp.
	a := Account{Points: 80}
	a.SaleLots(30, nil, t0, exp)
	want := []PointsLot{{Points: 50}, {Points: 30, Earned: t0, Expires: exp}}
	if a.Points != 80 || !reflect.DeepEqual(a.Lots, want) {
		t.Fatalf("after the sale: %d %+v, want 80 %+v", a.Points, a.Lots, want)
	}
	// A copy expired the day before keeps everything; at exp, the lot is gone
	// from the copy and the original is untouched.
	c := a
	if lost := c.Expire(exp.Add(-time.Nanosecond)); lost != 0 || c.Points != 80 {
		t.Errorf("a nanosecond early: lost %d, points %d", lost, c.Points)
	}
	c = a
	if lost := c.Expire(exp); lost != 30 || c.Points != 50 || len(c.Lots) != 1 || a.Points != 80 || len(a.Lots) != 2 || a.Lots[1].Points != 30 {
		t.Errorf("at expiry: lost %d, copy %d %+v, original %d %+v", lost, c.Points, c.Lots, a.Points, a.Lots)
	}
	// A card that owes 40 (points below its lots) pays the debt from the
	// expiring lot first: owing 40, it loses none of the 30.
	o := Account{Points: 40, Lots: []PointsLot{{Points: 50}, {Points: 30, Earned: t0, Expires: exp}}}
	if lost := o.Expire(exp); lost != 0 || o.Points != 40 {
		t.Errorf("owing 40: lost %d, points %d; want 0, 40", lost, o.Points)
	}
	o = Account{Points: 70, Lots: []PointsLot{{Points: 50}, {Points: 30, Earned: t0, Expires: exp}}}
	if lost := o.Expire(exp); lost != 20 || o.Points != 50 {
		t.Errorf("owing 10: lost %d, points %d; want 20, 50", lost, o.Points)
	}
	// Overdrawn: expiry never takes the balance further below zero.
	o = Account{Points: -10, Lots: []PointsLot{{Points: 30, Earned: t0, Expires: exp}}}
	if lost := o.Expire(exp); lost != 0 || o.Points != -10 || o.Lots != nil {
		t.Errorf("overdrawn: lost %d, points %d, lots %+v", lost, o.Points, o.Lots)
	}
	// A later event expires the lot for good; a refund giving points back
	// to it after it expired gives nothing that stays.
	a.SaleLots(0, nil, exp.Add(time.Hour), time.Time{})
	if a.Points != 50 || len(a.Lots) != 1 {
		t.Errorf("after a sale past expiry: %d %+v", a.Points, a.Lots)
	}
	a.Points += 20
	a.RefundLots(20, []PointsLot{{Points: 20, Earned: t0, Expires: exp}}, t0, exp.Add(2*time.Hour))
	if a.Points != 50 || len(a.Lots) != 1 {
		t.Errorf("points returned to an expired lot: %d %+v, want 50 in one lot", a.Points, a.Lots)
	}
}

// TestFindLotByTimes: a redemption names its lot by index and times; where
// the lots differ (HQ's, with other stores' lots), the times find it.
func TestFindLotByTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 11, 0, 0, 0, time.UTC)
	a := Account{Points: 100, Lots: []PointsLot{{Points: 40, Earned: t0.Add(-time.Hour)}, {Points: 60, Earned: t0, Expires: t0.AddDate(1, 0, 0)}}}
	a.Points -= 10
	a.SaleLots(-10, []LotUse{{Lot: 0, Earned: t0, Expires: t0.AddDate(1, 0, 0), Points: 10}}, t0.Add(time.Minute), time.Time{})
	if a.Lots[0].Points != 40 || a.Lots[1].Points != 50 {
		t.Errorf("lots %+v, want 40 and 50", a.Lots)
	}
}
