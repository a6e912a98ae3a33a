package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tilld/tilld/discount"
)

// TestConsoleLoginAndFleet: in headless Chromium, tillhq's console shows the
// login; a wrong password is refused; the admin logs in and the fleet page
// lists the running till with its last contact, tilld version, ruleset and
// sales waiting; the session cookie is out of the page script's reach; the
// admin makes an enrollment token that enrolls a till and revokes the
// running one, which HQ then refuses; the admin log page shows it all with
// its hash chain intact.
func TestConsoleLoginAndFleet(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "tilld")
	h := launchHQ(t, work, discount.Example, "")
	const password = "correct horse battery staple"
	admin := addOperator(t, h.adminURL, "", "anna", "admin", password)
	token := lastLine(mustTillhqAs(t, admin, "terminal", "add", "--admin", h.adminURL, "--store", "S1", "--terminal", "S1-T1"))
	run(t, bin("tilld"), "enroll", "--hq", "https://"+h.addr, "--token", token, "--data", data)
	addr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, addr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(addr, data)
	waitFor(t, 30*time.Second, "tilld ready", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.RulesetVersion > 0 && st.Online
	})

	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.adminURL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), "anna"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(chromedp.ID("submit")),
	)
	if err != nil {
		t.Fatalf("login page: %v", err)
	}
	var loginErr string
	waitFor(t, 10*time.Second, "the page to refuse a wrong password", func() bool {
		loginErr, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("login-error")))
		return loginErr != ""
	})
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-terminal="S1-T1"]`)),
	)
	if err != nil {
		t.Fatalf("log in and open the fleet: %v", err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-terminal="S1-T1"]`)))
	if err != nil {
		t.Fatal(err)
	}
	summary, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("summary")))
	if loginShown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById("login")).display !== "none"`)); loginShown {
		t.Error("the login form is still shown after logging in")
	}
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "console-fleet.png")
	t.Logf("fleet row: %q; %s", row, summary)
	cells := strings.Split(strings.TrimSuffix(row, "\n"), "\t")
	if len(cells) != 11 {
		t.Fatalf("fleet row %q: want 11 cells", row)
	}
	if cells[0] != "S1-T1" || cells[1] != "S1" || cells[2] != "online" || !strings.Contains(cells[3], "ago") || cells[4] != "dev" || cells[5] != "1" || cells[6] != "0" {
		t.Fatalf("fleet row = %q, want S1-T1 of S1 online, just seen, tilld dev, ruleset 1, nothing waiting", cells)
	}
	if strings.Contains(cookies, "tillhq_session") {
		t.Fatalf("the page's script reads the session cookie: %q", cookies)
	}

	// The admin makes an enrollment token and revokes the till from the page.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("enroll-store"), "S1"),
		chromedp.SendKeys(chromedp.ID("enroll-terminal"), "S1-T2"),
		chromedp.Click(chromedp.ID("enroll-submit")),
	)
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	waitFor(t, 10*time.Second, "the page to show the enrollment token", func() bool {
		tok, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("enroll-token")))
		return tok != ""
	})
	// It enrolls a till (used once).
	run(t, bin("tilld"), "enroll", "--hq", "https://"+h.addr, "--token", tok, "--data", filepath.Join(work, "tilld2"))
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("revoke-terminal"), "S1-T1"),
		chromedp.Click(chromedp.ID("revoke-submit")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the fleet to show S1-T1 revoked", func() bool {
		row, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-terminal="S1-T1"]`)))
		return strings.Contains(row, "revoked")
	})
	waitFor(t, 30*time.Second, "the till to be refused", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && strings.Contains(st.LastSyncError+st.HQProblem, "revoked")
	})
	// The admin log, in the console: what the page did, chained.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-log")), chromedp.WaitVisible(chromedp.CSS(`#log-entries tr`))); err != nil {
		t.Fatal(err)
	}
	verified, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("log-verified")))
	entries, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("log-entries")))
	screenshot(t, ctx, "console-admin-log.png")
	if verified != "Hash chain intact." {
		t.Errorf("admin log page says %q", verified)
	}
	for _, want := range []string{"POST /v1/admin/terminals/{terminal}/revoke", "S1-T2", "POST /v1/admin/login", "unauthenticated 401"} {
		if !strings.Contains(entries, want) {
			t.Errorf("admin log page lacks %q:\n%s", want, entries)
		}
	}

	// Logging out ends the session: the page shows the login again.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login")), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		t.Fatalf("log out: %v", err)
	}
}

// addOperator adds an operator with the password through tillhq user add
// --password-stdin, as the operator with token (or nobody), and returns the
// new operator's API token.
func addOperator(t testing.TB, adminURL, token, name, role, password string) string {
	t.Helper()
	add := exec.Command(bin("tillhq"), "user", "add", name, "--role", role, "--password-stdin", "--admin", adminURL)
	add.Stdin = strings.NewReader(password + "\n")
	add.Env = append(add.Environ(), "TILLHQ_TOKEN="+token, "TILLHQ_TOKEN_FILE="+filepath.Join(t.TempDir(), "no-token"))
	out, err := add.CombinedOutput()
	if err != nil || strings.Contains(string(out), "password (shown once)") {
		t.Fatalf("tillhq user add %s --password-stdin: %v\n%s", name, err, out)
	}
	return lastLine(string(out))
}

// consoleLogin logs in on the console's page at adminURL.
func consoleLogin(t *testing.T, ctx context.Context, adminURL, name, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(adminURL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("nav-rules")),
	)
	if err != nil {
		t.Fatalf("log in as %s: %v", name, err)
	}
}

// waitEditor waits until the rules page's editor holds text with want.
func waitEditor(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the active ruleset in the editor", func() bool {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("rules-text").value`))
		return strings.Contains(v, want)
	})
}

// TestConsoleRules: in the console, an analyst's publish is refused (and
// in the admin log); a marketing operator edits the active ruleset, checks
// it, sees the change against the active one, publishes, and a real tilld
// prices with it. A ruleset with an error is shown with its line.
func TestConsoleRules(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "tilld")
	h := launchHQ(t, work, discount.Example, "")
	const password = "correct horse battery staple"
	admin := addOperator(t, h.adminURL, "", "anna", "admin", password)
	addOperator(t, h.adminURL, admin, "boris", "analyst", password)
	addOperator(t, h.adminURL, admin, "mila", "marketing", password)
	h.enrollAs(t, admin, "S1", "S1-T1", data)
	addr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, addr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(addr, data)
	waitFor(t, 30*time.Second, "tilld ready", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.RulesetVersion == 1 && st.Online
	})
	ctx := browser(t)
	const bump = `(() => { const t = document.getElementById("rules-text"); t.value = t.value.replace("version = 1", "version = 2"); t.dispatchEvent(new Event("input")); return true })()`

	// The analyst may read the rules but not publish.
	consoleLogin(t, ctx, h.adminURL, "boris", password)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-rules")), chromedp.WaitVisible(chromedp.ID("rules-text"))); err != nil {
		t.Fatal(err)
	}
	var result string
	waitEditor(t, ctx, "version = 1")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](bump)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rules-publish"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the analyst's publish refused", func() bool {
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("rules-result")))
		return strings.Contains(result, "needs marketing")
	})
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		t.Fatal(err)
	}

	// Marketing: a mistake is shown at its line; then the real change.
	consoleLogin(t, ctx, h.adminURL, "mila", password)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("nav-rules")), chromedp.WaitVisible(chromedp.ID("rules-text"))); err != nil {
		t.Fatal(err)
	}
	waitEditor(t, ctx, "version = 1")
	broken := `(() => { const t = document.getElementById("rules-text"); t.value = t.value.replace("version = 1", "version = 2").replace('currency = "RUB"', 'currency = "RUBLES"'); t.dispatchEvent(new Event("input")); return true })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](broken)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rules-check"))); err != nil {
		t.Fatal(err)
	}
	var problems string
	waitFor(t, 10*time.Second, "the check's errors", func() bool {
		problems, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("rules-problems")))
		return problems != ""
	})
	if !strings.Contains(problems, "line 7") {
		t.Errorf("the check's problems %q do not name line 7 (currency)", problems)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const t = document.getElementById("rules-text"); t.value = t.value.replace('"RUBLES"', '"RUB"'); t.dispatchEvent(new Event("input")); return true })()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rules-check"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the check to pass", func() bool {
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("rules-result")))
		return strings.HasPrefix(result, "OK: version 2")
	})
	diff, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("rules-diff")))
	if !strings.Contains(diff, "- 6: version = 1") || !strings.Contains(diff, "+ 6: version = 2") || strings.Count(diff, "\n") > 3 {
		t.Errorf("the diff against the active ruleset:\n%s\nwant exactly the version line changed", diff)
	}
	screenshot(t, ctx, "console-rules.png")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("rules-publish"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the publish", func() bool {
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("rules-result")))
		return strings.Contains(result, "Published version 2")
	})
	waitFor(t, 30*time.Second, "the till to price with version 2", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.RulesetVersion == 2
	})
	q, err := api.Quote(context.Background(), basket("2000000000015", 0))
	if err != nil || q.RulesetVersion != 2 {
		t.Fatalf("the till's quote after the publish: version %d, %v", q.RulesetVersion, err)
	}
	log := mustTillhqAs(t, admin, "report", "admin-log", "--admin", h.adminURL)
	var denied, published bool
	for _, l := range strings.Split(log, "\n") {
		denied = denied || strings.Contains(l, "boris") && strings.Contains(l, "POST /v1/admin/rules ") && strings.Contains(l, "denied 403")
		published = published || strings.Contains(l, "mila") && strings.Contains(l, "version 2") && strings.Contains(l, "ok 201")
	}
	if !denied || !published {
		t.Errorf("admin log: boris's publish denied %v, mila's published %v:\n%s", denied, published, log)
	}
}
