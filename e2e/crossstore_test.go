package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

const crossStoreRules = `schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"
`

// TestCrossStoreReturns: a sale at one store taken back at the tills of two
// others through the real binaries, by the receipt code printed with it.
// Online, each asks HQ for the sale and for what the others returned of it
// (the selling till too), so together they never return more than was
// sold; the card's points and
// spend at HQ follow. Offline, a till does not take back another till's
// sale (503 sale_unreachable), but a retry of a return it recorded replays.
// Every ledger verifies.
func TestCrossStoreReturns(t *testing.T) {
	work := t.TempDir()
	h := launchHQ(t, work, []byte(crossStoreRules), "")
	ctx := context.Background()
	type tillProc struct {
		addr string
		api  *localapi.Client
	}
	startTill := func(store, terminal string) tillProc {
		e := h.enrollTill(t, work, store, terminal, "")
		addr, api := e.addr, e.api
		start(t, "tilld", "run", "--config", e.conf)
		waitFor(t, 15*time.Second, terminal+" online with rules", func() bool {
			st, err := api.Status(ctx)
			return err == nil && st.RulesetVersion > 0 && st.Online
		})
		return tillProc{addr, api}
	}
	t1, t2, t3 := startTill("S1", "S1-T1"), startTill("S2", "S2-T1"), startTill("S3", "S3-T1")
	const card = "2000000000015"
	sale, code, err := t1.api.Sale(ctx, till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: card, Lines: []pos.Line{
		{SKU: "tea", Qty: 2, UnitPrice: 300_00}, {SKU: "coffee", Qty: 1, UnitPrice: 1000_00}}}})
	if err != nil || code != http.StatusCreated || sale.PointsEarned != 16 {
		t.Fatalf("sale: %d %v %+v", code, err, sale.Quote)
	}
	hqAccount := func() wire.AccountAnswer {
		var a wire.AccountAnswer
		resp, err := http.Get(h.adminURL + wire.PathAdminCustomers + "/" + card)
		if err == nil {
			defer resp.Body.Close()
			err = json.NewDecoder(resp.Body).Decode(&a)
		}
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	waitFor(t, 30*time.Second, "HQ to hold the sale", func() bool { return hqAccount().Account.Points == 16 })

	// S2 takes back one tea by the receipt code.
	out := ctl(t, t2.addr, "refund", "--id", "x1", "--receipt", sale.ReceiptCode, "1:1")
	if !strings.Contains(out, "refund x1 recorded") || !strings.Contains(out, "300.00 RUB") {
		t.Errorf("tillctl refund at S2:\n%s", out)
	}
	var r1 till.RefundResult
	if err := json.Unmarshal([]byte(ctl(t, t2.addr, "--json", "refund", "--id", "x1", "--receipt", sale.ReceiptCode, "1:1")), &r1); err != nil {
		t.Fatal(err)
	}
	if r1.SaleTerminal != "S1-T1" || r1.SaleSeq != sale.Seq || r1.Amount != 300_00 || r1.PointsReversed != 3 {
		t.Errorf("the return at S2: %+v", r1)
	}
	waitFor(t, 30*time.Second, "HQ to hold S2's return", func() bool {
		a := hqAccount().Account
		return a.Points == 13 && a.LifetimeSpend == 1300_00
	})
	// S3 may take back one tea, not two: S2 took one.
	refund := func(api *localapi.Client, id string, qty int64) (till.RefundResult, error) {
		r, _, err := api.Refund(ctx, till.RefundRequest{ID: id, Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: qty}}})
		return r, err
	}
	var apiErr *localapi.APIError
	if _, err := refund(t3.api, "y1", 2); !errors.As(err, &apiErr) || apiErr.Code != "over_return" {
		t.Errorf("S3 returns two teas after S2 returned one: %v, want over_return", err)
	}
	if r, err := refund(t3.api, "y2", 1); err != nil || r.Amount != 300_00 {
		t.Errorf("S3 returns the other tea: %+v %v", r, err)
	}
	waitFor(t, 30*time.Second, "HQ to hold S3's return", func() bool { return hqAccount().Account.Points == 10 })
	// The selling till asks HQ too: both teas are back, the coffee is not.
	if _, _, err := t1.api.Refund(ctx, till.RefundRequest{ID: "z0", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}); !errors.As(err, &apiErr) || apiErr.Code != "over_return" {
		t.Errorf("S1 returns a tea S2 and S3 took back: %v, want over_return", err)
	}
	if r, _, err := t1.api.Refund(ctx, till.RefundRequest{ID: "z1", Sale: "s1", Lines: []pos.ReturnLine{{Line: 2, Qty: 1}}}); err != nil || r.Amount != 1000_00 {
		t.Errorf("S1 returns the coffee: %+v %v", r, err)
	}

	// Offline: no return of another till's sale, but a retry replays.
	h.proc.stop(t)
	waitFor(t, 30*time.Second, "S2 to see HQ gone", func() bool {
		st, err := t2.api.Status(ctx)
		return err == nil && !st.Online
	})
	if _, err := refund(t2.api, "x2", 1); !errors.As(err, &apiErr) || apiErr.Code != "sale_unreachable" {
		t.Errorf("S2 offline returns another till's sale: %v, want sale_unreachable", err)
	}
	if r, _, err := t2.api.Refund(ctx, till.RefundRequest{ID: "x1", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}); err != nil || r.Seq != r1.Seq {
		t.Errorf("S2 offline, a retry of x1: %+v %v, want the recorded return", r, err)
	}
	for _, tp := range []tillProc{t1, t2, t3} {
		if out := ctl(t, tp.addr, "ledger", "verify"); !strings.Contains(out, "OK") {
			t.Errorf("ledger verify at %s:\n%s", tp.addr, out)
		}
	}
}
