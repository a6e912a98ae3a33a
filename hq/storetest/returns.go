package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// ReturnEvent is a refund event at seq of a terminal's chain returning the
// given units of the sale at saleSeq of saleTerminal ("" for its own).
func ReturnEvent(terminal string, seq uint64, prev, saleTerminal string, saleSeq uint64, lines ...pos.ReturnLine) event.Event {
	r := pos.Refund{ID: fmt.Sprintf("%s-refund-%d", terminal, seq), At: Epoch.Add(time.Duration(seq) * time.Minute),
		SaleEvent: fmt.Sprintf("%s-%d", cmpOr(saleTerminal, terminal), saleSeq), SaleSeq: saleSeq, SaleTerminal: saleTerminal,
		RefundQuote: pos.RefundQuote{SaleID: fmt.Sprintf("%s-sale-%d", cmpOr(saleTerminal, terminal), saleSeq), Currency: "RUB"}}
	for _, l := range lines {
		r.Lines = append(r.Lines, pos.RefundLine{Line: l.Line, SKU: "milk", Qty: l.Qty})
	}
	return link(terminal, seq, event.TypeRefund, r.At, prev, r)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// runReturns: HQ counts the units each sale's refunds returned, line by
// line, by the terminal that recorded them, whichever terminal sold it,
// exactly once; a terminal asking learns what the others returned.
func runReturns(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	t.Run("Returns", func(t *testing.T) {
		s := newStore(t)
		sale := Sales("S1-T1", 1, "", SaleSpec{"", 500_00, 0, 0})
		own := ReturnEvent("S1-T1", 2, sale[0].Hash, "", 1, pos.ReturnLine{Line: 1, Qty: 1})
		if _, err := s.Append(ctx, "S1-T1", append(sale, own)); err != nil {
			t.Fatal(err)
		}
		a := ReturnEvent("S2-T1", 1, "", "S1-T1", 1, pos.ReturnLine{Line: 1, Qty: 2}, pos.ReturnLine{Line: 3, Qty: 1})
		b := ReturnEvent("S2-T1", 2, a.Hash, "S1-T1", 1, pos.ReturnLine{Line: 3, Qty: 4})
		other := ReturnEvent("S2-T1", 3, b.Hash, "S1-T1", 7, pos.ReturnLine{Line: 1, Qty: 1})
		for range 2 { // exactly once
			if _, err := s.Append(ctx, "S2-T1", []event.Event{a, b, other}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			terminal string
			seq      uint64
			except   string
			want     []int64
		}{
			{"S1-T1", 1, "", []int64{3, 0, 5}},
			{"S1-T1", 1, "S1-T1", []int64{2, 0, 5}},
			{"S1-T1", 1, "S2-T1", []int64{1}},
			{"S1-T1", 7, "S1-T1", []int64{1}},
			{"S1-T1", 2, "", nil},
			{"S2-T1", 1, "", nil},
		} {
			got, err := s.Returned(ctx, tt.terminal, tt.seq, tt.except)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Returned(%s, %d, except %q) = %v, %v; want %v", tt.terminal, tt.seq, tt.except, got, err, tt.want)
			}
		}
	})
}
