package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
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

// tillProc is a running tilld: its API address and client, its config
// and process.
type tillProc struct {
	addr string
	api  *localapi.Client
	conf string
	proc *proc
}

// onlineTill enrolls terminal of store with h, starts its tilld and waits
// until it is online with rules.
func onlineTill(t *testing.T, h *hqProc, work, store, terminal string) tillProc {
	t.Helper()
	e := h.enrollTill(t, work, store, terminal, "")
	p := start(t, "tilld", "run", "--config", e.conf)
	waitFor(t, 15*time.Second, terminal+" online with rules", func() bool {
		st, err := e.api.Status(context.Background())
		return err == nil && st.RulesetVersion > 0 && st.Online
	})
	return tillProc{e.addr, e.api, e.conf, p}
}

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
	t1, t2, t3 := onlineTill(t, h, work, "S1", "S1-T1"), onlineTill(t, h, work, "S2", "S2-T1"), onlineTill(t, h, work, "S3", "S3-T1")
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

// offlineReturnRules let a till take back another till's sale on its
// receipt's word while HQ is out of reach: 1 000.00 RUB a return, 1 500.00
// RUB a day per till.
const offlineReturnRules = crossStoreRules + `
[limits]
offline_return = "1000.00"
offline_returns_per_day = "1500.00"
`

// TestOfflineCrossStoreReturns: with HQ stopped, the tills of two other
// stores take back a sale of S1 on what its receipt says, within the rules'
// offline limits (beyond them, a refusal naming the limit and the excess in
// roubles); both take back the same tea, one more than was sold. HQ back,
// each return is uploaded exactly once, and HQ applies to the card only
// what the sale allows (all of it back: no points, no spend), and reports
// the excess (the admin API, tillhq report return-excess, the audit). A
// return that reaches HQ before its sale (made at S1 while HQ was down, S1
// kept down) applies nothing until the sale comes, then what it allows. On
// the embedded store and on PostgreSQL.
func TestOfflineCrossStoreReturns(t *testing.T) {
	for _, store := range []string{"bolt", "postgres"} {
		t.Run(store, func(t *testing.T) {
			pgURL := ""
			if store == "postgres" {
				pgURL = pgDatabase(t)
			}
			testOfflineCrossStoreReturns(t, pgURL)
		})
	}
}

func testOfflineCrossStoreReturns(t *testing.T, pgURL string) {
	work := t.TempDir()
	h := launchHQ(t, work, []byte(offlineReturnRules), pgURL)
	ctx := context.Background()
	a, b, c := onlineTill(t, h, work, "S1", "S1-T1"), onlineTill(t, h, work, "S2", "S2-T1"), onlineTill(t, h, work, "S3", "S3-T1")
	const card = "2000000000015"
	sale, code, err := a.api.Sale(ctx, till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: card, Lines: []pos.Line{
		{SKU: "tea", Qty: 2, UnitPrice: 300_00}, {SKU: "coffee", Qty: 1, UnitPrice: 1000_00}}}})
	if err != nil || code != http.StatusCreated || sale.PointsEarned != 16 {
		t.Fatalf("sale: %d %v %+v", code, err, sale.Quote)
	}
	getJSON := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(h.adminURL + path)
		if err == nil {
			defer resp.Body.Close()
			err = json.NewDecoder(resp.Body).Decode(v)
		}
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	hqAccount := func() pos.Account {
		var a wire.AccountAnswer
		getJSON(wire.PathAdminCustomers+"/"+card, &a)
		return a.Account
	}
	waitFor(t, 30*time.Second, "HQ to hold the sale", func() bool { return hqAccount().Points == 16 })
	// HQ up: a mistyped code is refused, the receipt's word or not.
	typo := sale.ReceiptCode[:len(sale.ReceiptCode)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(sale.ReceiptCode, "0")]
	var apiErr *localapi.APIError
	if _, _, err := b.api.Refund(ctx, till.RefundRequest{ID: "b-typo", Receipt: typo, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}},
		Claim: &pos.ReceiptClaim{Card: card, Lines: []pos.ClaimLine{{Line: 1, SKU: "tea", Qty: 2, Paid: 600_00, Points: 6}}}}); !errors.As(err, &apiErr) || apiErr.Code != "no_sale_at_hq" {
		t.Errorf("S2 online, a mistyped receipt code with the receipt's word: %v, want no_sale_at_hq", err)
	}

	h.proc.stop(t)
	for _, tp := range []tillProc{b, c} {
		waitFor(t, 30*time.Second, tp.addr+" to see HQ gone", func() bool {
			st, err := tp.api.Status(ctx)
			return err == nil && !st.Online
		})
	}
	// What the receipt says: line 1, 2 teas paid 600.00 RUB, 6 points;
	// line 2, a coffee paid 1 000.00 RUB, 10 points.
	tea := pos.ClaimLine{Line: 1, SKU: "tea", Qty: 2, Paid: 600_00, Points: 6}
	coffee := pos.ClaimLine{Line: 2, SKU: "coffee", Qty: 1, Paid: 1000_00, Points: 10}
	refund := func(tp tillProc, id string, claim pos.ClaimLine, qty int64) (till.RefundResult, error) {
		r, _, err := tp.api.Refund(ctx, till.RefundRequest{ID: id, Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: claim.Line, Qty: qty}},
			Claim: &pos.ReceiptClaim{Card: card, Lines: []pos.ClaimLine{claim}}})
		return r, err
	}
	// Without the receipt's word, no return; with it, one tea at S2 (tillctl).
	if _, _, err := b.api.Refund(ctx, till.RefundRequest{ID: "b0", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}); !errors.As(err, &apiErr) || apiErr.Code != "sale_unreachable" {
		t.Errorf("S2 offline, no claim: %v, want sale_unreachable", err)
	}
	out := ctl(t, b.addr, "refund", "--id", "b1", "--receipt", sale.ReceiptCode, "--currency", "RUB", "--claim-card", card,
		"--claim", "1:tea:2:600.00::6", "1:1")
	if !strings.Contains(out, "refund b1 recorded") || !strings.Contains(out, "money back      300.00 RUB") || !strings.Contains(out, "receipt's word") {
		t.Errorf("tillctl refund on the receipt's word at S2:\n%s", out)
	}
	// The receipt's word beyond one return's limit: a coffee "paid 1 200.00".
	dear := coffee
	dear.Paid = 1200_00
	if _, err := refund(b, "b2", dear, 1); !errors.As(err, &apiErr) || apiErr.Code != "offline_limit" ||
		!strings.Contains(apiErr.Message, "at most 1000.00 RUB (offline_return)") || !strings.Contains(apiErr.Message, "200.00 RUB too much") {
		t.Errorf("S2, a return of 1 200.00 RUB offline: %v, want offline_limit by 200.00 RUB", err)
	}
	if r, err := refund(b, "b3", coffee, 1); err != nil || r.Back != 1000_00 || r.PointsReversed != 10 || r.Claim == nil {
		t.Errorf("S2 returns the coffee offline: %+v %v", r, err)
	}
	// 1 300.00 RUB went back at S2 today: the other tea would pass 1 500.00.
	if _, err := refund(b, "b4", tea, 1); !errors.As(err, &apiErr) || apiErr.Code != "offline_limit" ||
		!strings.Contains(apiErr.Message, "at most 1500.00 RUB a day (offline_returns_per_day); 1300.00 RUB went back today") ||
		!strings.Contains(apiErr.Message, "100.00 RUB too much") {
		t.Errorf("S2, past the day's limit: %v, want offline_limit by 100.00 RUB", err)
	}
	// S3 knows nothing of S2's returns: it takes both teas back.
	if r, err := refund(c, "c1", tea, 2); err != nil || r.Back != 600_00 || r.PointsReversed != 6 {
		t.Errorf("S3 returns two teas offline: %+v %v", r, err)
	}
	// A retry replays; the receipt's lines beyond what it sold are refused.
	if r, err := refund(c, "c1", tea, 2); err != nil || r.Back != 600_00 {
		t.Errorf("S3 retries c1: %+v %v", r, err)
	}
	if _, err := refund(c, "c2", tea, 1); !errors.As(err, &apiErr) || apiErr.Code != "over_return" {
		t.Errorf("S3 a third tea of a receipt of two: %v, want over_return", err)
	}
	// S1 sells a tea offline, S3 takes it back on its receipt's word, and
	// S1 stays down until S3's return is at HQ: the return waits there for
	// its sale.
	sale2, code, err := a.api.Sale(ctx, till.SaleRequest{ID: "s2", Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 300_00}}}})
	if err != nil || code != http.StatusCreated || sale2.PointsEarned != 3 {
		t.Fatalf("offline sale at S1: %d %v", code, err)
	}
	if r, _, err := c.api.Refund(ctx, till.RefundRequest{ID: "c3", Receipt: sale2.ReceiptCode,
		Claim: &pos.ReceiptClaim{Card: card, Lines: []pos.ClaimLine{{Line: 1, SKU: "tea", Qty: 1, Paid: 300_00, Points: 3}}}}); err != nil || r.Back != 300_00 {
		t.Errorf("S3 returns S1's offline sale: %+v %v", r, err)
	}
	a.proc.stop(t)

	h.start(t)
	var rep wire.SalesReport
	waitFor(t, 60*time.Second, "HQ to hold every return", func() bool {
		getJSON(wire.PathReportSales, &rep)
		n := map[string]int64{}
		for _, ts := range rep.Terminals {
			n[ts.Terminal] = ts.Refunds
		}
		return n["S2-T1"] == 2 && n["S3-T1"] == 2
	})
	var ex wire.ReturnExcessReport
	getJSON(wire.PathReportReturnExcess, &ex)
	if !slices.ContainsFunc(ex.Returns, func(x wire.ReturnExcess) bool {
		return x.Refund == "c3" && slices.Equal(x.Reasons, []string{wire.ExcessNoSale})
	}) {
		t.Errorf("before S1 uploads its sale, S3's return of it: %+v, want no_sale", ex.Returns)
	}
	a.proc = start(t, "tilld", "run", "--config", a.conf)
	waitFor(t, 60*time.Second, "HQ to hold S1's offline sale", func() bool {
		getJSON(wire.PathReportSales, &rep)
		for _, ts := range rep.Terminals {
			if ts.Terminal == "S1-T1" {
				return ts.Count == 2
			}
		}
		return false
	})
	// Exactly once, and the card gets back what the sale allows: the whole
	// sale, no more (16 points and 1 600.00 RUB of spend off, to zero).
	getJSON(wire.PathReportSales, &rep)
	for _, ts := range rep.Terminals {
		if want := map[string]int64{"S1-T1": 0, "S2-T1": 2, "S3-T1": 2}[ts.Terminal]; ts.Refunds != want {
			t.Errorf("%s: %d refunds at HQ, want %d", ts.Terminal, ts.Refunds, want)
		}
	}
	if acct := hqAccount(); acct.Points != 0 || acct.LifetimeSpend != 0 {
		t.Errorf("the card at HQ: %d points, spend %d; want 0 and 0: the whole sale back, no more", acct.Points, acct.LifetimeSpend)
	}
	// One tea too many went back: 300.00 RUB, in the report; the return
	// that came before its sale was reconciled when the sale came.
	getJSON(wire.PathReportReturnExcess, &ex)
	if len(ex.Returns) != 1 || ex.Returns[0].Excess != 300_00 || !slices.Equal(ex.Returns[0].Reasons, []string{wire.ExcessOverReturn}) ||
		ex.Returns[0].SaleTerminal != "S1-T1" || ex.Returns[0].Receipt != sale.ReceiptCode {
		t.Errorf("return excess report: %+v, want one over-return of 300.00 RUB", ex.Returns)
	}
	out = run(t, bin("tillhq"), "report", "return-excess", "--admin", h.adminURL)
	t.Logf("tillhq report return-excess:\n%s", out)
	if !strings.Contains(out, "over_return") || !strings.Contains(out, "300.00 RUB") || !strings.Contains(out, sale.ReceiptCode) {
		t.Errorf("tillhq report return-excess:\n%s", out)
	}
	waitFor(t, 60*time.Second, "the audit to flag the excess", func() bool {
		return strings.Contains(run(t, bin("tillhq"), "report", "audit", "--admin", h.adminURL), wire.AuditOfflineExcess)
	})
	for _, tp := range []tillProc{a, b, c} {
		if out := ctl(t, tp.addr, "ledger", "verify"); !strings.Contains(out, "OK") {
			t.Errorf("ledger verify at %s:\n%s", tp.addr, out)
		}
	}
}
