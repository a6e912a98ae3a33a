package till_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
