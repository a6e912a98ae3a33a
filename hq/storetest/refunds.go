package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// RefundSpec is a refund of a sale of a chain built by Refunds: what it
// takes off the card.
type RefundSpec struct {
	Card               string
	Sale               uint64 // the sale's seq
	Spend              money.Amount
	Reversed, Returned int64
}

// Refunds returns refund events from seq from on of a terminal's chain, one
// per spec, linked to prevHash, as a till records them (a pos.Refund body).
func Refunds(terminal string, from uint64, prevHash string, specs ...RefundSpec) []event.Event {
	var out []event.Event
	for i, sp := range specs {
		seq := from + uint64(i)
		r := pos.Refund{ID: fmt.Sprintf("%s-refund-%d", terminal, seq), At: Epoch.Add(time.Duration(seq) * time.Second),
			SaleEvent: fmt.Sprintf("%s-%d", terminal, sp.Sale), SaleSeq: sp.Sale, SaleAt: Epoch.Add(time.Duration(sp.Sale) * time.Second),
			RefundQuote: pos.RefundQuote{SaleID: fmt.Sprintf("%s-sale-%d", terminal, sp.Sale), Card: sp.Card, Currency: "RUB",
				Lines:  []pos.RefundLine{{Line: 1, SKU: "milk", Qty: 1, Amount: sp.Spend, Points: sp.Reversed, Redeemed: sp.Returned}},
				Amount: sp.Spend, Back: sp.Spend, PointsReversed: sp.Reversed, PointsReturned: sp.Returned},
			Spend: sp.Spend}
		e := link(terminal, seq, event.TypeRefund, r.At, prevHash, r)
		prevHash = e.Hash
		out = append(out, e)
	}
	return out
}

// runRefunds: refund events apply to the card's account across stores,
// exactly once, without counting as sales; the report shows sales, returns
// and net; a refund that takes back points already spent is an overdraft
// that later earnings pay back.
func runRefunds(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const card = "2000000000015"
	t.Run("Refunds", func(t *testing.T) {
		s := newStore(t)
		// S1 sells 1 000.00 (10 points) and 500.00 paid with 200 points
		// (5 points); S2 spends the 10 points.
		t1 := Sales("S1-T1", 1, "", SaleSpec{card, 1000_00, 10, 0}, SaleSpec{card, 500_00, 5, 200})
		t2 := Sales("S2-T1", 1, "", SaleSpec{card, 100_00, 1, 10})
		for _, up := range []struct {
			terminal string
			evs      []event.Event
		}{{"S1-T1", t1}, {"S2-T1", t2}} {
			if _, err := s.Append(ctx, up.terminal, up.evs); err != nil {
				t.Fatal(err)
			}
		}
		// Points: 10 + 5 - 200 + 1 - 10 = -194. S1 returns the first sale
		// whole, then the second.
		r := Refunds("S1-T1", 3, t1[1].Hash, RefundSpec{card, 1, 1000_00, 10, 0}, RefundSpec{card, 2, 500_00, 5, 200})
		for range 2 { // twice: exactly once
			if acked, err := s.Append(ctx, "S1-T1", r); err != nil || acked != 4 {
				t.Fatalf("append refunds: %d %v", acked, err)
			}
		}
		a, err := s.Account(ctx, "", card)
		if err != nil {
			t.Fatal(err)
		}
		// Spend: 1 600.00 - 1 500.00; points: -194 - 10 - 5 + 200 = -9.
		if a.Account.LifetimeSpend != 100_00 || a.Account.Points != -9 || a.Account.Sales != 3 || !a.Account.LastSale.Equal(t1[1].At) {
			t.Errorf("account after the refunds: %+v", a.Account)
		}
		if a.Overdraft != 9 {
			t.Errorf("overdraft %d, want 9 (the 10 points spent at S2, taken back, less the 1 it earned)", a.Overdraft)
		}
		rows, err := s.SalesReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			if row.Terminal != "S1-T1" {
				continue
			}
			if row.Count != 2 || row.Total != 1500_00 || row.Refunds != 2 || row.Refunded != 1500_00 || row.Net != 0 || row.MaxSeq != 4 {
				t.Errorf("report of S1-T1: %+v", row)
			}
			if len(row.Chains) != 1 || row.Chains[0].Refunds != 2 || row.Chains[0].Net != 0 {
				t.Errorf("chains of S1-T1: %+v", row.Chains)
			}
		}
		// Later earnings pay the overdraft back.
		if _, err := s.Append(ctx, "S2-T1", Sales("S2-T1", 2, t2[0].Hash, SaleSpec{card, 1000_00, 10, 0})); err != nil {
			t.Fatal(err)
		}
		a, _ = s.Account(ctx, "", card)
		if a.Account.Points != 1 || a.Overdraft != 0 {
			t.Errorf("after earning 10: %d points, overdraft %d", a.Account.Points, a.Overdraft)
		}
	})
}
