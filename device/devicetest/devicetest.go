// Package devicetest is the conformance suite every device.Reader runs: it
// checks the contract written on device.Reader (scans come out once, in order,
// with the right kind; Run reports readiness, stops promptly on cancel, can be
// run again, never emits after returning). A transport's test supplies a
// Harness that builds its reader and presents cards to it.
package devicetest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
)

// Harness builds readers for the suite.
type Harness struct {
	// New returns a fresh reader, not running yet, and present, which makes the
	// reader's device see data as if a card were shown to it. present is only
	// called while Run runs and has reported the device ready. New registers
	// any clean-up with t.Cleanup.
	New func(t *testing.T) (r device.Reader, present func(data string))
	// Kind is the kind of the scans the reader emits for presented data.
	Kind device.Kind
	// Data are at least two different values the device can be shown, in the
	// form the reader reports them (a UID reader: hex UIDs).
	Data []string
}

// Timeouts of the suite: generous, since real devices and socat sit behind some readers.
const (
	scanTimeout = 10 * time.Second
	stopTimeout = 2 * time.Second
	quietPeriod = 300 * time.Millisecond
)

// TestReader runs the suite against the readers h builds.
func TestReader(t *testing.T, h Harness) {
	if len(h.Data) < 2 || h.Data[0] == h.Data[1] {
		t.Fatalf("devicetest: Harness.Data needs two different values, got %q", h.Data)
	}
	if h.New == nil || !h.Kind.Valid() {
		t.Fatalf("devicetest: Harness needs New and a valid Kind, got kind %q", h.Kind)
	}

	t.Run("ScanAfterReady", func(t *testing.T) {
		r, present := h.New(t)
		run := start(t, r)
		run.waitReady(t)
		before := time.Now()
		present(h.Data[0])
		s := run.next(t)
		checkScan(t, h, s, h.Data[0])
		if s.At.Before(before.Add(-time.Second)) || s.At.After(time.Now().Add(time.Second)) {
			t.Errorf("scan At = %v, want the time it was presented (about %v)", s.At, before)
		}
		run.quiet(t)
		run.stop(t)
	})

	t.Run("ScansInOrderEachOnce", func(t *testing.T) {
		r, present := h.New(t)
		run := start(t, r)
		run.waitReady(t)
		// Readers do not debounce (the Manager does): a repeat comes out again.
		want := append(slices.Clone(h.Data), h.Data[0], h.Data[0])
		for _, d := range want {
			present(d)
		}
		for i, d := range want {
			s := run.next(t)
			if s.Data != d {
				t.Fatalf("scan %d has data %q, want %q (presented in order %q)", i, s.Data, d, want)
			}
			checkScan(t, h, s, d)
		}
		run.quiet(t)
		run.stop(t)
	})

	t.Run("StopsOnCancel", func(t *testing.T) {
		r, _ := h.New(t)
		run := start(t, r)
		run.waitReady(t)
		run.stop(t)
	})

	t.Run("AlreadyCancelled", func(t *testing.T) {
		r, _ := h.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx, func(device.Scan) {}) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run with a cancelled context = %v, want nil", err)
			}
		case <-time.After(stopTimeout):
			t.Fatalf("Run with a cancelled context did not return within %v", stopTimeout)
		}
	})

	t.Run("RunAgain", func(t *testing.T) {
		// A supervisor calls Run again on the same reader after it returned.
		r, present := h.New(t)
		first := start(t, r)
		first.waitReady(t)
		first.stop(t)
		second := start(t, r)
		second.waitReady(t)
		present(h.Data[1])
		checkScan(t, h, second.next(t), h.Data[1])
		second.stop(t)
	})
}

func checkScan(t *testing.T, h Harness, s device.Scan, data string) {
	t.Helper()
	if s.Data != data || s.Kind != h.Kind || s.Source == "" || s.At.IsZero() {
		t.Errorf("scan = %+v, want data %q of kind %s, with a source and a time", s, data, h.Kind)
	}
}

// run is one call of Reader.Run in its own goroutine.
type run struct {
	scans    chan device.Scan
	ready    chan struct{}
	done     chan error
	cancel   context.CancelFunc
	returned atomic.Bool
	late     atomic.Int64 // emits after Run returned
	stopped  bool
}

func start(t *testing.T, r device.Reader) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ru := &run{
		scans:  make(chan device.Scan, 100),
		ready:  make(chan struct{}),
		done:   make(chan error, 1),
		cancel: cancel,
	}
	var once sync.Once
	ctx = device.WithHealthFunc(ctx, func(err error) {
		if err == nil {
			once.Do(func() { close(ru.ready) })
		} else {
			t.Logf("reader reports: %v", err)
		}
	})
	emit := func(s device.Scan) {
		if ru.returned.Load() {
			ru.late.Add(1)
			return
		}
		select {
		case ru.scans <- s:
		default:
			t.Errorf("more than %d scans waiting: is the reader emitting in a loop?", cap(ru.scans))
		}
	}
	go func() {
		err := r.Run(ctx, emit)
		ru.returned.Store(true)
		ru.done <- err
	}()
	t.Cleanup(func() {
		if !ru.stopped {
			cancel()
			select {
			case <-ru.done:
			case <-time.After(stopTimeout):
				t.Errorf("Run did not return within %v of cancel", stopTimeout)
			}
		}
	})
	return ru
}

func (ru *run) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-ru.ready:
	case err := <-ru.done:
		ru.stopped = true
		t.Fatalf("Run returned %v before reporting the device ready", err)
	case <-time.After(scanTimeout):
		t.Fatalf("reader did not report ready (device.ReportHealth(ctx, nil)) within %v", scanTimeout)
	}
}

func (ru *run) next(t *testing.T) device.Scan {
	t.Helper()
	select {
	case s := <-ru.scans:
		return s
	case <-time.After(scanTimeout):
		t.Fatalf("no scan within %v", scanTimeout)
		return device.Scan{}
	}
}

func (ru *run) quiet(t *testing.T) {
	t.Helper()
	select {
	case s := <-ru.scans:
		t.Errorf("unexpected scan %+v (data %q)", s, s.Data)
	case <-time.After(quietPeriod):
	}
}

// stop cancels Run and checks that it returns nil promptly and emits nothing after.
func (ru *run) stop(t *testing.T) {
	t.Helper()
	ru.cancel()
	select {
	case err := <-ru.done:
		ru.stopped = true
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("Run did not return within %v of cancel", stopTimeout)
	}
	time.Sleep(quietPeriod / 3)
	if n := ru.late.Load(); n > 0 {
		t.Errorf("reader emitted %d scans after Run returned", n)
	}
}
