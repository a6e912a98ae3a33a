package ledger

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// A ledger that learns HQ holds other events under its seqs moves to a new
// epoch based on the last event HQ holds as it has it, and sends the rest again.
func TestFork(t *testing.T) {
	l, path := openTest(t, Options{})
	for i := range 10 {
		record(t, l, sale{id: fmt.Sprint("s", i+1), card: "C", spend: 100, points: 1})
	}
	if err := l.Ack(10); err != nil { // legacy acks by seq alone: taken back below
		t.Fatal(err)
	}
	first := mustStats(t, l).Epoch
	if e, moved, err := l.Fork("not-this-one", 6); err != nil || moved || e != first {
		t.Fatalf("a fork of an epoch the ledger left = %+v, %v, %v; want no move", e, moved, err)
	}
	for _, at := range []uint64{0, 12} {
		if _, _, err := l.Fork(first.ID, at); err == nil {
			t.Errorf("fork at %d of events 1..10: no error", at)
		}
	}
	e, moved, err := l.Fork(first.ID, 6)
	if err != nil || !moved {
		t.Fatalf("fork at 6 = %v, %v", moved, err)
	}
	if e.ID == first.ID || len(e.ID) != 16 || e.Parent != first.ID || e.BaseSeq != 5 || e.BaseHash != hashAt(t, l, 5) {
		t.Fatalf("new epoch = %+v; want a new id, parent %s, based on event 5", e, first.ID)
	}
	st := mustStats(t, l)
	if st.Epoch != e || st.Acked != 5 || st.Outbox != 5 {
		t.Fatalf("after the fork stats = %+v; want the new epoch, acked 5, 6..10 to send again", st)
	}
	pend, err := l.Pending(100)
	if err != nil || len(pend) != 5 || pend[0].Seq != 6 {
		t.Fatalf("pending after the fork = %d events from %d, %v", len(pend), pend[0].Seq, err)
	}
	// The answer to an upload sent before the fork names the old epoch.
	if again, moved, err := l.Fork(first.ID, 6); err != nil || moved || again != e {
		t.Fatalf("a late fork answer = %+v, %v, %v; want no move", again, moved, err)
	}
	// The epoch is in the file.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openAt(t, path, Options{}, checkFull)
	if got := mustStats(t, l).Epoch; got != e {
		t.Fatalf("reopened epoch = %+v, want %+v", got, e)
	}
	// A fork at 1 is a start from nothing.
	e2, moved, err := l.Fork(e.ID, 1)
	if err != nil || !moved || e2.BaseSeq != 0 || e2.BaseHash != "" || e2.Parent != "" || mustStats(t, l).Acked != 0 {
		t.Fatalf("fork at 1 = %+v, %v, %v", e2, moved, err)
	}
}

func TestForkAfterPruning(t *testing.T) {
	l, _ := openTest(t, Options{})
	for i := range 6 {
		record(t, l, sale{id: fmt.Sprint("s", i+1), card: "C", spend: 100, points: 1})
	}
	if err := l.Ack(6); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(testEpoch.Add(3500 * time.Millisecond)); err != nil { // events 1..4
		t.Fatal(err)
	}
	st := mustStats(t, l)
	if st.Anchor != 4 {
		t.Fatalf("anchor = %d, want 4", st.Anchor)
	}
	e, moved, err := l.Fork(st.Epoch.ID, 3)
	if !errors.Is(err, ErrFork) || !moved || e.BaseSeq != 4 || e.BaseHash != st.AnchorHash {
		t.Fatalf("fork before the anchor = %+v, %v, %v; want ErrFork and a base at the anchor", e, moved, err)
	}
	if st := mustStats(t, l); st.Acked != 4 {
		t.Fatalf("acked = %d, want 4 (5 and 6 go again)", st.Acked)
	}
}

// A snapshot HQ took of another chain than the ledger's changes nothing.
func TestSnapshotOfAnotherChain(t *testing.T) {
	l, _ := openTest(t, Options{})
	for i := range 3 {
		record(t, l, sale{id: fmt.Sprint("s", i+1), card: "C", spend: 100, points: 1})
	}
	before, _, _ := l.Account("C")
	other := event.Event{Seq: 2, Body: []byte(`{}`)}
	if err := l.PutSnapshot("C", pos.Account{Points: 999}, 2, other.ComputeHash()); !errors.Is(err, ErrOtherChain) {
		t.Fatalf("snapshot of another event 2 = %v; want ErrOtherChain", err)
	}
	if err := l.Ack(1); err != nil {
		t.Fatal(err)
	}
	if err := l.PutSnapshot("C", pos.Account{Points: 999}, 0, ""); !errors.Is(err, ErrOtherChain) {
		t.Fatalf("a snapshot of none of the events after HQ acknowledged one = %v; want ErrOtherChain", err)
	}
	if after, _, _ := l.Account("C"); after.Points != before.Points || after.LifetimeSpend != before.LifetimeSpend {
		t.Fatalf("the view changed: %+v -> %+v", before, after)
	}
	if err := l.PutSnapshot("C", pos.Account{Points: 999}, 2, hashAt(t, l, 2)); err != nil {
		t.Fatalf("snapshot of this ledger's event 2: %v", err)
	}
	if after, _, _ := l.Account("C"); after.Points != 1000 {
		t.Fatalf("view after HQ's snapshot as of 2 = %d points, want 999 + sale 3's 1", after.Points)
	}
}
