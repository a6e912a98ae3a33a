package ledgerbench

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/bench/floor"
	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// rulesKey signs the example ruleset the benchmarks cache, as HQ's key does:
// a till prices only with a ruleset whose signature verifies.
var rulesKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// putExampleRules caches the example ruleset, signed, and activates it.
func putExampleRules(l *ledger.Ledger) error {
	if err := l.PutRuleset(1, discount.Example, wire.SignRules(rulesKey, discount.Example)); err != nil {
		return err
	}
	return l.ActivateRuleset(1)
}

// sale is the benchmarks' typical sale: a card among cards, a basket of three
// lines, priced as the till would.
type sale struct {
	id    string
	card  string
	spend money.Amount
}

func benchSale(i int64, cards int64) sale {
	return sale{id: fmt.Sprintf("pos-%012d", i), card: fmt.Sprintf("2%012d", i%cards), spend: money.Amount(1000 + i%5000)}
}

func (s sale) request() ledger.SaleRequest {
	return ledger.SaleRequest{ID: s.id, Digest: sha256.Sum256([]byte(s.id)), Card: s.card}
}

// basket is the sale's three lines, before pricing.
func (s sale) basket() []pos.Line {
	return []pos.Line{
		{SKU: "4607001234567", Category: "dairy", Qty: 2, UnitPrice: 8990},
		{SKU: "4601234000017", Category: "bakery", Qty: 1, UnitPrice: 4500},
		{SKU: "4600000000994", Category: "grocery", Qty: 3, UnitPrice: s.spend},
	}
}

func (s sale) price(acct pos.Account, at time.Time) (ledger.Priced, error) {
	b := s.basket()
	lines := []pos.PricedLine{
		{Line: b[0], Amount: 17980, Discount: 899, Total: 17081},
		{Line: b[1], Amount: 4500, Discount: 225, Total: 4275},
		{Line: b[2], Amount: 3 * s.spend, Total: 3 * s.spend},
	}
	q := pos.Quote{Currency: "RUB", Lines: lines, Subtotal: 22480 + 3*s.spend, Discount: 1124, Total: 21356 + 3*s.spend, PointsEarned: 21,
		Applied: []pos.Applied{{Rule: "card-5", Kind: "percent", Amount: 1124, Reason: "Скидка по карте 5%"}}}
	body, err := json.Marshal(pos.Sale{ID: s.id, Card: s.card, At: at, Quote: q})
	if err != nil {
		return ledger.Priced{}, err
	}
	return ledger.Priced{Body: body, Spend: q.Total, PointsDelta: q.PointsEarned, RulesetVersion: 3, RulesetHash: "9f2c"}, nil
}

// durations collects per-operation times and reports their percentiles.
type durations struct {
	mu sync.Mutex
	d  []time.Duration
}

func (d *durations) add(v time.Duration) {
	d.mu.Lock()
	d.d = append(d.d, v)
	d.mu.Unlock()
}

// at is the p-th quantile in µs.
func (d *durations) at(p float64) float64 {
	if len(d.d) == 0 {
		return 0
	}
	slices.Sort(d.d)
	return float64(d.d[int(p*float64(len(d.d)-1))]) / 1e3
}

func (d *durations) median() float64 { return d.at(0.5) }

func (d *durations) report(b *testing.B) {
	if len(d.d) == 0 {
		return
	}
	b.ReportMetric(d.at(0.5), "p50-µs")
	b.ReportMetric(d.at(0.99), "p99-µs")
}

// timed runs op b.N times and reports its percentiles.
func timed(b *testing.B, op func(i int64) error) {
	var d durations
	d.d = make([]time.Duration, 0, b.N)
	var i int64
	for b.Loop() {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		d.add(time.Since(start))
		i++
	}
	d.report(b)
}

func openLedger(b *testing.B, path string, noSync bool) *ledger.Ledger {
	b.Helper()
	l, err := ledger.Open(path, ledger.Options{Terminal: "S1-T1", NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// committers are the four ways of making one sale durable that BenchmarkCommit
// compares, each set up in dir: op(i) commits the i-th.
var committers = []struct {
	name string
	open func(b *testing.B, dir string) (op func(i int64) error)
}{
	{"ledger", openLedgerCommit},
	{"bbolt", openBoltCommit},
	{"fsync4k", openFsyncCommit},
	{"sqlite", openSQLiteCommit},
}

// BenchmarkCommit is the commit of one sale from a lone writer, four ways on
// the same disk, one after the other.
func BenchmarkCommit(b *testing.B) {
	for _, c := range committers {
		b.Run(c.name, func(b *testing.B) { timed(b, c.open(b, b.TempDir())) })
	}
}

// BenchmarkCommitInterleaved runs the four ways round-robin, one commit of each
// per iteration, so that a noisy neighbour on a shared disk slows them alike,
// and reports each one's median and the ratios that matter.
func BenchmarkCommitInterleaved(b *testing.B) {
	ops := make([]func(int64) error, len(committers))
	ds := make([]durations, len(committers))
	for k, c := range committers {
		ops[k] = c.open(b, b.TempDir())
	}
	var i int64
	for b.Loop() {
		for j := range ops {
			k := (int(i) + j) % len(ops) // rotate the order too
			start := time.Now()
			if err := ops[k](i); err != nil {
				b.Fatal(err)
			}
			ds[k].add(time.Since(start))
		}
		i++
	}
	p50 := make(map[string]float64)
	for k, c := range committers {
		p50[c.name] = ds[k].median()
		b.ReportMetric(p50[c.name], c.name+"-p50-µs")
	}
	b.ReportMetric(p50["ledger"]/p50["bbolt"], "ledger/bbolt")
	b.ReportMetric(p50["ledger"]/p50["sqlite"], "ledger/sqlite")
	b.ReportMetric(p50["ledger"]/p50["fsync4k"], "ledger/fsync4k")
	b.ReportMetric(p50["bbolt"]/p50["fsync4k"], "bbolt/fsync4k")
}

func openLedgerCommit(b *testing.B, dir string) func(int64) error {
	l := openLedger(b, filepath.Join(dir, "ledger.db"), false)
	return func(i int64) error {
		s := benchSale(i, 1000)
		_, err := l.RecordSale(s.request(), s.price)
		return err
	}
}

// openBoltCommit is a bare bbolt Update writing the keys and values a sale
// writes through the ledger, into the same buckets.
func openBoltCommit(b *testing.B, dir string) func(int64) error {
	w := oneSaleWrites(b)
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"meta", "events", "effects", "sales", "accounts"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return func(i int64) error {
		seq := binary.BigEndian.AppendUint64(nil, uint64(i+1))
		return db.Update(func(tx *bolt.Tx) error {
			events, effects := tx.Bucket([]byte("events")), tx.Bucket([]byte("effects"))
			events.FillPercent, effects.FillPercent = 0.95, 0.95
			puts := []struct {
				b    *bolt.Bucket
				k, v []byte
			}{
				{events, seq, w.event},
				{effects, seq, w.effect},
				{tx.Bucket([]byte("sales")), fmt.Appendf(nil, "pos-%012d", i), w.saleRef},
				{tx.Bucket([]byte("accounts")), fmt.Appendf(nil, "2%012d", i%1000), w.account},
				{tx.Bucket([]byte("meta")), []byte("last_seq"), seq},
				{tx.Bucket([]byte("meta")), []byte("last_hash"), w.hash},
			}
			for _, p := range puts {
				if err := p.b.Put(p.k, p.v); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// openFsyncCommit is one 4 KiB write and fdatasync: the disk's floor.
func openFsyncCommit(b *testing.B, dir string) func(int64) error {
	commit, closeFile, err := floor.Fsync4K(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeFile() })
	return commit
}

// openSQLiteCommit inserts the sale's event (the same bytes) into SQLite in WAL
// mode with synchronous=FULL, one transaction per insert.
func openSQLiteCommit(b *testing.B, dir string) func(int64) error {
	commit, closeDB, err := floor.SQLite(dir, oneSaleWrites(b).event)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeDB() })
	return commit
}

// saleWrites are the keys' values one sale writes into the ledger's buckets.
type saleWrites struct {
	event, effect, saleRef, account, hash []byte
}

// oneSaleWrites records one sale in a scratch ledger and reads back what it
// wrote (the layout is in package ledger's documentation).
func oneSaleWrites(b *testing.B) saleWrites {
	b.Helper()
	path := filepath.Join(b.TempDir(), "one.db")
	l, err := ledger.Open(path, ledger.Options{Terminal: "S1-T1", NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	s := benchSale(0, 1000)
	if _, err := l.RecordSale(s.request(), s.price); err != nil {
		b.Fatal(err)
	}
	l.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var w saleWrites
	err = db.View(func(tx *bolt.Tx) error {
		get := func(bucket string, key []byte) []byte {
			v := tx.Bucket([]byte(bucket)).Get(key)
			if v == nil {
				b.Fatalf("%s/%s missing", bucket, key)
			}
			return slices.Clone(v)
		}
		one := []byte{0, 0, 0, 0, 0, 0, 0, 1}
		w = saleWrites{
			event: get("events", one), effect: get("effects", one), saleRef: get("sales", []byte(s.id)),
			account: get("accounts", []byte(s.card)), hash: get("meta", []byte("last_hash")),
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(w.event)+len(w.effect)+len(w.saleRef)+len(w.account)+len(w.hash)+16), "B/sale")
	return w
}

// BenchmarkWriters is sales per second from one writer and from eight at once
// (b.N sales in all), through the ledger, whose group commit shares the
// fsyncs, and through SQLite (one connection, as database/sql serialises
// writers on it; each insert commits and syncs its WAL).
func BenchmarkWriters(b *testing.B) {
	for _, store := range []struct {
		name string
		open func(b *testing.B, dir string) func(int64) error
	}{{"ledger", openLedgerCommit}, {"sqlite", openSQLiteCommit}} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", store.name, writers), func(b *testing.B) {
				op := store.open(b, b.TempDir())
				var d durations
				start := time.Now()
				b.ResetTimer()
				concurrently(b, writers, 0, int64(b.N), func(i int64) error {
					t0 := time.Now()
					err := op(i)
					d.add(time.Since(t0))
					return err
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sales/s")
				d.report(b)
			})
		}
	}
}

// concurrently runs op(from) to op(end-1) on writers goroutines, each taking
// the next i as it is done with the last, and returns when all are done. A
// writer stops at its first error, which fails b.
func concurrently(b *testing.B, writers int, from, end int64, op func(int64) error) {
	var next atomic.Int64
	next.Store(from)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < end; i = next.Add(1) - 1 {
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkWritersInterleaved is the ledger's 8-writers-to-1 ratio with the
// disk's drift taken out, in a steady state (checkpoints included): each
// iteration is one round of writersRound sales from a lone writer on one
// ledger, then 8×writersRound from eight writers on another, so that both see
// the disk as it is that minute. It reports each side's sales per second over
// all rounds and their ratio. Two ways of pricing: "json", the benchmarks'
// typical sale (its pos.Sale marshalled), and "till", a sale through
// till.Sale, which prices the basket with the discount engine and the example
// ruleset, as tilld does.
func BenchmarkWritersInterleaved(b *testing.B) {
	const writersRound = 200
	for _, pricing := range []struct {
		name string
		open func(b *testing.B, dir string) func(int64) error
	}{{"json", openLedgerCommit}, {"till", openTillSale}} {
		b.Run("price="+pricing.name, func(b *testing.B) {
			solo, eight := pricing.open(b, b.TempDir()), pricing.open(b, b.TempDir())
			var soloTime, eightTime time.Duration
			var soloNext, eightNext int64
			for b.Loop() {
				start := time.Now()
				for range writersRound {
					if err := solo(soloNext); err != nil {
						b.Fatal(err)
					}
					soloNext++
				}
				soloTime += time.Since(start)

				start = time.Now()
				end := eightNext + 8*writersRound
				concurrently(b, 8, eightNext, end, eight)
				eightTime += time.Since(start)
				eightNext = end
			}
			soloRate := float64(soloNext) / soloTime.Seconds()
			eightRate := float64(eightNext) / eightTime.Seconds()
			b.ReportMetric(soloRate, "1w-sales/s")
			b.ReportMetric(eightRate, "8w-sales/s")
			b.ReportMetric(eightRate/soloRate, "8w/1w")
		})
	}
}

// openTillSale is a sale through till.Sale on a ledger in dir holding the
// example ruleset: op(i) records the benchmark's i-th basket.
func openTillSale(b *testing.B, dir string) func(int64) error {
	l := openLedger(b, filepath.Join(dir, "ledger.db"), false)
	if err := putExampleRules(l); err != nil {
		b.Fatal(err)
	}
	t, err := till.New(till.Options{Terminal: "S1-T1", Ledger: l, RulesKey: rulesKey.Public().(ed25519.PublicKey)})
	if err != nil {
		b.Fatal(err)
	}
	return func(i int64) error {
		s := benchSale(i, 1000)
		_, _, err := t.Sale(till.SaleRequest{ID: s.id, Basket: pos.Basket{Card: s.card, Lines: s.basket()}})
		return err
	}
}
