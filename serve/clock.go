package serve

import (
	"time"

	"github.com/spf13/pflag"
)

// ClockOffsetFlag adds the hidden --clock-offset flag of tilld run and
// tillhq serve to fs and returns the clock it sets: nil (the components'
// default, time.Now) unless the flag is given, else time.Now moved by it.
// It exists for tests through the real binaries of what happens on a later
// day (points expiring months after a sale): it moves only the loyalty
// clock (the till's and HQ's reading of rules, balances and expiry); events
// keep the real time, and TLS checks certificates against it.
func ClockOffsetFlag(fs *pflag.FlagSet) func() func() time.Time {
	var off time.Duration
	fs.DurationVar(&off, "clock-offset", 0, "testing only: run the loyalty clock this far ahead of the real time (e.g. 4400h)")
	_ = fs.MarkHidden("clock-offset") // the flag was just added
	return func() func() time.Time {
		if off == 0 {
			return nil
		}
		return func() time.Time { return time.Now().Add(off) }
	}
}
