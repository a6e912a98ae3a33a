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
	add := exec.Command(bin("tillhq"), "user", "add", "anna", "--role", "admin", "--password-stdin", "--admin", h.adminURL)
	add.Stdin = strings.NewReader(password + "\n")
	add.Env = append(add.Environ(), "TILLHQ_TOKEN_FILE="+filepath.Join(work, "no-token"))
	out, err := add.CombinedOutput()
	if err != nil || strings.Contains(string(out), "password (shown once)") {
		t.Fatalf("tillhq user add --password-stdin: %v\n%s", err, out)
	}
	admin := lastLine(string(out))
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
	err = chromedp.Do(ctx,
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
	if len(cells) != 7 {
		t.Fatalf("fleet row %q: want 7 cells", row)
	}
	if cells[0] != "S1-T1" || cells[1] != "online" || !strings.Contains(cells[2], "ago") || cells[3] != "dev" || cells[4] != "1" || cells[5] != "0" {
		t.Fatalf("fleet row = %q, want S1-T1 online, just seen, tilld dev, ruleset 1, nothing waiting", cells)
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
