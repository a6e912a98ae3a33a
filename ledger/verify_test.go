package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// fiveSales records the ledger every tamper test starts from and closes it.
func fiveSales(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path, Options{Terminal: "T1", Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i, card := range []string{"A", "B", "A", "", "B"} {
		record(t, l, sale{id: fmt.Sprint("s", i+1), card: card, spend: 1000, points: 10})
	}
	putActive(t, l, 1, "r")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyClean(t *testing.T) {
	path := fiveSales(t)
	l := openAt(t, path, Options{}, checkFull)
	rep, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Events != 5 || rep.Accounts != 2 || rep.Terminal != "T1" {
		t.Errorf("Verify = %+v, want 5 events, 2 accounts, no problems", rep)
	}
}

// Every way of damaging the file behind the ledger's back that Verify must see.
func TestVerifyDetectsTampering(t *testing.T) {
	getEvent := func(tx *bolt.Tx, seq uint64) event.Event {
		e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(seq)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	putEvent := func(tx *bolt.Tx, e event.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketEvents).Put(u64(e.Seq), b)
	}
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		// want picks the problem the damage must cause.
		want func(p Problem) bool
	}{
		{
			name: "event body changed",
			tamper: func(tx *bolt.Tx) error {
				e := getEvent(tx, 3)
				e.Body = bytes.Replace(e.Body, []byte(`"total":1000`), []byte(`"total":10`), 1)
				return putEvent(tx, e)
			},
			want: func(p Problem) bool { return p.Seq == 3 && errors.Is(p.Err, event.ErrBadHash) },
		},
		{
			name: "event body changed and rehashed",
			tamper: func(tx *bolt.Tx) error {
				e := getEvent(tx, 3)
				e.RulesetVersion = 99
				e.Hash = e.ComputeHash()
				return putEvent(tx, e)
			},
			want: func(p Problem) bool { return p.Seq == 4 && errors.Is(p.Err, event.ErrBadLink) },
		},
		{
			name:   "event removed",
			tamper: func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Delete(u64(2)) },
			want:   func(p Problem) bool { return p.Seq == 3 && errors.Is(p.Err, event.ErrGap) },
		},
		{
			name: "event garbled",
			tamper: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketEvents).Put(u64(2), []byte("{not json"))
			},
			want: func(p Problem) bool { return p.Seq == 2 && strings.Contains(p.Err.Error(), "decode event") },
		},
		{
			name: "account points raised",
			tamper: func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketAccounts)
				a, err := decodeAccount(b.Get([]byte("A")))
				if err != nil {
					return err
				}
				a.Points += 1000
				v, _ := encodeAccount(a)
				return b.Put([]byte("A"), v)
			},
			want: func(p Problem) bool {
				return p.Card == "A" && strings.Contains(p.Err.Error(), "points 1020, want 20")
			},
		},
		{
			name:   "account removed",
			tamper: func(tx *bolt.Tx) error { return tx.Bucket(bucketAccounts).Delete([]byte("B")) },
			want: func(p Problem) bool {
				return p.Card == "B" && strings.Contains(p.Err.Error(), "account record is missing")
			},
		},
		{
			name: "account invented",
			tamper: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketAccounts).Put([]byte("Z"), []byte(`{"card":"Z","points":5000}`))
			},
			want: func(p Problem) bool { return p.Card == "Z" && strings.Contains(p.Err.Error(), "no sale events") },
		},
		{
			name: "effect moved to another card",
			tamper: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketEffects).Put(u64(1), encodeEffect(effect{card: "B", saleID: "s1", spend: 1000, points: 10}))
			},
			want: func(p Problem) bool {
				return p.Seq == 1 && p.Card == "B" && strings.Contains(p.Err.Error(), "differs from the card in the event body")
			},
		},
		{
			name:   "effect removed",
			tamper: func(tx *bolt.Tx) error { return tx.Bucket(bucketEffects).Delete(u64(4)) },
			want:   func(p Problem) bool { return p.Seq == 4 && strings.Contains(p.Err.Error(), "no effect record") },
		},
		{
			name: "sale index points past the end",
			tamper: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketSales).Put([]byte("ghost"), encodeSaleRef(saleRef{seq: 42}))
			},
			want: func(p Problem) bool { return p.Seq == 42 && strings.Contains(p.Err.Error(), `"ghost"`) },
		},
		{
			name:   "sale index entry removed",
			tamper: func(tx *bolt.Tx) error { return tx.Bucket(bucketSales).Delete([]byte("s2")) },
			want: func(p Problem) bool {
				return p.Seq == 2 && strings.Contains(p.Err.Error(), `sale "s2" is missing from the sales index`)
			},
		},
		{
			name: "sale index entry moved to another event",
			tamper: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketSales).Put([]byte("s2"), encodeSaleRef(saleRef{seq: 3}))
			},
			want: func(p Problem) bool { return p.Seq == 3 && strings.Contains(p.Err.Error(), `points at`) },
		},
		{
			name: "effect names another sale",
			tamper: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketEffects).Put(u64(4), encodeEffect(effect{saleID: "s5", spend: 1000, points: 10}))
			},
			want: func(p Problem) bool {
				return p.Seq == 4 && strings.Contains(p.Err.Error(), "missing from the sales index")
			},
		},
		{
			name: "base beyond the last event",
			tamper: func(tx *bolt.Tx) error {
				v, _ := encodeBase(base{through: 99, acct: accountOf("A")})
				return tx.Bucket(bucketBases).Put([]byte("A"), v)
			},
			want: func(p Problem) bool { return p.Card == "A" && strings.Contains(p.Err.Error(), "beyond the last event") },
		},
		{
			name: "base points raised",
			tamper: func(tx *bolt.Tx) error {
				v, _ := encodeBase(base{through: 0, acct: pos.Account{Card: "A", Points: 500}})
				return tx.Bucket(bucketBases).Put([]byte("A"), v)
			},
			want: func(p Problem) bool { return p.Card == "A" && strings.Contains(p.Err.Error(), "points 20, want 520") },
		},
		{
			name:   "active ruleset removed",
			tamper: func(tx *bolt.Tx) error { return tx.Bucket(bucketRulesets).Delete(u64(1)) },
			want:   func(p Problem) bool { return strings.Contains(p.Err.Error(), "active ruleset version 1 is not cached") },
		},
		{
			name: "ruleset bytes changed",
			tamper: func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketRulesets)
				v := bytes.Clone(b.Get(u64(1)))
				v[len(v)-1] ^= 1
				return b.Put(u64(1), v)
			},
			want: func(p Problem) bool { return strings.Contains(p.Err.Error(), "ruleset") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fiveSales(t)
			boltUpdate(t, path, tt.tamper)
			l := openAt(t, path, Options{}, checkBolt)
			rep, err := l.Verify()
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK() {
				t.Fatal("Verify found nothing wrong")
			}
			found := false
			for _, p := range rep.Problems {
				found = found || tt.want(p)
				if p.Card != "" && len(p.Card) > 4 && strings.Contains(p.String(), p.Card) {
					t.Errorf("problem text %q shows the full card", p)
				}
			}
			if !found {
				t.Errorf("the expected problem is not among:\n%v", rep.Problems)
			}
		})
	}
}

// A file that is not a readable ledger fails Open with ErrCorrupt naming the
// file, is left as it was, and the lock is released.
func TestOpenCorrupt(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.db")
	l, err := Open(big, Options{Terminal: "T1", Now: testClock(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		record(t, l, sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%50), spend: 100, points: 1})
	}
	l.Close()
	bigBytes, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("source ledger: %d bytes", len(bigBytes))

	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	withBolt := func(fn func(tx *bolt.Tx) error) []byte {
		p := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(p, bigBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		boltUpdate(t, p, fn)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	zeroMeta := bytes.Clone(bigBytes)
	clear(zeroMeta[:2*4096])
	hwm, freelist := boltLayout(t, bigBytes)
	badFreelistType := bytes.Clone(bigBytes)
	badFreelistType[freelist+8] = 0x01 // page flags: a branch page, not a freelist
	hugeFreelist := bytes.Clone(bigBytes)
	hugeFreelist[freelist+10], hugeFreelist[freelist+11] = 0xfe, 0xff // page count: 65534 ids

	tests := []struct {
		name    string
		content []byte
		text    string // substring of the error besides the file name
	}{
		{"empty", nil, "empty"},
		{"short text", []byte("hello, world\n"), ""},
		{"random bytes", garbage, ""},
		{"meta pages zeroed", zeroMeta, ""},
		{"cut to 100 bytes", bigBytes[:100], ""},
		{"cut to two pages", bigBytes[:2*4096], ""},
		{"cut in half", bigBytes[:len(bigBytes)/2], ""},
		{"last page missing", bigBytes[:hwm-4096], ""},
		{"freelist page of the wrong type", badFreelistType, "freelist: page"},
		{"freelist count beyond the file", hugeFreelist, ""},
		{"another program's bbolt file", withBolt(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
			_, err := tx.CreateBucket([]byte("other"))
			return err
		}), "not a tilld ledger"},
		{"bucket missing", withBolt(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketEffects) }), `"effects" is missing`},
		{"meta ahead of events", withBolt(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyLastSeq, u64(401))
		}), "last seq is 401"},
		{"last event garbled", withBolt(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEvents).Put(u64(400), []byte("}"))
		}), "event 400"},
		{"ack beyond the end", withBolt(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyAcked, u64(1000))
		}), "acknowledged seq 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			for try := range 2 { // the second try shows the lock was released
				l, err := Open(path, Options{Terminal: "T1", Timeout: 100 * time.Millisecond})
				if err == nil {
					l.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("try %d: err = %v, want ErrCorrupt", try+1, err)
				}
				for _, s := range []string{path, "corrupt or truncated", "backup", tt.text} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %q, want it to say %q", err, s)
					}
				}
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, tt.content) {
				t.Errorf("Open changed the file (now %d bytes, was %d)", len(got), len(tt.content))
			}
		})
	}
}

// The page walk keeps bbolt from the damage above; should bbolt still panic or
// fault while opening, openBolt turns that into ErrCorrupt and releases the lock.
func TestOpenBoltRecovers(t *testing.T) {
	src := fiveSales(t)
	good, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	hwm, freelist := boltLayout(t, good)
	badType := bytes.Clone(good)
	badType[freelist+8] = 0x01
	tests := []struct {
		name    string
		content []byte
		text    string
	}{
		{"bbolt panics", badType, "invalid freelist page"},
		{"read past the end of the file", good[:min(freelist, hwm-4096)], "bbolt:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(faultedDir(t), "x.db")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			for try := range 2 {
				db, _, err := openBolt(path, &bolt.Options{Timeout: 100 * time.Millisecond})
				if err == nil {
					db.Close()
					t.Fatal("bbolt opened the damaged file")
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.text) {
					t.Fatalf("try %d: err = %v, want ErrCorrupt saying %q", try+1, err, tt.text)
				}
			}
		})
	}
}

// Damage inside bbolt's tree, where Open does not look, must show in Verify's
// report: bbolt's own check would fault on a page past the mapping or recurse
// forever on a loop.
func TestVerifyDamagedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "src.db")
	l, err := Open(path, Options{Terminal: "T1", Now: testClock(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		record(t, l, sale{id: fmt.Sprint("s", i), card: "C", spend: 100, points: 1})
	}
	l.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Find the root page of the events bucket: a branch page with 400 events.
	var txid uint64
	for page := range 2 {
		txid = max(txid, binary.NativeEndian.Uint64(good[page*4096+16+48:]))
	}
	snap, err := readSnapshot(bytes.NewReader(good), 4096, txid)
	if err != nil {
		t.Fatal(err)
	}
	var eventsRoot uint64
	err = newPageWalker(bytes.NewReader(good), 4096, snap).tree(snap.root, false, func(k, v []byte, _ bool) error {
		if string(k) == "events" {
			eventsRoot = binary.NativeEndian.Uint64(v)
		}
		return nil
	})
	if err != nil || eventsRoot == 0 || binary.NativeEndian.Uint16(good[eventsRoot*4096+8:]) != pageBranch {
		t.Fatalf("events root page %d is not a branch page (%v)", eventsRoot, err)
	}
	firstChild := int(eventsRoot)*4096 + pageHeaderSize + 8 // element 0's pgid

	tests := []struct {
		name  string
		child uint64
		text  string
	}{
		{"child points at its parent", eventsRoot, "reached twice"},
		{"child past the file", 1 << 40, "outside the file's pages"},
		{"child is a meta page", 0, "outside the file's pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			binary.NativeEndian.PutUint64(b[firstChild:], tt.child)
			p := filepath.Join(t.TempDir(), "ledger.db")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			l := openAt(t, p, Options{}, checkNone) // Open reads only the last event's path
			rep, err := l.Verify()
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK() || !errors.Is(rep.Problems[0].Err, ErrCorrupt) || !strings.Contains(rep.Problems[0].String(), tt.text) {
				t.Errorf("Verify = %v, want ErrCorrupt saying %q", rep.Problems, tt.text)
			}
		})
	}
}

// boltLayout reads the newest valid bbolt meta page of a file with 4 KiB pages: the
// end of its pages (high water mark) and the offset of its freelist page.
func boltLayout(t *testing.T, b []byte) (hwm, freelist int) {
	t.Helper()
	// Page header: id u64, flags u16, count u16, overflow u32. Meta after it: magic,
	// version, page size, flags (u32 each), root bucket (u64 root, u64 sequence),
	// freelist, pgid, txid (u64 each), checksum. Little-endian on amd64/arm64.
	var bestTx uint64
	for page := range 2 {
		m := b[page*4096+16:]
		if binary.LittleEndian.Uint32(m[0:4]) != 0xED0CDAED {
			continue
		}
		if tx := binary.LittleEndian.Uint64(m[48:56]); tx >= bestTx {
			bestTx = tx
			freelist = int(binary.LittleEndian.Uint64(m[32:40])) * 4096
			hwm = int(binary.LittleEndian.Uint64(m[40:48])) * 4096
		}
	}
	if hwm == 0 || hwm > len(b) || freelist >= hwm {
		t.Fatalf("no usable meta page (hwm %d, freelist at %d, file %d bytes)", hwm, freelist, len(b))
	}
	return hwm, freelist
}

func TestOpenNewerSchema(t *testing.T) {
	path := fiveSales(t)
	boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion+1)) })
	_, err := Open(path, Options{Terminal: "T1"})
	if err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "newer version") {
		t.Fatalf("err = %v, want a plain error about a newer version", err)
	}
}

// A crash during the very first Open can leave a bbolt file without the ledger's
// buckets: nothing was ever recorded in it, so the next Open sets it up.
func TestOpenHalfCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "terminal id is required") {
		t.Fatalf("Open without a terminal id: %v", err)
	}
	l := openAt(t, path, Options{Terminal: "T9"}, checkFull)
	if r := record(t, l, sale{id: "s1", spend: 1}); r.Seq != 1 || r.EventID != "T9-1" {
		t.Errorf("first sale = %+v", r)
	}
}

// Verify runs on the live ledger while cashiers sell and HQ acknowledges: it
// must judge the snapshot it reads, not what the writers change meanwhile
// (bbolt's own check compares with the live freelist and reports phantom
// damage then).
func TestVerifyWhileWriting(t *testing.T) {
	l, _ := openTest(t, Options{NoSync: true})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Each writer stops after 2 000 sales: a Verify reads the whole ledger,
	// and unbounded writers outran it (1.2 M events under wine, where
	// Verify is slower than the writers), each Verify longer than the last.
	for w := range 3 {
		wg.Go(func() {
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := record(t, l, sale{id: fmt.Sprintf("w%d-%d", w, i), card: fmt.Sprint("C", i%5), spend: 10, points: 1})
				if w == 0 && i%3 == 0 {
					if err := l.Ack(r.Seq - 1); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	for n := 0; n < 30 || mustStats(t, l).LastSeq < 1500; n++ {
		rep, err := l.Verify()
		if err != nil || !rep.OK() {
			t.Errorf("Verify while writing: %v %v", err, rep.Problems)
			break
		}
	}
	close(stop)
	wg.Wait()
}

// A page that is neither in use nor on the freelist (leaked) or both is found.
func TestVerifyFreelistMismatch(t *testing.T) {
	path := fiveSales(t)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, freelist := boltLayout(t, good)
	n := binary.LittleEndian.Uint16(good[freelist+10:])
	if n == 0 || n == 0xFFFF {
		t.Fatalf("the fixture's freelist has %d ids; want a few", n)
	}
	leaked := bytes.Clone(good)
	binary.LittleEndian.PutUint16(leaked[freelist+10:], n-1) // forget the last free page
	// List a page in use as free: the root page of the meta's root bucket.
	var txid uint64
	for page := range 2 {
		txid = max(txid, binary.LittleEndian.Uint64(good[page*4096+16+48:]))
	}
	snap, err := readSnapshot(bytes.NewReader(good), 4096, txid)
	if err != nil {
		t.Fatal(err)
	}
	// Over the highest free id, so that the root, below it, is the first page
	// found wrong (the id replaced is left neither in use nor free).
	dup := bytes.Clone(good)
	last := freelist + 16 + 8*int(n-1)
	if id := binary.LittleEndian.Uint64(dup[last:]); id < snap.root {
		t.Fatalf("the fixture's highest free page %d is below the root %d", id, snap.root)
	}
	binary.LittleEndian.PutUint64(dup[last:], snap.root)
	tests := []struct {
		name    string
		content []byte
		text    string
	}{
		{"a free page forgotten", leaked, "neither in use nor on the freelist"},
		{"a page in use listed as free", dup, "in use and on the freelist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ledger.db")
			if err := os.WriteFile(p, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			l := openAt(t, p, Options{ReadOnly: true}, checkNone)
			rep, err := l.Verify()
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !errors.Is(rep.Problems[0].Err, ErrCorrupt) || !strings.Contains(rep.Problems[0].String(), tt.text) {
				t.Errorf("Verify = %v, want ErrCorrupt saying %q", rep.Problems, tt.text)
			}
		})
	}
}
