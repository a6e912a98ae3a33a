package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/till"
)

// event is a scan event as the till page gets it, with when it arrived.
type event struct {
	till.ScanEvent
	at time.Time
}

// stack is the daemon's scan path in one process: readers under a
// device.Manager feeding a till, whose local API streams events to a client.
type stack struct {
	till   *till.Till
	events chan event
	mgr    *device.Manager
}

// newStack builds the till and its API, subscribes to /v1/events, and runs
// readers (name → reader) under a manager until the test ends.
func newStack(tb testing.TB, readers map[string]device.Reader) *stack {
	tb.Helper()
	l, err := ledger.Open(filepath.Join(tb.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l})
	if err != nil {
		tb.Fatal(err)
	}
	const token = "bench-token-0123456789abcdef0123456789abcdef"
	srv := httptest.NewServer(localapi.Handler(localapi.Options{Till: tl, Heartbeat: time.Hour, Token: token}))
	tb.Cleanup(srv.Close)

	s := &stack{till: tl, events: make(chan event, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token) // the POS app's view: the card in full
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // the opening comment: subscribed
	var wg sync.WaitGroup
	wg.Go(func() {
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				at := time.Now()
				var ev till.ScanEvent
				if err := json.Unmarshal([]byte(data), &ev); err == nil {
					s.events <- event{ev, at}
				}
			}
		}
	})

	// Debounce off: benchmarks present the same card again and again.
	s.mgr = device.NewManager(device.ManagerOptions{OnScan: tl.HandleScan, Debounce: -1})
	for _, name := range slices.Sorted(maps.Keys(readers)) {
		if err := s.mgr.Add(name, name, readers[name]); err != nil {
			tb.Fatal(err)
		}
	}
	wg.Go(func() { s.mgr.Run(ctx) })
	tb.Cleanup(func() {
		cancel()
		resp.Body.Close()
		wg.Wait()
	})
	return s
}

// waitRunning waits until every reader is running and has not reported a fault.
func (s *stack) waitRunning(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, h := range s.mgr.Status() {
			ok = ok && h.State == device.StateRunning
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("readers not running after 10s: %+v", s.mgr.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// next waits for the next event.
func (s *stack) next(tb testing.TB) event {
	tb.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(10 * time.Second):
		tb.Fatalf("no event within 10s; readers: %+v", s.mgr.Status())
		return event{}
	}
}

// ptyPair is two ptys joined by socat: the reader opens Device, the test
// writes to Host.
type ptyPair struct{ Host, Device string }

func newPTYPair(tb testing.TB) ptyPair {
	tb.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		tb.Fatal("socat not found; install it: apt-get install -y socat")
	}
	dir := tb.TempDir()
	p := ptyPair{Host: filepath.Join(dir, "host"), Device: filepath.Join(dir, "dev")}
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+p.Host, "pty,raw,echo=0,link="+p.Device)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start socat: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err1 := os.Stat(p.Host)
		_, err2 := os.Stat(p.Device)
		if err1 == nil && err2 == nil {
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("socat made no ptys within 5s")
		}
	}
}

// latencies collects durations and reports percentiles as benchmark metrics.
type latencies []time.Duration

func (l latencies) report(b *testing.B, unit string) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-"+unit)
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-"+unit)
	b.ReportMetric(float64(s[len(s)-1].Microseconds())/1000, "max-"+unit)
}
