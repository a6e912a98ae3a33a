package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// replica starts another tillhq on h's data directory (its keys and CA) and
// PostgreSQL database, on addresses of its own.
func (h *hqProc) replica(t *testing.T, postgres string) *hqProc {
	t.Helper()
	hqAddr, adminAddr := freeAddr(t), freeAddr(t)
	r := &hqProc{adminURL: "http://" + adminAddr, addr: hqAddr,
		args: []string{"serve", "--data", h.args[2], "--listen", hqAddr, "--admin", adminAddr, "--postgres", postgres}}
	r.start(t)
	return r
}

// TestReplicasWakeEachOther: two tillhq replicas on one PostgreSQL; a till
// enrolled through and long-polling replica B gets a ruleset published on
// replica A at once (LISTEN/NOTIFY), not when its 30 s poll runs out; and a
// terminal revoked on A is refused by B; failed logins count on both.
func TestReplicasWakeEachOther(t *testing.T) {
	work := t.TempDir()
	pgURL := pgDatabase(t)
	a := launchHQ(t, work, discount.Example, pgURL)
	b := a.replica(t, pgURL)
	data := filepath.Join(work, "tilld")
	b.enroll(t, "S1", "S1-T1", data) // its HQ address is B's
	addr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, addr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(addr, data)
	ctx := context.Background()
	waitFor(t, 30*time.Second, "tilld ready through replica B", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion == 1 && st.Online
	})
	time.Sleep(500 * time.Millisecond) // the till is in its long poll at B

	for v := int64(2); v <= 4; v++ {
		file := filepath.Join(work, fmt.Sprintf("rules-v%d.toml", v))
		writeFile(t, file, string(storetest.Version(discount.Example, v)))
		published := time.Now()
		mustTillhqAs(t, "", "rules", "publish", file, "--admin", a.adminURL)
		// Generous, but well under the 30 s the poll would wait unwoken.
		waitFor(t, 10*time.Second, fmt.Sprintf("ruleset %d published on A at the till polling B", v), func() bool {
			st, err := api.Status(ctx)
			return err == nil && st.RulesetVersion == v
		})
		t.Logf("ruleset %d: published on A, active on the till of B %s later", v, time.Since(published).Round(time.Millisecond))
		time.Sleep(300 * time.Millisecond)
	}

	// Operators and revocations live in the database: an admin added on A
	// works on B, and a terminal revoked on A is refused by B at once, its
	// long poll there included.
	added := mustTillhqAs(t, "", "user", "add", "anna", "--role", "admin", "--admin", a.adminURL)
	admin := lastLine(added)
	if out, code := tillhqAs(t, "", "report", "sales", "--admin", b.adminURL); code == 0 {
		t.Fatalf("replica B answered without a token after A got an operator:\n%s", out)
	}
	mustTillhqAs(t, admin, "report", "sales", "--admin", b.adminURL)
	// A web session opened on A works on B: sessions are in the database.
	_, password, _ := strings.Cut(added, "password (shown once): ")
	password, _, _ = strings.Cut(password, "\n")
	resp, err := http.Post(a.adminURL+wire.PathAdminLogin, "application/json",
		strings.NewReader(fmt.Sprintf(`{"name":"anna","password":%q}`, password)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == wire.CookieSession {
			session = c
		}
	}
	if resp.StatusCode != http.StatusOK || session == nil {
		t.Fatalf("login on A: %d, cookie %v", resp.StatusCode, session)
	}
	req, _ := http.NewRequest(http.MethodGet, b.adminURL+wire.PathAdminMe, nil)
	req.AddCookie(session)
	me, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	me.Body.Close()
	if me.StatusCode != http.StatusOK {
		t.Fatalf("A's session on B: %d, want 200", me.StatusCode)
	}
	// Failed logins count on every replica: wrong passwords spread over A
	// and B lock the name out of both.
	login := func(url, pw string) (int, string) {
		t.Helper()
		resp, err := http.Post(url+wire.PathAdminLogin, "application/json",
			strings.NewReader(fmt.Sprintf(`{"name":"anna","password":%q}`, pw)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range hq.LoginFailuresPerName {
		url := []string{a.adminURL, b.adminURL}[i%2]
		if code, _ := login(url, "not anna's password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, code)
		}
	}
	for _, url := range []string{a.adminURL, b.adminURL} {
		if code, retry := login(url, password); code != http.StatusTooManyRequests || retry == "" {
			t.Fatalf("the right password at %s after %d wrong ones spread over both replicas: %d (Retry-After %q), want 429",
				url, hq.LoginFailuresPerName, code, retry)
		}
	}
	mustTillhqAs(t, admin, "terminal", "revoke", "S1-T1", "--admin", a.adminURL)
	waitFor(t, 10*time.Second, "the till polling B to be refused after its revocation on A", func() bool {
		st, err := api.Status(ctx)
		return err == nil && strings.Contains(st.LastSyncError+st.HQProblem, "revoked")
	})
	// The revoked till stops calling HQ rather than hammering it, and says so.
	refusals := func() int { return strings.Count(b.proc.out.String(), "revoked terminal refused") }
	time.Sleep(time.Second)
	before := refusals()
	time.Sleep(6 * time.Second) // more than the uploader's 5 s look at its outbox
	if n := refusals(); n != before {
		t.Errorf("replica B refused the revoked till %d more times in 6 s: it should have stopped calling", n-before)
	}
	if out := doctor(t, addr, data, conf); !strings.Contains(out, "revoked by HQ") {
		t.Errorf("tillctl doctor of a revoked till does not say so:\n%s", out)
	}
}

// TestTillFailsOverToAnotherReplica: a till whose config lists two tillhq
// replicas over one PostgreSQL syncs through the first; that one stops in
// the middle of the day; the till moves to the second and stays there (it
// takes a ruleset published there), and HQ holds every sale exactly once.
func TestTillFailsOverToAnotherReplica(t *testing.T) {
	work := t.TempDir()
	pgURL := pgDatabase(t)
	a := launchHQ(t, work, discount.Example, pgURL)
	b := a.replica(t, pgURL)
	tl := a.enrollTill(t, work, "S1", "S1-T1", fmt.Sprintf("hq = %q\n", "https://"+a.addr+", https://"+b.addr+"/"))
	start(t, "tilld", "run", "--config", tl.conf)
	ctx := context.Background()
	waitFor(t, 30*time.Second, "tilld online through replica A", func() bool {
		st, err := tl.api.Status(ctx)
		return err == nil && st.RulesetVersion == 1 && st.Online
	})
	basket := pos.Basket{Lines: []pos.Line{{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 9990}}}
	sales := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			res, code, err := tl.api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("pos-%03d", i), Basket: basket})
			if err != nil || code != http.StatusCreated || res.Seq != uint64(i) {
				t.Fatalf("sale %d: %d %v (seq %d)", i, code, err, res.Seq)
			}
		}
	}
	// held is what HQ holds of the till's sales, asked at replica r.
	held := func(r *hqProc) (count int64, maxSeq uint64) {
		resp, err := http.Get(r.adminURL + wire.PathReportSales)
		if err != nil {
			return -1, 0
		}
		defer resp.Body.Close()
		var rep wire.SalesReport
		if json.NewDecoder(resp.Body).Decode(&rep) != nil || len(rep.Terminals) != 1 {
			return -1, 0
		}
		return rep.Terminals[0].Count, rep.Terminals[0].MaxSeq
	}
	sales(1, 10)
	waitFor(t, 20*time.Second, "the first 10 sales at HQ", func() bool { n, seq := held(b); return n == 10 && seq == 10 })

	a.proc.stop(t)
	sales(11, 30)
	waitFor(t, 60*time.Second, "the 30 sales at HQ through replica B", func() bool { n, seq := held(b); return n == 30 && seq == 30 })
	n, seq := held(b)
	t.Logf("HQ holds %d sales up to seq %d with replica A stopped", n, seq)

	// The till stays with B: a ruleset published there reaches it.
	file := filepath.Join(work, "rules-v2.toml")
	writeFile(t, file, string(storetest.Version(discount.Example, 2)))
	mustTillhqAs(t, "", "rules", "publish", file, "--admin", b.adminURL)
	waitFor(t, 40*time.Second, "ruleset 2 published on B at the till", func() bool {
		st, err := tl.api.Status(ctx)
		return err == nil && st.RulesetVersion == 2 && st.Online
	})
}
