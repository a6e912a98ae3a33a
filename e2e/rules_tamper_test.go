package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/internal/ledgertest"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// The attack of issue 14, through the real binaries: stop an enrolled till,
// change a percentage in the ruleset cached in its ledger.db and rewrite the
// SHA-256 stored in front of it. `tillctl ledger verify --file` reports it
// (with HQ's key from the enrollment beside the file); the restarted tilld
// never prices with it: with HQ away it refuses to price and says why, and once
// HQ answers it fetches HQ's ruleset again and sells at the right price, which
// is what HQ receives.
func TestTamperedRulesAtRest(t *testing.T) {
	work := t.TempDir()
	dataDir := filepath.Join(work, "tilld")
	hq := newHQ(t, work, dataDir)
	adminURL := hq.adminURL
	apiAddr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", dataDir, apiAddr))
	ledgerFile := filepath.Join(dataDir, "ledger.db")
	api := apiClient(apiAddr, dataDir)
	ctx := context.Background()
	const card = "2000000000015"
	cur, err := money.ParseCurrency("RUB")
	if err != nil {
		t.Fatal(err)
	}
	rub := func(a money.Amount) string { return cur.Format(a) + " RUB" }
	tv := pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 100_000_00}}}

	p := start(t, "tilld", "run", "--config", conf)
	waitFor(t, 30*time.Second, "tilld to get the rules from HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion == 1 && st.Online
	})
	good, err := api.Quote(ctx, tv)
	if err != nil {
		t.Fatal(err)
	}
	sale := func(id string) till.SaleResult {
		t.Helper()
		res, code, err := api.Sale(ctx, till.SaleRequest{ID: id, Basket: tv})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sale %s: %d %v", id, code, err)
		}
		return res
	}
	if res := sale("before"); res.Total != good.Total {
		t.Fatalf("sale before the attack: total %d, quoted %d", res.Total, good.Total)
	}
	// HQ's price of the next TV, now that the card has spent (a higher tier).
	next, err := api.Quote(ctx, tv)
	if err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	if out := ctl(t, apiAddr, "ledger", "verify", "--file", ledgerFile); !strings.Contains(out, "OK") {
		t.Fatalf("verify --file before the attack:\n%s", out)
	}

	// The attack: 3 % for card holders becomes 99 %, with a matching SHA-256.
	tampered, err := ledgertest.RewriteRuleset(ledgerFile, 1, func(raw []byte) []byte {
		return bytes.Replace(raw, []byte(`percent = "3%"`), []byte(`percent = "99%"`), 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(tampered, discount.Example) {
		t.Fatal(`the example rules have no percent = "3%" to change`)
	}
	rs, err := rulesfile.Parse(tampered)
	if err != nil {
		t.Fatal(err)
	}
	q, err := discount.Apply(rs, tv, &pos.Account{Card: card}, time.Now())
	if err != nil || q.Total > 1_000_00 {
		t.Fatalf("the tampered rules price the TV at %s (%v): the attack would not matter", rub(q.Total), err)
	}
	t.Logf("the tampered rules would price %s at %s; HQ's at %s", rub(q.Subtotal), rub(q.Total), rub(good.Total))

	out := ctlFails(t, "ledger", "verify", "--file", ledgerFile)
	for _, want := range []string{"PROBLEMS", "cached ruleset version 1", "signature does not verify with HQ's key"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --file of the tampered ledger does not say %q:\n%s", want, out)
		}
	}

	// HQ is away: the till refuses to price with what it has, and says why.
	hq.proc.stop(t)
	p = start(t, "tilld", "run", "--config", conf)
	var st till.Status
	waitFor(t, 15*time.Second, "tilld to serve", func() bool {
		st, err = api.Status(ctx)
		return err == nil
	})
	if st.RulesetVersion != 0 || !strings.Contains(st.RulesError, "cached ruleset version 1") || !strings.Contains(st.RulesError, "nothing is priced") {
		t.Errorf("status with the tampered rules: version %d, rules_error %q", st.RulesetVersion, st.RulesError)
	}
	var apiErr *localapi.APIError
	if _, err := api.Quote(ctx, tv); !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable || apiErr.Code != "rules_refused" {
		t.Errorf("quote with the tampered rules: %v, want 503 rules_refused", err)
	}
	if _, _, err := api.Sale(ctx, till.SaleRequest{ID: "while-tampered", Basket: tv}); !errors.As(err, &apiErr) || apiErr.Code != "rules_refused" {
		t.Errorf("sale with the tampered rules: %v, want 503 rules_refused", err)
	}
	if rep, err := api.LedgerVerify(ctx); err != nil || rep.OK || !strings.Contains(fmt.Sprint(rep.Problems), "cached ruleset version 1") {
		t.Errorf("verify through tilld with the tampered rules: %+v %v", rep, err)
	}
	if out := ctl(t, apiAddr, "status"); !strings.Contains(out, "REFUSED: cached ruleset version 1") {
		t.Errorf("tillctl status with the tampered rules does not say they were refused:\n%s", out)
	}

	// HQ is back: the till asks for the rules again (it reports version 0),
	// takes HQ's copy in place of the tampered one, and sells at HQ's price.
	hq.start(t)
	waitFor(t, 60*time.Second, "tilld to fetch HQ's rules again", func() bool {
		st, err = api.Status(ctx)
		return err == nil && st.RulesetVersion == 1 && st.RulesError == ""
	})
	if q, err := api.Quote(ctx, tv); err != nil || q.Total != next.Total {
		t.Errorf("quote once HQ's rules are back: total %s %v, want %s", rub(q.Total), err, rub(next.Total))
	}
	if res := sale("after"); res.Total != next.Total {
		t.Errorf("sale once HQ's rules are back: total %s, want %s", rub(res.Total), rub(next.Total))
	}
	if rep, err := api.LedgerVerify(ctx); err != nil || !rep.OK {
		t.Errorf("verify once HQ's rules are back: %+v %v", rep, err)
	}
	if n := strings.Count(p.out.String(), "cached ruleset refused"); n != 1 {
		t.Errorf("tilld logged the refused ruleset %d times, want once:\n%s", n, p.out)
	}
	// HQ holds both sales, each at HQ's price.
	waitFor(t, 30*time.Second, "HQ to hold both sales", func() bool {
		rep := salesReport(t, adminURL)
		return len(rep.Terminals) == 1 && rep.Terminals[0].Count == 2
	})
	if got := salesReport(t, adminURL).Terminals[0]; got.Total != int64(good.Total+next.Total) {
		t.Errorf("HQ's total %s, want %s + %s", rub(money.Amount(got.Total)), rub(good.Total), rub(next.Total))
	}
	p.stop(t)
	if out := ctl(t, apiAddr, "ledger", "verify", "--file", ledgerFile); !strings.Contains(out, "OK") {
		t.Errorf("verify --file once HQ's copy replaced the tampered one:\n%s", out)
	}
}
