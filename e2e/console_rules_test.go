package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// postgres returns the database URL HQ runs on ("" for bbolt).
func (h *hqProc) postgres() string {
	if i := slices.Index(h.args, "--postgres"); i >= 0 && i+1 < len(h.args) {
		return h.args[i+1]
	}
	return ""
}

// simDraft is discount.Example as version 2 with the club card at 5 % and
// two bonus points per 100.00.
func simDraft(t *testing.T) []byte {
	t.Helper()
	d := bytes.Replace(discount.Example, []byte("version = 1"), []byte("version = 2"), 1)
	d = bytes.Replace(d, []byte(`percent = "3%"`), []byte(`percent = "5%"`), 1)
	d = bytes.Replace(d, []byte("points = 1\nper = \"100.00\""), []byte("points = 2\nper = \"100.00\""), 1)
	if bytes.Equal(d, discount.Example) || !bytes.Contains(d, []byte(`"5%"`)) || !bytes.Contains(d, []byte("points = 2")) {
		t.Fatal("the example ruleset changed: the draft edits found nothing to change")
	}
	return d
}

// repriced is what re-pricing sales with the engine gives, added up.
type repriced struct {
	sales                  int64
	live, draft            hq.SimFigures
	ruleAmount, rulePoints map[string]money.Amount
	stores                 map[string]hq.SimFigures
}

// repriceHeld reads every sale HQ's store holds and prices each again with
// the engine and draft, on its own, as a till would have.
func repriceHeld(t *testing.T, pgURL string, draft []byte) repriced {
	t.Helper()
	ctx := context.Background()
	st, err := pgstore.Open(ctx, pgURL, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := rulesfile.Parse(draft)
	if err != nil {
		t.Fatal(err)
	}
	out := repriced{ruleAmount: map[string]money.Amount{}, rulePoints: map[string]money.Amount{}, stores: map[string]hq.SimFigures{}}
	terms, err := st.SalesReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, term := range terms {
		chains, err := st.Chains(ctx, term.Terminal)
		if err != nil || len(chains) != 1 {
			t.Fatalf("%s: chains %v, %v", term.Terminal, chains, err)
		}
		_, evs, err := st.ChainEvents(ctx, term.Terminal, chains[0].Epoch.ID, 0, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type != event.TypeSale {
				continue
			}
			var sale pos.Sale
			if err := json.Unmarshal(e.Body, &sale); err != nil {
				t.Fatal(err)
			}
			b, acct, at, err := pos.ReplayInputs(sale, e.Terminal, e.At)
			if err != nil {
				t.Fatalf("%s seq %d: %v", e.Terminal, e.Seq, err)
			}
			q, err := discount.Apply(rs, b, acct, at)
			if err != nil {
				t.Fatalf("%s seq %d: %v", e.Terminal, e.Seq, err)
			}
			out.sales++
			s := out.stores[sale.Inputs.Store]
			for _, f := range []*hq.SimFigures{&out.draft, &s} {
				f.Discount += q.Discount
				f.Total += q.Total
				f.PointsEarned += q.PointsEarned
				f.PointsRedeemed += q.PointsRedeemed
			}
			out.stores[sale.Inputs.Store] = s
			out.live.Discount += sale.Discount
			out.live.Total += sale.Total
			out.live.PointsEarned += sale.PointsEarned
			for _, a := range q.Applied {
				out.ruleAmount[a.Rule] += a.Amount
				out.rulePoints[a.Rule] += money.Amount(a.Points)
			}
		}
	}
	return out
}

// TestConsoleRulesSimulation: two real tills in two stores sell with and
// without cards; a marketing operator edits the ruleset in the console and
// simulates it against the synced sales. The simulation's figures — in total,
// per rule and per store, on the page and from `tillhq rules simulate` —
// equal re-pricing each sale HQ holds with the engine; a store filter keeps
// that store's sales only; an analyst may not simulate.
func TestConsoleRulesSimulation(t *testing.T) {
	h, admin, _, api := consoleTill(t, discount.Example)
	work := t.TempDir()
	second := enrolledTill{data: filepath.Join(work, "S2-T1"), addr: freeAddr(t), conf: filepath.Join(work, "S2-T1.toml")}
	h.enrollAs(t, admin, "S2", "S2-T1", second.data)
	writeFile(t, second.conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", second.data, second.addr))
	second.api = apiClient(second.addr, second.data)
	start(t, "tilld", "run", "--config", second.conf)
	waitFor(t, 30*time.Second, "the second till ready", func() bool {
		st, err := second.api.Status(context.Background())
		return err == nil && st.RulesetVersion == 1 && st.Online
	})
	mila := addOperator(t, h.adminURL, admin, "mila", "marketing", consolePassword)
	boris := addOperator(t, h.adminURL, admin, "boris", "analyst", consolePassword)
	consoleSales(t, api, "2000000000015", "2000000000015", "2000000000022", "", "2000000000015")
	consoleSales(t, second.api, "2000000000015", "2000000000039")
	draft := simDraft(t)
	want := repriceHeld(t, h.postgres(), draft)
	if want.sales != 7 || want.draft.Discount == want.live.Discount || want.draft.PointsEarned == want.live.PointsEarned {
		t.Fatalf("re-priced %d sales, discount %d → %d, points %d → %d: want 7 sales whose discounts and points the draft changes",
			want.sales, want.live.Discount, want.draft.Discount, want.live.PointsEarned, want.draft.PointsEarned)
	}

	// The CLI: every figure equals the engine's.
	file := filepath.Join(t.TempDir(), "draft.toml")
	writeFile(t, file, string(draft))
	var sim hq.Simulation
	if err := json.Unmarshal([]byte(mustTillhqAs(t, mila, "rules", "simulate", file, "--admin", h.adminURL, "--json")), &sim); err != nil {
		t.Fatal(err)
	}
	if sim.Sales != want.sales || sim.Draft != want.draft || sim.Live.Discount != want.live.Discount || sim.Live.Total != want.live.Total ||
		sim.Live.PointsEarned != want.live.PointsEarned || sim.Unpriceable+sim.Failed+sim.OtherCurrency != 0 {
		t.Errorf("simulation %+v\nwant %d sales, draft %+v, live %+v", sim, want.sales, want.draft, want.live)
	}
	for _, r := range sim.Rules {
		if r.DraftAmount != want.ruleAmount[r.Rule] || money.Amount(r.DraftPoints) != want.rulePoints[r.Rule] {
			t.Errorf("rule %s: simulated %d off, %d points; the engine gives %d off, %d points", r.Rule, r.DraftAmount, r.DraftPoints, want.ruleAmount[r.Rule], want.rulePoints[r.Rule])
		}
	}
	if len(sim.Stores) != 2 || sim.Stores[0].Draft != want.stores["S1"] || sim.Stores[1].Draft != want.stores["S2"] || sim.Customers != 3 {
		t.Errorf("per store %+v, %d customers; want S1 %+v, S2 %+v, 3 customers", sim.Stores, sim.Customers, want.stores["S1"], want.stores["S2"])
	}
	human := mustTillhqAs(t, mila, "rules", "simulate", file, "--admin", h.adminURL, "--store", "S2")
	if !strings.Contains(human, "2 sales priced again") || !strings.Contains(human, money.Display(want.stores["S2"].Discount, "RUB")) || !strings.Contains(human, "club-card") {
		t.Errorf("tillhq rules simulate --store S2:\n%s\nwant S2's 2 sales, its draft discount %s and the club-card rule", human, money.Display(want.stores["S2"].Discount, "RUB"))
	}
	if out, code := tillhqAs(t, boris, "rules", "simulate", file, "--admin", h.adminURL); code == 0 || !strings.Contains(out, "needs marketing") {
		t.Errorf("an analyst's simulation: exit %d\n%s", code, out)
	}
	if out, code := tillhqAs(t, mila, "rules", "simulate", file, "--admin", h.adminURL, "--from", "2026-13-01"); code == 0 || !strings.Contains(out, `from "2026-13-01"`) {
		t.Errorf("a bad date: exit %d\n%s", code, out)
	}

	// The console: the marketing operator edits and simulates.
	ctx := browser(t)
	consoleLogin(t, ctx, h.adminURL, "mila", consolePassword)
	waitEditor(t, ctx, "version = 1")
	set := fmt.Sprintf(`(() => { const t = document.getElementById("rules-text"); t.value = %q; t.dispatchEvent(new Event("input")); return true })()`, draft)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](set)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rules-simulate")), chromedp.WaitVisible(chromedp.CSS(`#sim-rules tr[data-key="club-card"]`))); err != nil {
		t.Fatalf("simulate in the console: %v", err)
	}
	summary, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("sim-summary")))
	discounts, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sim-totals tr[data-key="discount"]`)))
	points, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sim-totals tr[data-key="points_earned"]`)))
	club, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sim-rules tr[data-key="club-card"]`)))
	s2, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sim-stores tr[data-key="S2"]`)))
	screenshot(t, ctx, "console-rules-simulation.png")
	t.Logf("%s\ndiscounts %q\npoints %q\nclub-card %q\nS2 %q", summary, discounts, points, club, s2)
	cells := func(row string) []string { return strings.Split(strings.TrimSuffix(row, "\n"), "\t") }
	d := money.Display
	if c := cells(discounts); len(c) != 4 || c[1] != d(want.live.Discount, "RUB") || c[2] != d(want.draft.Discount, "RUB") || c[3] != "+"+d(want.draft.Discount-want.live.Discount, "RUB") {
		t.Errorf("discounts row %q: want live %s, draft %s", c, d(want.live.Discount, "RUB"), d(want.draft.Discount, "RUB"))
	}
	if c := cells(points); len(c) != 4 || c[1] != fmt.Sprint(want.live.PointsEarned) || c[2] != fmt.Sprint(want.draft.PointsEarned) {
		t.Errorf("points row %q: want %d → %d", c, want.live.PointsEarned, want.draft.PointsEarned)
	}
	if c := cells(club); len(c) != 10 || c[5] != d(want.ruleAmount["club-card"], "RUB") {
		t.Errorf("club-card row %q: want the draft's %s", c, d(want.ruleAmount["club-card"], "RUB"))
	}
	if c := cells(s2); len(c) != 9 || c[1] != "2" || c[4] != d(want.stores["S2"].Discount, "RUB") {
		t.Errorf("S2 row %q: want 2 sales, draft discount %s", c, d(want.stores["S2"].Discount, "RUB"))
	}
	if !strings.Contains(summary, "7 sales priced again") || !strings.Contains(summary, "3 customers affected") {
		t.Errorf("summary %q", summary)
	}
	// Simulating changes nothing and is not in the admin log (the
	// analyst's refusal is).
	log := mustTillhqAs(t, admin, "report", "admin-log", "--admin", h.adminURL)
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "mila") && strings.Contains(l, "simulate") {
			t.Errorf("the admin log records a simulation: %s", l)
		}
	}
	if !strings.Contains(log, "POST /v1/admin/rules/simulate") || !strings.Contains(log, "denied 403") {
		t.Errorf("the admin log lacks the analyst's refused simulation:\n%s", log)
	}
	if q, err := api.Quote(context.Background(), basket("2000000000015", 0)); err != nil || q.RulesetVersion != 1 {
		t.Errorf("the till after a simulation: version %d, %v", q.RulesetVersion, err)
	}
}

// TestConsoleRulesScheduleAndRollback: a marketing operator publishes a
// ruleset from the console to take effect 20 s later; a real till takes it at
// once but prices with the rules before until then, and at the start prices
// with it although HQ is down by then. Back online, the operator rolls back
// to version 1 from the console (published as version 3, in effect at once).
// A ruleset scheduled an hour ahead (tillhq rules publish --effective) and
// then rolled back over (tillhq rules rollback) never applies: the till
// prices with the rollback at once. The admin log says who did each.
func TestConsoleRulesScheduleAndRollback(t *testing.T) {
	t.Parallel() // most of it is waiting for the scheduled times
	h, admin, _, api := consoleTill(t, discount.Example)
	mila := addOperator(t, h.adminURL, admin, "mila", "marketing", consolePassword)
	ctx := context.Background()
	discountWith := func(wantVersion int64) money.Amount {
		t.Helper()
		q, err := api.Quote(ctx, basket("2000000000015", 0))
		if err != nil || q.RulesetVersion != wantVersion {
			t.Fatalf("quote: version %d, %v; want version %d", q.RulesetVersion, err, wantVersion)
		}
		return q.Discount
	}
	live := discountWith(1)

	b := browser(t)
	consoleLogin(t, b, h.adminURL, "mila", consolePassword)
	waitEditor(t, b, "version = 1")
	start := time.Now().Add(20 * time.Second).Truncate(time.Second)
	wall := start.Format("2006-01-02T15:04:05") // the till's wall clock: it runs on this machine
	set := fmt.Sprintf(`(() => { const t = document.getElementById("rules-text"); t.value = %q; t.dispatchEvent(new Event("input"));
		document.getElementById("rules-effective").value = %q; return true })()`, simDraft(t), wall)
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](set)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.ID("rules-publish"))); err != nil {
		t.Fatal(err)
	}
	var result string
	waitFor(t, 10*time.Second, "the scheduled publish", func() bool {
		result, _ = chromedp.Run(b, chromedp.Text(chromedp.ID("rules-result")))
		return strings.Contains(result, "Published version 2")
	})
	if !strings.Contains(result, wall) {
		t.Errorf("the page says %q, want the start %s", result, wall)
	}
	active, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("rules-active")))
	if !strings.Contains(active, "version 2, takes effect "+wall) {
		t.Errorf("rules page: %q", active)
	}
	waitFor(t, 30*time.Second, "the till to hold version 2, waiting", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.NextRuleset != nil && st.NextRuleset.Version == 2
	})
	if time.Now().After(start) {
		t.Fatal("version 2 reached the till after its start: the test proves nothing")
	}
	if d := discountWith(1); d != live {
		t.Errorf("before the start: discount %d, want the live rules' %d", d, live)
	}
	// HQ goes down; the start comes; the till prices with version 2 offline.
	h.proc.stop(t)
	time.Sleep(time.Until(start))
	waitFor(t, 10*time.Second, "the till to price with version 2 offline", func() bool {
		q, err := api.Quote(ctx, basket("2000000000015", 0))
		return err == nil && q.RulesetVersion == 2
	})
	scheduled := discountWith(2)
	if scheduled <= live {
		t.Errorf("version 2 (club card 5 %%) gives %d off, version 1 %d: want more", scheduled, live)
	}
	if st, err := api.Status(ctx); err != nil || st.Online {
		t.Errorf("the till's status while HQ is down: online %v, %v", st.Online, err)
	}

	// Back online: roll back to version 1 from the console.
	h.start(t)
	if err := chromedp.Do(b, chromedp.Click(chromedp.ID("nav-rules")), chromedp.WaitVisible(chromedp.CSS(`#rules-versions tr[data-version="1"] button.rollback`))); err != nil {
		t.Fatal(err)
	}
	versions, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("rules-versions")))
	if !strings.Contains(versions, wall) {
		t.Errorf("the versions list lacks version 2's start %s:\n%s", wall, versions)
	}
	screenshot(t, b, "console-rules-versions.png")
	clickFresh(t, b, `#rules-versions tr[data-version="1"] button.rollback`)
	waitFor(t, 10*time.Second, "the rollback", func() bool {
		result, _ = chromedp.Run(b, chromedp.Text(chromedp.ID("rules-result")))
		return strings.Contains(result, "Rolled back to version 1: published as version 3")
	})
	waitFor(t, 30*time.Second, "the till to price with version 3", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion == 3
	})
	if d := discountWith(3); d != live {
		t.Errorf("after the rollback: discount %d, want version 1's %d", d, live)
	}

	// A ruleset scheduled an hour ahead, rolled back over before its start.
	file := filepath.Join(t.TempDir(), "v4.toml")
	writeFile(t, file, string(bytes.Replace(simDraft(t), []byte("version = 2"), []byte("version = 4"), 1)))
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	out := mustTillhqAs(t, mila, "rules", "publish", file, "--effective", later, "--admin", h.adminURL)
	if !strings.Contains(out, "published version 4") || !strings.Contains(out, "in effect from "+later) {
		t.Errorf("tillhq rules publish --effective: %s", out)
	}
	waitFor(t, 30*time.Second, "the till to hold version 4, waiting", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.NextRuleset != nil && st.NextRuleset.Version == 4
	})
	out = mustTillhqAs(t, mila, "rules", "rollback", "3", "--admin", h.adminURL)
	if !strings.Contains(out, "rolled back to version 3: published as version 5") {
		t.Errorf("tillhq rules rollback 3: %s", out)
	}
	waitFor(t, 30*time.Second, "the till to price with version 5", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion == 5 && st.NextRuleset == nil
	})
	if d := discountWith(5); d != live {
		t.Errorf("after the second rollback: discount %d, want %d", d, live)
	}
	list := mustTillhqAs(t, mila, "rules", "list", "--admin", h.adminURL)
	if !strings.Contains(list, later) || !strings.Contains(list, "at once") {
		t.Errorf("tillhq rules list:\n%s", list)
	}
	if out, code := tillhqAs(t, mila, "rules", "rollback", "9", "--admin", h.adminURL); code == 0 || !strings.Contains(out, "never published ruleset version 9") {
		t.Errorf("rollback to a version never published: exit %d\n%s", code, out)
	}
	log := mustTillhqAs(t, admin, "report", "admin-log", "--admin", h.adminURL)
	for _, want := range []string{"effective " + wall, "rollback to version 1", "rollback to version 3", "effective " + later} {
		if !strings.Contains(log, want) {
			t.Errorf("the admin log lacks %q:\n%s", want, log)
		}
	}
}

// TestConsoleReportsByRule: a real till's sales with and without a card; an
// analyst's reports page shows, for this month and store S1, each rule with
// the sales it applied to, the discount it gave in roubles and the points it
// earned — the sums of what the till's sales answered — and the CSV holds the
// same; the API refuses a bad period.
func TestConsoleReportsByRule(t *testing.T) {
	rules := string(discount.Example) + `
[[rule]]
id = "round-up"
kind = "charity"
cause = "Детский хоспис"
round_to = "10"
always = true

[[rule]]
id = "coffee-raffle"
kind = "raffle"
chance = "100%"
prize = "Кофе"
`
	h, admin, _, api := consoleTill(t, []byte(rules))
	boris := addOperator(t, h.adminURL, admin, "boris", "analyst", consolePassword)
	sales := consoleSales(t, api, "2000000000015", "2000000000015", "", "2000000000022")
	// The first sale comes back whole: its round-up goes back to the
	// customer and its raffle win is void.
	ctx := context.Background()
	if res, code, err := api.Refund(ctx, till.RefundRequest{ID: "console-return", Sale: sales[0].ID}); err != nil || code != http.StatusCreated ||
		len(res.RafflesVoid) != 1 || res.Donated == 0 {
		t.Fatalf("return the first sale = %d, %v: %+v; want its raffle void and its round-up back", code, err, res)
	}
	waitFor(t, 30*time.Second, "the return at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0
	})
	// A till of S2, offline, let the second card pay with 100 points it did
	// not have at HQ: an overdraft of what it lacked.
	other := filepath.Join(t.TempDir(), "S2-T1")
	h.enrollAs(t, admin, "S2", "S2-T1", other)
	earned := sales[3].PointsEarned
	if earned <= 0 || earned >= 100 {
		t.Fatalf("the second card earned %d points: want some, under 100", earned)
	}
	offline := storetest.LoyaltySales("S2-T1", 1, "", time.Now().UTC(), storetest.LoyaltySpec{Card: sales[3].Card, DaysAgo: 1, Store: "S2", Total: 500_00, Redeemed: 100})
	if code, answer := h.uploadAs(t, other, "S2-T1", offline); code != http.StatusOK || !strings.Contains(answer, `"acked":1`) {
		t.Fatalf("the offline sale's upload = %d %s", code, answer)
	}
	var donated, gaveBack money.Amount
	var wins []pos.RaffleEntry
	for i, s := range sales {
		for _, d := range s.Donations {
			donated += d.Amount
			if i == 0 {
				gaveBack += d.Amount
			}
		}
		if s.Card != "" && (len(s.Raffles) != 1 || s.Raffles[0].Won != 1) {
			t.Fatalf("sale %d with card %s won %+v; want one win at a 100%% chance", i, s.Card, s.Raffles)
		}
		wins = append(wins, s.Raffles...)
	}
	if donated == 0 || gaveBack == 0 || len(wins) != 3 {
		t.Fatalf("round-ups %d (first sale %d), %d raffle wins: want round-ups and 3 wins", donated, gaveBack, len(wins))
	}
	type given struct {
		sales  int
		amount money.Amount
		points int64
	}
	want := map[string]given{}
	for _, s := range sales {
		for _, a := range s.Applied {
			g := want[a.Rule]
			g.sales++
			g.amount += a.Amount
			g.points += a.Points
			want[a.Rule] = g
		}
	}
	if want["club-card"].sales != 3 || want["bonus"].points == 0 {
		t.Fatalf("the sales applied %+v: want the club card on 3 and bonus points", want)
	}
	b := browser(t)
	consoleLogin(t, b, h.adminURL, "boris", consolePassword)
	if err := chromedp.Do(b, chromedp.Click(chromedp.ID("nav-reports")), chromedp.WaitVisible(chromedp.CSS(`#rep-discounts tr[data-rule="club-card"]`))); err != nil {
		t.Fatalf("the reports page: %v", err)
	}
	month := time.Now().Format("2006-01") + "-01"
	for rule, g := range want {
		row, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#rep-discounts tr[data-rule=%q][data-store="S1"][data-period=%q]`, rule, month))))
		if err != nil {
			t.Fatalf("no row for %s: %v", rule, err)
		}
		c := strings.Split(strings.TrimSuffix(row, "\n"), "\t")
		if len(c) != 8 || c[1] != "S1" || c[2] != rule || c[4] != fmt.Sprint(g.sales) || c[5] != money.Display(g.amount, "RUB") || c[6] != fmt.Sprint(g.points) {
			t.Errorf("%s row %q: want %d sales, %s, %d points", rule, c, g.sales, money.Display(g.amount, "RUB"), g.points)
		}
	}
	cause, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#rep-charity tr[data-cause="Детский хоспис"][data-store="S1"][data-period=%q]`, month))))
	if err != nil {
		t.Fatalf("no charity row: %v", err)
	}
	c := strings.Split(strings.TrimSuffix(cause, "\n"), "\t")
	if len(c) != 9 || c[3] != "4" || c[4] != money.Display(donated, "RUB") || c[6] != money.Display(gaveBack, "RUB") || c[8] != money.Display(donated-gaveBack, "RUB") {
		t.Errorf("charity row %q: want 4 sales, %s given, %s returned, %s net", c, money.Display(donated, "RUB"),
			money.Display(gaveBack, "RUB"), money.Display(donated-gaveBack, "RUB"))
	}
	for i, w := range wins {
		row, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#rep-raffles tr[data-code=%q]`, w.Code))))
		if err != nil {
			t.Fatalf("no raffle row for win %d (%s): %v", i, w.Code, err)
		}
		c := strings.Split(strings.TrimSuffix(row, "\n"), "\t")
		state := "valid"
		if i == 0 {
			state = "void: the sale was returned"
		}
		if len(c) != 10 || c[1] != "S1" || !strings.HasPrefix(c[3], "••••") || c[4] != "coffee-raffle" ||
			c[6] != "1" || c[7] != "Кофе" || c[9] != state {
			t.Errorf("raffle row %d %q: want S1, a masked card, coffee-raffle, 1 won, Кофе, %s", i, c, state)
		}
	}
	od, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(`#rep-overdrafts tr`)))
	if err != nil {
		t.Fatalf("no overdraft row: %v", err)
	}
	if c := strings.Split(strings.TrimSuffix(od, "\n"), "\t"); len(c) != 5 || c[1] != fmt.Sprint(100-earned) || c[2] != fmt.Sprint(100-earned) {
		t.Errorf("overdraft row %q: want %d points owed and overdrawn", c, 100-earned)
	}
	screenshot(t, b, "console-reports-rules.png")
	csv := downloadReportCSV(t, b)
	if !strings.Contains(csv, "period_start,store,cause,sales,given,currency,points_given,returned,points_returned\r\n") ||
		!strings.Contains(csv, fmt.Sprintf("%s,S1,Детский хоспис,4,%s,RUB,0,%s,0\r\n", month,
			strings.TrimSuffix(money.Display(donated, "RUB"), " RUB"), strings.TrimSuffix(money.Display(gaveBack, "RUB"), " RUB"))) ||
		!strings.Contains(csv, ",coffee-raffle,1,1,Кофе,"+wins[0].Code+",yes\r\n") {
		t.Errorf("CSV lacks the charity or the raffle winners:\n%s", csv)
	}
	club := fmt.Sprintf("%s,S1,club-card,card_percent,,3,%s,RUB,0,0\r\n", month, strings.TrimSuffix(money.Display(want["club-card"].amount, "RUB"), " RUB"))
	if !strings.Contains(csv, "period_start,store,rule,kind,partner,sales,discount,currency,points,points_spent\r\n") || !strings.Contains(csv, club) {
		t.Errorf("CSV lacks the rules' table or %q:\n%s", club, csv)
	}
	req, _ := http.NewRequest(http.MethodGet, h.adminURL+"/v1/report/discounts?period=decade", nil)
	req.Header.Set("Authorization", "Bearer "+boris)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad period: %v, %v; want 400", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(h.adminURL + "/v1/report/discounts?period=decade")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the discounts report without a credential: %v, %v", resp, err)
	}
}
