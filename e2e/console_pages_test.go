package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/till"
)

// consoleTill starts tillhq on PostgreSQL with a real tilld enrolled as
// S1-T1 of store S1, and returns HQ, the admin's API token and the till's
// local API address.
func consoleTill(t *testing.T, rules []byte) (h *hqProc, admin, apiAddr string, api *localapi.Client) {
	t.Helper()
	work := t.TempDir()
	data := filepath.Join(work, "tilld")
	h = launchHQ(t, work, rules, pgDatabase(t))
	admin = addOperator(t, h.adminURL, "", "anna", "admin", consolePassword)
	h.enrollAs(t, admin, "S1", "S1-T1", data)
	apiAddr = freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, apiAddr))
	start(t, "tilld", "run", "--config", conf)
	api = apiClient(apiAddr, data)
	waitFor(t, 30*time.Second, "tilld ready", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.RulesetVersion > 0 && st.Online
	})
	return h, admin, apiAddr, api
}

// consoleSales rings up a sale per card ("" for none) on the till, waits
// until HQ has them all, and returns them.
func consoleSales(t *testing.T, api *localapi.Client, cards ...string) []till.SaleResult {
	t.Helper()
	ctx := context.Background()
	var sales []till.SaleResult
	for i, card := range cards {
		res, code, err := api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("console-%d", i), Basket: basket(card, int64(i)*100_00)})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sale %d = %d, %v", i, code, err)
		}
		sales = append(sales, res)
	}
	waitFor(t, 30*time.Second, "the till's sales at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0
	})
	return sales
}

const consolePassword = "correct horse battery staple"

// downloadReportCSV clicks the reports page's CSV button and returns the
// file the browser saved.
func downloadReportCSV(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rep-csv"))); err != nil {
		t.Fatal(err)
	}
	var csv string
	waitFor(t, 10*time.Second, "the CSV download", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "sales-*.csv"))
		if len(files) != 1 {
			return false
		}
		raw, _ := os.ReadFile(files[0])
		csv = string(raw)
		return strings.HasSuffix(csv, "\r\n")
	})
	return csv
}

// TestConsoleCustomers: a support operator finds a card a real till signed
// up and sold to, sees its holder and its account, forgets the holder from
// the page (a mistyped confirmation forgets nothing), and the admin log
// shows who forgot which card; an analyst has no customers page and HQ
// refuses them the route.
func TestConsoleCustomers(t *testing.T) {
	h, admin, apiAddr, api := consoleTill(t, discount.Example)
	addOperator(t, h.adminURL, admin, "sveta", "support", consolePassword)
	addOperator(t, h.adminURL, admin, "boris", "analyst", consolePassword)
	const card = "2000000000015"
	ctl(t, apiAddr, "customer", "add", "--card", card, "--name", "Василий", "--patronymic", "Петрович", "--surname", "Тёркин",
		"--phone", "+7 900 123-45-67", "--consent")
	spend := money.Display(consoleSales(t, api, card)[0].Total, "RUB")
	waitFor(t, 30*time.Second, "the holder and the sale at HQ", func() bool {
		out, code := tillhqAs(t, admin, "customers", "show", "--admin", h.adminURL, card)
		return code == 0 && strings.Contains(out, "Тёркин") && strings.Contains(out, spend)
	})

	ctx := browser(t)
	consoleLogin(t, ctx, h.adminURL, "sveta", consolePassword)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("customers"))); err != nil {
		t.Fatalf("support lands on the customers page: %v", err)
	}
	for _, nav := range []string{"nav-fleet", "nav-reports", "nav-log"} {
		if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("`+nav+`").hidden`)); shown {
			t.Errorf("support sees %s", nav)
		}
	}
	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("cust-card"), card),
		chromedp.Click(chromedp.ID("cust-submit")),
		chromedp.WaitVisible(chromedp.ID("cust-found")),
	)
	if err != nil {
		t.Fatalf("find the card: %v", err)
	}
	holder, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("cust-holder")))
	account, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("cust-account")))
	screenshot(t, ctx, "console-customers.png")
	t.Logf("holder:\n%s\naccount:\n%s", holder, account)
	for _, want := range []string{"Василий Петрович Тёркин", "+7 900 123-45-67", "yes", "S1-T1"} {
		if !strings.Contains(holder, want) {
			t.Errorf("the holder shown lacks %q:\n%s", want, holder)
		}
	}
	if !strings.Contains(account, spend) || !strings.Contains(account, "Purchases\n1") {
		t.Errorf("the account shown: want %s in 1 purchase:\n%s", spend, account)
	}

	// A mistyped confirmation forgets nothing.
	err = chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cust-forget-card"), "2000000000022"), chromedp.Click(chromedp.ID("cust-forget-submit")))
	if err != nil {
		t.Fatal(err)
	}
	var result string
	waitFor(t, 10*time.Second, "the mismatch refused", func() bool {
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("cust-result")))
		return strings.Contains(result, "same card number")
	})
	if out := mustTillhqAs(t, admin, "customers", "show", "--admin", h.adminURL, card); !strings.Contains(out, "Тёркин") {
		t.Fatalf("a mistyped confirmation forgot the holder:\n%s", out)
	}
	err = chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cust-forget-card"), card), chromedp.Click(chromedp.ID("cust-forget-submit")))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the page to say the holder is forgotten", func() bool {
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("cust-result")))
		return strings.Contains(result, "is forgotten")
	})
	holder, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("cust-holder")))
	account, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("cust-account")))
	if strings.Contains(holder, "Тёркин") || !strings.Contains(holder, "No holder known") || !strings.Contains(account, spend) {
		t.Errorf("after the forget the page shows holder %q, account %q: want no holder and the account kept", holder, account)
	}
	if out := mustTillhqAs(t, admin, "customers", "show", "--admin", h.adminURL, card); strings.Contains(out, "Тёркин") {
		t.Errorf("HQ still has the holder after the page forgot it:\n%s", out)
	}
	log := mustTillhqAs(t, admin, "report", "admin-log", "--admin", h.adminURL)
	var forgot bool
	for _, l := range strings.Split(log, "\n") {
		forgot = forgot || strings.Contains(l, "sveta") && strings.Contains(l, "DELETE /v1/admin/customers/{card}") && strings.Contains(l, "ok 200") && !strings.Contains(l, card)
	}
	if !forgot {
		t.Errorf("the admin log has no forget by sveta (with the card masked):\n%s", log)
	}

	// An analyst has no customers page, and HQ says no to the route.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		t.Fatal(err)
	}
	consoleLogin(t, ctx, h.adminURL, "boris", consolePassword)
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("nav-customers").hidden`)); shown {
		t.Error("an analyst sees the customers page")
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/v1/admin/customers/`+card+`", {credentials: "same-origin"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("an analyst's look-up of a customer: HTTP %d, %v; want 403", status, err)
	}
}

// TestConsoleReports: an analyst opens the reports page and sees a real
// till's sale in roubles, in the month's row of its store, the chart, and
// the terminal's sales, returns and net; the CSV downloads with the same
// figures; a bad date is refused with what was wrong.
func TestConsoleReports(t *testing.T) {
	rules := append(bytes.Clone(discount.Example),
		"\n[[rule]]\nid = \"alliance\"\nkind = \"partner\"\npartner = \"aeroflot\"\nprefixes = [\"2000\"]\npoints = 1\nper = \"10.00\"\n"...)
	h, admin, _, api := consoleTill(t, rules)
	addOperator(t, h.adminURL, admin, "boris", "analyst", consolePassword)
	sales := consoleSales(t, api, "2000000000015", "")
	sum := money.Display(sales[0].Total+sales[1].Total, "RUB")
	owed := sales[0].PartnerPoints
	if owed <= 0 || sales[0].Partner != "aeroflot" {
		t.Fatalf("the sale with the partner card: partner %q, %d points: the test proves nothing", sales[0].Partner, owed)
	}
	major := strings.TrimSuffix(sum, " RUB")

	ctx := browser(t)
	consoleLogin(t, ctx, h.adminURL, "boris", consolePassword)
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("nav-customers").hidden`)); shown {
		t.Error("an analyst sees the customers page")
	}
	err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-reports")), chromedp.WaitVisible(chromedp.CSS(`#rep-periods tr[data-store="S1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rep-terminals tr[data-terminal="S1-T1"]`)), chromedp.WaitVisible(chromedp.CSS(`#rep-svg rect.bar`)))
	if err != nil {
		t.Fatalf("the reports page: %v", err)
	}
	month := time.Now().UTC().Format("2006-01") + "-01"
	row, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#rep-periods tr[data-store="S1"][data-period="`+month+`"]`)))
	term, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#rep-terminals tr[data-terminal="S1-T1"]`)))
	bars, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rep-svg rect.bar").length`))
	tip, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#rep-svg rect.bar title")].map(e => e.textContent).join("|")`))
	screenshot(t, ctx, "console-reports.png")
	t.Logf("month row %q; terminal row %q; %d bars: %s", row, term, bars, tip)
	cells := strings.Split(strings.TrimSuffix(row, "\n"), "\t")
	if len(cells) != 7 || cells[1] != "S1" || cells[2] != "2" || cells[3] != "1" || cells[4] != sum {
		t.Errorf("this month's S1 row %q: want 2 sales, 1 with a card, %s", cells, sum)
	}
	tcells := strings.Split(strings.TrimSuffix(term, "\n"), "\t")
	if len(tcells) != 6 || tcells[1] != "2" || tcells[2] != sum || tcells[3] != "0" || tcells[4] != "0.00 RUB" || tcells[5] != sum {
		t.Errorf("S1-T1's row %q: want 2 sales, %s sold, no returns, %s net", tcells, sum, sum)
	}
	if bars != 12 || !strings.Contains(tip, month+": "+sum) {
		t.Errorf("the chart has %d bars (%s): want 12 months, this one at %s", bars, tip, sum)
	}

	partner, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#rep-partners tr[data-partner="aeroflot"]`)))
	if want := fmt.Sprintf("S1\taeroflot\t%d", owed); !strings.Contains(partner, want) {
		t.Errorf("partner points owed row %q: want %q", partner, want)
	}

	// The CSV downloads, with the figures the page shows.
	csv := downloadReportCSV(t, ctx)
	for _, want := range []string{
		"period_start,period_end,store,sales,card_sales,revenue_RUB,points_earned,points_spent\r\n",
		month + ",", ",S1,2,1," + major + ",",
		fmt.Sprintf(",S1,aeroflot,%d\r\n", owed),
		"terminal,sales,sold_RUB,returns,refunded_RUB,net_RUB\r\nS1-T1,2," + major + ",0,0.00," + major + "\r\n",
	} {
		if !strings.Contains(csv, want) {
			t.Errorf("the CSV lacks %q:\n%s", want, csv)
		}
	}

	// Day by day, and a date that is not one.
	err = chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("rep-period"), "day"), chromedp.Click(chromedp.ID("rep-submit")))
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	waitFor(t, 10*time.Second, "today's row", func() bool {
		row, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#rep-periods tr[data-store="S1"]`)))
		return strings.HasPrefix(row, today+"\tS1\t2\t1\t"+sum)
	})
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.getElementById("rep-from"); e.type = "text"; e.value = "31.12.2025"; return true })()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rep-submit"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the bad date refused", func() bool {
		e, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("rep-error")))
		return strings.Contains(e, `from "31.12.2025": want a date YYYY-MM-DD`)
	})
}
