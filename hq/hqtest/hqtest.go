// Package hqtest starts a real HQ for tests of the code that talks to it: an
// hq.Server on a bbolt store in a temporary directory, serving terminals over
// TLS with a certificate from its own CA, as `tillhq init` and `tillhq serve`
// set it up, and requiring terminal certificates.
package hqtest

import (
	"crypto/ed25519"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/pki"
)

// HQ is a running HQ; the test's cleanup stops it.
type HQ struct {
	Server *hq.Server
	TLS    *httptest.Server // its URL is https://127.0.0.1:PORT
	CA     *pki.CA
}

// StartTLS starts an HQ whose TLS certificate covers hosts (default
// 127.0.0.1 only).
func StartTLS(t testing.TB, hosts ...string) *HQ {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now()
	ca, err := pki.NewCA("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.ServerCert(hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	_, signing, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := hq.NewServer(hq.Options{Store: store, SigningKey: signing, CA: ca, RequireClientCert: true})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = pki.ServerTLS(ca.Cert, cert, key)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &HQ{Server: srv, TLS: ts, CA: ca}
}
