package till_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// TestClaimedPointsCountAgainstOfflineLimits: the points a return on a
// receipt's word gives back to the card count against the offline limits
// at what a point pays for, as money back does; a claim of a billion points
// paid with is refused and the card keeps its points.
func TestClaimedPointsCountAgainstOfflineLimits(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub,
		Link: func() till.Link { return till.Link{Online: false} },
		FetchSale: func(context.Context, string) (wire.SaleAnswer, error) {
			return wire.SaleAnswer{}, errors.New("dial tcp: connection refused")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := (signer{t, priv, tl}).apply(1, `
[limits]
offline_return = "1000.00"
offline_returns_per_day = "1500.00"

[[rule]]
id = "pay"
kind = "redeem"
point_value = "1.00"
`); err != nil {
		t.Fatal(err)
	}
	const card = "2000000000015"
	claim := func(id, receipt string, redeemed int64) error {
		_, _, err := tl.Refund(till.RefundRequest{ID: id, Receipt: receipt, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}},
			Claim: &pos.ReceiptClaim{Card: card, Lines: []pos.ClaimLine{{Line: 1, SKU: "tea", Qty: 1, Paid: 0, Redeemed: redeemed}}}})
		return err
	}
	points := func() int64 {
		a, err := tl.Account(card)
		if err != nil {
			t.Fatal(err)
		}
		return a.Points
	}

	var le *ledger.OfflineLimitError
	err = claim("r1", "T9-5-abcdef", pos.MaxClaimPoints)
	if !errors.As(err, &le) || le.Limit != ledger.LimitOfflineReturn || le.Points != le.Asked || le.Asked <= 1000_00 {
		t.Fatalf("a claim of %d points paid with: %v, want offline_return counting the points", pos.MaxClaimPoints, err)
	}
	if !strings.Contains(err.Error(), "in points given back, at their value") {
		t.Errorf("the refusal does not say the points counted: %v", err)
	}
	if got := points(); got != 0 {
		t.Errorf("the card after the refused claim: %d points, want 0", got)
	}
	if err := claim("r2", "T9-5-abcdef", 800); err != nil {
		t.Fatalf("800 points back (800.00 at 1.00 a point): %v", err)
	}
	if got := points(); got != 800 {
		t.Errorf("the card after 800 points given back: %d points", got)
	}
	err = claim("r3", "T9-6-abcdef", 800)
	if !errors.As(err, &le) || le.Limit != ledger.LimitOfflineReturnsPerDay || le.Used != 800_00 || le.Asked != 800_00 || le.Points != 800_00 {
		t.Errorf("another 800 points the same day: %v, want offline_returns_per_day with 800.00 used", err)
	}
}

// TestReturnOfOwnPrunedSale: a receipt of this till's own sale, older than
// its ledger keeps, is taken back with HQ's copy of the sale, counting the
// returns this till made of it before it was pruned; without HQ it is
// sale_not_kept.
func TestReturnOfOwnPrunedSale(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var hq *wire.SaleAnswer // what HQ answers; nil: unreachable
	asked := 0
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub,
		FetchSale: func(_ context.Context, receipt string) (wire.SaleAnswer, error) {
			asked++
			if hq == nil {
				return wire.SaleAnswer{}, errors.New("dial tcp: connection refused")
			}
			return *hq, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); err != nil {
		t.Fatal(err)
	}
	sale, _, err := tl.Sale(till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: "2000000000015", Lines: []pos.Line{{SKU: "tea", Category: "grocery", Qty: 3, UnitPrice: 100_00}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tl.Refund(till.RefundRequest{ID: "r1", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}); err != nil {
		t.Fatalf("a return while the till keeps the sale: %v", err)
	}
	se, err := l.SaleOf(ledger.RefundRequest{ID: "x", SaleSeq: sale.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Ack(2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if pruned, counted, err := l.PrunedSale(sale.Seq); !pruned || !counted || err != nil {
		t.Fatalf("the sale after the prune: pruned %v, counted %v, %v", pruned, counted, err)
	}

	asked = 0
	_, _, err = tl.Refund(till.RefundRequest{ID: "r2", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}})
	if !errors.Is(err, till.ErrSaleNotKept) || asked != 1 {
		t.Errorf("a return of the pruned sale with HQ out of reach: %v (HQ asked %d times), want ErrSaleNotKept", err, asked)
	}
	hq = &wire.SaleAnswer{Event: se} // no other till returned any of it
	res, _, err := tl.Refund(till.RefundRequest{ID: "r2", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}})
	if err != nil || res.Amount != 97_00 || res.SaleTerminal != "" || res.SaleSeq != sale.Seq || len(res.Before) != 1 || res.Before[0] != 1 {
		t.Fatalf("a return of the pruned sale through HQ: %+v %v, want one tea at 97.00 after the one returned before", res.Refund, err)
	}
	// Three sold, one returned before the prune and one now: two more is over.
	if _, _, err = tl.Refund(till.RefundRequest{ID: "r3", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 2}}}); !errors.Is(err, till.ErrOverReturn) {
		t.Errorf("two more of three, two returned: %v, want ErrOverReturn", err)
	}
	// Another till returned the last one: HQ says so.
	hq = &wire.SaleAnswer{Event: se, Returned: []int64{1}}
	if _, _, err = tl.Refund(till.RefundRequest{ID: "r3", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}); !errors.Is(err, till.ErrOverReturn) {
		t.Errorf("the third tea, which another till took back: %v, want ErrOverReturn", err)
	}
	hq = &wire.SaleAnswer{Event: se}
	if _, _, err := tl.Refund(till.RefundRequest{ID: "r3", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}); err != nil {
		t.Errorf("the last one: %v", err)
	}
	if rep, err := l.Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify: %+v %v", rep.Problems, err)
	}
}
