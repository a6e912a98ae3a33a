package till_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// ean13 returns the EAN-13 of the twelve digits with its check digit.
func ean13(digits string) string {
	sum := 0
	for i, c := range digits {
		d := int(c - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return fmt.Sprintf("%s%d", digits, (10-sum%10)%10)
}

// TestRefundProperty: for random sales priced with a ruleset of every kind
// (chain.toml) and any sequence of partial returns, what the returns give
// back never exceeds what was paid (money for goods, round-up, points
// either way, partner points), and returning everything gives back exactly
// that and leaves the account as it was before the sale: its spend, its
// points and its lots. When the customer spent points in another sale
// meanwhile, the account ends as if only that other sale had happened: the
// points taken back that were spent are owed (below zero), not lost.
func TestRefundProperty(t *testing.T) {
	raw, err := os.ReadFile("../discount/testdata/rules/chain.toml")
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	// A Wednesday in the raffle's window, outside the happy hour: the time of
	// every sale and refund (the ledger's clock).
	now := time.Date(2025, 3, 12, 11, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", NoSync: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rep, err := l.Verify()
		if err != nil || !rep.OK() {
			t.Errorf("verify: %v %v", err, rep.Problems)
		}
		l.Close()
	})
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.ApplyRules(42, "", wire.SignRules(priv, raw), raw); err != nil {
		t.Fatal(err)
	}
	skus := []pos.Line{
		{SKU: "4600000000017", Category: "dairy", UnitPrice: 89_90},
		{SKU: "4600000000024", Category: "tea", UnitPrice: 350_00},
		{SKU: "4600000000031", Category: "drinks", UnitPrice: 120_00},
		{SKU: "4600000000048", Category: "gifts", UnitPrice: 500_00},
		{SKU: "4600000000055", Category: "gifts", UnitPrice: 399_00},
		{SKU: "coffee-1", Category: "coffee", UnitPrice: 1234_56},
		{SKU: "chips", Category: "snacks", UnitPrice: 99_99},
		{SKU: "cig", Category: "tobacco", UnitPrice: 250_00},
	}
	rng := rand.New(rand.NewPCG(17, 2026))
	var seen struct{ lots, redeemed, catalog, donated, raffles, other, overdrawn int }
	runs := 150
	if testing.Short() {
		runs = 30
	}
	for run := range runs {
		card := ean13(fmt.Sprintf("20000000%04d", run))
		points := rng.Int64N(3000)
		snap := pos.Account{LifetimeSpend: money.Amount(rng.Int64N(20000_00)), Points: points, Sales: rng.Int64N(3)}
		if rng.IntN(2) == 0 && points > 0 {
			// Lots: one expired, the rest not, one never expiring.
			a := rng.Int64N(points + 1)
			b := rng.Int64N(points - a + 1)
			snap.Lots = []pos.PointsLot{
				{Points: a, Earned: now.AddDate(-2, 0, 0), Expires: now.AddDate(0, -1, 0)},
				{Points: b, Earned: now.AddDate(-1, 0, 0), Expires: now.AddDate(0, 6, 0)},
				{Points: points - a - b, Earned: now.AddDate(0, -1, 0)},
			}
			snap.Lots = slices.DeleteFunc(snap.Lots, func(l pos.PointsLot) bool { return l.Points == 0 })
		}
		if err := l.PutSnapshot(card, snap, 0, ""); err != nil {
			t.Fatal(err)
		}
		before, err := tl.Account(card)
		if err != nil {
			t.Fatal(err)
		}
		b := pos.Basket{Card: card, RedeemPoints: rng.Int64N(1500), Donate: rng.IntN(2) == 0}
		for _, k := range rng.Perm(len(skus))[:1+rng.IntN(4)] {
			line := skus[k]
			line.Qty = 1 + rng.Int64N(5)
			b.Lines = append(b.Lines, line)
		}
		sale, _, err := tl.Sale(till.SaleRequest{ID: fmt.Sprintf("s%d", run), Basket: b})
		if err != nil {
			t.Fatalf("run %d: sale: %v", run, err)
		}
		var donated money.Amount
		for _, d := range sale.Donations {
			donated += d.Amount
		}
		// Now and then the customer pays with points in another sale before
		// returning the first.
		var other *till.SaleResult
		if rng.IntN(3) == 0 {
			o, _, err := tl.Sale(till.SaleRequest{ID: fmt.Sprintf("o%d", run), Basket: pos.Basket{Card: card, RedeemPoints: 1_000_000,
				Lines: []pos.Line{{SKU: "bread", Category: "bakery", Qty: 1, UnitPrice: 3000_00}}}})
			if err != nil {
				t.Fatalf("run %d: other sale: %v", run, err)
			}
			other = &o
		}

		// Partial returns, in random pieces, until everything is back.
		left := make([]int64, len(sale.Lines))
		for i, l := range sale.Lines {
			left[i] = l.Qty
		}
		var got pos.RefundQuote
		for n := 0; slices.ContainsFunc(left, func(q int64) bool { return q > 0 }); n++ {
			var lines []pos.ReturnLine
			for i := range left {
				if left[i] > 0 && rng.IntN(2) == 0 {
					q := 1 + rng.Int64N(left[i])
					lines = append(lines, pos.ReturnLine{Line: i + 1, Qty: q})
				}
			}
			if len(lines) == 0 && rng.IntN(4) != 0 {
				continue
			}
			r, _, err := tl.Refund(till.RefundRequest{ID: fmt.Sprintf("s%d-r%d", run, n), Sale: sale.ID, Lines: lines})
			if err != nil {
				t.Fatalf("run %d: refund %d of %v: %v", run, n, lines, err)
			}
			for _, rl := range r.Lines {
				left[rl.Line-1] -= rl.Qty
			}
			got.Amount += r.Amount
			got.Donated += r.Donated
			got.Back += r.Back
			got.PointsReversed += r.PointsReversed
			got.PointsReturned += r.PointsReturned
			got.PartnerPoints += r.PartnerPoints
			if got.Amount > sale.Total || got.Donated > donated || got.Back > sale.Total+donated ||
				got.PointsReversed > sale.PointsEarned || got.PointsReturned > sale.PointsRedeemed || got.PartnerPoints > sale.PartnerPoints {
				t.Fatalf("run %d: after refund %d, %+v back of a sale of %d (+%d donated), %d earned, %d redeemed", run, n, got, sale.Total, donated, sale.PointsEarned, sale.PointsRedeemed)
			}
			if r.Full != !slices.ContainsFunc(left, func(q int64) bool { return q > 0 }) {
				t.Errorf("run %d: refund %d full=%v with %v left", run, n, r.Full, left)
			}
			if r.Full && len(r.RafflesVoid) != len(sale.Raffles) || !r.Full && len(r.RafflesVoid) > 0 {
				t.Errorf("run %d: refund %d (full=%v) voids raffles %v of %v", run, n, r.Full, r.RafflesVoid, sale.Raffles)
			}
		}
		if got.Amount != sale.Total || got.Donated != donated || got.PointsReversed != sale.PointsEarned ||
			got.PointsReturned != sale.PointsRedeemed || got.PartnerPoints != sale.PartnerPoints {
			t.Errorf("run %d: everything returned gave %+v; the sale: total %d, donated %d, earned %d, redeemed %d, partner %d",
				run, got, sale.Total, donated, sale.PointsEarned, sale.PointsRedeemed, sale.PartnerPoints)
		}
		after, err := tl.Account(card)
		if err != nil {
			t.Fatal(err)
		}
		wantSpend, wantPoints := before.LifetimeSpend, before.Points
		if other != nil {
			wantSpend += int64(other.Total)
			wantPoints += other.PointsEarned - other.PointsRedeemed
		}
		if after.LifetimeSpend != wantSpend || after.Points != wantPoints {
			t.Errorf("run %d: account after returning everything: %d spent, %d points; want %d and %d (other sale: %v)",
				run, after.LifetimeSpend, after.Points, wantSpend, wantPoints, other != nil)
		}
		for _, c := range []struct {
			n  *int
			ok bool
		}{{&seen.lots, len(before.Lots) > 0}, {&seen.redeemed, sale.PointsRedeemed > 0}, {&seen.donated, donated > 0},
			{&seen.raffles, len(sale.Raffles) > 0}, {&seen.other, other != nil}, {&seen.overdrawn, after.Points < 0},
			{&seen.catalog, slices.ContainsFunc(sale.Applied, func(a pos.Applied) bool { return a.Kind == "catalog" })}} {
			if c.ok {
				*c.n++
			}
		}
		if other == nil && !sameLots(after.Lots, before.Lots) {
			t.Errorf("run %d: lots after returning everything:\n%v\nbefore the sale:\n%v", run, after.Lots, before.Lots)
		}
	}
	t.Logf("%d sales: %d with lots, %d paid with points (%d from the catalog), %d with a round-up, %d with raffle tickets, %d with points spent before the returns (%d overdrawn after)",
		runs, seen.lots, seen.redeemed, seen.catalog, seen.donated, seen.raffles, seen.other, seen.overdrawn)
}

// sameLots compares lots as sets of (earned, expires, points).
func sameLots(a, b []pos.PointsLot) bool {
	key := func(l pos.PointsLot) string { return fmt.Sprint(l.Earned.UnixNano(), l.Expires.UnixNano(), l.Points) }
	ka, kb := make([]string, 0, len(a)), make([]string, 0, len(b))
	for _, l := range a {
		ka = append(ka, key(l))
	}
	for _, l := range b {
		kb = append(kb, key(l))
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// TestRestoreKeepsReturns: a ledger rebuilt from HQ's copy of the chain
// (ledger.Restore with RestoredSale, as `tillctl ledger restore --from-hq`
// does) keeps what the refunds returned: the accounts, the replay of a
// refund, and the bound of the sale.
func TestRestoreKeepsReturns(t *testing.T) {
	raw, err := os.ReadFile("../discount/testdata/rules/returns.toml")
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	open := func() (*ledger.Ledger, *till.Till) {
		l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if rep, err := l.Verify(); err != nil || !rep.OK() {
				t.Errorf("verify: %v %v", err, rep.Problems)
			}
			l.Close()
		})
		tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.ApplyRules(1, "", wire.SignRules(priv, raw), raw); err != nil {
			t.Fatal(err)
		}
		return l, tl
	}
	const card = "2000000000015"
	l1, t1 := open()
	if _, _, err := t1.Sale(till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Qty: 3, UnitPrice: 300_00}}}}); err != nil {
		t.Fatal(err)
	}
	r1, _, err := t1.Refund(till.RefundRequest{ID: "r1", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	if err := l1.Events(0, func(e event.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	st, _ := l1.Stats()

	l2, t2 := open()
	if err := l2.Restore(st.Epoch, evs, till.RestoredSale); err != nil {
		t.Fatal(err)
	}
	a1, _ := t1.Account(card)
	a2, _ := t2.Account(card)
	if a1.Points != a2.Points || a1.LifetimeSpend != a2.LifetimeSpend || a1.Sales != a2.Sales {
		t.Errorf("restored account %+v, the till's %+v", a2, a1)
	}
	again, replayed, err := t2.Refund(till.RefundRequest{ID: "r1", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 2}}})
	if err != nil || !replayed || again.Seq != r1.Seq {
		t.Errorf("r1 again on the restored ledger: %v %v %+v", err, replayed, again)
	}
	if _, _, err := t2.Refund(till.RefundRequest{ID: "r2", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 2}}}); !errors.Is(err, till.ErrOverReturn) {
		t.Errorf("2 more of 3 with 2 returned, on the restored ledger: %v", err)
	}
	if _, _, err := t2.Refund(till.RefundRequest{ID: "r2", Sale: "s1"}); err != nil {
		t.Errorf("the last unit on the restored ledger: %v", err)
	}
}
