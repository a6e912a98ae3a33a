package ledgerbench

import (
	"crypto/ed25519"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

const millionSales = 1_000_000

// millionCards is how many cards the million sales are spread over: by default
// as many as a busy store sees; with -million.cards 1000, as many as the fresh
// ledger has, which isolates the cost of the history from that of the cards.
var millionCards = flag.Int64("million.cards", 100_000, "BenchmarkMillion: cards the million sales are spread over")

// million is the ledger of a million sales, built once per run.
var million struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if million.dir != "" {
		os.RemoveAll(million.dir)
	}
	os.Exit(code)
}

// buildLedger records n sales over cards cards into a new file at path, with
// NoSync and many writers so that group commit fills its batches, and caches
// the example ruleset in it.
func buildLedger(path string, n, cards int64) error {
	l, err := ledger.Open(path, ledger.Options{Terminal: "S1-T1", NoSync: true})
	if err != nil {
		return err
	}
	if err := putExampleRules(l); err != nil {
		return err
	}
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				s := benchSale(i, cards)
				if _, err := l.RecordSale(s.request(), s.price); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		l.Close()
		return err
	}
	return l.Close()
}

func millionFile(b *testing.B) string {
	b.Helper()
	million.once.Do(func() {
		million.dir, million.err = os.MkdirTemp("", "tilld-million-")
		if million.err != nil {
			return
		}
		million.path = filepath.Join(million.dir, "ledger.db")
		start := time.Now()
		million.err = buildLedger(million.path, millionSales, *millionCards)
		fi, _ := os.Stat(million.path)
		fmt.Fprintf(os.Stderr, "built a ledger of %d sales over %d cards in %s: %d bytes, %d bytes per sale\n",
			millionSales, *millionCards, time.Since(start).Round(time.Second), fi.Size(), fi.Size()/millionSales)
	})
	if million.err != nil {
		b.Fatal(million.err)
	}
	return million.path
}

// BenchmarkMillion compares a fresh ledger (1 000 sales over 1 000 cards) with
// one of a million (over -million.cards cards, 100 000 by default): start-up (Open), a sale's commit, a
// quote (till.Quote: the card's account from the ledger and the discount
// engine) and an account lookup. Each sub-benchmark alternates the two files
// operation by operation, so that noise hits both alike, after one lookup of
// every card (a running tilld has its pages mapped), and reports both medians
// and their ratio.
func BenchmarkMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a ledger of a million sales (about a minute and 1.3 GB)")
	}
	freshPath := filepath.Join(b.TempDir(), "ledger.db")
	if err := buildLedger(freshPath, 1000, 1000); err != nil {
		b.Fatal(err)
	}
	files := []struct {
		name  string
		path  string
		cards int64
		l     *ledger.Ledger
		till  *till.Till
	}{
		{name: "fresh", path: freshPath, cards: 1000},
		{name: "1M", path: millionFile(b), cards: *millionCards},
	}
	// pair runs op on each file in turn, b.N times, and reports the medians.
	pair := func(b *testing.B, op func(k int, i int64) error) {
		var ds [2]durations
		var i int64
		for b.Loop() {
			for j := range 2 {
				k := (int(i) + j) % 2
				start := time.Now()
				if err := op(k, i); err != nil {
					b.Fatal(err)
				}
				ds[k].add(time.Since(start))
			}
			i++
		}
		for k := range files {
			b.ReportMetric(ds[k].median(), files[k].name+"-p50-µs")
		}
		b.ReportMetric(ds[1].median()/ds[0].median(), "1M/fresh")
	}

	b.Run("open", func(b *testing.B) {
		pair(b, func(k int, _ int64) error {
			start := time.Now()
			l, err := ledger.Open(files[k].path, ledger.Options{Terminal: "S1-T1"})
			if err != nil {
				return err
			}
			if d := time.Since(start); d > 300*time.Millisecond {
				b.Errorf("Open of %s took %s", files[k].name, d)
			}
			return l.Close()
		})
	})

	for k := range files {
		l, err := ledger.Open(files[k].path, ledger.Options{Terminal: "S1-T1"})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		files[k].l = l
		if files[k].till, err = till.New(till.Options{Terminal: "S1-T1", Ledger: l, RulesKey: rulesKey.Public().(ed25519.PublicKey)}); err != nil {
			b.Fatal(err)
		}
		for c := range files[k].cards {
			if _, ok, err := l.Account(card(c)); !ok || err != nil {
				b.Fatalf("%s: card %s: %v %v", files[k].name, card(c), ok, err)
			}
		}
	}
	runID := time.Now().UnixNano() // sale ids not in the files yet
	b.Run("commit", func(b *testing.B) {
		pair(b, func(k int, i int64) error {
			s := benchSale(i, files[k].cards)
			s.id = fmt.Sprintf("new-%d-%d", runID, i)
			_, err := files[k].l.RecordSale(s.request(), s.price)
			return err
		})
	})
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("quote", func(b *testing.B) {
		pair(b, func(k int, _ int64) error {
			q, err := files[k].till.Quote(pos.Basket{Card: card(rng.Int64N(files[k].cards)), Lines: []pos.Line{
				{SKU: "4607001234567", Category: "dairy", Qty: 2, UnitPrice: 8990},
				{SKU: "4601234000017", Category: "bakery", Qty: 1, UnitPrice: 4500},
				{SKU: "4600000000994", Category: "grocery", Qty: 3, UnitPrice: 12000},
			}}, till.QuoteOptions{})
			if err == nil && (q.Customer == nil || !q.Customer.Known || q.Discount == 0) {
				err = fmt.Errorf("quote %+v for %+v: want a known card and a discount", q.Quote, q.Customer)
			}
			return err
		})
	})
	b.Run("account", func(b *testing.B) {
		pair(b, func(k int, _ int64) error {
			_, ok, err := files[k].l.Account(card(rng.Int64N(files[k].cards)))
			if err == nil && !ok {
				err = fmt.Errorf("unknown card")
			}
			return err
		})
	})
}

// card is the number of the benchmark's i-th card (benchSale's).
func card(i int64) string { return fmt.Sprintf("2%012d", i) }
