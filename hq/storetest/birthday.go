package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// withBirthdayBonus gives the sales of evs at the indexes of bonus (their
// values, points) a birthday bonus in their bodies, and links the chain again.
func withBirthdayBonus(evs []event.Event, bonus map[int]int64) []event.Event {
	out := make([]event.Event, len(evs))
	prev := ""
	if len(evs) > 0 {
		prev = evs[0].Prev
	}
	for i, e := range evs {
		if pts, ok := bonus[i]; ok {
			var s pos.Sale
			if err := json.Unmarshal(e.Body, &s); err != nil {
				panic(err)
			}
			s.BirthdayBonus, s.PointsEarned = pts, s.PointsEarned+pts
			body, err := json.Marshal(s)
			if err != nil {
				panic(err)
			}
			e.Body = body
		}
		e.Prev = prev
		e.Hash = e.ComputeHash()
		prev = e.Hash
		out[i] = e
	}
	return out
}

// runBirthdayBonus: a card's account across stores carries the time of the
// latest sale that paid its birthday bonus, whichever terminal made it and
// in whichever order the uploads arrive, so that another store's till pays
// the bonus once per birthday too.
func runBirthdayBonus(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const card, other = "2000000000015", "2000000000022"
	t.Run("BirthdayBonusAcrossTerminals", func(t *testing.T) {
		s := newStore(t)
		bonusAt := func(card string) time.Time {
			t.Helper()
			a, err := s.Account(ctx, "", card)
			if err != nil {
				t.Fatal(err)
			}
			return a.Account.BirthdayBonus
		}
		// S1-T1: seqs 1-3, the bonus paid by seq 2. S2-T1: seq 1 with the
		// bonus (earlier in time: its seq is lower), then seq 2 without.
		t1 := withBirthdayBonus(Sales("S1-T1", 1, "", SaleSpec{card, 1_00, 0, 0}, SaleSpec{card, 1_00, 0, 0}, SaleSpec{card, 500_00, 5, 0}),
			map[int]int64{1: 200})
		t2 := withBirthdayBonus(Sales("S2-T1", 1, "", SaleSpec{card, 10_00, 0, 0}, SaleSpec{other, 10_00, 0, 0}), map[int]int64{0: 200})
		if _, err := s.Append(ctx, "S1-T1", t1); err != nil {
			t.Fatal(err)
		}
		if got := bonusAt(card); !got.Equal(t1[1].At) {
			t.Errorf("after S1-T1's sales: birthday bonus at %s, want %s (its seq 2)", got, t1[1].At)
		}
		if a, _ := s.Account(ctx, "", card); a.Account.Points != 205 || a.Account.Sales != 3 {
			t.Errorf("account %+v: want the bonus's 200 points and 5 more", a.Account)
		}
		// An earlier bonus arriving later does not move it back; again, nothing changes.
		for range 2 {
			if _, err := s.Append(ctx, "S2-T1", t2); err != nil {
				t.Fatal(err)
			}
		}
		if got := bonusAt(card); !got.Equal(t1[1].At) {
			t.Errorf("after S2-T1's earlier bonus: %s, want %s", got, t1[1].At)
		}
		if got := bonusAt(other); !got.IsZero() {
			t.Errorf("a card that never had the bonus: %s", got)
		}
		// A later bonus (next year's birthday) moves it on, and the feed
		// brings it to the terminals that know the card.
		later := withBirthdayBonus(Sales("S2-T1", 3, t2[1].Hash, SaleSpec{card, 1_00, 0, 0}), map[int]int64{0: 150})
		if _, err := s.Append(ctx, "S2-T1", later); err != nil {
			t.Fatal(err)
		}
		if got := bonusAt(card); !got.Equal(later[0].At) {
			t.Errorf("after a later bonus: %s, want %s", got, later[0].At)
		}
		ch, err := s.Changes(ctx, "S1-T1", "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range ch.Accounts {
			found = found || a.Card == card && a.Account.BirthdayBonus.Equal(later[0].At)
		}
		if !found {
			t.Errorf("S1-T1's change feed does not carry the card's latest bonus: %+v", ch.Accounts)
		}
	})
}
