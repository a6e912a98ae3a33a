package ledger

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// killChildEnv names the ledger file a child process of TestKilledWriter
// writes to.
const killChildEnv = "TILLD_LEDGER_KILL_CHILD"

// TestKilledWriter kills a process that records sales into a ledger (the test
// binary itself, run again as a child) at random moments, with the system's
// hardest stop: SIGKILL on Unix, TerminateProcess on Windows. After each kill
// the ledger opens, every sale the child had acknowledged is there with its
// seq (a retry is answered as a replay), and the file passes bbolt's check and
// Verify. It runs on Linux and, as windows/amd64, under wine
// (scripts/windows-test.sh): a process kill, not a power cut, which wine
// cannot simulate (docs/ledger.md, "Windows").
func TestKilledWriter(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 0x7111d))
	acked := map[string]uint64{}
	const rounds = 8
	for round := range rounds {
		// Kill after a random number of acknowledgements, while four writers
		// are in the middle of their next sales.
		after := 1 + rng.IntN(150)
		got := runKilled(t, path, round, after)
		for id, seq := range got {
			acked[id] = seq
		}
		l := openAt(t, path, Options{}, checkFull)
		for id, seq := range acked {
			r, err := l.RecordSale(killSale(id).request(), killSale(id).price(nil))
			if err != nil || !r.Replayed || r.Seq != seq {
				t.Fatalf("round %d: sale %s acknowledged with seq %d; after the kill: %+v, %v", round, id, seq, r, err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills, %d sales acknowledged and found", rounds, len(acked))
}

// runKilled runs a child writing round's sales into path and kills it after
// `after` acknowledgements. It returns the sales acknowledged, by id.
func runKilled(t *testing.T, path string, round, after int) map[string]uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path, "TILLD_KILL_ROUND="+strconv.Itoa(round))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		// "ack ID SEQ": only a whole line counts; the kill may cut the last.
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		seq, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		acked[f[1]] = seq
		if len(acked) == after {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_ = cmd.Wait()
	if len(acked) < after {
		t.Fatalf("round %d: the child stopped after %d sales, before its kill:\n%s", round, len(acked), stderr.String())
	}
	return acked
}

// killChild records sales from four goroutines until it is killed, printing
// "ack ID SEQ" once each RecordSale has returned.
func killChild(t *testing.T, path string) {
	l, err := Open(path, Options{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	round := os.Getenv("TILLD_KILL_ROUND")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				r, err := l.RecordSale(killSale(id).request(), killSale(id).price(nil))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Printf("ack %s %d\n", id, r.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// killSale is the sale of id, the same in the child and after the kill.
func killSale(id string) sale {
	return sale{id: id, card: "C" + strconv.Itoa(len(id)%3), spend: 100, points: 1}
}
