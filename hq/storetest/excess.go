package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// ClaimSpec is a refund a till took on a receipt's word: the units of one
// line of the sale, and what the receipt's word gave back and took back.
type ClaimSpec struct {
	Card               string
	Line               int
	Qty                int64
	Back               money.Amount
	Reversed, Returned int64
}

// ClaimEvent is a refund event at seq of a terminal's chain taken on a
// receipt's word (pos.Refund.Claim) of the sale at saleSeq of
// saleTerminal, whose receipt code is receipt.
func ClaimEvent(terminal string, seq uint64, prev, saleTerminal string, saleSeq uint64, receipt string, c ClaimSpec) event.Event {
	r := pos.Refund{ID: fmt.Sprintf("%s-claim-%d", terminal, seq), At: Epoch.Add(time.Hour + time.Duration(seq)*time.Minute),
		SaleEvent: fmt.Sprintf("%s-%d", saleTerminal, saleSeq), SaleSeq: saleSeq, SaleTerminal: saleTerminal,
		RefundQuote: pos.RefundQuote{SaleID: receipt, Card: c.Card, Currency: "RUB",
			Lines:  []pos.RefundLine{{Line: c.Line, SKU: "tea", Qty: c.Qty, Amount: c.Back, Points: c.Reversed, Redeemed: c.Returned}},
			Amount: c.Back, Back: c.Back, PointsReversed: c.Reversed, PointsReturned: c.Returned},
		Spend: c.Back,
		Claim: &pos.ReceiptClaim{Card: c.Card, Currency: "RUB", Lines: []pos.ClaimLine{{Line: c.Line, SKU: "tea", Qty: c.Qty, Paid: c.Back}}}}
	return link(terminal, seq, event.TypeRefund, r.At, prev, r)
}

// excessSale is a sale at seq 1 of S1-T1: 2 teas at 300.00 earning 6
// points, a coffee at 1 000.00 earning 10, on card.
func excessSale(card string) event.Event {
	sale := pos.Sale{ID: "S1-T1-sale-1", Card: card, At: Epoch,
		Quote: pos.Quote{Currency: "RUB", Subtotal: 1600_00, Total: 1600_00, PointsEarned: 16, RulesetVersion: 1,
			Lines: []pos.PricedLine{
				{Line: pos.Line{SKU: "tea", Qty: 2, UnitPrice: 300_00}, Amount: 600_00, Total: 600_00, Points: 6},
				{Line: pos.Line{SKU: "coffee", Qty: 1, UnitPrice: 1000_00}, Amount: 1000_00, Total: 1000_00, Points: 10}}}}
	return link("S1-T1", 1, event.TypeSale, sale.At, "", sale)
}

// runReturnExcess: refunds taken on a receipt's word are applied to the
// sale's card as far as the sale allows, exactly once, even when two
// terminals upload returns of its last unit at once; the rest is in the
// excess report.
func runReturnExcess(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const card = "2000000000015"
	account := func(t *testing.T, s hq.Store) pos.Account {
		t.Helper()
		a, err := s.Account(ctx, "", card)
		if err != nil {
			t.Fatal(err)
		}
		return a.Account
	}
	t.Run("ReturnExcess", func(t *testing.T) {
		s := newStore(t)
		sale := excessSale(card)
		receipt := pos.ReceiptCode(sale.ID, sale.Hash)
		if _, err := s.Append(ctx, "S1-T1", []event.Event{sale}); err != nil {
			t.Fatal(err)
		}
		// S2 takes one tea back, as the receipt says: exactly the sale's.
		a := ClaimEvent("S2-T1", 1, "", "S1-T1", 1, receipt, ClaimSpec{Card: card, Line: 1, Qty: 1, Back: 300_00, Reversed: 3})
		// S3 takes two teas back (one is left) for 700.00, and returns
		// a sale HQ does not hold.
		b := ClaimEvent("S3-T1", 1, "", "S1-T1", 1, receipt, ClaimSpec{Card: card, Line: 1, Qty: 2, Back: 700_00, Reversed: 6, Returned: 50})
		c := ClaimEvent("S3-T1", 2, b.Hash, "S9-T1", 5, "S9-T1-5-abcdef", ClaimSpec{Card: card, Line: 1, Qty: 1, Back: 100_00, Reversed: 1})
		for range 2 { // exactly once
			if _, err := s.Append(ctx, "S2-T1", []event.Event{a}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, "S3-T1", []event.Event{b, c}); err != nil {
				t.Fatal(err)
			}
		}
		if got := account(t, s); got.Points != 10 || got.LifetimeSpend != 1000_00 {
			t.Errorf("the card after the returns: %d points, spend %d; want 10 and 1000.00 (two teas back, no more)", got.Points, got.LifetimeSpend)
		}
		if got, err := s.Returned(ctx, "S1-T1", 1, ""); err != nil || !slices.Equal(got, []int64{2}) {
			t.Errorf("Returned = %v, %v; want [2]: what was applied", got, err)
		}
		rep, err := s.ReturnExcesses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []wire.ReturnExcess{
			{Terminal: "S3-T1", Seq: 1, Refund: "S3-T1-claim-1", At: b.At, Receipt: receipt, SaleTerminal: "S1-T1", SaleSeq: 1,
				Card: card, Currency: "RUB", Reasons: []string{wire.ExcessOverReturn},
				ClaimedUnits: 2, AppliedUnits: 1, ClaimedBack: 700_00, AppliedBack: 300_00, Excess: 400_00,
				ClaimedPointsReturned: 50, ClaimedPointsReversed: 6, AppliedPointsReversed: 3},
			{Terminal: "S3-T1", Seq: 2, Refund: "S3-T1-claim-2", At: c.At, Receipt: "S9-T1-5-abcdef", SaleTerminal: "S9-T1", SaleSeq: 5,
				Card: card, Currency: "RUB", Reasons: []string{wire.ExcessNoSale},
				ClaimedUnits: 1, ClaimedBack: 100_00, Excess: 100_00, ClaimedPointsReversed: 1},
		}
		if len(rep) != len(want) {
			t.Fatalf("excess report: %d rows, want %d: %+v", len(rep), len(want), rep)
		}
		for i := range want {
			rep[i].At = rep[i].At.UTC()
			if fmt.Sprintf("%+v", rep[i]) != fmt.Sprintf("%+v", want[i]) {
				t.Errorf("excess row %d:\n got %+v\nwant %+v", i+1, rep[i], want[i])
			}
		}
	})
	t.Run("ReturnExcessBeforeSale", func(t *testing.T) {
		// HQ was down; the returns reach it before their sale: nothing is
		// applied until the sale arrives, then what the sale allows.
		s := newStore(t)
		sale := excessSale(card)
		receipt := pos.ReceiptCode(sale.ID, sale.Hash)
		a := ClaimEvent("S2-T1", 1, "", "S1-T1", 1, receipt, ClaimSpec{Card: card, Line: 1, Qty: 1, Back: 300_00, Reversed: 3})
		b := ClaimEvent("S3-T1", 1, "", "S1-T1", 1, receipt, ClaimSpec{Card: card, Line: 1, Qty: 2, Back: 600_00, Reversed: 6})
		for _, u := range []struct {
			terminal string
			e        event.Event
		}{{"S2-T1", a}, {"S3-T1", b}, {"S2-T1", a}} {
			if _, err := s.Append(ctx, u.terminal, []event.Event{u.e}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := s.ReturnExcesses(ctx)
		if err != nil || len(rep) != 2 || !slices.Equal(rep[0].Reasons, []string{wire.ExcessNoSale}) || !slices.Equal(rep[1].Reasons, []string{wire.ExcessNoSale}) {
			t.Fatalf("before the sale: %+v, %v; want two no_sale rows", rep, err)
		}
		for range 2 { // exactly once
			if _, err := s.Append(ctx, "S1-T1", []event.Event{sale}); err != nil {
				t.Fatal(err)
			}
		}
		if got := account(t, s); got.Points != 10 || got.LifetimeSpend != 1000_00 {
			t.Errorf("the card once the sale arrived: %d points, spend %d; want 10 and 1000.00 (two teas back)", got.Points, got.LifetimeSpend)
		}
		if got, err := s.Returned(ctx, "S1-T1", 1, ""); err != nil || !slices.Equal(got, []int64{2}) {
			t.Errorf("Returned = %v, %v; want [2]", got, err)
		}
		if got, err := s.Returned(ctx, "S1-T1", 1, "S3-T1"); err != nil || !slices.Equal(got, []int64{1}) {
			t.Errorf("Returned except S3 = %v, %v; want [1]: S2's", got, err)
		}
		rep, err = s.ReturnExcesses(ctx)
		if err != nil || len(rep) != 1 || rep[0].Terminal != "S3-T1" || !slices.Equal(rep[0].Reasons, []string{wire.ExcessOverReturn}) || rep[0].Excess != 300_00 {
			t.Errorf("after the sale: %+v, %v; want S3's over-return of 300.00 alone", rep, err)
		}
	})
	t.Run("ReturnExcessRace", func(t *testing.T) {
		// Two tills upload at once returns of the sale's one coffee: one
		// is applied, the other is in the report, whichever came first.
		s := newStore(t)
		sale := excessSale(card)
		receipt := pos.ReceiptCode(sale.ID, sale.Hash)
		if _, err := s.Append(ctx, "S1-T1", []event.Event{sale}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i, till := range []string{"S2-T1", "S3-T1", "S4-T1", "S5-T1"} {
			e := ClaimEvent(till, 1, "", "S1-T1", 1, receipt, ClaimSpec{Card: card, Line: 2, Qty: 1, Back: 1000_00, Reversed: 10})
			wg.Go(func() { _, errs[i] = s.Append(ctx, till, []event.Event{e}) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := account(t, s); got.Points != 6 || got.LifetimeSpend != 600_00 {
			t.Errorf("the card after four returns of one coffee: %d points, spend %d; want 6 and 600.00", got.Points, got.LifetimeSpend)
		}
		rep, err := s.ReturnExcesses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var excess money.Amount
		for _, x := range rep {
			excess += x.Excess
			if !slices.Equal(x.Reasons, []string{wire.ExcessOverReturn}) || x.AppliedUnits != 0 {
				t.Errorf("excess row %+v: want an over-return of which nothing applied", x)
			}
		}
		if len(rep) != 3 || excess != 3000_00 {
			t.Errorf("excess report: %d rows, %d excess; want 3 rows, 3000.00", len(rep), excess)
		}
	})
}
