package ledger

import (
	"testing"
	"time"
)

// An acknowledgement has no commit of its own: it is in the journal with the
// next sale's record (no fsync more), or in the file after riderWait when no
// sale comes. Lost in a crash before either, the outbox only sends again what
// HQ holds.
func TestAckRidesAlong(t *testing.T) {
	l, path := openTest(t, Options{})
	record(t, l, sale{id: "s1", card: "C", spend: 10})
	end := l.journal.end
	if err := l.Ack(1); err != nil {
		t.Fatal(err)
	}
	if l.journal.end != end {
		t.Errorf("Ack wrote %d bytes to the journal", l.journal.end-end)
	}
	if st := mustStats(t, l); st.Acked != 1 || st.Outbox != 0 {
		t.Errorf("stats after the ack = %+v, want acked 1", st)
	}
	if st := mustStats(t, openAt(t, crashCopy(t, path), Options{}, checkFull)); st.LastSeq != 1 || st.Acked != 0 {
		t.Errorf("a crash before the next commit: %+v, want seq 1, the ack lost", st)
	}

	record(t, l, sale{id: "s2", card: "C", spend: 10})
	if got := (l.journal.end - end) / journalBlock; got != 1 {
		t.Errorf("the sale and the ack took %d journal blocks, want 1", got)
	}
	if st := mustStats(t, openAt(t, crashCopy(t, path), Options{}, checkFull)); st.LastSeq != 2 || st.Acked != 1 {
		t.Errorf("a crash after the next sale: %+v, want seq 2 acked 1", st)
	}

	// No sale comes: a checkpoint takes it riderWait later.
	if err := l.Ack(2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * riderWait)
	for {
		st := mustStats(t, openAt(t, crashCopy(t, path), Options{}, checkFull))
		if st.Acked == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the ack the file holds %+v, want acked 2", 10*riderWait, st)
		}
		time.Sleep(riderWait / 4)
	}
}

// HQ's snapshot of a card rides along too, journaled ahead of the next
// sale's writes: after a crash the view is HQ's snapshot plus that sale, and
// it agrees with the rebuild from the events (checkFull runs Verify). A
// snapshot that brings nothing new leaves the view as it was.
func TestSnapshotRidesAlong(t *testing.T) {
	l, path := openTest(t, Options{})
	record(t, l, sale{id: "s1", card: "C", spend: 100, points: 1})
	own, _, err := l.Account("C")
	if err != nil {
		t.Fatal(err)
	}
	// HQ's view of the card as of seq 1 is the till's own sale: nothing new.
	end := l.journal.end
	if err := l.PutSnapshot("C", own, 1, hashAt(t, l, 1)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.Account("C"); got.Points != own.Points || got.Sales != own.Sales || l.journal.end != end {
		t.Errorf("a snapshot of the till's own sale: view %+v (was %+v), %d journal bytes", got, own, l.journal.end-end)
	}
	for _, r := range l.riders {
		if string(r.bucket) == string(bucketAccounts) {
			t.Errorf("a snapshot of the till's own sale rewrites the account view")
		}
	}

	// Another store's sale: 40 points more at HQ.
	hq := own
	hq.Points += 40
	hq.Sales++
	if err := l.PutSnapshot("C", hq, 1, hashAt(t, l, 1)); err != nil {
		t.Fatal(err)
	}
	record(t, l, sale{id: "s2", card: "C", spend: 100, points: 1})
	c := openAt(t, crashCopy(t, path), Options{}, checkFull)
	got, _, err := c.Account("C")
	if err != nil || got.Points != own.Points+41 || got.Sales != own.Sales+2 {
		t.Errorf("after a crash: %+v, %v; want %d points, %d sales", got, err, own.Points+41, own.Sales+2)
	}
}
