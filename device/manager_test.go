package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// funcReader is a Reader made of a function, for fault injection.
type funcReader func(ctx context.Context, emit func(Scan)) error

func (f funcReader) Run(ctx context.Context, emit func(Scan)) error { return f(ctx, emit) }

// logRecorder is a slog.Handler that keeps every record's level, message and
// attributes as text.
type logRecorder struct {
	mu    *sync.Mutex
	lines *[]string
	attrs string
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: new(sync.Mutex), lines: new([]string)}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	for _, a := range as {
		h2.attrs += " " + a.String()
	}
	return &h2
}

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message + h.attrs
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.lines = append(*h.lines, line)
	return nil
}

// count returns how many lines start with level and message prefix.
func (h *logRecorder) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range *h.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (h *logRecorder) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(*h.lines, "\n")
}

func TestManagerRestartsWithCappedBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const minB, maxB = time.Second, 4 * time.Second
		logs := newLogRecorder()
		m := NewManager(ManagerOptions{MinBackoff: minB, MaxBackoff: maxB, Logger: slog.New(logs)})

		var calls []time.Time
		boom := errors.New("open /dev/ttyUSB0: no such file or directory")
		err := m.Add("front", "serial", funcReader(func(ctx context.Context, emit func(Scan)) error {
			calls = append(calls, time.Now())
			switch n := len(calls); {
			case n <= 6:
				return boom
			case n == 7:
				// Healthy for longer than MaxBackoff, then fail: the backoff starts over.
				ReportHealth(ctx, nil)
				select {
				case <-time.After(2 * maxB):
					return boom
				case <-ctx.Done():
					return nil
				}
			}
			ReportHealth(ctx, nil)
			<-ctx.Done()
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()

		time.Sleep(time.Minute)
		synctest.Wait()
		if len(calls) != 8 {
			t.Fatalf("Run called %d times, want 8", len(calls))
		}
		// Waits before runs 2..7 double from 1 s and stop at 4 s, jittered to [d/2, d].
		for i, d := range []time.Duration{1, 2, 4, 4, 4, 4} {
			d *= time.Second
			gap := calls[i+1].Sub(calls[i])
			if i == 6 {
				gap -= 2 * maxB
			}
			if gap < d/2 || gap > d {
				t.Errorf("wait before run %d = %v, want between %v and %v", i+2, gap, d/2, d)
			}
		}
		if gap := calls[7].Sub(calls[6]) - 2*maxB; gap < minB/2 || gap > minB {
			t.Errorf("wait after a long healthy run = %v, want the backoff to start over at %v", gap, minB)
		}

		h := m.Status()[0]
		if h.State != StateRunning || h.Errors != 7 || h.LastError != boom.Error() {
			t.Errorf("Status = %+v, want running with 7 errors, last %q", h, boom)
		}
		// Two failure episodes, each logged once when it began and once when it ended.
		if n := logs.count("WARN reader failed; restarting it"); n != 2 {
			t.Errorf("logged the failure %d times, want 2 (once per episode):\n%s", n, logs.all())
		}
		if n := logs.count("INFO reader recovered"); n != 2 {
			t.Errorf("logged the recovery %d times, want 2:\n%s", n, logs.all())
		}
		if n := logs.count("DEBUG reader failed again"); n != 5 {
			t.Errorf("logged %d repeats at debug level, want 5:\n%s", n, logs.all())
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil on cancel", err)
		}
		if h := m.Status()[0]; h.State != StateStopped {
			t.Errorf("state after Run returned = %s, want stopped", h.State)
		}
	})
}

func TestManagerDebounce(t *testing.T) {
	type step struct {
		after  time.Duration // since the previous step
		reader string
		data   string
	}
	steps := []step{
		{0, "a", "111"},
		{500 * time.Millisecond, "a", "111"},  // repeat
		{700 * time.Millisecond, "a", "111"},  // repeat: the window restarted at the previous one
		{1500 * time.Millisecond, "a", "111"}, // the card was taken away and shown again
		{100 * time.Millisecond, "a", "222"},
		{100 * time.Millisecond, "a", "111"}, // different from the previous scan
		{0, "b", "111"},                      // another reader
	}
	tests := []struct {
		name     string
		debounce time.Duration
		want     []string // reader/data of the scans OnScan gets
	}{
		{"default window", 0, []string{"a/111", "a/111", "a/222", "a/111", "b/111"}},
		{"short window", 300 * time.Millisecond, []string{"a/111", "a/111", "a/111", "a/111", "a/222", "a/111", "b/111"}},
		{"off", -1, []string{"a/111", "a/111", "a/111", "a/111", "a/222", "a/111", "b/111"}},
		{"long window", 3 * time.Second, []string{"a/111", "a/222", "a/111", "b/111"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var got []string
				m := NewManager(ManagerOptions{Debounce: tt.debounce, OnScan: func(s Scan) {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, s.Source+"/"+s.Data)
					if s.At.IsZero() {
						t.Errorf("scan %v has no time", s)
					}
				}})
				emits := map[string]chan func(Scan){"a": make(chan func(Scan)), "b": make(chan func(Scan))}
				for name, ch := range emits {
					err := m.Add(name, "fake", funcReader(func(ctx context.Context, emit func(Scan)) error {
						for {
							select {
							case ch <- emit:
							case <-ctx.Done():
								return nil
							}
						}
					}))
					if err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go m.Run(ctx)
				for _, s := range steps {
					time.Sleep(s.after)
					emit := <-emits[s.reader]
					// Readers may leave Source empty or wrong: the manager stamps it.
					emit(Scan{Source: "whatever", Kind: KindBarcode, Data: s.data})
					synctest.Wait()
				}
				mu.Lock()
				defer mu.Unlock()
				if strings.Join(got, " ") != strings.Join(tt.want, " ") {
					t.Errorf("OnScan got %v, want %v", got, tt.want)
				}
				var scans int64
				for _, h := range m.Status() {
					scans += h.Scans
				}
				if scans != int64(len(tt.want)) {
					t.Errorf("Status counts %d scans, want %d", scans, len(tt.want))
				}
			})
		})
	}
}

func TestManagerHealthReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := newLogRecorder()
		m := NewManager(ManagerOptions{Logger: slog.New(logs)})
		unplugged := errors.New("read /dev/ttyUSB0: input/output error")
		type action struct {
			report  bool
			err     error
			scan    string
			want    State
			wantErr int64
		}
		actions := []action{
			{report: true, err: nil, want: StateRunning},
			{report: true, err: unplugged, want: StateFailed, wantErr: 1},
			{report: true, err: unplugged, want: StateFailed, wantErr: 2},
			{report: true, err: nil, want: StateRunning, wantErr: 2},
			{report: true, err: unplugged, want: StateFailed, wantErr: 3},
			{scan: "2000000000008", want: StateRunning, wantErr: 3}, // a scan proves it works
		}
		step := make(chan action)
		err := m.Add("front", "serial", funcReader(func(ctx context.Context, emit func(Scan)) error {
			for {
				select {
				case a := <-step:
					if a.report {
						ReportHealth(ctx, a.err)
					} else {
						emit(Scan{Kind: KindBarcode, Data: a.scan})
					}
				case <-ctx.Done():
					return nil
				}
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if h := m.Status()[0]; h.State != StateStopped || h.Name != "front" || h.Type != "serial" {
			t.Fatalf("Status before Run = %+v", h)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go m.Run(ctx)
		for i, a := range actions {
			step <- a
			synctest.Wait()
			h := m.Status()[0]
			if h.State != a.want || h.Errors != a.wantErr {
				t.Fatalf("after action %d: %+v, want state %s with %d errors", i, h, a.want, a.wantErr)
			}
		}
		if n := logs.count("WARN reader failing"); n != 2 {
			t.Errorf("logged the fault %d times, want 2 (two episodes):\n%s", n, logs.all())
		}
		if n := logs.count("INFO reader recovered"); n != 2 {
			t.Errorf("logged the recovery %d times, want 2:\n%s", n, logs.all())
		}
		if strings.Contains(logs.all(), "2000000000008") {
			t.Errorf("logs show a card number:\n%s", logs.all())
		}
	})
}

func TestManagerSurvivesBadReaders(t *testing.T) {
	tests := []struct {
		name    string
		first   func(ctx context.Context) error
		wantErr string
	}{
		{"panic", func(context.Context) error { panic("nil map write") }, "reader panicked: nil map write"},
		{"returns nil early", func(context.Context) error { return nil }, errStoppedEarly.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				logs := newLogRecorder()
				m := NewManager(ManagerOptions{Logger: slog.New(logs)})
				runs := 0
				m.Add("r", "test", funcReader(func(ctx context.Context, emit func(Scan)) error {
					runs++
					if runs == 1 {
						return tt.first(ctx)
					}
					<-ctx.Done()
					return nil
				}))
				ctx, cancel := context.WithCancel(t.Context())
				go m.Run(ctx)
				time.Sleep(time.Minute)
				synctest.Wait()
				if h := m.Status()[0]; runs != 2 || h.State != StateRunning || h.Errors != 1 || h.LastError != tt.wantErr {
					t.Errorf("after %d runs: %+v, want running again with error %q", runs, h, tt.wantErr)
				}
				cancel()
				synctest.Wait()
			})
		})
	}
}

func TestManagerDropsScansWhenOnScanIsStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var handled int
		m := NewManager(ManagerOptions{Debounce: -1, OnScan: func(Scan) {
			<-release
			handled++
		}})
		more := make(chan struct{})
		const total = queueLen + 10
		m.Add("r", "test", funcReader(func(ctx context.Context, emit func(Scan)) error {
			emit(Scan{Kind: KindBarcode, Data: "0"})
			<-more
			for i := 1; i < total; i++ {
				emit(Scan{Kind: KindBarcode, Data: fmt.Sprint(i)})
			}
			<-ctx.Done()
			return nil
		}))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go m.Run(ctx)
		synctest.Wait() // OnScan holds scan 0
		close(more)
		synctest.Wait() // the queue is full, the rest dropped
		h := m.Status()[0]
		if h.Scans != queueLen+1 || h.Errors != total-queueLen-1 || !strings.Contains(h.LastError, "not keeping up") {
			t.Errorf("Status = %+v, want %d scans and %d dropped", h, queueLen+1, total-queueLen-1)
		}
		close(release)
		synctest.Wait()
		if handled != queueLen+1 {
			t.Errorf("OnScan handled %d scans, want %d", handled, queueLen+1)
		}
	})
}

func TestManagerAddAndRunErrors(t *testing.T) {
	m := NewManager(ManagerOptions{})
	r := funcReader(func(ctx context.Context, emit func(Scan)) error { <-ctx.Done(); return nil })
	if err := m.Add("a", "fake", r); err != nil {
		t.Fatal(err)
	}
	if err := m.Add("a", "fake", r); !errors.Is(err, ErrDuplicateReader) {
		t.Errorf("Add duplicate = %v, want ErrDuplicateReader", err)
	}
	if err := m.Add("", "fake", r); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Add empty name = %v, want ErrBadConfig", err)
	}
	if err := m.Add("b", "fake", nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Add nil reader = %v, want ErrBadConfig", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	for m.Status()[0].State != StateRunning {
		time.Sleep(time.Millisecond)
	}
	if err := m.Add("c", "fake", r); !errors.Is(err, ErrManagerStarted) {
		t.Errorf("Add while running = %v, want ErrManagerStarted", err)
	}
	if err := m.Run(ctx); !errors.Is(err, ErrManagerStarted) {
		t.Errorf("second Run = %v, want ErrManagerStarted", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
