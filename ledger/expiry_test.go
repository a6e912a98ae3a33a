package ledger

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// expiringSale prices a sale that earns points expiring at expires.
func expiringSale(id, card string, spend money.Amount, earned int64, expires time.Time) (SaleRequest, PriceFunc) {
	return SaleRequest{ID: id, Card: card}, func(_ pos.Account, at time.Time) (Priced, error) {
		body, err := json.Marshal(pos.Sale{ID: id, Card: card, At: at, Quote: pos.Quote{
			Currency: "RUB", Subtotal: spend, Total: spend, PointsEarned: earned, PointsExpire: expires, Applied: []pos.Applied{}}})
		return Priced{Body: body, Spend: spend, PointsDelta: earned}, err
	}
}

// TestPointsExpireInLedger: a card with points that never expire earns
// points that do; the stored view keeps them until an event at or after
// their expiry, which drops them (the cleanup's Verify rebuilds the same
// from the events).
func TestPointsExpireInLedger(t *testing.T) {
	now := time.Date(2026, 1, 15, 11, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l, _ := openTest(t, Options{Terminal: "S1-T1", Now: clock})
	card := "2000000000015"
	record(t, l, sale{id: "old", card: card, spend: 100_00, points: 50})
	expires := now.AddDate(0, 6, 0)
	req, price := expiringSale("earn", card, 300_00, 30, expires)
	r, err := l.RecordSale(req, price)
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := l.Account(card)
	want := []pos.PointsLot{{Points: 50}, {Points: 30, Earned: r.At, Expires: expires}}
	if a.Points != 80 || len(a.Lots) != 2 || a.Lots[0] != want[0] || !a.Lots[1].Expires.Equal(expires) || a.Lots[1].Points != 30 {
		t.Fatalf("after earning: %d %+v, want 80 %+v", a.Points, a.Lots, want)
	}
	// The day before: still there. On the day, a sale drops them from the
	// stored view.
	now = expires.Add(-time.Hour)
	record(t, l, sale{id: "eve", card: card, spend: 10_00, points: 0})
	if a, _, _ = l.Account(card); a.Points != 80 {
		t.Errorf("the day before expiry: %d points, want 80", a.Points)
	}
	now = expires.Add(time.Hour)
	record(t, l, sale{id: "day", card: card, spend: 10_00, points: 0})
	if a, _, _ = l.Account(card); a.Points != 50 || len(a.Lots) != 1 || a.Lots[0].Points != 50 {
		t.Errorf("on the day of expiry: %d %+v, want 50 that never expire", a.Points, a.Lots)
	}
}
