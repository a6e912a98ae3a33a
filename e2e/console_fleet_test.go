package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq/hqtest"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// fleetAs reads HQ's fleet answer with an operator's API token.
func fleetAs(t testing.TB, adminURL, token string) wire.Fleet {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, adminURL+wire.PathAdminFleet, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f wire.Fleet
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", wire.PathAdminFleet, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

func fleetRow(f wire.Fleet, terminal string) (wire.FleetTerminal, int) {
	for i, ft := range f.Terminals {
		if ft.Terminal == terminal {
			return ft, i
		}
	}
	return wire.FleetTerminal{}, -1
}

// TestConsoleFleetAttention: two real tills on tillhq over PostgreSQL. Both
// sell while HQ takes their sales; then HQ's database refuses S1-T1's
// uploads (a trigger on the events table: the polls go on), S1-T1 sells
// three more, tells HQ about them with its next poll, and is stopped with
// them waiting. Once its last contact is older than the offline limit, the
// console's fleet page shows S1-T1 first, offline with 3 sales waiting and
// their age; S2-T1, online, shows its readers (one fake reader up, a serial
// one on a port that does not exist down, with its error), a clock skew of
// about nothing and its certificate's days left, all in ru and en.
func TestConsoleFleetAttention(t *testing.T) {
	t.Parallel() // most of it is waiting for the offline limit
	work := t.TempDir()
	pgURL := pgDatabase(t)
	// Polls held 5 s at most: the offline limit is 1 min + 2 × 5 s.
	h := launchHQWith(t, work, discount.Example, pgURL, "--max-wait", "5s")
	one := h.enrollTill(t, work, "S1", "S1-T1", "")
	two := h.enrollTill(t, work, "S2", "S2-T1", fmt.Sprintf("\n[[reader]]\nname = \"front\"\ntype = \"fake\"\n\n[[reader]]\nname = \"desk\"\ntype = \"serial\"\nport = %q\nbaud = 9600\n",
		filepath.Join(work, "no-such-tty")))
	admin := addOperator(t, h.adminURL, "", "anna", "admin", consolePassword)
	p1 := start(t, "tilld", "run", "--config", one.conf)
	start(t, "tilld", "run", "--config", two.conf)
	for _, e := range []enrolledTill{one, two} {
		waitFor(t, 30*time.Second, "the tills online with rules", func() bool {
			st, err := e.api.Status(context.Background())
			return err == nil && st.RulesetVersion > 0 && st.Online
		})
	}
	consoleSales(t, one.api, "", "")
	consoleSales(t, two.api, "")

	// HQ's database refuses S1-T1's events from now on.
	ctx := context.Background()
	db, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `CREATE FUNCTION hold_s1_t1() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.terminal = 'S1-T1' THEN RAISE EXCEPTION 'S1-T1 held back by the test'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER hold_s1_t1 BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION hold_s1_t1()`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, code, err := one.api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("held-%d", i), Basket: basket("", int64(i))}); err != nil || code != http.StatusCreated {
			t.Fatalf("held sale %d: %d %v", i, code, err)
		}
	}
	soldAt := time.Now()
	waitFor(t, 60*time.Second, "S1-T1's poll to tell HQ of its 3 sales waiting", func() bool {
		ft, _ := fleetRow(fleetAs(t, h.adminURL, admin), "S1-T1")
		return ft.Waiting == 3 && ft.OldestWait != ""
	})
	p1.stop(t)
	if _, err := db.Exec(ctx, `DROP TRIGGER hold_s1_t1 ON events`); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	var f wire.Fleet
	waitFor(t, 4*time.Minute, "HQ to count the stopped till offline", func() bool {
		f = fleetAs(t, h.adminURL, admin)
		ft, _ := fleetRow(f, "S1-T1")
		return ft.Status == wire.FleetOffline
	})
	t.Logf("S1-T1 offline %s after it stopped (limit %d s)", time.Since(stoppedAt).Round(time.Second), f.OfflineAfter)

	// The answer: S1-T1 first, S2-T1 online with its health.
	first, _ := fleetRow(f, "S1-T1")
	second, i := fleetRow(f, "S2-T1")
	if f.Terminals[0].Terminal != "S1-T1" || i != 1 {
		t.Fatalf("fleet order %v, want S1-T1 first", f.Terminals)
	}
	if first.Store != "S1" || first.Waiting != 3 || first.OldestAge < int64(f.OfflineAfter) || len(first.Attention) == 0 || first.Attention[0] != wire.AttentionOffline {
		t.Errorf("S1-T1 = %+v", first)
	}
	if second.Status != wire.FleetOnline || second.Store != "S2" || second.Readers != 2 || second.ReadersUp != 1 || !strings.HasPrefix(second.ReaderError, "desk: ") ||
		second.ClockSkew == nil || math.Abs(*second.ClockSkew) > 2 || second.CertDaysLeft == nil || *second.CertDaysLeft < 360 || *second.CertDaysLeft > 365 {
		t.Errorf("S2-T1 = %+v (skew %v, days %v)", second, second.ClockSkew, second.CertDaysLeft)
	}
	t.Logf("S2-T1: readers %d/%d (%s), clock skew %.3f s, certificate %d days; S1-T1's oldest waited %s",
		second.ReadersUp, second.Readers, second.ReaderError, *second.ClockSkew, *second.CertDaysLeft, time.Since(soldAt).Round(time.Second))

	// The page, in English then Russian.
	bctx := browser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(h.adminURL+"/"), chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`localStorage.setItem("tillhq-lang", "en"), true`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(bctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), "anna"),
		chromedp.SendKeys(chromedp.ID("password"), consolePassword),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-terminal="S2-T1"]`)),
	)
	if err != nil {
		t.Fatalf("log in and open the fleet: %v", err)
	}
	rows := func() [][]string {
		text, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll("#terminals tr")].map(tr => [...tr.children].map(td => td.textContent))`))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	en := rows()
	screenshot(t, bctx, "console-fleet-attention.png")
	t.Logf("en: %q", en)
	if len(en) != 2 || len(en[0]) != 11 {
		t.Fatalf("fleet rows %q, want 2 of 11 cells", en)
	}
	// Terminal, store, state, last contact, tilld, ruleset, waiting, oldest, readers, skew, certificate.
	if r := en[0]; r[0] != "S1-T1" || r[1] != "S1" || r[2] != "offline" || !strings.HasSuffix(r[3], " ago") || r[6] != "3" || !strings.HasSuffix(r[7], " min") {
		t.Errorf("S1-T1's row %q", r)
	}
	if r := en[1]; r[0] != "S2-T1" || r[1] != "S2" || r[2] != "online" || r[6] != "0" || r[7] != "" || !strings.HasPrefix(r[8], "1/2 desk: ") ||
		!strings.HasSuffix(r[9], " s") || !strings.HasSuffix(r[10], " d") {
		t.Errorf("S2-T1's row %q", r)
	}
	hot, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#terminals td.late")].map(td => td.parentElement.dataset.terminal + " " + td.className.split(" ")[0])`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"S1-T1 state", "S1-T1 waiting", "S1-T1 oldest", "S2-T1 readers"}; strings.Join(hot, ",") != strings.Join(want, ",") {
		t.Errorf("highlighted cells %q, want %q", hot, want)
	}
	// The filter asks HQ for the terminals of one store.
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("fleet-find"), "s2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the fleet filtered to store S2", func() bool {
		r := rows()
		return len(r) == 1 && r[0][0] == "S2-T1"
	})
	if shown, _ := chromedp.Run(bctx, chromedp.Text(chromedp.ID("fleet-shown"))); shown != "Shown: 1 of 1." {
		t.Errorf("filtered: %q", shown)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const f = document.getElementById("fleet-find"); f.value = ""; f.dispatchEvent(new Event("input")); return true })()`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the whole fleet again", func() bool { return len(rows()) == 2 })
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}
	var ru [][]string
	waitFor(t, 10*time.Second, "the fleet in Russian", func() bool {
		ru = rows()
		return len(ru) == 2 && ru[0][2] == "нет связи"
	})
	screenshot(t, bctx, "console-fleet-attention-ru.png")
	t.Logf("ru: %q", ru)
	if r := ru[0]; !strings.HasSuffix(r[3], " назад") || !strings.HasSuffix(r[7], " мин") {
		t.Errorf("S1-T1's row in Russian %q", r)
	}
	if r := ru[1]; r[2] != "на связи" || !strings.HasSuffix(r[9], " с") || !strings.HasSuffix(r[10], " дн.") {
		t.Errorf("S2-T1's row in Russian %q", r)
	}
}

// BenchmarkConsoleFleet renders the console's fleet page in headless
// Chromium against real tillhq on PostgreSQL holding 10 000 terminals'
// contacts (hqtest.PutFleet through pgstore: 100 of them revoked, one in 13
// with sales waiting): one op is the page's loadFleet, fetch and JSON included, until
// the table is laid out. "page" is the page as it is (the first 200 rows in
// attention order, more on demand); "all" puts all 10 000 rows in the table
// at once, for comparison. page-ms is loadFleet in the page (the request,
// JSON, rows and layout), render-ms its part after the answer arrived; ns/op
// adds the DevTools round trip.
//
//	go test ./e2e -run '^$' -bench ConsoleFleet -benchtime 10x
func BenchmarkConsoleFleet(b *testing.B) {
	const terminals = 10_000
	work := b.TempDir()
	pgURL := pgDatabase(b)
	h := launchHQ(b, work, discount.Example, pgURL)
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pgURL, pgstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hqtest.PutFleet(b, s, terminals, time.Now().UTC())
	addOperator(b, h.adminURL, "", "anna", "admin", consolePassword)
	bctx := browserFor(b, 20*time.Minute)
	err = chromedp.Do(bctx,
		chromedp.Navigate(h.adminURL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), "anna"),
		chromedp.SendKeys(chromedp.ID("password"), consolePassword),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(`#terminals tr`)),
	)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		shown int
		rows  int
	}{{"page", 200, 200}, {"all", terminals, terminals}} {
		b.Run(bc.name, func(b *testing.B) {
			// loadFleet, then a forced layout; the render part is timed from
			// the answer's arrival (a wrapped renderFleet).
			js := fmt.Sprintf(`(async () => {
				fleetShown = %d;
				let rendered = 0;
				const render = renderFleet;
				renderFleet = () => { const t0 = performance.now(); render(); void document.getElementById("fleet-table").offsetHeight; rendered = performance.now() - t0; };
				const t0 = performance.now();
				try { await loadFleet(); } finally { renderFleet = render; }
				return [document.querySelectorAll("#terminals tr").length, rendered, performance.now() - t0];
			})()`, bc.shown)
			var renderMs, pageMs float64
			for b.Loop() {
				got, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](js, chromedp.EvalAwaitPromise))
				if err != nil {
					b.Fatal(err)
				}
				if int(got[0]) != bc.rows {
					b.Fatalf("%v rows in the table, want %d", got[0], bc.rows)
				}
				renderMs += got[1]
				pageMs += got[2]
			}
			b.ReportMetric(renderMs/float64(b.N), "render-ms/op")
			b.ReportMetric(pageMs/float64(b.N), "page-ms/op")
		})
	}
}
