package hqclient_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/hqtest"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// hqEnv is a real HQ behind a real TLS socket whose certificate covers
// 127.0.0.1 only, as `tillhq init --host 127.0.0.1`.
type hqEnv struct {
	srv   *hq.Server
	ts    *httptest.Server
	ca    *pki.CA
	https string // https://127.0.0.1:PORT
}

func newHQ(t *testing.T) *hqEnv {
	t.Helper()
	h := hqtest.StartTLS(t, "127.0.0.1")
	return &hqEnv{srv: h.Server, ts: h.TLS, ca: h.CA, https: h.TLS.URL}
}

func (e *hqEnv) token(t *testing.T, terminal string) string {
	t.Helper()
	tok, err := e.srv.AddTerminal(context.Background(), "S1", terminal, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// enroll enrolls a terminal at base and returns its mutual-TLS configuration.
func enroll(t *testing.T, base, token string) (*tls.Config, error) {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := hqclient.Enroll(context.Background(), base, token, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	if err != nil {
		return nil, err
	}
	cert, err := pki.DecodeCert([]byte(ans.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.DecodeCert([]byte(ans.CA))
	if err != nil {
		t.Fatal(err)
	}
	return pki.ClientTLS(ca, cert, key), nil
}

// Enrollment through an address HQ's certificate does not cover is refused
// before the token is sent: the same token then enrolls through a covered
// address. The error names what the certificate covers and how to re-issue.
func TestEnrollRefusesAnAddressTheCertificateDoesNotCover(t *testing.T) {
	e := newHQ(t)
	tok := e.token(t, "T1")
	byName := strings.Replace(e.https, "127.0.0.1", "localhost", 1)
	_, err := enroll(t, byName, tok)
	if !errors.Is(err, hqclient.ErrWrongName) {
		t.Fatalf("enroll via localhost: %v, want ErrWrongName", err)
	}
	for _, want := range []string{"covers 127.0.0.1, not localhost", "tillhq cert --data /var/lib/tillhq --host 127.0.0.1 --host localhost", strings.Replace(e.https, "localhost", "127.0.0.1", 1)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if d := hqclient.Diagnose(byName, err); d.Problem != hqclient.WrongName {
		t.Errorf("Diagnose: %+v", d)
	}
	conf, err := enroll(t, e.https, tok)
	if err != nil {
		t.Fatalf("the token was spent by the refused attempt: %v", err)
	}
	c := hqclient.New(e.https, hqclient.Options{TLS: conf})
	// And the identity works over mutual TLS.
	if v, err := c.PublishedRules(context.Background()); err != nil || v != 0 {
		t.Fatalf("PublishedRules before any = %d, %v; want 0, nil", v, err)
	}
	raw, err := os.ReadFile("../../discount/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := e.srv.PublishRuleset(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.PublishedRules(context.Background()); err != nil || v != rs.Version {
		t.Fatalf("PublishedRules = %d, %v; want %d", v, err, rs.Version)
	}
}

func TestEnrollRefusesAnotherHQ(t *testing.T) {
	e := newHQ(t)
	tok := e.token(t, "T1")
	other, _ := pki.NewCA("impostor", time.Now())
	secret, _, _ := wire.SplitToken(tok)
	_, err := enroll(t, e.https, wire.JoinToken(secret, pki.Fingerprint(other.Cert)))
	if !errors.Is(err, pki.ErrNotPinned) {
		t.Fatalf("enroll pinning another CA: %v, want pki.ErrNotPinned", err)
	}
	if d := hqclient.Diagnose(e.https, err); d.Problem != hqclient.Untrusted {
		t.Errorf("Diagnose: %+v", d)
	}
	if _, err := enroll(t, "http://127.0.0.1:1", tok); err == nil || !strings.Contains(err.Error(), "want https://") {
		t.Errorf("enroll over http: %v", err)
	}
}

// Diagnose tells apart what a person fixes differently, from the errors of
// real exchanges with a real HQ.
func TestDiagnose(t *testing.T) {
	e := newHQ(t)
	conf, err := enroll(t, e.https, e.token(t, "T1"))
	if err != nil {
		t.Fatal(err)
	}
	c := hqclient.New(e.https, hqclient.Options{TLS: conf})
	ctx := context.Background()

	// HQ refuses a call without a terminal certificate: a StatusError.
	anon := hqclient.New(e.https, hqclient.Options{TLS: pki.PinnedTLS(pki.Fingerprint(e.ca.Cert), "127.0.0.1")})
	_, err = anon.PublishedRules(ctx)
	var se *hqclient.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || se.Code != "no_certificate" {
		t.Fatalf("without a certificate: %v", err)
	}
	if d := hqclient.Diagnose(e.https, err); d.Problem != hqclient.Refused || !strings.Contains(d.Fix, "enroll the till again") {
		t.Errorf("Diagnose(401) = %+v", d)
	}

	// The terminal's client through a name the certificate does not cover.
	byName := strings.Replace(e.https, "127.0.0.1", "localhost", 1)
	_, err = hqclient.New(byName, hqclient.Options{TLS: conf}).PublishedRules(ctx)
	if d := hqclient.Diagnose(byName, err); d.Problem != hqclient.WrongName || !strings.Contains(d.Detail, "covers 127.0.0.1, not localhost") {
		t.Errorf("Diagnose(wrong name) = %+v (%v)", d, err)
	}

	// Nothing listens any more.
	e.ts.Close()
	_, err = c.PublishedRules(ctx)
	if d := hqclient.Diagnose(e.https, err); d.Problem != hqclient.Unreachable || !strings.Contains(d.Detail, "connection refused") {
		t.Errorf("Diagnose(closed) = %+v (%v)", d, err)
	}
}

func TestStatusErrorReadsRetryAfter(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		wire.WriteError(w, http.StatusServiceUnavailable, "shutting_down", "HQ is restarting")
	}))
	defer ts.Close()
	err := hqclient.New(ts.URL, hqclient.Options{}).JSON(context.Background(), http.MethodGet, "/x", nil, nil)
	if hqclient.RetryAfter(err) != 7*time.Second || !strings.Contains(err.Error(), "503 Service Unavailable: HQ is restarting") {
		t.Fatalf("err %v, retry after %v", err, hqclient.RetryAfter(err))
	}
}

// A client of several replicas calls the first; once it gets no answer
// there it calls the next, and stays with it.
func TestFailOverToTheNextReplica(t *testing.T) {
	var calls [2]int
	replica := func(i int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls[i]++
			w.Write([]byte("{}"))
		}))
	}
	a, b := replica(0), replica(1)
	defer b.Close()
	c := hqclient.New(a.URL+", "+b.URL+"/", hqclient.Options{})
	if c.Base() != a.URL {
		t.Fatalf("base = %q, want the first, %q", c.Base(), a.URL)
	}
	if _, err := c.Do(context.Background(), hqclient.Request{Path: "/healthz"}); err != nil || calls[0] != 1 {
		t.Fatalf("first call: %v, %v", err, calls)
	}
	a.Close()
	if _, err := c.Do(context.Background(), hqclient.Request{Path: "/healthz"}); err == nil {
		t.Fatal("a call to a stopped replica succeeded")
	}
	for range 3 {
		if _, err := c.Do(context.Background(), hqclient.Request{Path: "/healthz"}); err != nil {
			t.Fatalf("after the first replica stopped: %v", err)
		}
	}
	if c.Base() != b.URL || calls[1] != 3 {
		t.Errorf("base %q, calls %v: want the second replica, called 3 times", c.Base(), calls)
	}
	if got := hqclient.SplitBases(" https://a:1/, ,https://b:2// "); strings.Join(got, " ") != "https://a:1 https://b:2" {
		t.Errorf("SplitBases = %q", got)
	}
}
