package hq_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/hqtest"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// parkedHQ is an HQ served as tillhq serves it: ServeTerminals over mutual
// TLS, parking the combined polls.
type parkedHQ struct {
	srv  *hq.Server
	ca   *pki.CA
	url  string
	stop func() error
}

func startParkedHQ(t *testing.T) *parkedHQ {
	t.Helper()
	h, stop := hqtest.StartServing(t)
	if _, err := h.Server.PublishRuleset(context.Background(), rulesVersion(1)); err != nil {
		t.Fatal(err)
	}
	return &parkedHQ{srv: h.Server, ca: h.CA, url: h.URL, stop: stop}
}

// rulesVersion is the example ruleset as version v.
func rulesVersion(v int) []byte {
	return regexp.MustCompile(`(?m)^version = \d+`).ReplaceAll(discount.Example, []byte("version = "+strconv.Itoa(v)))
}

// terminal returns a client holding a certificate of terminal, and a
// counter of the connections it opened.
func (h *parkedHQ) terminal(t *testing.T, terminal string) (*http.Client, *atomic.Int64) {
	t.Helper()
	key, _ := pki.NewKey()
	csr, _ := pki.NewCSR(key)
	cert, err := h.ca.SignTerminal(csr, terminal, "S1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dials := &atomic.Int64{}
	d := &net.Dialer{}
	tr := &http.Transport{TLSClientConfig: pki.ClientTLS(h.ca.Cert, cert, key),
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, dials
}

// get GETs path and decodes the JSON answer into out (nil: none). It may
// run in a goroutine of its own: a failure is an error of t, and status 0.
func get(t *testing.T, c *http.Client, url string, out any) (int, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Errorf("GET %s: %s %q: %v", url, resp.Status, data, err)
			return 0, nil
		}
	}
	return resp.StatusCode, resp.Header
}

// The combined poll answers at once what is new, waits (parked) for a
// ruleset and for card changes, answers when its wait is over, keeps the
// terminal on one connection throughout with its certificate, and refuses a
// terminal revoked while it waits.
func TestCombinedPollParked(t *testing.T) {
	h := startParkedHQ(t)
	c, dials := h.terminal(t, "T1")

	// Nothing yet: at once.
	var ans wire.WaitAnswer
	if code, _ := get(t, c, h.url+wire.PathWait+"?rules=0&changes=0&wait=5", &ans); code != 200 || ans.Rules != 1 || ans.Changes == nil {
		t.Fatalf("first wait = %d %+v", code, ans)
	}
	if code, _ := get(t, c, h.url+wire.PathWait+"?wait=5", nil); code != http.StatusBadRequest {
		t.Errorf("a wait for nothing = %d, want 400", code)
	}

	// A ruleset published while the poll is parked wakes it.
	got := make(chan wire.WaitAnswer, 1)
	go func() {
		var a wire.WaitAnswer
		get(t, c, h.url+wire.PathWait+"?rules=1&changes="+itoa(ans.Changes.Next)+"&wait=10", &a)
		got <- a
	}()
	time.Sleep(300 * time.Millisecond)
	if n := h.srv.ParkedPolls(); n != 1 {
		t.Fatalf("%d polls parked, want 1", n)
	}
	start := time.Now()
	if _, err := h.srv.PublishRuleset(context.Background(), rulesVersion(2)); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.Rules != 2 || a.Changes == nil || len(a.Changes.Accounts) != 0 || a.Ruleset == nil || a.Ruleset.Version != 2 ||
			a.Ruleset.TOML != string(rulesVersion(2)) || len(a.Ruleset.Signature) != ed25519.SignatureSize {
			t.Errorf("woken by a ruleset: %+v", a)
		}
		t.Logf("ruleset to a parked poll in %v", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the parked poll did not wake for a ruleset")
	}

	// The card the terminal has seen changes: the parked poll carries it.
	var acct wire.AccountAnswer
	if code, _ := get(t, c, h.url+wire.PathAccountPrefix+"2000000000015", &acct); code != 200 {
		t.Fatalf("look-up = %d", code)
	}
	go func() {
		var a wire.WaitAnswer
		get(t, c, h.url+wire.PathWait+"?rules=2&changes="+itoa(acct.Change)+"&wait=10", &a)
		got <- a
	}()
	// Another terminal, which has not seen the card, waits too.
	bystander, _ := h.terminal(t, "T3")
	go get(t, bystander, h.url+wire.PathWait+"?rules=2&changes="+itoa(acct.Change)+"&wait=10", nil)
	time.Sleep(300 * time.Millisecond)
	other, _ := h.terminal(t, "T2")
	body, _ := json.Marshal(wire.HoldersRequest{Terminal: "T2", Holders: []pos.CardHolder{{Card: "2000000000015", Name: "Vasily", Phone: "+7 900 1234567", Updated: time.Now()}}})
	if resp, err := other.Post(h.url+wire.PathHolders, "application/json", bytes.NewReader(body)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("holders from another terminal: %v %v", resp, err)
	}
	select {
	case a := <-got:
		if len(a.Changes.Accounts) != 1 || a.Changes.Accounts[0].Holder == nil || a.Changes.Accounts[0].Holder.Name != "Vasily" {
			t.Errorf("woken by a card: %+v", a.Changes)
		}
		time.Sleep(100 * time.Millisecond)
		if n := h.srv.ParkedPolls(); n != 1 {
			t.Errorf("%d polls parked after the change, want 1: the terminal that has not seen the card waits on", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked poll did not wake for a card")
	}

	// Nothing comes: it answers when its wait is over.
	start = time.Now()
	if code, _ := get(t, c, h.url+wire.PathWait+"?rules=2&wait=1", &ans); code != 200 || ans.Rules != 2 {
		t.Errorf("idle wait = %d %+v", code, ans)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("a wait of 1 s answered after %v", d)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the terminal opened %d connections, want 1: a parked connection goes back to serving", n)
	}

	// Revoked while parked: refused.
	go func() {
		code, _ := get(t, c, h.url+wire.PathWait+"?rules=2&wait=10", &ans)
		got <- wire.WaitAnswer{Rules: int64(code)}
	}()
	time.Sleep(300 * time.Millisecond)
	if _, err := h.srv.RevokeTerminal(context.Background(), "T1", "anna"); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.Rules != http.StatusForbidden {
			t.Errorf("revoked while parked: %d, want 403", a.Rules)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked poll of a revoked terminal was not answered")
	}
}

// HQ stopping answers its parked polls 503 with Retry-After, and closes them.
func TestParkedPollsAnsweredAtShutdown(t *testing.T) {
	h := startParkedHQ(t)
	c, _ := h.terminal(t, "T1")
	codes := make(chan int, 3)
	for range 3 {
		go func() {
			resp, err := c.Get(h.url + wire.PathWait + "?rules=1&wait=10")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			if resp.Header.Get("Retry-After") == "" {
				codes <- -1
				return
			}
			codes <- resp.StatusCode
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if n := h.srv.ParkedPolls(); n != 3 {
		t.Errorf("%d polls parked, want 3", n)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case code := <-codes:
			if code != http.StatusServiceUnavailable {
				t.Errorf("a parked poll at shutdown: %d, want 503 with Retry-After", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a parked poll was not answered at shutdown")
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// countingFleet counts the store's contact writes.
type countingFleet struct {
	*boltstore.Store
	writes atomic.Int64
}

func (c *countingFleet) PutContacts(ctx context.Context, cs []hq.Contact) error {
	c.writes.Add(1)
	return c.Store.PutContacts(ctx, cs)
}

// A terminal's polls are written to the store when what the fleet view
// shows changes, or a minute after the last write, not at every poll; the
// fleet view shows the latest poll all the same.
func TestContactsWrittenOnChange(t *testing.T) {
	bs, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	store := &countingFleet{Store: bs}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	srv := hq.NewServer(hq.Options{Store: store, Now: func() time.Time { return now }})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	poll := func(outbox int) {
		t.Helper()
		if code, _ := get(t, ts.Client(), ts.URL+wire.PathWait+"?terminal=S1-T1&rules=3&wait=0&outbox="+strconv.Itoa(outbox), nil); code != 200 {
			t.Fatalf("poll = %d", code)
		}
	}
	poll(0)
	for range 5 {
		now = now.Add(10 * time.Second)
		poll(0)
	}
	if n := store.writes.Load(); n != 1 {
		t.Errorf("%d contact writes for six polls that changed nothing but the time, want 1", n)
	}
	var fleet wire.Fleet
	get(t, admin.Client(), admin.URL+wire.PathAdminFleet, &fleet)
	if len(fleet.Terminals) != 1 || fleet.Terminals[0].LastContact != now.Format(time.RFC3339) {
		t.Errorf("fleet = %+v, want the last poll at %v", fleet.Terminals, now)
	}
	poll(4) // sales wait: written at once
	now = now.Add(time.Minute)
	poll(4) // a minute later: written again
	if n := store.writes.Load(); n != 3 {
		t.Errorf("%d contact writes, want 3", n)
	}
}

// FuzzWaitQuery: whatever query a terminal sends to the combined poll, HQ
// answers 200 with a WaitAnswer or 400 saying what was wrong, never
// anything else, and never panics.
func FuzzWaitQuery(f *testing.F) {
	for _, seed := range []string{"rules=0&changes=0&wait=5", "rules=3", "changes=17&wait=-1", "", "rules=x", "rules=-1",
		"changes=99999999999999999999", "rules=1&rules=2&wait=9999999999", "terminal=S1-T1&rules=0&outbox=3&oldest=2026-01-01T00:00:00Z"} {
		f.Add(seed)
	}
	bs, err := boltstore.Open(filepath.Join(f.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	defer bs.Close()
	srv := hq.NewServer(hq.Options{Store: bs, MaxWait: time.Nanosecond})
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawQuery = wire.PathWait, query
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var ans wire.WaitAnswer
		var e wire.Error
		switch {
		case w.Code == http.StatusOK && json.Unmarshal(w.Body.Bytes(), &ans) == nil:
		case w.Code == http.StatusBadRequest && json.Unmarshal(w.Body.Bytes(), &e) == nil && e.Message != "":
		default:
			t.Fatalf("?%s: %d %q", query, w.Code, w.Body)
		}
	})
}
