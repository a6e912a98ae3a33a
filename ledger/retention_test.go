package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// accounts reads every account view through the API.
func accounts(t *testing.T, l *Ledger, cards ...string) map[string]pos.Account {
	t.Helper()
	out := make(map[string]pos.Account)
	for _, c := range cards {
		a, ok, err := l.Account(c)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out[c] = a
		}
	}
	return out
}

func TestPrune(t *testing.T) {
	l, path := openTest(t, Options{}) // events 1 s apart from testEpoch
	cards := []string{"A", "B", "", "A", "B", "A", "", "B", "A", "A"}
	for i, card := range cards {
		record(t, l, sale{id: fmt.Sprint("s", i+1), card: card, spend: 100, points: int64(i)})
	}
	if err := l.PutSnapshot("B", pos.Account{LifetimeSpend: 1000, Points: 10, Sales: 5}, 3, hashAt(t, l, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Ack(6); err != nil {
		t.Fatal(err)
	}
	views := accounts(t, l, "A", "B")
	at := func(seq int) time.Time { return testEpoch.Add(time.Duration(seq-1) * time.Second) }

	// Steps run in order on the same ledger.
	steps := []struct {
		name       string
		ack        uint64
		cutoff     time.Time
		wantPruned uint64
		wantAnchor uint64
	}{
		{name: "nothing older than the first event", cutoff: at(1), wantPruned: 0, wantAnchor: 0},
		{name: "events before seq 5", cutoff: at(5), wantPruned: 4, wantAnchor: 4},
		{name: "only what HQ acknowledged", cutoff: at(100), wantPruned: 2, wantAnchor: 6},
		{name: "again: nothing left to prune", cutoff: at(100), wantPruned: 0, wantAnchor: 6},
		{name: "everything, once acknowledged", ack: 10, cutoff: at(100), wantPruned: 4, wantAnchor: 10},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.ack > 0 {
				if err := l.Ack(s.ack); err != nil {
					t.Fatal(err)
				}
			}
			res, err := l.Prune(s.cutoff)
			if err != nil || res.Pruned != s.wantPruned || res.Anchor != s.wantAnchor {
				t.Fatalf("Prune = %+v, %v; want %d pruned, anchor %d", res, err, s.wantPruned, s.wantAnchor)
			}
			if got := accounts(t, l, "A", "B"); !reflect.DeepEqual(got, views) {
				t.Errorf("pruning changed the views:\n got %+v\nwant %+v", got, views)
			}
			rep, err := l.Verify()
			if err != nil || !rep.OK() || rep.Anchor != s.wantAnchor || rep.Events != 10-s.wantAnchor {
				t.Errorf("Verify = %+v, %v; want anchor %d and %d events", rep, err, s.wantAnchor, 10-s.wantAnchor)
			}
			evs := allEvents(t, l)
			if uint64(len(evs)) != 10-s.wantAnchor || (len(evs) > 0 && evs[0].Seq != s.wantAnchor+1) {
				t.Errorf("Events walks %d events from %v, want %d from %d", len(evs), evs, 10-s.wantAnchor, s.wantAnchor+1)
			}
			if st := mustStats(t, l); st.Anchor != s.wantAnchor || st.LastSeq != 10 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}

	// A pruned sale's id is free again: the idempotency window is the
	// retention. A kept one still replays.
	if r := record(t, l, sale{id: "s1", card: "A", spend: 100, points: 0}); r.Replayed || r.Seq != 11 {
		t.Errorf("a pruned sale id again = %+v, want a new seq 11", r)
	}
	if r := record(t, l, sale{id: "s11", card: "B", spend: 5, points: 0}); r.Seq != 12 {
		t.Errorf("seq %d, want 12", r.Seq)
	}
	if r := record(t, l, sale{id: "s11", card: "B", spend: 5, points: 0}); !r.Replayed || r.Seq != 12 {
		t.Errorf("replay after pruning = %+v", r)
	}
	// A snapshot older than the pruned events cannot be applied any more.
	if err := l.PutSnapshot("A", pos.Account{}, 9, ""); !errors.Is(err, ErrStaleSnapshot) || !errors.Is(err, ErrSnapshotPruned) {
		t.Errorf("snapshot before the anchor: %v, want ErrStaleSnapshot and ErrSnapshotPruned", err)
	}
	st, _ := l.Stats()
	if err := l.PutSnapshot("A", pos.Account{Points: 1}, 10, st.AnchorHash); err != nil {
		t.Errorf("snapshot at the anchor: %v", err)
	}

	// Every event pruned: the file reopens and the chain continues from the anchor.
	if err := l.Ack(12); err != nil {
		t.Fatal(err)
	}
	if res, err := l.Prune(at(1000)); err != nil || res.Anchor != 12 {
		t.Fatalf("Prune all = %+v, %v", res, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openAt(t, path, Options{}, checkFull)
	r := record(t, l2, sale{id: "s13", card: "A", spend: 1})
	var last event.Event
	if err := l2.Events(0, func(e event.Event) error { last = e; return nil }); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 13 || last.Seq != 13 || last.Prev == "" {
		t.Errorf("after pruning everything: receipt %+v, event %+v; want seq 13 chained to the anchor", r, last)
	}
	if pend, err := l2.Pending(10); err != nil || len(pend) != 1 || pend[0].Seq != 13 {
		t.Errorf("Pending = %v, %v", pend, err)
	}
}

// With Options.Retain, HQ's acknowledgements prune what has grown old.
func TestRetainPrunesOnAck(t *testing.T) {
	var now atomic.Int64
	now.Store(testEpoch.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Add(int64(time.Minute))).UTC() }
	l, _ := openTest(t, Options{Now: clock, Retain: 24 * time.Hour})
	for i := range 20 {
		record(t, l, sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%3), spend: 10, points: 1})
	}
	if err := l.Ack(15); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, l); st.Anchor != 0 {
		t.Fatalf("pruned %d events younger than the retention", st.Anchor)
	}
	now.Add(int64(25 * time.Hour))
	if err := l.Ack(16); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, l); st.Anchor != 16 || st.Outbox != 4 {
		t.Errorf("Stats after an ack a day later = %+v, want anchor 16 and 4 in the outbox", st)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{Terminal: "T1", Retain: -time.Hour}); err == nil {
		t.Error("a negative retention was accepted")
	}
}

func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path, Options{Terminal: "T1", Now: testClock(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		record(t, l, sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%40), spend: 100, points: 1})
	}
	if err := l.Ack(n); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(testEpoch.Add((n - 10) * time.Second)); err != nil {
		t.Fatal(err)
	}
	cards := make([]string, 40)
	for i := range cards {
		cards[i] = fmt.Sprint("C", i)
	}
	wantViews, wantEvents := accounts(t, l, cards...), allEvents(t, l)

	// Not while the ledger is open.
	if _, err := Compact(path, Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("Compact of an open ledger: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".compact", []byte("left over from a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Compact(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compacted %d events: %d → %d bytes", res.Events, res.Before, res.After)
	if res.Events != 10 || res.After >= res.Before/4 || res.After != fileSize(t, path) {
		t.Errorf("Compact = %+v (file now %d bytes), want 10 events in a much smaller file", res, fileSize(t, path))
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there: %v", err)
	}
	l2 := openAt(t, path, Options{}, checkFull)
	if got := accounts(t, l2, cards...); !reflect.DeepEqual(got, wantViews) {
		t.Errorf("views changed by compaction")
	}
	if got := allEvents(t, l2); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events changed by compaction")
	}
	if r := record(t, l2, sale{id: "after", spend: 1}); r.Seq != n+1 {
		t.Errorf("first sale after compaction: seq %d, want %d", r.Seq, n+1)
	}
}

// A ledger that does not verify is not compacted: bbolt's copy would carry the
// damage into a file that looks fresh.
func TestCompactRefusesDamage(t *testing.T) {
	path := fiveSales(t)
	boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketEffects).Delete(u64(4)) })
	before, _ := os.ReadFile(path)
	_, err := Compact(path, Options{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Compact of a damaged ledger: %v, want ErrCorrupt", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused compaction changed the file")
	}
}

// Tools read a stopped tilld's file read-only: several at once, none with tilld.
func TestReadOnly(t *testing.T) {
	path := fiveSales(t)
	r1 := openAt(t, path, Options{ReadOnly: true}, checkNone)
	r2 := openAt(t, path, Options{ReadOnly: true}, checkNone)
	for _, l := range []*Ledger{r1, r2} {
		if rep, err := l.Verify(); err != nil || !rep.OK() || rep.Events != 5 {
			t.Errorf("Verify read-only = %+v, %v", rep, err)
		}
	}
	if _, err := Open(path, Options{Terminal: "T1", Timeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("read-write Open while tools read: %v, want ErrLocked", err)
	}
	calls := map[string]error{}
	_, calls["RecordSale"] = r1.RecordSale(sale{id: "x"}.request(), sale{id: "x"}.price(nil))
	calls["Ack"] = r1.Ack(1)
	calls["PutRuleset"] = r1.PutRuleset(2, []byte("x"), nil)
	calls["ActivateRuleset"] = r1.ActivateRuleset(1)
	calls["PutSnapshot"] = r1.PutSnapshot("A", pos.Account{}, 5, "")
	_, calls["Prune"] = r1.Prune(time.Now())
	for name, err := range calls {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only ledger: %v, want ErrReadOnly", name, err)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.db"), Options{ReadOnly: true}); !os.IsNotExist(errors.Unwrap(err)) && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only Open of a missing file: %v, want ErrNotExist", err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
