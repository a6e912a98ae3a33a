package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// FeedbackSpec is an NPS answer to a sale of a chain built by Feedbacks.
type FeedbackSpec struct {
	Store, Card string
	Sale        uint64 // the sale's seq
	Score       int
	Asked       bool
	Comment     string
	// At is the answer's time; zero: a second after the event before.
	At        time.Time
	UTCOffset int
}

// Feedbacks returns feedback events from seq from on of a terminal's
// chain, one per spec, linked to prevHash, as a till records them (a
// pos.Feedback body).
func Feedbacks(terminal string, from uint64, prevHash string, specs ...FeedbackSpec) []event.Event {
	var out []event.Event
	for i, sp := range specs {
		seq := from + uint64(i)
		at := sp.At
		if at.IsZero() {
			at = Epoch.Add(time.Duration(seq) * time.Second)
		}
		f := pos.Feedback{SaleID: fmt.Sprintf("%s-sale-%d", terminal, sp.Sale), SaleEvent: fmt.Sprintf("%s-%d", terminal, sp.Sale),
			SaleSeq: sp.Sale, Card: sp.Card, Store: sp.Store, Score: sp.Score, Comment: sp.Comment, At: at, Asked: sp.Asked, UTCOffset: sp.UTCOffset}
		e := link(terminal, seq, event.TypeFeedback, at, prevHash, f)
		prevHash = e.Hash
		out = append(out, e)
	}
	return out
}

// runFeedback: feedback events are kept once each, per store, terminal,
// card and day (the till's), beside the sales they answer, which they do
// not change; a body HQ cannot read stops the upload there.
func runFeedback(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const card, card2 = "2000000000015", "2000000000022"
	t.Run("Feedback", func(t *testing.T) {
		s := newStore(t)
		if fs, err := s.Feedback(ctx, hq.FeedbackFilter{}); err != nil || len(fs) != 0 {
			t.Fatalf("an empty store's feedback: %v %+v", err, fs)
		}
		s1 := Sales("S1-T1", 1, "", SaleSpec{card, 100_00, 1, 0}, SaleSpec{card2, 200_00, 2, 0}, SaleSpec{"", 50_00, 0, 0})
		// At 22:30 UTC in Moscow (UTC+3) it is the next day.
		late := time.Date(2026, 11, 23, 22, 30, 0, 0, time.UTC)
		f1 := Feedbacks("S1-T1", 4, s1[2].Hash,
			FeedbackSpec{Store: "S1", Card: card, Sale: 1, Score: 9, Asked: true, Comment: "Спасибо"},
			FeedbackSpec{Store: "S1", Card: card2, Sale: 2, Score: 6, Asked: true, At: late, UTCOffset: 3 * 3600},
			FeedbackSpec{Store: "S1", Sale: 3, Score: 7})
		s2 := Sales("S2-T1", 1, "", SaleSpec{card, 300_00, 3, 0})
		f2 := Feedbacks("S2-T1", 2, s2[0].Hash, FeedbackSpec{Store: "S2", Card: card, Sale: 1, Score: 10, Asked: true})
		for range 2 { // twice: exactly once
			for _, up := range []struct {
				terminal string
				evs      []event.Event
			}{{"S1-T1", append(append([]event.Event(nil), s1...), f1...)}, {"S2-T1", append(append([]event.Event(nil), s2...), f2...)}} {
				if acked, err := s.Append(ctx, up.terminal, up.evs); err != nil || acked != uint64(len(up.evs)) {
					t.Fatalf("append %s: %d %v", up.terminal, acked, err)
				}
			}
		}
		all, err := s.Feedback(ctx, hq.FeedbackFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []hq.Feedback{
			{Terminal: "S1-T1", Seq: 4, Store: "S1", Card: card, Day: "2026-11-23", SaleID: "S1-T1-sale-1", Score: 9, Asked: true, Comment: "Спасибо", At: f1[0].At},
			{Terminal: "S1-T1", Seq: 6, Store: "S1", Day: "2026-11-23", SaleID: "S1-T1-sale-3", Score: 7, At: f1[2].At},
			{Terminal: "S2-T1", Seq: 2, Store: "S2", Card: card, Day: "2026-11-23", SaleID: "S2-T1-sale-1", Score: 10, Asked: true, At: f2[0].At},
			{Terminal: "S1-T1", Seq: 5, Store: "S1", Card: card2, Day: "2026-11-24", SaleID: "S1-T1-sale-2", Score: 6, Asked: true, At: late},
		}
		if !reflect.DeepEqual(all, want) {
			t.Errorf("feedback:\n got %+v\nwant %+v", all, want)
		}
		for _, tc := range []struct {
			f    hq.FeedbackFilter
			seqs []string
		}{
			{hq.FeedbackFilter{Store: "S1"}, []string{"S1-T1/4", "S1-T1/6", "S1-T1/5"}},
			{hq.FeedbackFilter{Store: "S3"}, nil},
			{hq.FeedbackFilter{Terminal: "S2-T1"}, []string{"S2-T1/2"}},
			{hq.FeedbackFilter{Card: card}, []string{"S1-T1/4", "S2-T1/2"}},
			{hq.FeedbackFilter{From: "2026-11-24"}, []string{"S1-T1/5"}},
			{hq.FeedbackFilter{To: "2026-11-23", Store: "S1"}, []string{"S1-T1/4", "S1-T1/6"}},
		} {
			fs, err := s.Feedback(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, fmt.Sprintf("%s/%d", f.Terminal, f.Seq))
			}
			if !reflect.DeepEqual(got, tc.seqs) {
				t.Errorf("feedback %+v: %v, want %v", tc.f, got, tc.seqs)
			}
		}
		// The latest answer of each card, whichever terminal took it
		// (S1-T1's at seq 4 is later than S2-T1's at seq 2).
		last, err := s.LastFeedback(ctx, []string{card, card2, "2000000000039", ""})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]time.Time{card: f1[0].At, card2: late}; !reflect.DeepEqual(last, want) {
			t.Errorf("last feedback: %v, want %v", last, want)
		}
		if last, err := s.LastFeedback(ctx, nil); err != nil || len(last) != 0 {
			t.Errorf("last feedback of no cards: %v %v", last, err)
		}
		// Feedback changes no account: the card's is its sales'.
		a, err := s.Account(ctx, "", card)
		if err != nil {
			t.Fatal(err)
		}
		if a.Account.Sales != 2 || a.Account.LifetimeSpend != 400_00 || a.Account.Points != 4 {
			t.Errorf("account after feedback: %+v", a.Account)
		}

		// A score HQ cannot take stops the upload at its event.
		bad := Feedbacks("S2-T1", 3, f2[0].Hash, FeedbackSpec{Store: "S2", Card: card, Sale: 1, Score: 11})
		acked, err := s.Append(ctx, "S2-T1", bad)
		if !errors.Is(err, hq.ErrBrokenChain) || acked != 0 {
			t.Errorf("a score of 11: acked %d, %v", acked, err)
		}
		if fs, _ := s.Feedback(ctx, hq.FeedbackFilter{Terminal: "S2-T1"}); len(fs) != 1 {
			t.Errorf("a refused feedback was kept: %+v", fs)
		}
	})
	// An answer moves its card in the change feed: a terminal that has seen
	// the card learns of it (with HQ's last_feedback, hq.Server) without
	// scanning the card again. An answer without a card moves nothing.
	t.Run("FeedbackMovesTheCard", func(t *testing.T) {
		s := newStore(t)
		sales := Sales("S1-T1", 1, "", SaleSpec{card, 100_00, 1, 0}, SaleSpec{"", 10_00, 0, 0})
		if _, err := s.Append(ctx, "S1-T1", sales); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Account(ctx, "S2-T1", card); err != nil { // S2-T1 scans the card
			t.Fatal(err)
		}
		before, err := s.Changes(ctx, "S2-T1", "", 0, 100)
		if err != nil || len(before.Accounts) != 1 {
			t.Fatalf("S2-T1's feed after the sale: %+v %v", before, err)
		}
		noCard := Feedbacks("S1-T1", 3, sales[1].Hash, FeedbackSpec{Store: "S1", Sale: 2, Score: 5})
		if _, err := s.Append(ctx, "S1-T1", noCard); err != nil {
			t.Fatal(err)
		}
		if ch, err := s.Changes(ctx, "S2-T1", "", before.Next, 100); err != nil || len(ch.Accounts) != 0 {
			t.Errorf("S2-T1's feed after an answer without a card: %+v %v", ch, err)
		}
		fb := Feedbacks("S1-T1", 4, noCard[0].Hash, FeedbackSpec{Store: "S1", Card: card, Sale: 1, Score: 9, Asked: true})
		if _, err := s.Append(ctx, "S1-T1", fb); err != nil {
			t.Fatal(err)
		}
		ch, err := s.Changes(ctx, "S2-T1", "", before.Next, 100)
		if err != nil || len(ch.Accounts) != 1 || ch.Accounts[0].Card != card || ch.Next <= before.Next {
			t.Fatalf("S2-T1's feed after the answer: %+v %v", ch, err)
		}
		if a := ch.Accounts[0].Account; a.Sales != 1 || a.Points != 1 || a.LifetimeSpend != 100_00 {
			t.Errorf("the card's account moved by an answer changed: %+v", a)
		}
	})
}
