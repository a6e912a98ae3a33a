package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/hqtest"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

type hqEnv struct {
	srv *hq.Server
	ts  *httptest.Server
	ca  *pki.CA
}

func newTLSHQ(t *testing.T) *hqEnv {
	t.Helper()
	h := hqtest.StartTLS(t)
	return &hqEnv{srv: h.Server, ts: h.TLS, ca: h.CA}
}

// enroll runs the enrollment exchange by hand and returns a client holding the
// terminal's certificate.
func (e *hqEnv) enroll(t *testing.T, store, terminal string) *http.Client {
	t.Helper()
	token, err := e.srv.AddTerminal(context.Background(), store, terminal, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewCSR(key)
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})
	ans, err := hqclient.Enroll(context.Background(), e.ts.URL, token, csrPEM)
	if err != nil {
		t.Fatalf("enroll %s: %v", terminal, err)
	}
	cert, err := pki.DecodeCert([]byte(ans.Certificate))
	if err != nil || cert.Subject.CommonName != terminal {
		t.Fatalf("certificate for %s: %v %v", terminal, cert.Subject, err)
	}
	// A second use of the same token is refused.
	_, err = hqclient.Enroll(context.Background(), e.ts.URL, token, csrPEM)
	var se *hqclient.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden || se.Code != "token_refused" {
		t.Fatalf("reused token: %v, want 403 token_refused", err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientTLS(e.ca.Cert, cert, key)}}
}

func upload(t *testing.T, c *http.Client, url, terminal string) int {
	t.Helper()
	body, _ := json.Marshal(wire.UploadRequest{Terminal: terminal, Events: storetest.Chain(terminal, 1, 3, "", 100)})
	resp, err := c.Post(url+wire.PathUpload, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUploadsOnlyForTheCertificatesTerminal(t *testing.T) {
	e := newTLSHQ(t)
	a := e.enroll(t, "S1", "A")
	e.enroll(t, "S1", "B")
	if code := upload(t, a, e.ts.URL, "B"); code != http.StatusForbidden {
		t.Errorf("A's certificate uploading as B: %d, want 403", code)
	}
	if code := upload(t, a, e.ts.URL, "A"); code != http.StatusOK {
		t.Errorf("A uploading as A: %d, want 200", code)
	}
	// Trusting HQ's CA but presenting no certificate is not enough.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.PinnedTLS(pki.Fingerprint(e.ca.Cert), "")}}
	if code := upload(t, anon, e.ts.URL, "A"); code != http.StatusUnauthorized {
		t.Errorf("upload without a certificate: %d, want 401", code)
	}
}

func TestPinnedTLSRefusesAnotherHQ(t *testing.T) {
	e := newTLSHQ(t)
	other, _ := pki.NewCA("impostor", time.Now())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.PinnedTLS(pki.Fingerprint(other.Cert), "")}}
	resp, err := c.Get(e.ts.URL + "/healthz")
	if err == nil {
		resp.Body.Close()
		t.Fatal("a client pinning another CA reached HQ")
	}
}

func TestAdminMetricsParse(t *testing.T) {
	e := newTLSHQ(t)
	a := e.enroll(t, "S1", "A")
	upload(t, a, e.ts.URL, "A")
	admin := httptest.NewServer(e.srv.AdminHandler())
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	var ok float64
	for _, m := range fams["tillhq_uploads_total"].GetMetric() {
		if m.Label[0].GetValue() == "ok" {
			ok = m.GetCounter().GetValue()
		}
	}
	if ok != 1 || fams["tillhq_events_ingested_total"] == nil {
		t.Fatalf("uploads ok = %v, ingest counter present = %v", ok, fams["tillhq_events_ingested_total"] != nil)
	}
}

// A CSR that cannot be signed is refused before the token is used: the
// same token then enrolls with a good CSR.
func TestBadCSRLeavesTheToken(t *testing.T) {
	e := newTLSHQ(t)
	token, err := e.srv.AddTerminal(context.Background(), "S1", "A", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewCSR(key)
	forged := bytes.Clone(csr)
	forged[len(forged)-1] ^= 0xff // the signature's last byte
	for name, der := range map[string][]byte{"junk": []byte("not a CSR"), "a forged signature": forged} {
		_, err := hqclient.Enroll(context.Background(), e.ts.URL, token, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		var se *hqclient.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Code != "bad_csr" {
			t.Errorf("%s CSR: %v, want 400 bad_csr", name, err)
		}
	}
	ans, err := hqclient.Enroll(context.Background(), e.ts.URL, token, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	if err != nil || ans.Terminal != "A" {
		t.Fatalf("the good CSR after the bad ones: %+v %v; want the token still good", ans, err)
	}
}
