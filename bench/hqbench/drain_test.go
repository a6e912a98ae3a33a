package hqbench

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
)

// drainSales is how many queued sales the drain benchmark uploads.
const drainSales = 10_000

// BenchmarkDrain times a terminal that comes back online with 10 000 unsynced
// sales in its ledger: sync/forward uploads them over mutual TLS to an
// hq.Server on loopback, one sub-benchmark per store (fsync on in the ledger
// and in both stores). Each iteration starts from a copy of the same ledger and
// an empty store; the time runs from starting the forwarder until the ledger has
// recorded HQ's acknowledgement of the last sale, so ns/op is the drain time.
//
//	go test ./bench/hqbench -run '^$' -bench Drain -benchtime 5x
func BenchmarkDrain(b *testing.B) {
	tmpl := filepath.Join(b.TempDir(), "template.db")
	fillLedger(b, tmpl, "T1", drainSales)
	ca := newCA(b)
	for _, kind := range stores {
		b.Run(kind.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				d := newDrain(b, ca, kind, tmpl, drainSales)
				b.StartTimer()
				d.run(b)
				b.StopTimer()
				d.check(b)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/drain")
			b.ReportMetric(float64(drainSales*b.N)/b.Elapsed().Seconds(), "sales/s")
		})
	}
}

// drain is one terminal about to upload its queued sales to a fresh HQ.
type drain struct {
	n      uint64
	ledger *ledger.Ledger
	store  hq.Store
	stopHQ func()
	fwd    *forward.Forwarder
	acked  chan struct{}
}

// newDrain copies the ledger at tmpl (n unsynced sales of terminal T1), opens it
// with fsync on, and starts an HQ over a new store of kind.
func newDrain(tb testing.TB, ca *pki.CA, kind storeKind, tmpl string, n int) *drain {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "ledger.db")
	copyFile(tb, path, tmpl)
	l, err := ledger.Open(path, ledger.Options{Terminal: "T1"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	d := &drain{n: uint64(n), ledger: l, store: kind.open(tb), acked: make(chan struct{})}
	var url string
	url, d.stopHQ = startHQ(tb, ca, d.store)
	d.fwd = forward.New(forward.Options{
		HQ: hqclient.New(url, hqclient.Options{Transport: terminalClient(tb, ca, "S1", "T1").Transport}), Terminal: "T1",
		Outbox: &ackWatch{Ledger: l, want: d.n, done: d.acked},
	})
	return d
}

// run starts the forwarder and returns once every sale is acknowledged.
func (d *drain) run(tb testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.fwd.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	select {
	case <-d.acked:
	case <-time.After(5 * time.Minute):
		st, _ := d.ledger.Stats()
		tb.Fatalf("drain: %d of %d sales acknowledged after 5 minutes; forwarder: %+v", st.Acked, d.n, d.fwd.Status())
	}
}

// check stops HQ and checks that it holds every sale once.
func (d *drain) check(tb testing.TB) {
	tb.Helper()
	d.stopHQ()
	ctx := context.Background()
	if acked, err := d.store.Acked(ctx, "T1"); err != nil || acked != d.n {
		tb.Fatalf("HQ acked %d (%v), want %d", acked, err, d.n)
	}
	rep, err := d.store.SalesReport(ctx)
	if err != nil || len(rep) != 1 || rep[0].Count != int64(d.n) {
		tb.Fatalf("HQ sales report %+v (%v), want %d sales of T1", rep, err, d.n)
	}
	if st, err := d.ledger.Stats(); err != nil || st.Outbox != 0 {
		tb.Fatalf("ledger outbox after the drain: %d (%v), want 0", st.Outbox, err)
	}
}

// ackWatch is the ledger as the forwarder's outbox; it closes done once HQ has
// acknowledged want and the ledger has recorded it.
type ackWatch struct {
	*ledger.Ledger
	want uint64
	done chan struct{}
	once sync.Once
}

func (a *ackWatch) Ack(seq uint64) error {
	err := a.Ledger.Ack(seq)
	if err == nil && seq >= a.want {
		a.once.Do(func() { close(a.done) })
	}
	return err
}
