package ledger

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// benchSale is a typical sale: a card, a priced body of one line.
func benchSale(i int64) sale {
	return sale{id: fmt.Sprintf("bench-%d", i), card: fmt.Sprintf("40000012345%05d", i%100), spend: money.Amount(1000 + i%5000), points: i % 50}
}

// BenchmarkRecordSale is one cashier: each sale waits for its fsync.
func BenchmarkRecordSale(b *testing.B) { benchRecordSale(b, false) }

// BenchmarkRecordSaleNoSync is the same without fsync: the CPU and page cost of
// a sale, apart from the disk.
func BenchmarkRecordSaleNoSync(b *testing.B) { benchRecordSale(b, true) }

func benchRecordSale(b *testing.B, noSync bool) {
	l, _ := openTest(b, Options{Now: time.Now, NoSync: noSync})
	b.SetBytes(int64(bytesPerSale(b)))
	var i int64
	for b.Loop() {
		s := benchSale(i)
		if _, err := l.RecordSale(s.request(), s.price(nil)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRecordSaleParallel records from GOMAXPROCS goroutines at once: group
// commit shares their transactions and fsyncs. The comparisons with bare bbolt,
// a raw fsync and SQLite are in package ledgerbench.
func BenchmarkRecordSaleParallel(b *testing.B) {
	l, _ := openTest(b, Options{Now: time.Now})
	b.SetBytes(int64(bytesPerSale(b)))
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := benchSale(n.Add(1))
			if _, err := l.RecordSale(s.request(), s.price(nil)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBoltUpdateFloor is the floor under RecordSale: one bare bbolt Update
// (with fsync) putting as many bytes as a sale writes into one bucket.
func BenchmarkBoltUpdateFloor(b *testing.B) {
	size := bytesPerSale(b)
	b.SetBytes(int64(size))
	db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketEvents); return err }); err != nil {
		b.Fatal(err)
	}
	val := make([]byte, size-8)
	var seq uint64
	for b.Loop() {
		seq++
		err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEvents).Put(u64(seq), val)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// bytesPerSale records one benchmark sale in a scratch ledger and counts the
// key and value bytes it wrote.
func bytesPerSale(b *testing.B) int {
	b.Helper()
	path := filepath.Join(b.TempDir(), "size.db")
	l, err := Open(path, Options{Terminal: "T1", NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	s := benchSale(0)
	if _, err := l.RecordSale(s.request(), s.price(nil)); err != nil {
		b.Fatal(err)
	}
	total := 0
	err = l.view(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEvents, bucketEffects, bucketSales, bucketAccounts} {
			_ = tx.Bucket(name).ForEach(func(k, v []byte) error { total += len(k) + len(v); return nil })
		}
		meta := tx.Bucket(bucketMeta)
		total += len(keyLastSeq) + len(meta.Get(keyLastSeq)) + len(keyLastHash) + len(meta.Get(keyLastHash))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return total
}

// BenchmarkOpenAfterCrash is start-up after a power cut with the journal about
// as full as it gets, a checkpoint away, written by eight writers: Open
// replays every journaled sale and checkpoints. Each iteration opens a fresh
// copy of the crashed files.
func BenchmarkOpenAfterCrash(b *testing.B) {
	l, path := openTest(b, Options{Now: time.Now, NoSync: true})
	full := func() bool {
		l.txMu.Lock()
		defer l.txMu.Unlock()
		return l.journal.end >= checkpointBytes-256<<10
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !full() {
				s := benchSale(n.Add(1))
				if _, err := l.RecordSale(s.request(), s.price(nil)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	l.background.Wait()
	crashed := crashCopy(b, path)
	inFile := fileLastSeq(b, crashed)
	st := mustStats(b, l)
	journal, err := os.ReadFile(journalPath(crashed))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.LastSeq-inFile), "sales-replayed")
	b.ReportMetric(float64(len(journal))/(1<<20), "journal-MiB")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := crashCopy(b, crashed)
		b.StartTimer()
		o, err := Open(p, Options{})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if got := mustStats(b, o); got.LastSeq != st.LastSeq {
			b.Fatalf("after the replay the ledger ends at seq %d, want %d", got.LastSeq, st.LastSeq)
		}
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// fileLastSeq is the last seq in the bbolt file at path, without its journal.
func fileLastSeq(tb testing.TB, path string) uint64 {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var seq uint64
	err = db.View(func(tx *bolt.Tx) error {
		seq, err = getU64(tx.Bucket(bucketMeta), keyLastSeq)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// BenchmarkOfflineSale is a sale while HQ cannot be reached, after the
// sales the till made before it offline (all still in the outbox), each
// paying with points: of one card (a store's own card, scanned for customers
// without one), or of a card per sale. The offline limits count the card's
// redemptions in the outbox, and a sale must not cost more the longer the
// network stays away (pending.go).
//
//	go test ./ledger -run '^$' -bench OfflineSale -benchmem
func BenchmarkOfflineSale(b *testing.B) {
	for _, cards := range []string{"one", "each"} {
		for _, pending := range []int{0, 1000, 10000} {
			b.Run(fmt.Sprintf("card=%s/pending=%d", cards, pending), func(b *testing.B) {
				l, _ := openTest(b, Options{NoSync: true})
				since := testEpoch.Add(-time.Hour)
				sell := func(i int) {
					card := "2000000000015"
					if cards == "each" {
						card = fmt.Sprintf("40000012%08d", i)
					}
					req, price := lotSale(fmt.Sprintf("offline-%d", i), card, 100, 0, 1, nil, nil)
					req.OfflineSince = since
					if _, err := l.RecordSale(req, price); err != nil {
						b.Fatal(err)
					}
				}
				for i := range pending {
					sell(i)
				}
				i := pending
				for b.Loop() {
					sell(i)
					i++
				}
			})
		}
	}
}

// BenchmarkPendingHolders is the uploader's question after every upload on a
// till that has registered holders, all of them at HQ already.
//
//	go test ./ledger -run '^$' -bench PendingHolders -benchmem
func BenchmarkPendingHolders(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("holders=%d", n), func(b *testing.B) {
			l, _ := openTest(b, Options{NoSync: true})
			for i := range n {
				h := pos.CardHolder{Card: fmt.Sprintf("40000012%08d", i), Name: "Мария", Phone: "+7 911 765-43-21", Consent: true}
				if _, _, err := l.RegisterHolder(h); err != nil {
					b.Fatal(err)
				}
			}
			for {
				hs, err := l.PendingHolders(100)
				if err != nil {
					b.Fatal(err)
				}
				if len(hs) == 0 {
					break
				}
				if err := l.HoldersSynced(hs); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if hs, err := l.PendingHolders(100); err != nil || len(hs) != 0 {
					b.Fatalf("PendingHolders = %d, %v", len(hs), err)
				}
			}
		})
	}
}

// BenchmarkSaleManyLots is a sale of a card whose account holds n points
// lots (a card scanned at many sales under an expiry rule: every earning sale
// adds a lot). The whole account is decoded and encoded at every sale of the
// card, so the sale grows with its lots; schema 4 keeps them in binary
// (encodeAccount), and what is left is their number, for a change of the
// points model (docs/benchmarks.md, "Lots").
//
//	go test ./ledger -run '^$' -bench SaleManyLots -benchmem -benchtime 300x
func BenchmarkSaleManyLots(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("lots=%d", n), func(b *testing.B) {
			l, _ := openTest(b, Options{NoSync: true})
			card := "2000000000015"
			record(b, l, sale{id: "first", card: card, spend: 100})
			acct := manyLots(n)
			if err := l.PutSnapshot(card, acct, 1, hashAt(b, l, 1)); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				req, price := lotSale(fmt.Sprintf("s%d", i), card, 100, 0, 0, nil, nil)
				if _, err := l.RecordSale(req, price); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// manyLots is an account of n lots of a point each, a minute apart, that
// expire a year after.
func manyLots(n int) pos.Account {
	acct := pos.Account{Points: int64(n), Sales: 1}
	for i := range n {
		at := testEpoch.Add(-time.Duration(n-i) * time.Minute)
		acct.Lots = append(acct.Lots, pos.PointsLot{Points: 1, Earned: at, Expires: at.Add(365 * 24 * time.Hour)})
	}
	return acct
}

// BenchmarkAccountCodec decodes and encodes again an account of n lots, as a
// sale of its card does: the ledger's codec (lots in binary, the rest through
// go-json-experiment's v1 package) beside encoding/json's JSON of schema 3.
//
//	go test ./ledger -run '^$' -bench AccountCodec -benchmem
func BenchmarkAccountCodec(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		acct := manyLots(n)
		b.Run(fmt.Sprintf("lots=%d/codec=ledger", n), func(b *testing.B) {
			rec, err := encodeAccount(acct)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				a, err := decodeAccount(rec)
				if err != nil {
					b.Fatal(err)
				}
				if rec, err = encodeAccount(a); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("lots=%d/codec=encoding-json", n), func(b *testing.B) {
			rec, err := json.Marshal(acct)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				var a pos.Account
				if err := json.Unmarshal(rec, &a); err != nil {
					b.Fatal(err)
				}
				if rec, err = json.Marshal(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutSnapshot is HQ's account of a card reaching a till whose
// outbox holds n events of other cards after HQ's as_of: after a day
// offline, while the uploads catch up, every change-feed item reads them.
//
//	go test ./ledger -run '^$' -bench PutSnapshot -benchmem
func BenchmarkPutSnapshot(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("after=%d", n), func(b *testing.B) {
			l, _ := openTest(b, Options{NoSync: true})
			card := "2000000000015"
			record(b, l, sale{id: "first", card: card, spend: 100, points: 1})
			for i := range n {
				record(b, l, benchSale(int64(i)))
			}
			hash := hashAt(b, l, 1)
			for b.Loop() {
				if err := l.PutSnapshot(card, pos.Account{Points: 1, Sales: 1}, 1, hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
