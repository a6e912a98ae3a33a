package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// feedbackBody builds a feedback body as the till does.
func feedbackBody(score int) FeedbackFunc {
	return func(se event.Event, card string, at time.Time) ([]byte, error) {
		var s pos.Sale
		if err := json.Unmarshal(se.Body, &s); err != nil {
			return nil, err
		}
		return json.Marshal(pos.Feedback{SaleID: s.ID, SaleEvent: se.ID, SaleSeq: se.Seq, Card: card, Score: score, At: at})
	}
}

// One feedback per sale, chained and idempotent; none for a sale the ledger
// does not keep or with another card; the card's latest answer is kept, and
// a ledger restored from HQ's copy keeps both the index and that time.
func TestFeedback(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	recordUnits(t, l, "s0", "A", 1, 100)
	s1 := recordUnits(t, l, "s1", "A", 1, 100)
	req := FeedbackRequest{SaleID: "s1", Digest: sha256.Sum256([]byte("9"))}
	r, err := l.RecordFeedback(req, feedbackBody(9))
	if err != nil || r.Seq != s1.Seq+1 || r.Replayed {
		t.Fatalf("feedback: %+v %v", r, err)
	}
	if again, err := l.RecordFeedback(req, feedbackBody(9)); err != nil || !again.Replayed || again.Seq != r.Seq {
		t.Errorf("the same feedback again: %+v %v", again, err)
	}
	if _, err := l.RecordFeedback(FeedbackRequest{SaleID: "s1", Digest: sha256.Sum256([]byte("3"))}, feedbackBody(3)); !errors.Is(err, ErrConflict) {
		t.Errorf("a second feedback: %v", err)
	}
	if _, err := l.RecordFeedback(FeedbackRequest{SaleID: "nope"}, feedbackBody(3)); !errors.Is(err, ErrNoSale) {
		t.Errorf("an unknown sale: %v", err)
	}
	var in *pos.InputError
	if _, err := l.RecordFeedback(FeedbackRequest{SaleID: "s0", Card: "B"}, feedbackBody(3)); !errors.As(err, &in) || in.Field != "card" {
		t.Errorf("another card: %v", err)
	}
	if _, err := l.RecordFeedback(FeedbackRequest{SaleID: "s0"}, func(event.Event, string, time.Time) ([]byte, error) {
		return []byte(`{"sale_seq":1,"card":"B"}`), nil
	}); err == nil {
		t.Error("a body naming another card was recorded")
	}
	if st := mustStats(t, l); st.LastSeq != r.Seq {
		t.Fatalf("refused feedback recorded events: %+v", st)
	}
	at, err := l.LastFeedback("A")
	if err != nil || !at.Equal(r.At) {
		t.Errorf("LastFeedback(A) = %v %v, want %v", at, err, r.At)
	}
	if at, _ := l.LastFeedback("B"); !at.IsZero() {
		t.Errorf("LastFeedback(B) = %v, want none", at)
	}
	a, _, _ := l.Account("A")
	if a.Sales != 2 || a.Points != 2 {
		t.Errorf("feedback changed the account: %+v", a)
	}

	var evs []event.Event
	if err := l.Events(0, func(e event.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	restored, _ := openTest(t, Options{Terminal: "S1-T1"})
	err = restored.Restore(mustStats(t, l).Epoch, evs, func(e event.Event) (RestoredSale, error) {
		if e.Type == event.TypeFeedback {
			var f pos.Feedback
			err := json.Unmarshal(e.Body, &f)
			return RestoredSale{ID: f.SaleID, Card: f.Card, Digest: req.Digest}, err
		}
		var s pos.Sale
		err := json.Unmarshal(e.Body, &s)
		return RestoredSale{ID: s.ID, Card: s.Card, Digest: sha256.Sum256([]byte(s.ID)), Spend: s.Total, Points: s.PointsEarned}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if at, _ := restored.LastFeedback("A"); !at.Equal(r.At) {
		t.Errorf("restored LastFeedback(A) = %v, want %v", at, r.At)
	}
	if again, err := restored.RecordFeedback(req, feedbackBody(9)); err != nil || !again.Replayed {
		t.Errorf("the feedback again after a restore: %+v %v", again, err)
	}
}
