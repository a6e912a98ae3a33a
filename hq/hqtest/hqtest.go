// Package hqtest starts a real HQ for tests of the code that talks to it: an
// hq.Server on a bbolt store in a temporary directory, serving terminals over
// TLS with a certificate from its own CA, as `tillhq init` and `tillhq serve`
// set it up, and requiring terminal certificates.
package hqtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/pki"
)

// HQ is a running HQ; the test's cleanup stops it.
type HQ struct {
	Server *hq.Server
	TLS    *httptest.Server // StartTLS's; its URL is https://127.0.0.1:PORT
	URL    string           // https://127.0.0.1:PORT
	CA     *pki.CA
}

// StartTLS starts an HQ whose TLS certificate covers hosts (default
// 127.0.0.1 only).
func StartTLS(t testing.TB, hosts ...string) *HQ {
	t.Helper()
	h, cert, key := newHQ(t, hosts)
	ts := httptest.NewUnstartedServer(h.Server.Handler())
	ts.TLS = pki.ServerTLS(h.CA.Cert, cert, key)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	h.TLS, h.URL = ts, ts.URL
	return h
}

// StartServing starts an HQ as `tillhq serve` serves terminals
// (hq.Server.ServeTerminals: its combined long polls parked) on 127.0.0.1;
// the test's cleanup stops it, or stop, which returns what ServeTerminals
// returned.
func StartServing(t testing.TB) (h *HQ, stop func() error) {
	t.Helper()
	h, cert, key := newHQ(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Server.ServeTerminals(ctx, tls.NewListener(ln, pki.ServerTLS(h.CA.Cert, cert, key))) }()
	h.URL = "https://" + ln.Addr().String()
	var once sync.Once
	var serr error
	stop = func() error {
		once.Do(func() { cancel(); serr = <-done })
		return serr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("ServeTerminals: %v", err)
		}
	})
	return h, stop
}

// newHQ makes an HQ's store, CA, signing key and server, and its TLS
// certificate for hosts (default 127.0.0.1).
func newHQ(t testing.TB, hosts []string) (h *HQ, cert *x509.Certificate, key *ecdsa.PrivateKey) {
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
	cert, key, err = ca.ServerCert(hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	_, signing, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := hq.NewServer(hq.Options{Store: store, SigningKey: signing, CA: ca, RequireClientCert: true})
	return &HQ{Server: srv, CA: ca}, cert, key
}
