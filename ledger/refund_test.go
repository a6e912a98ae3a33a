package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// recordUnits records a sale of qty units of one SKU at unit, earning a
// point per unit, on card.
func recordUnits(t testing.TB, l *Ledger, id, card string, qty int64, unit money.Amount) Receipt {
	t.Helper()
	r, err := l.RecordSale(SaleRequest{ID: id, Digest: sha256.Sum256([]byte(id)), Card: card}, func(acct pos.Account, at time.Time) (Priced, error) {
		total := unit * money.Amount(qty)
		body, err := json.Marshal(pos.Sale{ID: id, Card: card, At: at, Quote: pos.Quote{
			Currency: "RUB",
			Lines: []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: qty, UnitPrice: unit}, Amount: total, Total: total, Points: qty},
				{Line: pos.Line{SKU: "bread", Qty: 1, UnitPrice: 50}, Amount: 50, Total: 50}},
			Subtotal: total + 50, Total: total + 50, PointsEarned: qty, Applied: []pos.Applied{},
		}})
		return Priced{Body: body, Spend: total + 50, PointsDelta: qty, RulesetVersion: 1}, err
	})
	if err != nil {
		t.Fatalf("RecordSale %s: %v", id, err)
	}
	return r
}

// refundPrice prices a refund as the till does, without the engine: every
// unit of the sale's lines gives back its unit price and takes back its
// points.
func refundPrice(id string) RefundFunc {
	return func(se event.Event, returned []pos.ReturnLine, before []int64, acct pos.Account, at time.Time) (Priced, error) {
		var sale pos.Sale
		if err := json.Unmarshal(se.Body, &sale); err != nil {
			return Priced{}, err
		}
		r := pos.Refund{ID: id, At: at, SaleEvent: se.ID, SaleSeq: se.Seq, SaleAt: se.At,
			RefundQuote: pos.RefundQuote{SaleID: sale.ID, Card: sale.Card, Currency: sale.Currency, Lines: []pos.RefundLine{}}}
		for _, rl := range returned {
			l := sale.Lines[rl.Line-1]
			amount := l.UnitPrice * money.Amount(rl.Qty)
			pts := l.Points / l.Qty * rl.Qty
			r.Lines = append(r.Lines, pos.RefundLine{Line: rl.Line, SKU: l.SKU, Qty: rl.Qty, Amount: amount, Points: pts})
			r.Amount += amount
			r.PointsReversed += pts
		}
		r.Back, r.Spend = r.Amount, r.Amount
		body, err := json.Marshal(r)
		return Priced{Body: body, Spend: -r.Spend, PointsDelta: r.PointsReturned - r.PointsReversed, RulesetVersion: se.RulesetVersion}, err
	}
}

func refundReq(id string, saleID string, lines ...pos.ReturnLine) RefundRequest {
	return RefundRequest{ID: id, Digest: sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%v", id, saleID, lines))), SaleID: saleID, Lines: lines}
}

func TestRecordRefund(t *testing.T) {
	l, _ := openTest(t, Options{})
	recordUnits(t, l, "s1", "C1", 3, 100_00)
	before, _, _ := l.Account("C1")

	r1, err := l.RecordRefund(refundReq("r1", "s1", pos.ReturnLine{Line: 1, Qty: 2}), refundPrice("r1"))
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := l.Account("C1")
	if a.LifetimeSpend != before.LifetimeSpend-200_00 || a.Points != before.Points-2 || a.Sales != 1 {
		t.Errorf("after returning 2 of 3: %+v (before %+v)", a, before)
	}
	// The same refund again is its receipt; another body under its id a conflict.
	again, err := l.RecordRefund(refundReq("r1", "s1", pos.ReturnLine{Line: 1, Qty: 2}), refundPrice("r1"))
	if err != nil || !again.Replayed || again.Seq != r1.Seq || string(again.Body) != string(r1.Body) {
		t.Errorf("replay: %+v, %v", again, err)
	}
	if _, err := l.RecordRefund(refundReq("r1", "s1", pos.ReturnLine{Line: 1, Qty: 1}), refundPrice("r1")); !errors.Is(err, ErrConflict) {
		t.Errorf("another body under r1: %v, want ErrConflict", err)
	}
	// A refund id may equal a sale id: they are kept apart.
	if _, err := l.RecordRefund(refundReq("s1", "s1", pos.ReturnLine{Line: 1, Qty: 2}), refundPrice("s1")); !errors.Is(err, ErrOverReturn) {
		t.Errorf("2 more of line 1: %v, want ErrOverReturn", err)
	}
	// The whole rest, by seq.
	rest := RefundRequest{ID: "s1", Digest: sha256.Sum256([]byte("rest")), SaleSeq: 1}
	if _, err := l.RecordRefund(rest, refundPrice("s1")); err != nil {
		t.Fatal(err)
	}
	got, err := l.ReturnedOf(1)
	if err != nil || len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("ReturnedOf(1) = %v, %v; want [3 1]", got, err)
	}
	a, _, _ = l.Account("C1")
	if a.LifetimeSpend != 0 || a.Points != 0 || a.Sales != 1 {
		t.Errorf("after returning everything: %+v", a)
	}
	if _, err := l.RecordRefund(RefundRequest{ID: "r3", SaleSeq: 1}, refundPrice("r3")); !errors.Is(err, ErrOverReturn) {
		t.Errorf("a third refund of a sale returned whole: %v, want ErrOverReturn", err)
	}
	// The sale's receipt still answers a retry of the sale.
	if r := recordUnits(t, l, "s1", "C1", 3, 100_00); !r.Replayed {
		t.Errorf("sale retry after its refunds: %+v", r)
	}

	for _, tc := range []struct {
		name string
		req  RefundRequest
		want error
	}{
		{"unknown sale id", RefundRequest{ID: "x", SaleID: "nope"}, ErrNoSale},
		{"seq beyond the last", RefundRequest{ID: "x", SaleSeq: 99}, ErrNoSale},
		{"a refund's seq", RefundRequest{ID: "x", SaleSeq: 2}, ErrNoSale},
		{"a receipt code of another sale", RefundRequest{ID: "x", SaleSeq: 1, SaleHash: "zz"}, ErrNoSale},
	} {
		if _, err := l.RecordRefund(tc.req, refundPrice("x")); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	var in *pos.InputError
	for _, req := range []RefundRequest{
		{SaleID: "s1"},
		{ID: "x"},
		{ID: "x", SaleID: "s1", SaleSeq: 1},
		{ID: "x", SaleID: "s1", Lines: []pos.ReturnLine{{Line: 0, Qty: 1}}},
		{ID: "x", SaleID: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 0}}},
		{ID: "x", SaleID: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}, {Line: 1, Qty: 1}}},
	} {
		if _, err := l.RecordRefund(req, refundPrice("x")); !errors.As(err, &in) {
			t.Errorf("%+v: %v, want an InputError", req, err)
		}
	}
	if _, err := l.RecordSale(SaleRequest{ID: "\x00refund\x00r1"}, nil); !errors.As(err, &in) {
		t.Errorf("a sale id in the refunds' part of the index: %v", err)
	}
}

// TestRefundBodyMustSayWhatWasChecked: a pricing that returns other lines
// than the ledger checked is refused, and nothing is stored.
func TestRefundBodyMustSayWhatWasChecked(t *testing.T) {
	l, _ := openTest(t, Options{})
	recordUnits(t, l, "s1", "C1", 3, 100_00)
	wrong := func(se event.Event, returned []pos.ReturnLine, before []int64, acct pos.Account, at time.Time) (Priced, error) {
		return refundPrice("r")(se, []pos.ReturnLine{{Line: 1, Qty: 3}}, before, acct, at)
	}
	if _, err := l.RecordRefund(refundReq("r", "s1", pos.ReturnLine{Line: 1, Qty: 1}), wrong); err == nil {
		t.Fatal("a body returning 3 units for a refund of 1 was recorded")
	}
	if st := mustStats(t, l); st.LastSeq != 1 {
		t.Errorf("last seq %d, want 1", st.LastSeq)
	}
}

// TestConcurrentRefunds: refunds of one sale that race never return more
// than was sold, line by line.
func TestConcurrentRefunds(t *testing.T) {
	l, _ := openTest(t, Options{})
	recordUnits(t, l, "s1", "C1", 10, 1_00)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, over := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("r%d", i)
			_, err := l.RecordRefund(refundReq(id, "s1", pos.ReturnLine{Line: 1, Qty: 1}), refundPrice(id))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrOverReturn):
				over++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 10 || over != 10 {
		t.Errorf("%d refunds recorded, %d refused; want 10 and 10", ok, over)
	}
	a, _, _ := l.Account("C1")
	if a.LifetimeSpend != 50 || a.Points != 0 {
		t.Errorf("account %+v, want the bread's 50 and no points", a)
	}
}

// TestRefundsSurviveRestartAndPrune: the counts of returned units are
// journaled with the refund, and a pruned sale can no longer be refunded
// here.
func TestRefundsSurviveRestartAndPrune(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	clock := testClock()
	l := openAt(t, path, Options{Now: clock}, checkNone)
	recordUnits(t, l, "s1", "C1", 2, 1_00)
	if _, err := l.RecordRefund(refundReq("r1", "s1", pos.ReturnLine{Line: 1, Qty: 2}), refundPrice("r1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openAt(t, path, Options{Now: clock}, checkFull)
	if _, err := l.RecordRefund(refundReq("r2", "s1", pos.ReturnLine{Line: 1, Qty: 1}), refundPrice("r2")); !errors.Is(err, ErrOverReturn) {
		t.Errorf("after a restart: %v, want ErrOverReturn", err)
	}
	if err := l.Ack(2); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Prune(testEpoch.Add(time.Hour)); err != nil || n.Pruned != 2 {
		t.Fatalf("Prune: %d, %v", n, err)
	}
	if _, err := l.RecordRefund(refundReq("r3", "s1", pos.ReturnLine{Line: 2, Qty: 1}), refundPrice("r3")); !errors.Is(err, ErrNoSale) {
		t.Errorf("refund of a pruned sale: %v, want ErrNoSale", err)
	}
	rep, err := l.Verify()
	if err != nil || !rep.OK() {
		t.Errorf("Verify: %v %v", rep.Problems, err)
	}
	a, _, _ := l.Account("C1")
	if a.LifetimeSpend != 50 || a.Points != 0 || a.Sales != 1 {
		t.Errorf("account after pruning %+v", a)
	}
}

// TestRefundReturnsLots: redeemed points go back to the lots they came
// from, with their expiry, and the points earned come off the sale's lot;
// what the lots no longer hold is owed.
func TestRefundReturnsLots(t *testing.T) {
	t0 := testEpoch
	exp := t0.AddDate(1, 0, 0)
	a := pos.Account{Card: "C", Points: 100, Lots: []pos.PointsLot{{Points: 100, Earned: t0.AddDate(0, -1, 0), Expires: exp}}}
	sale := pos.Sale{Quote: pos.Quote{Lots: []pos.LotUse{{Lot: 0, Earned: a.Lots[0].Earned, Expires: exp, Points: 100}}}}
	body, _ := json.Marshal(sale)
	if err := applyEffect(&a, effect{spend: 500, points: 30 - 100}, event.TypeSale, body, t0); err != nil {
		t.Fatal(err)
	}
	if a.Points != 30 || len(a.Lots) != 1 || a.Lots[0].Points != 30 || !a.Lots[0].Earned.Equal(t0) {
		t.Fatalf("after the sale: %+v", a)
	}
	// The customer spends 20 of the 30 earned, then returns everything.
	a.Points, a.Lots[0].Points = 10, 10
	r := pos.Refund{SaleAt: t0, RefundQuote: pos.RefundQuote{PointsReturned: 100, PointsReversed: 30,
		ReturnedLots: []pos.PointsLot{{Points: 100, Earned: t0.AddDate(0, -1, 0), Expires: exp}}}}
	body, _ = json.Marshal(r)
	if err := applyEffect(&a, effect{spend: -500, points: 100 - 30}, event.TypeRefund, body, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []pos.PointsLot{{Points: 80, Earned: t0.AddDate(0, -1, 0), Expires: exp}}
	if a.Points != 80 || len(a.Lots) != 1 || a.Lots[0] != want[0] || a.Sales != 1 {
		t.Errorf("after the refund: %+v, want 80 points in %v", a, want)
	}
}
