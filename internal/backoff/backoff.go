// Package backoff is tilld's one retry schedule, shared by the reader
// supervisor, every device transport and the sync with HQ: the wait doubles
// from Min with each consecutive failure up to Max, is jittered to its upper
// half so that tills and readers do not retry in step, starts over after an
// attempt that ran well for longer than Max, and defers to a server that asks
// for longer (Retry-After).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff counts consecutive failures and says how long to wait after each.
// The zero value is not usable: set Min and Max. It is not safe for
// concurrent use; each retry loop keeps its own.
type Backoff struct {
	Min, Max time.Duration
	failures int
}

// Wait is the wait before attempt number failures (from 1): lo doubled per
// earlier failure, capped at hi, jittered to [d/2, d].
func Wait(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// Failed records one more failure of an attempt that ran for lasted (0 when
// it failed at once) and returns the wait before the next. An attempt that
// ran longer than Max worked for a while, so the schedule starts over.
func (b *Backoff) Failed(lasted time.Duration) time.Duration {
	if lasted > b.Max {
		b.failures = 0
	}
	b.failures++
	return Wait(b.failures, b.Min, b.Max)
}

// After is Failed for a server that may have asked to wait retryAfter: the
// longer of the two, the server's at most ten times Max.
func (b *Backoff) After(retryAfter time.Duration) time.Duration {
	d := b.Failed(0)
	if retryAfter > d {
		d = min(retryAfter, 10*b.Max)
	}
	return d
}

// Reset starts the schedule over after a success.
func (b *Backoff) Reset() { b.failures = 0 }

// Failures is the number of consecutive failures recorded.
func (b *Backoff) Failures() int { return b.failures }

// Sleep waits d or until ctx ends, and says whether the wait ran out (false:
// ctx ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
