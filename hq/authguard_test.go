package hq_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/sync/wire"
)

// send sends a request over e's real listener with the headers a browser
// would add, and no token.
func (e *adminEnv) send(t *testing.T, method, path, contentType string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	if contentType != "" {
		hdr = append([]string{"Content-Type", contentType}, hdr...)
	}
	code, out := e.call(t, method, path, "", body, hdr...)
	return code, string(out)
}

// TestOpenHQRefusesOtherSites: while no operator exists (the admin API open
// on loopback), a page of another site in a browser on HQ's machine can
// neither add an admin nor publish rules: not by a cross-site form or
// no-cors fetch (Sec-Fetch-Site, or Origin alone in an older browser), and
// not by pointing its own name at 127.0.0.1 (DNS rebinding: same-origin,
// but its own name in Host), reads included. HQ's own pages, tillhq (no
// browser headers) and an API token still go.
func TestOpenHQRefusesOtherSites(t *testing.T) {
	e := newAdminEnv(t, hq.Options{})
	u, _ := url.Parse(e.ts.URL)
	rebound := "evil.example:" + u.Port()
	mallory := []byte(`{"name":"mallory","role":"admin","password":"attacker-chosen-pw"}`)
	rules := storetest.Version(discount.Example, 2)
	refused := []struct {
		what         string
		method, path string
		body         []byte
		hdr          []string
		code         string
	}{
		{"cross-site add user", "POST", wire.PathAdminUsers, mallory, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, "cross_site"},
		{"cross-site publish", "POST", wire.PathAdminRules, rules, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, "cross_site"},
		{"same-site add user", "POST", wire.PathAdminUsers, mallory, []string{"Origin", "http://127.0.0.1:9", "Sec-Fetch-Site", "same-site"}, "cross_site"},
		{"add user, Origin only", "POST", wire.PathAdminUsers, mallory, []string{"Origin", "https://evil.example"}, "cross_site"},
		{"rebound add user", "POST", wire.PathAdminUsers, mallory, []string{"Host", rebound, "Origin", "http://" + rebound, "Sec-Fetch-Site", "same-origin"}, "bad_host"},
		{"rebound publish", "POST", wire.PathAdminRules, rules, []string{"Host", rebound, "Sec-Fetch-Site", "same-origin"}, "bad_host"},
		{"rebound read", "GET", wire.PathAdminCustomers + "?phone=5550100", nil, []string{"Host", rebound, "Sec-Fetch-Site", "same-origin"}, "bad_host"},
		{"rebound login", "POST", wire.PathAdminLogin, []byte(`{"name":"anna","password":"guess guess guess"}`), []string{"Host", rebound}, "bad_host"},
	}
	for _, c := range refused {
		code, out := e.send(t, c.method, c.path, "text/plain", c.body, c.hdr...)
		if code != http.StatusForbidden || !strings.Contains(out, c.code) {
			t.Errorf("%s: %d %s, want 403 %s", c.what, code, out, c.code)
		}
	}
	if ops, err := e.store.Operators(context.Background()); err != nil || len(ops) != 0 {
		t.Fatalf("operators after the other sites' requests: %v (%v), want none", ops, err)
	}
	if rs, err := e.store.CurrentRuleset(context.Background()); rs.Version != 0 {
		t.Fatalf("the active ruleset after the other sites' publishes: version %d (%v), want none", rs.Version, err)
	}
	// The refusals are in the admin log.
	denied := 0
	for _, en := range e.log(t) {
		if en.Outcome == "denied" && en.Status == http.StatusForbidden {
			denied++
		}
	}
	if denied != len(refused) {
		t.Errorf("%d refusals in the admin log, want %d", denied, len(refused))
	}
	// HQ's own pages, by either of loopback's names; tillhq without a token.
	for _, host := range []string{u.Host, "localhost:" + u.Port()} {
		if code, out := e.send(t, "POST", wire.PathAdminRules+"/check", "text/plain", rules, "Host", host, "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin"); code != http.StatusOK {
			t.Fatalf("a check from HQ's own page at %s: %d %s", host, code, out)
		}
	}
	admin := e.addUser(t, "", "anna", hq.RoleAdmin)
	// An API token goes whatever a browser would add: no page can send one.
	body, _ := json.Marshal(wire.AddUserRequest{Name: "boris", Role: "analyst"})
	if code, out := e.send(t, "POST", wire.PathAdminUsers, "application/json", body, "Authorization", "Bearer "+admin.Token, "Sec-Fetch-Site", "cross-site", "Host", rebound); code != http.StatusCreated {
		t.Fatalf("add a user with the token: %d %s", code, out)
	}
}

// TestHostNotCheckedWhenOperatorsAreRequired: with RequireOperator (the admin
// API beyond loopback, behind TLS) any name may reach it; every request needs
// a credential anyway.
func TestHostNotCheckedWhenOperatorsAreRequired(t *testing.T) {
	e := newAdminEnv(t, hq.Options{RequireOperator: true})
	if code, out := e.send(t, "GET", wire.PathReportSales, "", nil, "Host", "hq.example.com"); code != http.StatusUnauthorized {
		t.Fatalf("a report by name without a credential: %d %s, want 401", code, out)
	}
}
