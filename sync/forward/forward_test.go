package forward_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// memOutbox is an in-memory outbox over a fixed chain of events.
type memOutbox struct {
	mu    sync.Mutex
	evs   []event.Event
	acked uint64
}

func (o *memOutbox) Pending(max int) ([]event.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rest := o.evs[o.acked:]
	return append([]event.Event(nil), rest[:min(max, len(rest))]...), nil
}

func (o *memOutbox) Ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if seq > uint64(len(o.evs)) {
		return errors.New("ack beyond the last event")
	}
	o.acked = max(o.acked, seq)
	return nil
}

func (o *memOutbox) Epoch() (event.Epoch, error) { return event.Epoch{}, nil }

func (o *memOutbox) Fork(from string, at uint64) (event.Epoch, bool, error) {
	return event.Epoch{}, false, errors.New("the in-memory outbox cannot fork")
}

func (o *memOutbox) Acked() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.acked
}

type memRules struct {
	mu      sync.Mutex
	version int64
}

func (r *memRules) RulesVersion() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

func (r *memRules) ApplyRules(version int64, hash string, sig, raw []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.version = version
	return nil
}

func newHQ(t *testing.T) (*hq.Server, hq.Store) {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return hq.NewServer(hq.Options{Store: store, SigningKey: key}), store
}

// faulty answers every third request 503 with Retry-After: 0, cuts the
// connection of every fifth, and passes the rest to h.
func faulty(h http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch k := n.Add(1); {
		case k%3 == 0:
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"code":"busy","error":"try later"}`, http.StatusServiceUnavailable)
		case k%5 == 0:
			// Let HQ store the batch, then lose the answer: the terminal must resend
			// and HQ must not count it twice.
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func TestUploadsExactlyOnceThroughFaults(t *testing.T) {
	srv, store := newHQ(t)
	ts := httptest.NewServer(faulty(srv.Handler()))
	defer ts.Close()
	const n = 1000
	out := &memOutbox{evs: storetest.Chain("T1", 1, n, "", 100)}
	f := forward.New(forward.Options{HQ: hqclient.New(ts.URL, hqclient.Options{}), Terminal: "T1", Outbox: out, Batch: 37,
		MinWait: time.Millisecond, MaxWait: 10 * time.Millisecond, Poll: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for out.Acked() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil on cancel", err)
	}
	if out.Acked() != n {
		t.Fatalf("acked %d of %d", out.Acked(), n)
	}
	rows, err := store.SalesReport(context.Background())
	if err != nil || len(rows) != 1 || rows[0].Count != n || rows[0].MaxSeq != n || rows[0].Total != n*100 {
		t.Fatalf("HQ holds %+v, %v; want %d sales once each", rows, err, n)
	}
}

func TestOfflineThenOnline(t *testing.T) {
	srv, store := newHQ(t)
	var up atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	out := &memOutbox{evs: storetest.Chain("T1", 1, 20, "", 5)}
	f := forward.New(forward.Options{HQ: hqclient.New(ts.URL, hqclient.Options{}), Terminal: "T1", Outbox: out,
		MinWait: time.Millisecond, MaxWait: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	waitFor(t, "the forwarder to report HQ offline", func() bool {
		s := f.Status()
		return !s.Online && s.LastError != ""
	})
	if out.Acked() != 0 {
		t.Fatalf("acked %d while HQ was down", out.Acked())
	}
	up.Store(true)
	waitFor(t, "the outbox to drain", func() bool { return out.Acked() == 20 && f.Status().Online })
	if a, _ := store.Acked(context.Background(), "T1"); a != 20 {
		t.Fatalf("HQ acked %d, want 20", a)
	}
}

func TestRulesLongPoll(t *testing.T) {
	srv, _ := newHQ(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	rules := &memRules{}
	f := forward.New(forward.Options{HQ: hqclient.New(ts.URL, hqclient.Options{}), Terminal: "T1", Outbox: &memOutbox{}, Rules: rules,
		// HQ holds the poll for up to 30 s: the ruleset arriving well before the
		// test's 20 s limit shows the publish woke the waiting poll.
		LongPoll: time.Hour, MinWait: time.Millisecond, MaxWait: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	time.Sleep(50 * time.Millisecond) // let the poller wait on HQ with nothing published
	if _, err := srv.PublishRuleset(ctx, discount.Example); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the published ruleset to reach the terminal", func() bool { return rules.RulesVersion() == 1 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// roundTripFunc is an http.RoundTripper: answers without a network, so a
// synctest bubble's clock runs while the forwarder waits.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An HQ (or a proxy in front of it) that answers every long poll at once with
// the ruleset the till has must not make the till ask again in a loop: the
// combined poll (below), and the rules poll of an older HQ
// (TestRulesSameVersionDoesNotLoopOldHQ).
func TestRulesSameVersionDoesNotLoop(t *testing.T) { rulesSameVersion(t, true) }

func TestRulesSameVersionDoesNotLoopOldHQ(t *testing.T) { rulesSameVersion(t, false) }

func rulesSameVersion(t *testing.T, combined bool) {
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if requests.Add(1) > 100 {
				cancel() // a loop that never waits would never let the bubble's clock run
			}
			if r.URL.Path == wire.PathWait && !combined {
				return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Body: io.NopCloser(strings.NewReader("404 page not found\n")), Request: r}, nil
			}
			if r.URL.Path == wire.PathWait {
				return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(`{"rules":1}`)), Request: r}, nil
			}
			h := http.Header{}
			h.Set(wire.HeaderRulesVersion, "1")
			h.Set(wire.HeaderRulesSignature, "AAAA")
			return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader("version = 1")), Request: r}, nil
		})
		rules := &memRules{version: 1}
		f := forward.New(forward.Options{HQ: hqclient.New("http://hq.invalid", hqclient.Options{Transport: transport}), Terminal: "T1", Outbox: &memOutbox{}, Rules: rules,
			LongPoll: time.Second, MinWait: time.Millisecond, MaxWait: 10 * time.Millisecond})
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		time.Sleep(10 * time.Second)
		cancel()
		<-done
		if n := requests.Load(); n > 12 {
			t.Fatalf("%d rules requests in 10 s for a ruleset the till has; want about one per long poll (10)", n)
		}
		if rules.RulesVersion() != 1 {
			t.Fatalf("rules version %d", rules.RulesVersion())
		}
	})
}

// Status says why a till is offline or has no rules, in a person's words:
// HQ that answers with no ruleset at all, then HQ gone.
func TestStatusSaysWhy(t *testing.T) {
	var asked atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wire.PathRules {
			if asked.Add(1) == 1 && r.URL.Query().Get("wait") != "0" {
				t.Errorf("a till without rules waited %ss for its first answer", r.URL.Query().Get("wait"))
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		wire.WriteJSON(w, http.StatusOK, wire.UploadResponse{})
	}))
	f := forward.New(forward.Options{HQ: hqclient.New(ts.URL, hqclient.Options{}), Terminal: "T1", Outbox: &memOutbox{}, Rules: &memRules{},
		LongPoll: time.Second, MinWait: time.Millisecond, MaxWait: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitStatus := func(what string, ok func(forward.Status) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(f.Status()) {
			if time.Now().After(deadline) {
				t.Fatalf("status never showed %s: %+v", what, f.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitStatus("no rules published", func(s forward.Status) bool { return s.Online && s.Problem == forward.NoRulesProblem })
	ts.Close()
	waitStatus("HQ unreachable", func(s forward.Status) bool {
		return !s.Online && strings.HasPrefix(s.Problem, "HQ unreachable: no answer from "+ts.URL)
	})
}
