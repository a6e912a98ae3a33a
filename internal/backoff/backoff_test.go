package backoff

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestWait(t *testing.T) {
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second}, {6, 30 * time.Second}, {1000, 30 * time.Second}} {
		t.Run(fmt.Sprint(tt.failures), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := Wait(tt.failures, time.Second, 30*time.Second)
				if d < tt.want/2 || d > tt.want {
					t.Fatalf("Wait(%d) = %v, want between %v and %v", tt.failures, d, tt.want/2, tt.want)
				}
				seen[d] = true
			}
			if len(seen) < 100 {
				t.Errorf("Wait(%d) took only %d distinct values in 200 tries: not jittered", tt.failures, len(seen))
			}
		})
	}
}

func TestFailedStartsOverAfterALongRun(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 8 * time.Second}
	for i := range 5 {
		b.Failed(time.Second)
		if b.Failures() != i+1 {
			t.Fatalf("after %d quick failures Failures() = %d", i+1, b.Failures())
		}
	}
	if d := b.Failed(9 * time.Second); d > time.Second || b.Failures() != 1 {
		t.Fatalf("after an attempt that ran longer than Max: wait %v, failures %d; want the first step again", d, b.Failures())
	}
	b.Failed(0)
	b.Reset()
	if d := b.Failed(0); d > time.Second {
		t.Fatalf("after Reset: wait %v, want at most Min", d)
	}
}

func TestAfterHonoursRetryAfterUpToTenTimesMax(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: time.Second}
	if d := b.After(5 * time.Second); d != 5*time.Second {
		t.Errorf("Retry-After 5s: wait %v", d)
	}
	if d := b.After(time.Hour); d != 10*time.Second {
		t.Errorf("Retry-After 1h: wait %v, want capped at 10×Max", d)
	}
	if d := b.After(0); d > time.Second {
		t.Errorf("no Retry-After: wait %v beyond Max", d)
	}
}

// A loop retrying on this schedule, on the fake clock of a synctest bubble:
// the waits between its attempts follow the doubling, capped, and Sleep ends
// at once when the context is cancelled.
func TestScheduleInALoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		b := Backoff{Min: time.Second, Max: 4 * time.Second}
		var gaps []time.Duration
		last := time.Now()
		for range 6 {
			if !Sleep(ctx, b.Failed(0)) {
				t.Fatal("Sleep ended early")
			}
			gaps = append(gaps, time.Since(last))
			last = time.Now()
		}
		for i, g := range gaps {
			hi := min(time.Second<<i, 4*time.Second)
			if g < hi/2 || g > hi {
				t.Errorf("attempt %d waited %v, want in [%v, %v]", i+2, g, hi/2, hi)
			}
		}
		go func() { time.Sleep(time.Second); cancel() }()
		start := time.Now()
		if Sleep(ctx, time.Hour) {
			t.Fatal("Sleep ran out its hour despite the cancel")
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("Sleep returned %v after it began, want at the cancel (1s)", waited)
		}
	})
}
