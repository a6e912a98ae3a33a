package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

const returnsCard = "2000000000015"

// TestReturns drives returns through the real tilld and tillctl: the worked
// example of docs/rules.md ("Returns") by sale id, receipt code and seq;
// a hundred buy-then-return cycles; twenty partial returns racing for ten
// units; and, after a restart, the replays and the bound still hold.
func TestReturns(t *testing.T) {
	rules, err := os.ReadFile("../discount/testdata/rules/returns.toml")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "tilld")
	s := newStandaloneWith(t, dataDir, rules, func(l *ledger.Ledger) error {
		// A Gold card with 1 000 points, as HQ would have sent it.
		return l.PutSnapshot(returnsCard, pos.Account{LifetimeSpend: 12000_00, Points: 1000, Sales: 9}, 0, "")
	})
	p := s.start(t)
	ctx := context.Background()
	account := func(wantPoints int64, wantSpend string) {
		t.Helper()
		out := ctl(t, s.addr, "account", returnsCard)
		if !strings.Contains(out, fmt.Sprintf("points          %d\n", wantPoints)) || !strings.Contains(out, "lifetime spend  "+wantSpend+" RUB\n") {
			t.Errorf("tillctl account: want %d points and %s spent:\n%s", wantPoints, wantSpend, out)
		}
	}

	sale, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: returnsCard, RedeemPoints: 500, Lines: []pos.Line{
		{SKU: "tea", Qty: 3, UnitPrice: 300_00}, {SKU: "coffee", Qty: 1, UnitPrice: 1000_00}, {SKU: "mug", Qty: 1, UnitPrice: 300_00},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if sale.Total != 1710_00 || sale.PointsEarned != 17 || sale.ReceiptCode == "" {
		t.Fatalf("sale: total %d, %d points, receipt code %q", sale.Total, sale.PointsEarned, sale.ReceiptCode)
	}
	account(517, "13710.00")

	out := ctl(t, s.addr, "refund", "--id", "r1", "--sale", "s1", "1:1", "--reason", "не подошёл")
	for _, want := range []string{"refund r1 recorded", "money back      284.21 RUB (goods 270.00 RUB, charity round-up 14.21 RUB)", "points          3 taken back, 0 given back", "partner points  6 taken back (aeroflot)"} {
		if !strings.Contains(out, want) {
			t.Errorf("tillctl refund r1: no %q in:\n%s", want, out)
		}
	}
	account(514, "13440.00")
	out = ctl(t, s.addr, "refund", "--id", "r2", "--receipt", sale.ReceiptCode, "3:1")
	if !strings.Contains(out, "points          0 taken back, 500 given back") {
		t.Errorf("tillctl refund r2:\n%s", out)
	}
	account(1014, "13440.00")
	var r3 till.RefundResult
	if err := json.Unmarshal([]byte(ctl(t, s.addr, "--json", "refund", "--id", "r3", "--seq", fmt.Sprint(sale.Seq))), &r3); err != nil {
		t.Fatal(err)
	}
	if r3.Back != 1515_79 || !r3.Full || len(r3.RafflesVoid) != 1 {
		t.Errorf("refund r3: back %s, full %v, raffles void %v", money.Display(r3.Back, "RUB"), r3.Full, r3.RafflesVoid)
	}
	account(1000, "12000.00")
	if out := ctlFails(t, "--addr", s.addr, "--token-file", filepath.Join(dataDir, localapi.TokenFile), "refund", "--id", "r4", "--sale", "s1", "2:1"); !strings.Contains(out, "over_return") {
		t.Errorf("a return beyond the sale: %s", out)
	}

	// What the card can get for its 1 000 points, and how much of a basket
	// they may pay (no redeem rule here: only the catalog's mug).
	if out := ctl(t, s.addr, "rewards", returnsCard, "tv:electronics:1:600.00"); !strings.Contains(out, "points          1000 (1000 usable now)") ||
		!strings.Contains(out, "Кружка (mug) for 500 points: available") || !strings.Contains(out, "this basket     up to 0 points, 0.00 RUB") {
		t.Errorf("tillctl rewards:\n%s", out)
	}

	// A hundred buy-then-return cycles leave nothing behind.
	for i := range 100 {
		s2, _, err := s.api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("c%d", i), Basket: pos.Basket{Card: returnsCard, Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 1234_56}}}})
		if err != nil {
			t.Fatal(err)
		}
		if s2.PointsEarned != 11 { // Gold: 1 111.10 paid
			t.Fatalf("cycle %d earned %d points, want 11", i, s2.PointsEarned)
		}
		if _, _, err := s.api.Refund(ctx, till.RefundRequest{ID: fmt.Sprintf("cr%d", i), Sale: s2.ID}); err != nil {
			t.Fatal(err)
		}
	}
	account(1000, "12000.00")

	// Twenty partial returns race for ten units.
	pens, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "pens", Basket: pos.Basket{Card: returnsCard, Lines: []pos.Line{{SKU: "pen", Qty: 10, UnitPrice: 33_33}}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var back money.Amount
	refused := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := s.api.Refund(ctx, till.RefundRequest{ID: fmt.Sprintf("pr%d", i), Sale: "pens", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}})
			mu.Lock()
			defer mu.Unlock()
			var ae *localapi.APIError
			switch {
			case err == nil:
				back += r.Back
			case errors.As(err, &ae) && ae.Code == "over_return":
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	donated := money.Amount(0)
	for _, d := range pens.Donations {
		donated += d.Amount
	}
	if refused != 10 || back != pens.Total+donated {
		t.Errorf("%d of 20 refused, %s back; want 10 and %s", refused, money.Display(back, "RUB"), money.Display(pens.Total+donated, "RUB"))
	}
	account(1000, "12000.00")

	// A return after the points it takes back were spent: 60 000.00 at Gold
	// earns 540 points; three mugs take 1 500 of the 1 540; returning the
	// first sale takes back 540 the card no longer has: -500, an overdraft
	// that later earnings pay back before any point can be spent.
	big, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "big", Basket: pos.Basket{Card: returnsCard, Lines: []pos.Line{{SKU: "sofa", Qty: 1, UnitPrice: 60000_00}}}})
	if err != nil || big.PointsEarned != 540 {
		t.Fatalf("big sale: %v, %d points", err, big.PointsEarned)
	}
	mugs, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "mugs", Basket: pos.Basket{Card: returnsCard, RedeemPoints: 1500, Lines: []pos.Line{{SKU: "mug", Qty: 3, UnitPrice: 300_00}}}})
	if err != nil || mugs.PointsRedeemed != 1500 || mugs.PointsEarned != 0 {
		t.Fatalf("mugs: %v, %d redeemed, %d earned", err, mugs.PointsRedeemed, mugs.PointsEarned)
	}
	ctl(t, s.addr, "refund", "--id", "big-back", "--sale", "big")
	account(-500, "12000.00")
	if out := ctl(t, s.addr, "rewards", returnsCard); !strings.Contains(out, "next            ещё 1000 баллов до «Кружка»") {
		t.Errorf("tillctl rewards of a card in overdraft:\n%s", out)
	}

	// After a restart: the same refund again is its first answer, and the
	// sale's bound holds.
	p.stop(t)
	s.start(t)
	again, code, err := s.api.Refund(ctx, till.RefundRequest{ID: "r3", Seq: sale.Seq})
	if err != nil || code != 200 || again.Seq != r3.Seq || again.Back != r3.Back {
		t.Errorf("r3 after a restart: %d %v %+v", code, err, again)
	}
	if _, _, err := s.api.Refund(ctx, till.RefundRequest{ID: "pr-late", Sale: "pens"}); err == nil {
		t.Error("a whole return of a sale returned whole was recorded after a restart")
	}
	if out := ctl(t, s.addr, "ledger", "verify"); !strings.Contains(out, "OK") && !strings.Contains(out, "ok") {
		t.Errorf("ledger verify:\n%s", out)
	}
}
