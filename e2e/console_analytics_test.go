package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// TestConsoleAnalytics: an analyst opens the console's loyalty page and
// reads, from what a real till and an enrolled terminal's history uploaded
// (PostgreSQL): the KPIs per month with the refund in its month and an SVG
// chart of revenue and returns in major units with the currency, the NPS by
// store, the segments, the CLV distribution and the customer who is late on
// their cycle; then the page in Russian.
func TestConsoleAnalytics(t *testing.T) {
	h, admin, _, api := consoleTill(t, discount.Example)
	addOperator(t, h.adminURL, admin, "boris", "analyst", consolePassword)
	const (
		cardA = "2000000000015" // at S2 40 and 28 days ago, today at S1; answers 10
		cardB = "2000000000022" // at S2 every 12 days or so, last 30 days ago: late; answers 3
	)
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	hist := filepath.Join(t.TempDir(), "S2-T1")
	h.enrollAs(t, admin, "S2", "S2-T1", hist)
	evs := storetest.LoyaltySales("S2-T1", 1, "", today,
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 66, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 56, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 44, Store: "S2", Total: 1000_00, Earned: 100},
		storetest.LoyaltySpec{Card: cardA, DaysAgo: 40, Store: "S2", Total: 500_00, Earned: 50},
		storetest.LoyaltySpec{Card: cardB, DaysAgo: 30, Store: "S2", Total: 1000_00, Earned: 100, Tier: "Silver"}, // as the till sold it
		storetest.LoyaltySpec{Card: cardA, DaysAgo: 28, Store: "S2", Total: 500_00, Earned: 50},
	)
	// B brings back what B bought 30 days ago, the day after.
	refundAt := evs[4].At.Add(24 * time.Hour)
	evs = append(evs, histEvent(t, evs[len(evs)-1], event.TypeRefund, refundAt, pos.Refund{ID: "S2-T1-refund-7", At: refundAt,
		SaleEvent: evs[4].ID, SaleSeq: 5, SaleAt: evs[4].At, Spend: 1000_00,
		RefundQuote: pos.RefundQuote{SaleID: "S2-T1-sale-5", Card: cardB, Currency: "RUB",
			Lines:  []pos.RefundLine{{Line: 1, SKU: "milk", Qty: 1, Amount: 1000_00, Points: 100}},
			Amount: 1000_00, Back: 1000_00, PointsReversed: 100}}))
	for _, a := range []struct {
		card  string
		sale  uint64
		score int
	}{{cardB, 5, 3}, {cardA, 6, 10}} {
		at := evs[a.sale-1].At.Add(time.Minute)
		evs = append(evs, histEvent(t, evs[len(evs)-1], event.TypeFeedback, at, pos.Feedback{SaleID: fmt.Sprintf("S2-T1-sale-%d", a.sale),
			SaleEvent: evs[a.sale-1].ID, SaleSeq: a.sale, Card: a.card, Store: "S2", Score: a.score, Asked: true, At: at, UTCOffset: 3 * 3600}))
	}
	if code, answer := h.uploadAs(t, hist, "S2-T1", evs); code != http.StatusOK || !strings.Contains(answer, fmt.Sprintf(`"acked":%d`, len(evs))) {
		t.Fatalf("history upload = %d %s", code, answer)
	}
	sales := consoleSales(t, api, cardA, "")
	todayRevenue := sales[0].Total + sales[1].Total

	ctx := browser(t)
	consoleLogin(t, ctx, h.adminURL, "boris", consolePassword)
	err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-analytics")),
		chromedp.WaitVisible(chromedp.CSS(`#an-kpi-svg rect.bar`)), chromedp.WaitVisible(chromedp.CSS(`#an-late-rows tr`)),
		chromedp.WaitVisible(chromedp.CSS(`#an-nps-rows tr[data-store="S2"]`)), chromedp.WaitVisible(chromedp.CSS(`#an-seg-svg rect.bar`)))
	if err != nil {
		t.Fatalf("the analytics page: %v", err)
	}
	text := func(sel string) []string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return strings.Split(strings.TrimSuffix(s, "\n"), "\t")
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	screenshot(t, ctx, "console-analytics.png")

	// The KPIs: the refund in its month at S2, today's sales in this month.
	refundMonth := refundAt.Format("2006-01") + "-01"
	s2 := text(`#an-kpi-rows tr[data-period="` + refundMonth + `"][data-row="S2"]`)
	t.Logf("S2 in the refund's month: %q", s2)
	if len(s2) != 14 || s2[4] != "1" || s2[5] != money.Display(1000_00, "RUB") {
		t.Errorf("S2's row in the refund's month %q: want 1 return of %s", s2, money.Display(1000_00, "RUB"))
	}
	thisMonth := today.Format("2006-01") + "-01"
	s1 := text(`#an-kpi-rows tr[data-period="` + thisMonth + `"][data-row="S1"]`)
	if len(s1) != 14 || s1[2] != "2" || s1[3] != money.Display(todayRevenue, "RUB") || s1[7] != "1" {
		t.Errorf("S1's row this month %q: want 2 sales for %s, 1 active member", s1, money.Display(todayRevenue, "RUB"))
	}
	tips := eval(`[...document.querySelectorAll("#an-kpi-svg rect title")].map(e => e.textContent).join("|")`)
	if !strings.Contains(tips, thisMonth+" revenue: ") || !strings.Contains(tips, refundMonth+" returns: "+money.Display(1000_00, "RUB")) {
		t.Errorf("the KPI chart's bars: %s", tips)
	}
	if n := eval(`String(document.querySelectorAll("#an-kpi-svg rect.bar").length)`); n != "24" {
		t.Errorf("the KPI chart has %s bars; want 24 (revenue and returns for 12 months)", n)
	}

	// Tier moves: B's last purchase, in Silver, is in a month after B's first
	// (36 days before), all in no tier; the ruleset orders Silver above none.
	tierMonth := evs[4].At.Format("2006-01") + "-01"
	for _, row := range []string{"chain", "S2"} {
		moves := text(`#an-tier-rows tr[data-period="` + tierMonth + `"][data-row="` + row + `"]`)
		if strings.Join(moves[2:], "|") != "(no tier) → Silver: 1|1|0" {
			t.Errorf("%s's tier moves in %s: %q; want B from no tier to Silver, 1 up, 0 down", row, tierMonth, moves)
		}
	}
	if n := eval(`String(document.querySelectorAll("#an-tier-rows tr").length)`); n != "2" {
		t.Errorf("%s rows of tier moves; want B's in the chain and at S2", n)
	}

	// NPS by store: one promoter, one detractor at S2.
	if nps := text(`#an-nps-rows tr[data-store="S2"]`); strings.Join(nps, "|") != "S2|2|1 (50.0 %)|0 (0.0 %)|1 (50.0 %)|100.0 %|0.0" {
		t.Errorf("S2's NPS row %q", nps)
	}

	// Who is late: B, 18 days past the expected purchase, at risk.
	late := text(`#an-late-rows tr[data-card="` + cardB + `"]`)
	if len(late) != 9 || late[3] != today.AddDate(0, 0, -30).Format(time.DateOnly) || late[4] != "12.0 ± 3.0" || late[5] != "18" || late[6] != "S2" || late[7] != "at risk" {
		t.Errorf("B's overdue row %q", late)
	}
	if rows := eval(`String(document.querySelectorAll("#an-late-rows tr").length)`); rows != "1" {
		t.Errorf("%s customers late; want B alone", rows)
	}

	// Segments and the CLV distribution add up to the two customers.
	segs := eval(`[...document.querySelectorAll("#an-seg-rows tr")].map(r => r.dataset.segment + "=" + r.cells[1].textContent).join(",")`)
	if !strings.Contains(segs, "at_risk=1") {
		t.Errorf("segments %s: want B at risk", segs)
	}
	clvBars := eval(`JSON.stringify([...document.querySelectorAll("#an-clv-svg rect title")].map(e => e.textContent))`)
	summary := text(`#an-clv-summary`)[0]
	t.Logf("segments %s; CLV: %s %s", segs, summary, clvBars)
	var clv []string
	if err := json.Unmarshal([]byte(clvBars), &clv); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(summary, "No model yet") {
		if len(clv) != 0 {
			t.Errorf("no model but a CLV chart: %v", clv)
		}
	} else {
		total := 0
		for _, c := range clv {
			var n int
			fmt.Sscanf(c[strings.LastIndex(c, ": ")+2:], "%d", &n)
			total += n
		}
		if len(clv) != 10 || total != 2 || !strings.Contains(clv[0], " RUB: ") || !strings.Contains(summary, " RUB") {
			t.Errorf("the CLV chart %v (%s): want ten buckets in RUB holding the 2 customers", clv, summary)
		}
	}

	// In Russian.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}
	if h2 := eval(`document.querySelector("#analytics h2").textContent`); h2 != "Аналитика лояльности" {
		t.Errorf("the page's title in Russian: %q", h2)
	}
	if late := text(`#an-late-rows tr[data-card="` + cardB + `"]`); len(late) != 9 || late[7] != "под угрозой" {
		t.Errorf("B's row in Russian: %q", late)
	}
	if moves := text(`#an-tier-rows tr[data-period="` + tierMonth + `"][data-row="S2"]`); len(moves) != 5 || moves[2] != "(без уровня) → Silver: 1" {
		t.Errorf("B's tier move in Russian: %q", moves)
	}
	screenshot(t, ctx, "console-analytics-ru.png")
}

// histEvent is the event after prev in its chain: a body of another type
// (a refund, a feedback) that an enrolled terminal uploads.
func histEvent(t *testing.T, prev event.Event, typ string, at time.Time, body any) event.Event {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	e := event.Event{Terminal: prev.Terminal, Seq: prev.Seq + 1, ID: fmt.Sprintf("%s-%d", prev.Terminal, prev.Seq+1), Type: typ,
		At: at, RulesetVersion: 1, Prev: prev.Hash, Body: b}
	e.Hash = e.ComputeHash()
	return e
}
