//go:build linux

package discount_test

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time the calling thread has run (user and system),
// as the kernel accounts it: not the time the thread waited for a CPU, nor,
// on a VM with steal accounting, the time the host ran something else.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
