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
// sales waiting; the session cookie is out of the page script's reach.
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
	// Logging out ends the session: the page shows the login again.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login")), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		t.Fatalf("log out: %v", err)
	}
}
