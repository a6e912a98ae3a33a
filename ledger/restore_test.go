package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// restoredSale reads a test sale's body as the till's restore does.
func restoredSale(e event.Event) (RestoredSale, error) {
	var s pos.Sale
	if err := json.Unmarshal(e.Body, &s); err != nil {
		return RestoredSale{}, err
	}
	return RestoredSale{ID: s.ID, Digest: sha256.Sum256([]byte(s.ID + "|" + s.Card)), Card: s.Card,
		Spend: s.Total, Points: s.PointsEarned - s.PointsRedeemed}, nil
}

// A ledger rebuilt from HQ's copy of a chain holds what the lost one held:
// the same events, account views and sales index, all acknowledged, on the
// same epoch; it sells on from the next seq.
func TestRestore(t *testing.T) {
	lost, _ := openTest(t, Options{Terminal: "S1-T1"})
	for i := range 12 {
		record(t, lost, sale{id: fmt.Sprint("s", i+1), card: []string{"A", "B", ""}[i%3], spend: money.Amount(100 + i), points: int64(i)})
	}
	evs := make([]event.Event, 0, 12)
	if err := lost.Events(0, func(e event.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	epoch := mustStats(t, lost).Epoch

	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	for _, page := range [][]event.Event{evs[:5], evs[5:]} {
		if err := l.Restore(epoch, page, restoredSale); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}
	st := mustStats(t, l)
	if st.Epoch != epoch || st.LastSeq != 12 || st.Acked != 12 || st.Outbox != 0 {
		t.Fatalf("restored stats = %+v; want epoch %s, 12 events all acknowledged", st, epoch.ID)
	}
	for _, card := range []string{"A", "B"} {
		want, _, _ := lost.Account(card)
		got, ok, err := l.Account(card)
		if !ok || err != nil || got.LifetimeSpend != want.LifetimeSpend || got.Points != want.Points || got.Sales != want.Sales || !got.LastSale.Equal(want.LastSale) {
			t.Errorf("restored account %s = %+v, want %+v", card, got, want)
		}
	}
	// The sales index: a retry of a restored sale is recognised.
	if r := record(t, l, sale{id: "s3", card: ""}); !r.Replayed || r.Seq != 3 {
		t.Errorf("retry of restored sale s3 = %+v; want the stored receipt", r)
	}
	if _, err := l.RecordSale(sale{id: "s3", card: "A"}.request(), sale{id: "s3", card: "A"}.price(nil)); !errors.Is(err, ErrConflict) {
		t.Errorf("another basket under restored sale id s3 = %v; want ErrConflict", err)
	}
	if r := record(t, l, sale{id: "s13", card: "A", spend: 5}); r.Seq != 13 {
		t.Errorf("the next sale got seq %d, want 13", r.Seq)
	}
	// Nothing goes into a ledger with events of its own, nor twice.
	if err := l.Restore(epoch, evs[:1], restoredSale); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("restore into a ledger with a sale of its own = %v; want ErrNotEmpty", err)
	}
	// The cleanups verify both files.
}

func TestRestoreRefusesWhatDoesNotChain(t *testing.T) {
	src, _ := openTest(t, Options{})
	for i := range 4 {
		record(t, src, sale{id: fmt.Sprint("s", i+1), card: "A", spend: 10, points: 1})
	}
	var evs []event.Event
	if err := src.Events(0, func(e event.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]event.Event{
		"gap":           {evs[0], evs[2]},
		"tampered body": {evs[0], func() event.Event { e := evs[1]; e.Body = json.RawMessage(`{"id":"s2","total":1}`); return e }()},
		"other terminal": {func() event.Event {
			e := evs[0]
			e.Terminal = "T9"
			e.Hash = e.ComputeHash()
			return e
		}()},
	}
	for name, page := range cases {
		t.Run(name, func(t *testing.T) {
			l, _ := openTest(t, Options{})
			if err := l.Restore(mustStats(t, src).Epoch, page, restoredSale); err == nil {
				t.Fatal("restored")
			}
			if st := mustStats(t, l); st.LastSeq != 0 {
				t.Fatalf("a refused page left %d events", st.LastSeq)
			}
		})
	}
	// A chain HQ holds only from a base on restores as if the events before
	// were pruned.
	l, _ := openTest(t, Options{})
	if err := l.Restore(event.Epoch{ID: "e2", BaseSeq: 2, BaseHash: evs[1].Hash}, evs[2:], restoredSale); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, l); st.Anchor != 2 || st.AnchorHash != evs[1].Hash || st.LastSeq != 4 || st.Acked != 4 {
		t.Fatalf("restore from seq 3 = %+v", st)
	}
}
