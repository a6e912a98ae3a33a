package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// TestAudit: a till sells through the real tilld and HQ's audit, pricing
// every synced sale again, finds nothing wrong. Then a forged terminal, with a
// certificate enrollment gave it, uploads a valid hash chain whose sales were
// priced with a doctored ruleset (99 % off under the published version) and
// with a version HQ never published, beside an honest sale and one sold
// before tills kept their pricing inputs: `tillhq report audit` shows each
// flagged sale with the till's and HQ's amounts in roubles, and the other as
// not re-priceable; /metrics counts the flags. On both HQ stores.
func TestAudit(t *testing.T) {
	for _, store := range []string{"bbolt", "postgres"} {
		t.Run(store, func(t *testing.T) { testAudit(t, store) })
	}
}

func testAudit(t *testing.T, store string) {
	ctx := context.Background()
	work := t.TempDir()
	var pgURL string
	if store == "postgres" {
		pgURL = pgDatabase(t)
	}
	h := launchHQ(t, work, discount.Example, pgURL)
	adminURL := h.adminURL
	enroll := func(terminal string) string {
		t.Helper()
		data := filepath.Join(work, terminal)
		h.enroll(t, "S1", terminal, data)
		return data
	}
	audit := func(sales int64) wire.AuditReport {
		t.Helper()
		var rep wire.AuditReport
		waitFor(t, 30*time.Second, fmt.Sprintf("HQ's audit of %d sales", sales), func() bool {
			resp, err := http.Get(adminURL + wire.PathReportAudit)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			rep = wire.AuditReport{}
			return json.NewDecoder(resp.Body).Decode(&rep) == nil && rep.Summary.Sales == sales && rep.Summary.Waiting == 0
		})
		return rep
	}

	// An honest till, through the real tilld.
	honest := enroll("S1-T1")
	apiAddr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", honest, apiAddr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(apiAddr, honest)
	waitFor(t, 15*time.Second, "tilld online with the rules", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Online && st.RulesetVersion == 1
	})
	const card = "2000000000015"
	for i := range 6 {
		b := basket(card, int64(i)*1000_00) // the card climbs the tiers as it buys
		if i%3 == 2 {
			b.Card = ""
		}
		if _, code, err := api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("honest-%d", i), Basket: b}); err != nil || code != http.StatusCreated {
			t.Fatalf("sale %d = %d, %v", i, code, err)
		}
	}
	waitFor(t, 30*time.Second, "the till's sales at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0
	})
	if rep := audit(6); rep.Summary != (wire.AuditSummary{Sales: 6}) || len(rep.Flags) != 0 {
		t.Fatalf("audit of the honest till = %+v, flags %+v; want 6 clean sales", rep.Summary, rep.Flags)
	}
	out := run(t, bin("tillhq"), "report", "audit", "--admin", adminURL)
	if !strings.Contains(out, "audited 6 sales: 0 flagged, 0 not re-priceable") || strings.Contains(out, "FLAGGED") {
		t.Fatalf("tillhq report audit after honest sales:\n%s", out)
	}

	// A forged terminal: an enrolled terminal's certificate, a valid hash
	// chain, and sales priced as nobody at HQ published.
	forgedData := enroll("S1-T2")
	at := time.Now().Truncate(time.Second)
	b := basket(card, 0)
	acct := &pos.Account{Card: card, LifetimeSpend: 12_000_00, Points: 40, Sales: 9}
	doctored := bytes.Replace(discount.Example, []byte(`percent = "3%"`), []byte(`percent = "99%"`), 1)
	evs, err := storetest.PricedSales("S1-T2", 1, "",
		storetest.PricedSpec{Rules: discount.Example, Basket: b, Account: acct, At: at},                 // honest
		storetest.PricedSpec{Rules: doctored, Basket: b, Account: acct, At: at},                         // 99 % under version 1
		storetest.PricedSpec{Rules: storetest.Version(doctored, 7), Basket: b, Account: acct, At: at},   // version 7: never published
		storetest.PricedSpec{Rules: discount.Example, Basket: b, Account: acct, At: at, NoInputs: true}, // sold before tills kept inputs
	)
	if err != nil {
		t.Fatal(err)
	}
	if code, answer := h.uploadAs(t, forgedData, "S1-T2", evs); code != http.StatusOK || !strings.Contains(answer, `"acked":4`) {
		t.Fatalf("forged upload = %d %s; HQ takes any valid chain of an enrolled terminal", code, answer)
	}
	rep := audit(10)
	if rep.Summary != (wire.AuditSummary{Sales: 10, Flagged: 2, Unpriceable: 1}) {
		t.Fatalf("audit summary = %+v; want 10 sales, 2 flagged, 1 not re-priceable", rep.Summary)
	}
	var forged, honestSale pos.Sale
	json.Unmarshal(evs[1].Body, &forged)
	json.Unmarshal(evs[0].Body, &honestSale)
	rub := func(a money.Amount) string { return money.Display(a, "RUB") }
	out = run(t, bin("tillhq"), "report", "audit", "--admin", adminURL)
	t.Logf("tillhq report audit:\n%s", out)
	for _, want := range []string{
		"audited 10 sales: 2 flagged, 1 not re-priceable; 0 events not audited yet",
		"FLAGGED S1-T2 seq 2: sale S1-T2-sale-2",
		"ruleset_hash: priced with a ruleset of SHA-256",
		fmt.Sprintf("total: till %s, HQ %s", rub(forged.Total), rub(honestSale.Total)),
		fmt.Sprintf("discount: till %s, HQ %s", rub(forged.Discount), rub(honestSale.Discount)),
		fmt.Sprintf("points_earned: till %d, HQ %d", forged.PointsEarned, honestSale.PointsEarned),
		"FLAGGED S1-T2 seq 3: sale S1-T2-sale-3",
		"unpublished_ruleset: ruleset version 7 was never published",
		"S1-T2 first chain: 1 sale not re-priceable (sold before the till recorded what it priced with), seq 4-4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tillhq report audit lacks %q", want)
		}
	}
	if forged.Total*10 > honestSale.Total {
		t.Errorf("the doctored ruleset charged %s for %s: not the 99 %% the test means", rub(forged.Total), rub(honestSale.Total))
	}
	if strings.Contains(out, "S1-T1") {
		t.Error("the honest till is in the audit report")
	}
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte("\ntillhq_audit_flagged_sales 2\n")) {
		t.Errorf("/metrics does not count 2 flagged sales:\n%s", metrics)
	}
}
