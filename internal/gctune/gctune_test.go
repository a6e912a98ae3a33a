package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestForLatency(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ForLatency() // GOGC is set (empty): the operator's; GOMEMLIMIT is not
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC in the environment, GC percent = %d; want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != Limit {
		t.Errorf("memory limit = %d; want %d", got, Limit)
	}
}

func TestForLatencyDefault(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOGC")
	os.Unsetenv("GOMEMLIMIT")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ForLatency()
	if got := debug.SetGCPercent(100); got != Percent {
		t.Errorf("GC percent = %d; want %d", got, Percent)
	}
}

func TestForDaemon(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "") // restored after the test
	os.Unsetenv("GOMAXPROCS")
	runtime.GOMAXPROCS(2)
	ForDaemon()
	if got := runtime.GOMAXPROCS(0); got != Procs {
		t.Errorf("GOMAXPROCS = %d; want %d", got, Procs)
	}

	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	ForDaemon()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("with GOMAXPROCS=2 in the environment, GOMAXPROCS = %d; want it left at 2", got)
	}
}
