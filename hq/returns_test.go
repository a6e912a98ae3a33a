package hq_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// TestReconcileClaims: a refund taken on a receipt's word is applied as
// its sale allows: the sale's card, the sale's figures for the units left,
// and every difference reported with its reason; other facts pass as they
// are.
func TestReconcileClaims(t *testing.T) {
	const card, other = "2000000000015", "2000000000022"
	// A sale of 2 teas (600.00, 6 points earned, 100 points paid with)
	// and a coffee (1 000.00, 10 points).
	sale := pos.Sale{ID: "s1", Card: card, Quote: pos.Quote{Currency: "RUB", Total: 1600_00, PointsEarned: 16, PointsRedeemed: 100,
		Lines: []pos.PricedLine{
			{Line: pos.Line{SKU: "tea", Qty: 2, UnitPrice: 350_00}, Amount: 700_00, Total: 600_00, Points: 6, Redeemed: 100},
			{Line: pos.Line{SKU: "coffee", Qty: 1, UnitPrice: 1000_00}, Amount: 1000_00, Total: 1000_00, Points: 10}}}}
	body, _ := json.Marshal(sale)
	e := event.Event{Terminal: "S1-T1", Seq: 4, ID: "S1-T1-4", Type: event.TypeSale, Body: body}
	e.Hash = e.ComputeHash()
	receipt := pos.ReceiptCode(e.ID, e.Hash)
	claim := func(card, receipt string, line int, qty int64, back, reversed, returned int64) hq.SaleFacts {
		return hq.SaleFacts{Refund: true, Card: card, Currency: "RUB", Total: -moneyOf(back), Back: moneyOf(back),
			Earned: -reversed, Redeemed: -returned, SaleTerminal: "S1-T1", SaleSeq: 4, SaleID: receipt,
			Returned: []pos.ReturnLine{{Line: line, Qty: qty}}, Claim: &pos.ReceiptClaim{Card: card}}
	}
	lookup := func(returned []int64) hq.SaleLookup {
		return func(terminal string, seq uint64) (event.Event, bool, []int64, error) {
			if terminal != "S1-T1" || seq != 4 {
				return event.Event{}, false, nil, nil
			}
			return e, true, returned, nil
		}
	}
	for _, tt := range []struct {
		name     string
		f        hq.SaleFacts
		returned []int64
		// what the card gets: spend off, points earned taken back, points paid with given back
		spend          int64
		earned, redeem int64
		reasons        []string
	}{
		{"as the sale says", claim(card, receipt, 1, 1, 300_00, 3, 50), nil, 300_00, 3, 50, nil},
		{"more points back than the sale paid", claim(card, receipt, 1, 1, 300_00, 3, 80), nil, 300_00, 3, 50, []string{wire.ExcessAmounts}},
		{"another card", claim(other, receipt, 2, 1, 1000_00, 10, 0), nil, 1000_00, 10, 0, []string{wire.ExcessCard}},
		{"returned elsewhere before", claim(card, receipt, 1, 2, 600_00, 6, 100), []int64{1}, 300_00, 3, 50, []string{wire.ExcessOverReturn}},
		{"a line the sale has not", claim(card, receipt, 3, 1, 10_00, 0, 0), nil, 0, 0, 0, []string{wire.ExcessOverReturn}},
		{"a mistyped receipt code", claim(card, "S1-T1-4-000000", 1, 1, 300_00, 3, 50), nil, 0, 0, 0, []string{wire.ExcessNoSale}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sale := hq.SaleFacts{Card: card, Currency: "RUB", Total: 5_00}
			out, excess, err := hq.ReconcileClaims("S2-T1", []hq.SaleFacts{sale, tt.f}, lookup(tt.returned))
			if err != nil {
				t.Fatal(err)
			}
			if out[0].Total != 5_00 || out[0].Refund {
				t.Errorf("the sale beside it changed: %+v", out[0])
			}
			got := out[1]
			if int64(-got.Total) != tt.spend || -got.Earned != tt.earned || -got.Redeemed != tt.redeem {
				t.Errorf("applied: spend %d, earned %d, redeemed %d; want %d, %d, %d", -got.Total, -got.Earned, -got.Redeemed, tt.spend, tt.earned, tt.redeem)
			}
			if tt.spend != 0 && got.Card != card {
				t.Errorf("applied to card %s, want the sale's", got.Card)
			}
			if tt.reasons == nil {
				if len(excess) != 0 {
					t.Errorf("excess %+v, want none", excess)
				}
				return
			}
			if len(excess) != 1 || !slices.Equal(excess[0].Reasons, tt.reasons) || int64(excess[0].Excess) != int64(tt.f.Back)-tt.spend {
				t.Errorf("excess %+v, want %v of %d", excess, tt.reasons, int64(tt.f.Back)-tt.spend)
			}
		})
	}
}

func moneyOf(v int64) money.Amount { return money.Amount(v) }
