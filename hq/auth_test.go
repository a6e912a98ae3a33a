package hq_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/sync/wire"
)

func init() { hq.PasswordCost = bcrypt.MinCost } // tests need not be slow to guess

// adminEnv is an admin API over a real bbolt store.
type adminEnv struct {
	srv   *hq.Server
	store *boltstore.Store
	ts    *httptest.Server
}

func newAdminEnv(t testing.TB, opts hq.Options) *adminEnv {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, key, _ := ed25519.GenerateKey(nil)
	opts.Store, opts.SigningKey = store, key
	srv := hq.NewServer(opts)
	ts := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(ts.Close)
	return &adminEnv{srv: srv, store: store, ts: ts}
}

// call sends a request with the token (if any) and extra headers (pairs of
// name and value; "Host" sets the Host header); it returns the status and
// body.
func (e *adminEnv) call(t *testing.T, method, path, token string, body []byte, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func (e *adminEnv) addUser(t *testing.T, token, name string, role hq.Role) wire.AddUserResponse {
	t.Helper()
	body, _ := json.Marshal(wire.AddUserRequest{Name: name, Role: string(role)})
	code, out := e.call(t, "POST", wire.PathAdminUsers, token, body)
	if code != http.StatusCreated {
		t.Fatalf("add %s: %d %s", name, code, out)
	}
	var ans wire.AddUserResponse
	json.Unmarshal(out, &ans)
	if ans.Token == "" || ans.Password == "" {
		t.Fatalf("add %s answered no token or password: %s", name, out)
	}
	return ans
}

func (e *adminEnv) log(t *testing.T) []hq.AdminEntry {
	t.Helper()
	es, err := e.store.AdminLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := hq.VerifyAdminLog("", es); err != nil {
		t.Fatal(err)
	}
	return es
}

func TestRolesAndTheAdminLog(t *testing.T) {
	e := newAdminEnv(t, hq.Options{})
	rules := storetest.Version(discount.Example, 2)
	// No operator yet: open (loopback), and the first admin is added so.
	admin := e.addUser(t, "", "anna", hq.RoleAdmin)
	// From now on, no credential is no access.
	if code, out := e.call(t, "POST", wire.PathAdminRules, "", rules); code != http.StatusUnauthorized || !strings.Contains(string(out), wire.CodeUnauthenticated) {
		t.Fatalf("publish without a token: %d %s, want 401", code, out)
	}
	if code, _ := e.call(t, "GET", wire.PathReportSales, "thq_not-a-token", nil); code != http.StatusUnauthorized {
		t.Fatalf("report with an unknown token: %d, want 401", code)
	}
	analyst := e.addUser(t, admin.Token, "boris", hq.RoleAnalyst)
	marketing := e.addUser(t, admin.Token, "mila", hq.RoleMarketing)
	support := e.addUser(t, admin.Token, "sveta", hq.RoleSupport)

	cases := []struct {
		who          string
		token        string
		method, path string
		body         []byte
		want         int
	}{
		{"analyst", analyst.Token, "POST", wire.PathAdminRules, rules, http.StatusForbidden},
		{"support", support.Token, "POST", wire.PathAdminRules, rules, http.StatusForbidden},
		{"marketing", marketing.Token, "POST", wire.PathAdminRules, rules, http.StatusCreated},
		{"analyst", analyst.Token, "GET", wire.PathReportSales, nil, http.StatusOK},
		{"marketing", marketing.Token, "GET", wire.PathReportSales, nil, http.StatusForbidden},
		{"marketing", marketing.Token, "POST", wire.PathAdminTerminals, []byte(`{"store":"S1","terminal":"T1"}`), http.StatusForbidden},
		{"analyst", analyst.Token, "GET", wire.PathAdminUsers, nil, http.StatusForbidden},
		{"support", support.Token, "DELETE", wire.PathAdminCustomers + "/2000000000015", nil, http.StatusOK},
		{"analyst", analyst.Token, "DELETE", wire.PathAdminCustomers + "/2000000000015", nil, http.StatusForbidden},
		{"admin", admin.Token, "GET", wire.PathAdminUsers, nil, http.StatusOK},
		{"admin", admin.Token, "GET", wire.PathAdminLog, nil, http.StatusOK},
		{"analyst", analyst.Token, "GET", wire.PathAdminLog, nil, http.StatusForbidden},
	}
	for _, c := range cases {
		if code, out := e.call(t, c.method, c.path, c.token, c.body); code != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.who, c.method, c.path, code, out, c.want)
		}
	}
	// The analyst's publish is in the log as denied; mila's as done, with the version.
	var denied, published bool
	for _, en := range e.log(t) {
		if en.Operator == "boris" && en.Action == "POST "+wire.PathAdminRules && en.Outcome == "denied" && en.Status == 403 {
			denied = true
		}
		if en.Operator == "mila" && en.Role == hq.RoleMarketing && en.Action == "POST "+wire.PathAdminRules && en.Outcome == "ok" && en.Target == "version 2" && en.Remote != "" {
			published = true
		}
	}
	if !denied || !published {
		t.Fatalf("admin log misses the denied publish (%v) or the publish (%v): %+v", denied, published, e.log(t))
	}
	// A disabled operator's token stops working at once.
	if code, _ := e.call(t, "POST", wire.PathAdminUsers+"/boris/disable", admin.Token, nil); code != http.StatusNoContent {
		t.Fatalf("disable boris: %d", code)
	}
	if code, _ := e.call(t, "GET", wire.PathReportSales, analyst.Token, nil); code != http.StatusUnauthorized {
		t.Fatalf("a disabled analyst's report: %d, want 401", code)
	}
	// The log as the API answers it: verified.
	_, out := e.call(t, "GET", wire.PathAdminLog, admin.Token, nil)
	var lg wire.AdminLog
	if err := json.Unmarshal(out, &lg); err != nil || !lg.Verified || len(lg.Entries) < len(cases) {
		t.Fatalf("admin log answer: %s (%v)", out, err)
	}
}

func TestRequireOperatorClosesTheEmptyHQ(t *testing.T) {
	e := newAdminEnv(t, hq.Options{RequireOperator: true})
	if code, _ := e.call(t, "GET", wire.PathReportSales, "", nil); code != http.StatusUnauthorized {
		t.Fatalf("report from a closed HQ without operators: %d, want 401", code)
	}
	if code, _ := e.call(t, "GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
}

func TestSessions(t *testing.T) {
	e := newAdminEnv(t, hq.Options{})
	ans, err := hq.AddOperator(context.Background(), e.store, wire.AddUserRequest{Name: "mila", Role: "marketing", Password: "correct horse battery"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ans.Password != "" {
		t.Fatal("HQ answered a password it did not make up")
	}
	login := func(pw string, hdr ...string) (int, *http.Cookie) {
		body, _ := json.Marshal(wire.LoginRequest{Name: "mila", Password: pw})
		req, _ := http.NewRequest("POST", e.ts.URL+wire.PathAdminLogin, bytes.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == wire.CookieSession {
				return resp.StatusCode, c
			}
		}
		return resp.StatusCode, nil
	}
	if code, c := login("wrong password!"); code != http.StatusUnauthorized || c != nil {
		t.Fatalf("wrong password: %d %v", code, c)
	}
	if code, _ := login("correct horse battery", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Fatalf("a login from another site: %d, want 403", code)
	}
	code, c := login("correct horse battery")
	if code != http.StatusOK || c == nil {
		t.Fatalf("login: %d %v", code, c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
	}
	cookie := wire.CookieSession + "=" + c.Value
	rules := storetest.Version(discount.Example, 3)
	if code, out := e.call(t, "GET", wire.PathAdminMe, "", nil, "Cookie", cookie); code != http.StatusOK || !strings.Contains(string(out), `"mila"`) {
		t.Fatalf("me with the session: %d %s", code, out)
	}
	// A change with the cookie from another site is refused (CSRF); from HQ's own pages it goes.
	if code, _ := e.call(t, "POST", wire.PathAdminRules, "", rules, "Cookie", cookie, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Fatalf("a cross-site publish with the session: %d, want 403", code)
	}
	if code, out := e.call(t, "POST", wire.PathAdminRules, "", rules, "Cookie", cookie, "Sec-Fetch-Site", "same-origin"); code != http.StatusCreated {
		t.Fatalf("a same-origin publish with the session: %d %s", code, out)
	}
	// A session is not an API token, nor the other way round.
	if code, _ := e.call(t, "GET", wire.PathAdminMe, c.Value, nil); code != http.StatusUnauthorized {
		t.Fatalf("a session's secret as a token: %d, want 401", code)
	}
	if code, _ := e.call(t, "POST", wire.PathAdminLogout, "", nil, "Cookie", cookie, "Sec-Fetch-Site", "same-origin"); code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := e.call(t, "GET", wire.PathAdminMe, "", nil, "Cookie", cookie); code != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d, want 401", code)
	}
}

func TestRevokedTerminalRefused(t *testing.T) {
	e := newTLSHQ(t)
	a := e.enroll(t, "S1", "A")
	if code := upload(t, a, e.ts.URL, "A"); code != http.StatusOK {
		t.Fatalf("upload before revocation: %d", code)
	}
	if _, err := e.srv.RevokeTerminal(context.Background(), "A", "anna"); err != nil {
		t.Fatal(err)
	}
	if code := upload(t, a, e.ts.URL, "A"); code != http.StatusForbidden {
		t.Fatalf("upload after revocation: %d, want 403", code)
	}
	resp, err := a.Get(e.ts.URL + wire.PathRules + "?after=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("rules after revocation: %d, want 403", resp.StatusCode)
	}
	if _, err := e.srv.AddTerminal(context.Background(), "S1", "A", time.Hour); err == nil {
		t.Fatal("a revoked terminal id got a new enrollment token")
	}
}

// FuzzAdminCredentials: whatever Authorization header and session cookie a
// caller sends, an HQ with an operator never lets them through without a
// real credential, and never fails other than with 401 or 403.
//
// It runs below 1 000 execs/s (663 in docs/fuzzing.md's run), by what it
// checks: every refusal is appended to the hash-chained admin log, a bbolt
// commit with its fsyncs on the test's disk (about 1–1.5 ms here, fsync of
// 4 KiB alone 160–170 µs, docs/benchmarks.md). Taking the log out would
// fuzz a path HQ never runs.
func FuzzAdminCredentials(f *testing.F) {
	f.Add("Bearer thq_abc", "")
	f.Add("", "thq_abc")
	f.Add("Bearer ", "\x00")
	f.Add("Basic YW5uYTpwdw==", "")
	f.Add("Bearer thq_"+strings.Repeat("A", 43), "x; y=z")
	e := newAdminEnv(f, hq.Options{})
	if _, err := hq.AddOperator(context.Background(), e.store, wire.AddUserRequest{Name: "anna", Role: "admin"}, time.Now()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		req := httptest.NewRequest("GET", wire.PathReportSales, nil)
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		if cookie != "" {
			req.Header["Cookie"] = []string{wire.CookieSession + "=" + cookie}
		}
		w := httptest.NewRecorder()
		e.srv.AdminHandler().ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden {
			t.Fatalf("Authorization %q, cookie %q: %d %s", authz, cookie, w.Code, w.Body)
		}
	})
}

func TestConsoleServedToAnyoneWithItsPolicy(t *testing.T) {
	e := newAdminEnv(t, hq.Options{RequireOperator: true})
	code, body := e.call(t, "GET", hq.PathConsole, "", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `<form id="login"`) {
		t.Fatalf("console: %d %.200s", code, body)
	}
	resp, err := http.Get(e.ts.URL + hq.PathConsole + "app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || resp.StatusCode != http.StatusOK {
		t.Fatalf("app.js: %d, CSP %q", resp.StatusCode, csp)
	}
	// The fleet behind it is not open.
	if code, _ := e.call(t, "GET", wire.PathAdminFleet, "", nil); code != http.StatusUnauthorized {
		t.Fatalf("fleet without a session: %d, want 401", code)
	}
}

// TestDisableSelfOrLastAdmin: an admin cannot disable themselves, and two
// admins disabling each other at once leave one enabled, who then cannot.
func TestDisableSelfOrLastAdmin(t *testing.T) {
	for round := range 5 {
		e := newAdminEnv(t, hq.Options{})
		anna := e.addUser(t, "", "anna", hq.RoleAdmin)
		boris := e.addUser(t, anna.Token, "boris", hq.RoleAdmin)
		if code, out := e.call(t, "POST", wire.PathAdminUsers+"/anna/disable", anna.Token, nil); code != http.StatusConflict || !strings.Contains(string(out), "disable_self") {
			t.Fatalf("anna disables anna: %d %s, want 409 disable_self", code, out)
		}
		codes := make([]int, 2)
		outs := make([][]byte, 2)
		var wg sync.WaitGroup
		wg.Go(func() { codes[0], outs[0] = e.call(t, "POST", wire.PathAdminUsers+"/boris/disable", anna.Token, nil) })
		wg.Go(func() { codes[1], outs[1] = e.call(t, "POST", wire.PathAdminUsers+"/anna/disable", boris.Token, nil) })
		wg.Wait()
		var left []string
		for _, name := range []string{"anna", "boris"} {
			if o, err := e.store.Operator(context.Background(), name); err != nil || o.Disabled.IsZero() {
				left = append(left, name)
			}
		}
		if len(left) != 1 {
			t.Fatalf("round %d: anna and boris disable each other: %v %q %q; admins left %v, want one", round, codes, outs[0], outs[1], left)
		}
		// The other was refused: as the last admin (409), or as disabled
		// already when it was checked (401).
		if slices.Index(codes, http.StatusNoContent) < 0 || !slices.ContainsFunc(codes, func(c int) bool { return c == http.StatusConflict || c == http.StatusUnauthorized }) {
			t.Fatalf("round %d: answers %v %q %q, want 204 and 409 or 401", round, codes, outs[0], outs[1])
		}
	}
}

// TestAdminLogParameters: GET /v1/admin/log answers 400 naming a parameter
// that is not a number in range, and pages by the good ones.
func TestAdminLogParameters(t *testing.T) {
	e := newAdminEnv(t, hq.Options{})
	admin := e.addUser(t, "", "anna", hq.RoleAdmin)
	for _, c := range []struct{ query, want string }{
		{"limit=abc&after=zzz", "after"},
		{"after=zzz", `after \"zzz\": want`},
		{"after=-1", `after \"-1\": want`},
		{"limit=abc", `limit \"abc\": want 1 to 10000`},
		{"limit=-5", `limit \"-5\": want 1 to 10000`},
		{"limit=0", `limit \"0\": want 1 to 10000`},
		{"limit=10001", "want 1 to 10000"},
	} {
		code, out := e.call(t, "GET", wire.PathAdminLog+"?"+c.query, admin.Token, nil)
		if code != http.StatusBadRequest || !strings.Contains(string(out), c.want) {
			t.Errorf("?%s: %d %s, want 400 saying %s", c.query, code, out, c.want)
		}
	}
	for range 3 {
		e.addUser(t, admin.Token, fmt.Sprint("op", time.Now().UnixNano()), hq.RoleAnalyst)
	}
	code, out := e.call(t, "GET", wire.PathAdminLog+"?after=1&limit=2", admin.Token, nil)
	var lg wire.AdminLog
	if err := json.Unmarshal(out, &lg); code != http.StatusOK || err != nil || len(lg.Entries) != 2 || lg.Entries[0].Seq != 2 || !lg.Verified {
		t.Fatalf("?after=1&limit=2: %d %s", code, out)
	}
}
