package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tilld/tilld/internal/gctune"
)

// TestDaemonRuntimeSetting: `tilld run` runs its Go code on gctune.Procs
// threads with tilld's collector setting, as its Go metrics show, unless the
// environment chooses (the test's environment sets none of GOMAXPROCS, GOGC,
// GOMEMLIMIT).
func TestDaemonRuntimeSetting(t *testing.T) {
	for _, v := range []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT"} {
		t.Setenv(v, "") // restored after the test
		os.Unsetenv(v)
	}
	g := startGuardedTill(t)
	status, metrics := g.send(t, "GET", "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, metrics)
	}
	for _, want := range []string{
		fmt.Sprintf("go_sched_gomaxprocs_threads %d\n", gctune.Procs),
		fmt.Sprintf("go_gc_gogc_percent %d\n", gctune.Percent),
		"go_gc_gomemlimit_bytes " + strconv.FormatFloat(gctune.Limit, 'g', -1, 64) + "\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("tilld's metrics lack %q", strings.TrimSpace(want))
		}
	}
}
