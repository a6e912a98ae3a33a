package hqbench

import (
	"path/filepath"
	"testing"
)

// TestHarness runs every benchmark's harness at a small size, checking what each
// checks (every sale acknowledged and held once, every row copied, every terminal
// given every ruleset with a valid signature, uploads acknowledged), so the
// benchmarks keep working. It times nothing.
func TestHarness(t *testing.T) {
	t.Run("Drain", func(t *testing.T) {
		tmpl := filepath.Join(t.TempDir(), "template.db")
		fillLedger(t, tmpl, "T1", 1200) // more than two of the forwarder's batches
		ca := newCA(t)
		for _, kind := range stores {
			t.Run(kind.name, func(t *testing.T) {
				d := newDrain(t, ca, kind, tmpl, 1200)
				d.run(t)
				d.check(t)
			})
		}
	})
	t.Run("Ingest", func(t *testing.T) {
		e := newIngest(t, 3, 120, 50)
		e.measure(t, e.viaHQ)
		e.measure(t, e.copyBatched)
		e.measure(t, e.copySingle)
	})
	t.Run("LongPoll", func(t *testing.T) {
		bin := buildTillhq(t)
		for _, kind := range []string{"bolt", "postgres"} {
			t.Run(kind, func(t *testing.T) {
				p := newPoll(t, bin, 5, true, kind == "postgres")
				for range 2 {
					p.publish(t)
					p.settle(t)
				}
				up := &uploader{client: terminalClient(t, p.ca, "SU", "U000"), url: p.hq.terminals, chain: &chainWriter{terminal: "U000"}}
				up.upload(t)
				up.upload(t)
				p.hq.cpu(t) // reads /proc/PID/stat or fails
				if rss, _ := p.hq.memory(t); rss == 0 {
					t.Error("tillhq's VmRSS reads 0")
				}
				p.close()
			})
		}
	})
}
