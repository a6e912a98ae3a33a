package faultproxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/pki"
)

// startProxy runs a proxy to target until the test ends and checks that Run
// then returns nil.
func startProxy(t *testing.T, opts Options) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := New(ln, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v after cancel; want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5 s of cancel")
		}
	})
	return p
}

// always is a plan that gives every connection f.
func always(f Fault) func() Fault { return func() Fault { return f } }

// sequence is a plan that gives the faults in turn, the last one for good.
func sequence(faults ...Fault) func() Fault {
	next := 0 // Plan is called from one goroutine
	return func() Fault {
		f := faults[min(next, len(faults)-1)]
		next++
		return f
	}
}

// server accepts connections on loopback and hands each to serve.
func server(t *testing.T, serve func(net.Conn)) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() { defer c.Close(); serve(c) })
		}
	})
	return ln.Addr().String(), accepted
}

func echo(c net.Conn) { io.Copy(c, c) }

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestForwards(t *testing.T) {
	target, _ := server(t, echo)
	p := startProxy(t, Options{Target: target})
	c := dial(t, p.Addr())
	msg := bytes.Repeat([]byte("till"), 50000) // several chunks
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through the proxy: %v, %d bytes equal: %v", err, len(got), bytes.Equal(got, msg))
	}
	// The proxy counts a chunk once it is written, so the client can see it first.
	deadline := time.Now().Add(5 * time.Second)
	n := p.Counts()
	for (n.BytesUp != int64(len(msg)) || n.BytesDown != int64(len(msg))) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		n = p.Counts()
	}
	if n.Conns != 1 || n.Resets+n.Delayed+n.CutsUp+n.CutsDown != 0 || len(n.HTTPErrors) != 0 || n.BytesUp != int64(len(msg)) || n.BytesDown != int64(len(msg)) {
		t.Errorf("counts = %v; want one connection, %d bytes each way and no faults", n, len(msg))
	}
}

func TestReset(t *testing.T) {
	target, accepted := server(t, echo)
	p := startProxy(t, Options{Target: target, Plan: always(Fault{Kind: Reset})})
	// The reset may come before the dial returns, which then fails.
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("hello"))
		if n, err := c.Read(make([]byte, 10)); err == nil {
			t.Fatalf("read %d bytes from a reset connection", n)
		}
	}
	waitCounts(t, p, Counts{Conns: 1, Resets: 1})
	if accepted.Load() != 0 {
		t.Error("the target was dialled for a reset connection")
	}
}

func TestDelay(t *testing.T) {
	target, _ := server(t, echo)
	p := startProxy(t, Options{Target: target, Plan: always(Fault{Delay: 100 * time.Millisecond})})
	c := dial(t, p.Addr())
	start := time.Now()
	c.Write([]byte("ping"))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("round trip took %v; want at least 200 ms (100 ms each way)", d)
	}
	if n := p.Counts(); n.Delayed != 1 {
		t.Errorf("counts = %v; want one delayed connection", n)
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		down  bool
		after int64
	}{
		{"up at 0", false, 0},
		{"up mid-chunk", false, 1234},
		{"up at a chunk boundary", false, 32 << 10},
		{"down at 0", true, 0},
		{"down mid-chunk", true, 777},
		{"down after two chunks", true, 70000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte{'x'}, 200000)
			received := make(chan int, 1)
			var serve func(net.Conn)
			if tc.down {
				// The answer follows a request, as in HTTP: the client's dial
				// returns before anything is cut.
				serve = func(c net.Conn) { c.Read(make([]byte, 1)); c.Write(payload) }
			} else {
				serve = func(c net.Conn) { n, _ := io.Copy(io.Discard, c); received <- int(n) }
			}
			target, _ := server(t, serve)
			p := startProxy(t, Options{Target: target, Plan: always(Fault{Kind: Cut, Down: tc.down, After: tc.after})})
			c := dial(t, p.Addr())
			if tc.down {
				c.Write([]byte("?"))
				n, err := io.Copy(io.Discard, c)
				if n != tc.after {
					t.Errorf("client got %d bytes (%v); want the %d before the cut", n, err, tc.after)
				}
			} else {
				c.Write(payload)
				select {
				case n := <-received:
					if int64(n) != tc.after {
						t.Errorf("server got %d bytes; want the %d before the cut", n, tc.after)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the server's side was not closed by the cut")
				}
				if _, err := c.Read(make([]byte, 1)); err == nil {
					t.Error("the client's side is still open after the cut")
				}
			}
			want := Counts{Conns: 1, CutsUp: 1}
			if tc.down {
				want = Counts{Conns: 1, CutsDown: 1}
			}
			got := waitCounts(t, p, want)
			if passed := map[bool]int64{false: got.BytesUp, true: got.BytesDown}[tc.down]; passed != tc.after {
				t.Errorf("counts = %v; want %d bytes forwarded in the cut direction", got, tc.after)
			}
		})
	}
}

// waitCounts waits for the proxy's counts (faults are counted by its goroutines
// while the client already sees them) and compares them, HTTP errors and bytes
// aside, and returns them.
func waitCounts(t *testing.T, p *Proxy, want Counts) Counts {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all := p.Counts()
		got := all
		got.HTTPErrors, got.BytesUp, got.BytesDown = nil, 0, 0
		if reflect.DeepEqual(got, want) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts = %v; want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCutNotReached(t *testing.T) {
	target, _ := server(t, echo)
	p := startProxy(t, Options{Target: target, Plan: always(Fault{Kind: Cut, After: 1 << 20})})
	c := dial(t, p.Addr())
	c.Write([]byte("short"))
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitCounts(t, p, Counts{Conns: 1})
}

func TestHeal(t *testing.T) {
	target, _ := server(t, echo)
	var plans atomic.Int64
	p := startProxy(t, Options{Target: target, Plan: func() Fault {
		plans.Add(1)
		return Fault{Kind: Cut, After: 10}
	}})
	live := dial(t, p.Addr())
	live.Write([]byte("12345"))
	if _, err := io.ReadFull(live, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	p.Heal()
	// The live connection passes its byte count and is not cut.
	msg := bytes.Repeat([]byte("a"), 100)
	live.Write(msg)
	if _, err := io.ReadFull(live, make([]byte, len(msg))); err != nil {
		t.Fatalf("a live connection was cut after Heal: %v", err)
	}
	// New connections do not consult the plan.
	c := dial(t, p.Addr())
	c.Write(msg)
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		t.Fatal(err)
	}
	if plans.Load() != 1 {
		t.Errorf("plan called %d times; want once, before Heal", plans.Load())
	}
	waitCounts(t, p, Counts{Conns: 2})
}

func TestHTTPError(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		served.Add(1)
	}))
	defer srv.Close()
	var seen []string
	var mu sync.Mutex
	p := startProxy(t, Options{
		Target: strings.TrimPrefix(srv.URL, "http://"),
		Plan:   sequence(Fault{Kind: HTTPError, Status: 503, RetryAfter: 2}, Fault{Kind: HTTPError, Status: 500}, Fault{}),
		OnHTTPError: func(r *http.Request, f Fault) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, r.Method+" "+r.URL.Path+" "+f.String())
		},
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	body := bytes.Repeat([]byte("e"), 1<<20) // read in full, so the answer is not lost to a reset
	for i, want := range []struct {
		status     int
		retryAfter string
	}{{503, "2"}, {500, ""}, {200, ""}} {
		resp, err := client.Post("http://"+p.Addr()+"/v1/sync/upload", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want.status || resp.Header.Get("Retry-After") != want.retryAfter {
			t.Errorf("request %d: %s with Retry-After %q; want %d with %q", i, resp.Status, resp.Header.Get("Retry-After"), want.status, want.retryAfter)
		}
	}
	if served.Load() != 1 {
		t.Errorf("server saw %d requests; want only the one the proxy did not answer", served.Load())
	}
	wantSeen := []string{"POST /v1/sync/upload http 503 retry-after 2", "POST /v1/sync/upload http 500 retry-after 0"}
	if strings.Join(seen, "\n") != strings.Join(wantSeen, "\n") {
		t.Errorf("OnHTTPError saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(wantSeen, "\n"))
	}
	if n := p.Counts(); n.HTTPErrors[503] != 1 || n.HTTPErrors[500] != 1 {
		t.Errorf("counts = %v; want one 503 and one 500", n)
	}
}

// TestMutualTLS: faithful connections carry mutual TLS end to end, and the proxy
// answers errors over TLS with the server's certificate, requiring the client's.
func TestMutualTLS(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.ServerCert([]string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	cliKey, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, err := ca.SignTerminal(csr, "T1", "S1", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := pki.ServerTLS(ca.Cert, srvCert, srvKey)
	serverTLS.ClientAuth = tls.RequireAndVerifyClientCert

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = serverTLS
	srv.StartTLS()
	defer srv.Close()

	var cn atomic.Value
	p := startProxy(t, Options{
		Target:      strings.TrimPrefix(srv.URL, "https://"),
		TLS:         serverTLS,
		Plan:        sequence(Fault{}, Fault{Kind: HTTPError, Status: 503, RetryAfter: 1}, Fault{Kind: HTTPError}),
		OnHTTPError: func(r *http.Request, f Fault) { cn.Store(r.TLS.PeerCertificates[0].Subject.CommonName) },
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   pki.ClientTLS(ca.Cert, cliCert, cliKey),
		DisableKeepAlives: true,
	}}
	resp, err := client.Get("https://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello T1" {
		t.Fatalf("forwarded: %s %q; want 200 hello T1", resp.Status, b)
	}
	resp, err = client.Get("https://" + p.Addr() + "/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("answered by the proxy: %s Retry-After %q; want 503 with 1", resp.Status, resp.Header.Get("Retry-After"))
	}
	if cn.Load() != "T1" {
		t.Errorf("the proxy saw client certificate %v; want T1", cn.Load())
	}

	// Without a client certificate the proxy refuses the handshake, as the server would.
	anon := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: poolOf(ca.Cert), MinVersion: tls.VersionTLS13}, DisableKeepAlives: true,
	}}
	if resp, err := anon.Get("https://" + p.Addr() + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("no client certificate: %s; want the handshake refused", resp.Status)
	}
	if n := p.Counts(); n.HTTPErrors[503] != 1 {
		t.Errorf("counts = %v; want one 503", n)
	}
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// TestRunStops: cancelling Run closes live connections and leaves no goroutine.
func TestRunStops(t *testing.T) {
	before := runtime.NumGoroutine()
	target, _ := server(t, echo)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := New(ln, Options{Target: target, Plan: always(Fault{Delay: time.Millisecond})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	c := dial(t, p.Addr())
	c.Write([]byte("x"))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read after Run ended: %v; want the connection closed", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Error("the proxy still accepts after Run ended")
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) { // +2: the test server's
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Run ended, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestCountsSub(t *testing.T) {
	before := Counts{Conns: 3, Resets: 1, CutsUp: 1, HTTPErrors: map[int]int64{503: 1}, BytesUp: 10}
	after := Counts{Conns: 7, Resets: 2, Delayed: 1, CutsUp: 1, CutsDown: 2, HTTPErrors: map[int]int64{503: 1, 500: 1}, BytesUp: 25, BytesDown: 5}
	want := Counts{Conns: 4, Resets: 1, Delayed: 1, CutsDown: 2, HTTPErrors: map[int]int64{500: 1}, BytesUp: 15, BytesDown: 5}
	if got := after.Sub(before); !reflect.DeepEqual(got, want) {
		t.Errorf("Sub = %v; want %v", got, want)
	}
}
