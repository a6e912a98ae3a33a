package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/till"
)

// tillhqAs runs tillhq with an operator's API token (none: "") and returns
// its output and exit status. The token file is pointed nowhere, so that a
// developer's own ~/.config/tillhq/token never leaks in.
func tillhqAs(t *testing.T, token string, args ...string) (string, int) {
	t.Helper()
	env := []string{"TILLHQ_TOKEN=" + token, "TILLHQ_TOKEN_FILE=" + filepath.Join(t.TempDir(), "no-token")}
	return exitOf(t, env, "tillhq", args...)
}

// mustTillhqAs is tillhqAs that fails the test unless tillhq exits 0.
func mustTillhqAs(t *testing.T, token string, args ...string) string {
	t.Helper()
	out, code := tillhqAs(t, token, args...)
	if code != 0 {
		t.Fatalf("tillhq %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// TestOperatorsRolesAuditAndRevocation: the first admin is added on a
// loopback HQ without operators; from then on every tillhq command needs a
// token; an analyst cannot publish (refused, and in the admin log); a
// revoked terminal's next upload is refused while its earlier sale stays.
func TestOperatorsRolesAuditAndRevocation(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "tilld")
	h := launchHQ(t, work, discount.Example, "")
	admin := lastLine(mustTillhqAs(t, "", "user", "add", "anna", "--role", "admin", "--admin", h.adminURL))
	// Now an operator exists: no token, no access.
	out, code := tillhqAs(t, "", "terminal", "add", "--admin", h.adminURL, "--store", "S1", "--terminal", "S1-T1")
	if code == 0 || !strings.Contains(out, "401") || !strings.Contains(out, "TILLHQ_TOKEN") {
		t.Fatalf("terminal add without a token: exit %d\n%s\nwant a 401 naming TILLHQ_TOKEN", code, out)
	}
	token := lastLine(mustTillhqAs(t, admin, "terminal", "add", "--admin", h.adminURL, "--store", "S1", "--terminal", "S1-T1"))
	run(t, bin("tilld"), "enroll", "--hq", "https://"+h.addr, "--token", token, "--data", data)
	analyst := lastLine(mustTillhqAs(t, admin, "user", "add", "boris", "--role", "analyst", "--admin", h.adminURL))
	if out := mustTillhqAs(t, admin, "user", "list", "--admin", h.adminURL); !strings.Contains(out, "anna") || !strings.Contains(out, "boris") || !strings.Contains(out, "analyst") {
		t.Fatalf("user list:\n%s", out)
	}

	// An analyst reads reports but cannot publish.
	rules := filepath.Join(work, "rules-v2.toml")
	writeFile(t, rules, string(storetest.Version(discount.Example, 2)))
	out, code = tillhqAs(t, analyst, "rules", "publish", rules, "--admin", h.adminURL)
	if code == 0 || !strings.Contains(out, "403") || !strings.Contains(out, "needs marketing") {
		t.Fatalf("an analyst's publish: exit %d\n%s\nwant a 403", code, out)
	}
	mustTillhqAs(t, analyst, "report", "sales", "--admin", h.adminURL)

	// A till sells and uploads.
	addr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, addr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(addr, data)
	ctx := context.Background()
	waitFor(t, 30*time.Second, "tilld ready", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion > 0 && st.Online
	})
	sell := func(id string) till.Status {
		t.Helper()
		if _, code, err := api.Sale(ctx, till.SaleRequest{ID: id, Basket: basket("2000000000015", 0)}); err != nil || code != http.StatusCreated {
			t.Fatalf("sale %s: %d %v", id, code, err)
		}
		st, err := api.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := sell("before")
	waitFor(t, 30*time.Second, "the first sale at HQ", func() bool {
		s, err := api.Status(ctx)
		return err == nil && s.Acked >= st.LastSeq
	})

	// Revoked: the next upload is refused, and the till says why.
	if out := mustTillhqAs(t, admin, "terminal", "revoke", "S1-T1", "--admin", h.adminURL); !strings.Contains(out, "revoked") {
		t.Fatalf("terminal revoke said:\n%s", out)
	}
	acked := st.LastSeq
	st = sell("after")
	waitFor(t, 30*time.Second, "the till to report HQ's refusal", func() bool {
		s, err := api.Status(ctx)
		return err == nil && strings.Contains(s.LastSyncError+s.HQProblem, "revoked")
	})
	time.Sleep(2 * time.Second) // a few more tries, all refused
	if s, _ := api.Status(ctx); s.Acked != acked || s.LastSeq <= acked {
		t.Fatalf("after revocation the till has acked %d of %d, want %d", s.Acked, s.LastSeq, acked)
	}
	if out := mustTillhqAs(t, analyst, "report", "sales", "--admin", h.adminURL, "--json"); !strings.Contains(out, `"count":1`) {
		t.Fatalf("HQ's sales after revocation: %s, want the one sale before it", out)
	}

	// Disabled: boris's token stops working.
	mustTillhqAs(t, admin, "user", "disable", "boris", "--admin", h.adminURL)
	if out, code := tillhqAs(t, analyst, "report", "sales", "--admin", h.adminURL); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("a disabled analyst's report: exit %d\n%s", code, out)
	}

	// The admin log has it all, chained.
	log := mustTillhqAs(t, admin, "report", "admin-log", "--admin", h.adminURL)
	t.Logf("tillhq report admin-log:\n%s", log)
	for _, want := range []string{"hash chain intact", "boris", "denied", "POST /v1/admin/rules", "POST /v1/admin/terminals/{terminal}/revoke", "S1-T1",
		"POST /v1/admin/users/{name}/disable", "unauthenticated"} {
		if !strings.Contains(log, want) {
			t.Errorf("admin log lacks %q", want)
		}
	}
	if out, code := tillhqAs(t, analyst, "report", "admin-log", "--admin", h.adminURL); code == 0 {
		t.Errorf("a disabled analyst read the admin log:\n%s", out)
	}
}

// TestAdminBeyondLoopbackNeedsTLSAndAnOperator: tillhq refuses a
// non-loopback admin address without --admin-tls; with it, the admin API
// answers over TLS only to an operator, even before any exists.
func TestAdminBeyondLoopbackNeedsTLSAndAnOperator(t *testing.T) {
	work := t.TempDir()
	hqData := filepath.Join(work, "hq")
	run(t, bin("tillhq"), "init", "--data", hqData, "--host", "127.0.0.1")
	port := strings.Split(freeAddr(t), ":")[1]
	args := []string{"serve", "--data", hqData, "--listen", freeAddr(t), "--admin", "0.0.0.0:" + port}
	out, code := exitOf(t, nil, "tillhq", args...)
	if code == 0 || !strings.Contains(out, "--admin-tls") {
		t.Fatalf("tillhq serve --admin 0.0.0.0: exit %d\n%s\nwant a refusal naming --admin-tls", code, out)
	}
	// The first admin straight on the store, before serving.
	admin := lastLine(mustTillhqAs(t, "", "user", "add", "anna", "--role", "admin", "--data", hqData))
	start(t, "tillhq", append(args, "--admin-tls")...)
	adminURL := "https://127.0.0.1:" + port
	env := []string{"TILLHQ_CA=" + filepath.Join(hqData, "ca.crt"), "TILLHQ_TOKEN_FILE=" + filepath.Join(work, "none")}
	waitFor(t, 30*time.Second, "the admin API over TLS", func() bool {
		out, code := exitOf(t, append(env, "TILLHQ_TOKEN="+admin), "tillhq", "report", "sales", "--admin", adminURL)
		return code == 0 && strings.Contains(out, "TERMINAL")
	})
	if out, code := exitOf(t, env, "tillhq", "report", "sales", "--admin", adminURL); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("a report without a token beyond loopback: exit %d\n%s", code, out)
	}
	if _, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
		// Plain HTTP to a TLS listener gets a 400 from net/http, never an answer of the API.
		resp, _ := http.Get("http://127.0.0.1:" + port + "/v1/report/sales")
		if resp != nil && resp.StatusCode == http.StatusOK {
			t.Fatal("the admin API answered over plain HTTP")
		}
	}
}

// enrollAs is enroll with an operator's API token.
func (h *hqProc) enrollAs(t *testing.T, token, store, terminal, dataDir string) {
	t.Helper()
	tok := lastLine(mustTillhqAs(t, token, "terminal", "add", "--admin", h.adminURL, "--store", store, "--terminal", terminal))
	run(t, bin("tilld"), "enroll", "--hq", "https://"+h.addr, "--token", tok, "--data", dataDir)
}
