package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// LotSale is a sale event at at of a terminal's chain: what it earned and
// when that expires, what it redeemed and from which lots.
func LotSale(terminal string, seq uint64, prev string, at time.Time, card string, earned, redeemed int64, expires time.Time, uses ...pos.LotUse) event.Event {
	s := pos.Sale{ID: fmt.Sprintf("%s-sale-%d", terminal, seq), Card: card, At: at, Quote: pos.Quote{
		Currency: "RUB", Lines: []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: 1, UnitPrice: 100_00}, Amount: 100_00, Total: 100_00}},
		Subtotal: 100_00, Total: 100_00, PointsEarned: earned, PointsRedeemed: redeemed, Lots: uses, PointsExpire: expires, RulesetVersion: 1,
	}}
	return link(terminal, seq, event.TypeSale, at, prev, s)
}

// runLots: a card's points lots at HQ follow the sales and refunds of every
// store as the tills' do (pos.Account.SaleLots and RefundLots): points that
// expire are a lot of their own, a redemption at another store takes from
// the lot it names by its times, a refund gives redeemed points back to
// their lot, and an event after a lot's expiry drops it and its points.
func runLots(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const card = "2000000000015"
	t.Run("Lots", func(t *testing.T) {
		s := newStore(t)
		day := 24 * time.Hour
		expires := Epoch.Add(30 * day)
		// S1: 50 points that never expire, then 30 that expire in 30 days.
		a1 := LotSale("S1-T1", 1, "", Epoch, card, 50, 0, time.Time{})
		a2 := LotSale("S1-T1", 2, a1.Hash, Epoch.Add(day), card, 30, 0, expires)
		if _, err := s.Append(ctx, "S1-T1", []event.Event{a1, a2}); err != nil {
			t.Fatal(err)
		}
		check := func(when string, points int64, lots ...pos.PointsLot) {
			t.Helper()
			a, err := s.Account(ctx, "", card)
			if err != nil {
				t.Fatal(err)
			}
			ok := a.Account.Points == points && len(a.Account.Lots) == len(lots)
			for i := 0; ok && i < len(lots); i++ {
				l := a.Account.Lots[i]
				ok = l.Points == lots[i].Points && l.Earned.Equal(lots[i].Earned) && l.Expires.Equal(lots[i].Expires)
			}
			if !ok {
				t.Errorf("%s: points %d lots %+v, want %d %+v", when, a.Account.Points, a.Account.Lots, points, lots)
			}
		}
		check("after earning", 80, pos.PointsLot{Points: 50}, pos.PointsLot{Points: 30, Earned: a2.At, Expires: expires})
		// S2 redeems 20 from the expiring lot; its till knew the lots in
		// another order (index 0): the times say which.
		b1 := LotSale("S2-T1", 1, "", Epoch.Add(2*day), card, 0, 20, time.Time{},
			pos.LotUse{Lot: 0, Earned: a2.At, Expires: expires, Points: 20})
		for range 2 { // exactly once
			if _, err := s.Append(ctx, "S2-T1", []event.Event{b1}); err != nil {
				t.Fatal(err)
			}
		}
		check("after redeeming at S2", 60, pos.PointsLot{Points: 50}, pos.PointsLot{Points: 10, Earned: a2.At, Expires: expires})
		// S2 returns the sale: the 20 go back to their lot.
		r := pos.Refund{ID: "S2-T1-refund-2", At: Epoch.Add(3 * day), SaleEvent: b1.ID, SaleSeq: 1, SaleAt: b1.At,
			RefundQuote: pos.RefundQuote{SaleID: "S2-T1-sale-1", Card: card, Currency: "RUB",
				Lines:  []pos.RefundLine{{Line: 1, SKU: "milk", Qty: 1, Amount: 100_00, Redeemed: 20}},
				Amount: 100_00, Back: 100_00, PointsReturned: 20,
				ReturnedLots: []pos.PointsLot{{Points: 20, Earned: a2.At, Expires: expires}}},
			Spend: 100_00}
		b2 := link("S2-T1", 2, event.TypeRefund, r.At, b1.Hash, r)
		if _, err := s.Append(ctx, "S2-T1", []event.Event{b2}); err != nil {
			t.Fatal(err)
		}
		check("after the refund", 80, pos.PointsLot{Points: 50}, pos.PointsLot{Points: 30, Earned: a2.At, Expires: expires})
		// A sale on the day the lot expires: the lot and its 30 points are gone.
		a3 := LotSale("S1-T1", 3, a2.Hash, expires.Add(time.Hour), card, 0, 0, time.Time{})
		if _, err := s.Append(ctx, "S1-T1", []event.Event{a3}); err != nil {
			t.Fatal(err)
		}
		check("after the expiry", 50, pos.PointsLot{Points: 50})
		ch, err := s.Changes(ctx, "S2-T1", "", 0, 10)
		if err != nil || len(ch.Accounts) != 1 || ch.Accounts[0].Account.Points != 50 || len(ch.Accounts[0].Account.Lots) != 1 {
			t.Errorf("changes: %+v %v, want the card with 50 points in one lot", ch.Accounts, err)
		}
	})
}
