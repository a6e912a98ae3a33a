package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/till"
)

// BenchmarkSyncsPerSale counts the fdatasyncs and fsyncs the real tilld makes
// per sale through its local API, with tillhq in a process of its own (whose
// syncs are not counted), 1 and 8 clients selling b.N sales on a few loyalty
// cards: the uploads, HQ's acknowledgements and the change feed's accounts of
// those cards all run meanwhile. strace attaches to tilld once it is ready
// and detaches once HQ holds every sale (the outbox is empty), so the count is
// of the sales and what syncing them costs, not of start-up or shut-down.
// Counts do not depend on the machine's load; the metric is syncs/sale.
//
//	go test ./e2e -run '^$' -bench SyncsPerSale -benchtime 2000x
func BenchmarkSyncsPerSale(b *testing.B) {
	if _, err := exec.LookPath("strace"); err != nil {
		b.Skip("strace is not installed")
	}
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchSyncs(b, clients) })
	}
}

func benchSyncs(b *testing.B, clients int) {
	api, tilld, _ := benchTill(b)
	ctx := context.Background()
	cards := []string{"2000000000015", "2000000000022", "2000000000039", ""}

	trace := filepath.Join(b.TempDir(), "strace.out")
	st := exec.Command("strace", "-f", "-qq", "-c", "-e", "trace=fdatasync,fsync", "-o", trace, "-p", strconv.Itoa(tilld.Process.Pid))
	if err := st.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // strace attaches to every thread

	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			for i := c; i < b.N; i += clients {
				_, code, err := api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("bench-%d", i), Basket: basket(cards[i%len(cards)], int64(i))})
				if err != nil || code != http.StatusCreated {
					errs <- fmt.Errorf("sale %d = %d, %v", i, code, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	waitFor(b, 60*time.Second, "HQ holds every sale", func() bool {
		s, err := api.Status(ctx)
		return err == nil && s.Outbox == 0
	})
	time.Sleep(2 * time.Second) // the change feed's answers to the last uploads
	b.StopTimer()
	_ = st.Process.Signal(syscall.SIGINT)
	_ = st.Wait() // it exits by the signal, once it has written the summary
	syncs := straceCalls(b, trace, "fdatasync", "fsync")
	b.ReportMetric(float64(syncs["fdatasync"])/float64(b.N), "fdatasyncs/sale")
	b.ReportMetric(float64(syncs["fdatasync"]+syncs["fsync"])/float64(b.N), "syncs/sale")
}

// straceCalls reads the calls column of strace -c's summary for names.
func straceCalls(b *testing.B, path string, names ...string) map[string]int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	got := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		name := fs[len(fs)-1]
		for _, n := range names {
			if name != n {
				continue
			}
			// % time, seconds, usecs/call, calls, [errors,] syscall
			if c, err := strconv.Atoi(fs[3]); err == nil {
				got[n] = c
			}
		}
	}
	return got
}

// benchTill starts tillhq and an enrolled tilld as processes of their own
// and returns tilld's local API client once it is online with the rules.
func benchTill(b *testing.B) (*localapi.Client, *exec.Cmd, *hqProc) {
	work := b.TempDir()
	dataDir := filepath.Join(work, "tilld")
	hq := newHQ(b, work, dataDir)
	apiAddr := freeAddr(b)
	conf := filepath.Join(work, "tilld.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "data_dir = %q\nlisten = %q\nlog_level = \"warn\"\n", dataDir, apiAddr), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin("tilld"), "run", "--config", conf)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	api := apiClient(apiAddr, dataDir)
	waitFor(b, 30*time.Second, "tilld online with the rules", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.Online && st.RulesetVersion > 0
	})
	return api, cmd, hq
}
