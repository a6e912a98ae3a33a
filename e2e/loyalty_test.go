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

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// TestLoyaltyReports: a till of store S1 sells through the real tilld; a
// terminal of store S2, enrolled like any other, uploads the weeks of
// history a till would have synced before (sales dated in the past, which a
// real till cannot make today). HQ's loyalty reports read both through the
// store: `tillhq report cadence` shows each card's cycle and stores, the
// customer who stopped coming is on `tillhq report overdue` (CSV with the
// phone only with consent) and the one who came back today is not, and
// `tillhq report kpi` counts today's sales, members and points as the till
// priced them. On both HQ stores.
func TestLoyaltyReports(t *testing.T) {
	for _, store := range []string{"bbolt", "postgres"} {
		t.Run(store, func(t *testing.T) { testLoyaltyReports(t, store) })
	}
}

func testLoyaltyReports(t *testing.T, store string) {
	ctx := context.Background()
	work := t.TempDir()
	var pgURL string
	if store == "postgres" {
		pgURL = pgDatabase(t)
	}
	h := launchHQ(t, work, discount.Example, pgURL)
	adminURL := h.adminURL
	const (
		cardA = "2000000000015" // bought at S2 40 and 28 days ago, and today at S1
		cardB = "2000000000022" // bought at S2 every 12 days or so, last 30 days ago
		cardC = "2000000000039" // first purchase today
	)

	// The history, uploaded by an enrolled terminal of S2.
	histData := filepath.Join(work, "S2-T1")
	h.enroll(t, "S2", "S2-T1", histData)
	today := time.Now().UTC()
	evs := storetest.LoyaltySales("S2-T1", 1, "", today,
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 66, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 56, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 44, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardA, DaysAgo: 40, Store: "S2", Total: 5000_00, Earned: 50},
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 30, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardA, DaysAgo: 28, Store: "S2", Total: 500_00, Earned: 50, Tier: "Silver"},
	)
	if code, answer := h.uploadAs(t, histData, "S2-T1", evs); code != http.StatusOK || !strings.Contains(answer, `"acked":6`) {
		t.Fatalf("history upload = %d %s", code, answer)
	}

	// Today, at S1, through the real tilld.
	tillData := filepath.Join(work, "S1-T1")
	h.enroll(t, "S1", "S1-T1", tillData)
	apiAddr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\nregion = \"north\"\n", tillData, apiAddr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(apiAddr, tillData)
	waitFor(t, 15*time.Second, "tilld online with the rules", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Online && st.RulesetVersion == 1
	})
	var revenue money.Amount
	var earned int64
	for i, card := range []string{cardA, cardA, cardC, ""} {
		res, code, err := api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("loyalty-%d", i), Basket: basket(card, int64(i)*100_00)})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sale %d = %d, %v", i, code, err)
		}
		revenue += res.Total
		earned += res.PointsEarned
	}
	waitFor(t, 30*time.Second, "the till's sales at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0
	})
	csv := filepath.Join(work, "customers.csv")
	writeFile(t, csv, "card;name;surname;phone;consent\n"+cardB+";Василий;Петров;+7 921 000-00-01;да\n"+cardA+";Анна;Смирнова;+7 921 000-00-02;нет\n")
	run(t, bin("tillhq"), "customers", "import", "--admin", adminURL, csv)

	// Cadence.
	var cad loyalty.CadenceReport
	if err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "cadence", "--admin", adminURL, "--json", "--limit", "-1")), &cad); err != nil {
		t.Fatal(err)
	}
	rows := map[string]loyalty.CustomerRow{}
	for _, r := range cad.Rows {
		rows[r.Card] = r
	}
	if cad.Customers != 3 || cad.WithCycle != 2 || cad.Late != 1 || len(rows) != 3 {
		t.Fatalf("cadence: %d customers, %d with a cycle, %d late; want 3, 2, 1: %+v", cad.Customers, cad.WithCycle, cad.Late, cad)
	}
	if a := rows[cardA]; a.Visits != 3 || a.Since != 0 || a.Late || strings.Join(a.Stores, ",") != "S2,S1" || a.Cycle != 20 {
		t.Errorf("card A: %+v; want 3 visits (40 and 28 days ago at S2, today at S1), a 20-day cycle, not late", a)
	}
	if b := rows[cardB]; b.Visits != 4 || b.Cycle != 12 || !b.Late || b.DaysLate != 18 || b.Spend != 4000_00 {
		t.Errorf("card B: %+v; want 4 visits every 12 days, 18 days late, 4 000.00 spent", b)
	}
	if c := rows[cardC]; c.Visits != 1 || c.Segment != loyalty.SegmentNew || strings.Join(c.Stores, ",") != "S1" {
		t.Errorf("card C: %+v; want one visit today at S1, new", c)
	}
	out := run(t, bin("tillhq"), "report", "cadence", "--admin", adminURL)
	t.Logf("tillhq report cadence:\n%s", out)
	if !strings.Contains(out, "3 customers, 2 with a purchase cycle (median 16.0 days), 1 late") || !strings.Contains(out, money.Display(4000_00, "RUB")) {
		t.Errorf("tillhq report cadence:\n%s", out)
	}

	// The overdue list: B, with the phone B consented to be called on.
	out = run(t, bin("tillhq"), "report", "overdue", "--admin", adminURL, "--csv")
	t.Logf("tillhq report overdue --csv:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "card,holder,phone,email,last_purchase") ||
		!strings.HasPrefix(lines[1], cardB+",Василий Петров,+7 921 000-00-01,,") || !strings.Contains(lines[1], ",12.0,") || !strings.Contains(lines[1], ",18,S2,") {
		t.Errorf("overdue CSV:\n%s", out)
	}
	if out := run(t, bin("tillhq"), "report", "overdue", "--admin", adminURL, "--store", "S1"); !strings.Contains(out, "0 customers late") {
		t.Errorf("overdue at S1:\n%s", out)
	}

	// Today's KPIs, as the till priced the sales.
	day := today.Format(time.DateOnly)
	var kpi loyalty.KPIReport
	if err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "kpi", "--admin", adminURL, "--json", "--period", "day", "--from", day, "--to", day)), &kpi); err != nil {
		t.Fatal(err)
	}
	if len(kpi.Periods) != 1 {
		t.Fatalf("kpi: %+v", kpi)
	}
	c := kpi.Periods[0].Chain
	if c.Sales != 4 || c.CardSales != 3 || c.Revenue != revenue || c.Active != 2 || c.New != 1 || c.Returning != 1 || c.PointsEarned != earned ||
		kpi.Periods[0].PointsOutstanding != 400+100+earned || kpi.Periods[0].Liability != nil {
		t.Errorf("today's KPIs: %+v, %d points outstanding; want 4 sales (3 with a card) for %s, 2 active, 1 new, 1 returning, %d points earned",
			c, kpi.Periods[0].PointsOutstanding, money.Display(revenue, "RUB"), earned)
	}
	out = run(t, bin("tillhq"), "report", "kpi", "--admin", adminURL, "--period", "day", "--from", day, "--to", day)
	t.Logf("tillhq report kpi:\n%s", out)
	if !strings.Contains(out, money.Display(revenue, "RUB")) || !strings.Contains(out, "liability unknown") {
		t.Errorf("tillhq report kpi:\n%s", out)
	}
	// 28 days ago A bought in Silver (5 000.00 spent 40 days ago, in no
	// tier): a move up by the ruleset's order of tiers.
	day28 := today.AddDate(0, 0, -28).Format(time.DateOnly)
	out = run(t, bin("tillhq"), "report", "kpi", "--admin", adminURL, "--period", "day", "--from", day28, "--to", day28)
	t.Logf("tillhq report kpi, 28 days ago:\n%s", out)
	if !strings.Contains(out, "tier moves (last sale before the period → last in it): (none) → Silver 1; 1 up, 0 down") {
		t.Errorf("tillhq report kpi, 28 days ago: want A's move to Silver:\n%s", out)
	}
	if err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "kpi", "--admin", adminURL, "--json", "--period", "day", "--from", day28, "--to", day28)), &kpi); err != nil {
		t.Fatal(err)
	}
	if c := kpi.Periods[0].Stores[0]; c.Store != "S2" || len(c.TierMoves) != 1 || c.TierMoves[0] != (loyalty.TierMove{From: "", To: "Silver", Cards: 1}) ||
		c.TiersUp == nil || *c.TiersUp != 1 || *c.TiersDown != 0 {
		t.Errorf("S2 28 days ago: %+v; want A's move from no tier to Silver, 1 up", c)
	}
	// By region: the till is in the north; the history's terminal names none.
	if err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "kpi", "--admin", adminURL, "--json", "--period", "day", "--from", day, "--to", day, "--by", "region")), &kpi); err != nil {
		t.Fatal(err)
	}
	if r := kpi.Periods[0].Regions; kpi.By != "region" || len(r) != 1 || r[0].Region != "north" || r[0].Sales != 4 || r[0].Revenue != revenue || r[0].Active != 2 {
		t.Errorf("today's KPIs by region: %+v; want the north alone with the 4 sales", r)
	}
	out = run(t, bin("tillhq"), "report", "kpi", "--admin", adminURL, "--period", "day", "--from", day, "--to", day, "--by", "region")
	t.Logf("tillhq report kpi --by region:\n%s", out)
	if !strings.Contains(out, "REGION") || !strings.Contains(out, "north") || !strings.Contains(out, "points expired: 0") {
		t.Errorf("tillhq report kpi --by region:\n%s", out)
	}
	for _, rep := range []string{"segments", "clv"} {
		if out := run(t, bin("tillhq"), "report", rep, "--admin", adminURL); !strings.Contains(out, "as of "+day) {
			t.Errorf("tillhq report %s:\n%s", rep, out)
		}
	}
}

// uploadAs uploads events to HQ as the enrolled terminal whose data
// directory is data (its certificate, over mutual TLS), as a till's forwarder
// would, and returns HQ's status and answer.
func (h *hqProc) uploadAs(t *testing.T, data, terminal string, evs []event.Event) (int, string) {
	t.Helper()
	id, err := daemon.LoadIdentity(data)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(wire.UploadRequest{Terminal: terminal, Events: evs})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: id.TLS}, Timeout: 10 * time.Second}
	resp, err := client.Post("https://"+h.addr+wire.PathUpload, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}
