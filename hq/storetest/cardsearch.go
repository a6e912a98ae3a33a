package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// runCardSearch: holders found by the end of their phone's digits however
// the number was written, forgotten ones no more; a card's sales and
// refunds from every terminal, newest first, once each, bounded.
func runCardSearch(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const (
		cardA = "2000000000015"
		cardB = "2000000000022"
		cardC = "2000000000039"
	)
	cards := func(hs []pos.CardHolder) []string {
		out := []string{}
		for _, h := range hs {
			out = append(out, h.Card)
		}
		return out
	}

	t.Run("HoldersByPhone", func(t *testing.T) {
		s := newStore(t)
		hs := []pos.CardHolder{
			{Card: cardB, Name: "Мария", Phone: "8 (900) 765-45-67", Registered: Epoch, Updated: Epoch},
			{Card: cardA, Name: "Василий", Phone: "+7 900 123-45-67", Registered: Epoch, Updated: Epoch},
			{Card: cardC, Name: "Анна", Email: "anna@example.ru", Registered: Epoch, Updated: Epoch},
		}
		if _, err := s.PutHolders(ctx, "", hs); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			digits string
			limit  int
			want   []string
		}{
			{"4567", 10, []string{cardA, cardB}},
			{"4567", 1, []string{cardA}},
			{"1234567", 10, []string{cardA}},
			{"9001234567", 10, []string{cardA}},
			{"79001234567", 10, []string{cardA}},
			{"89001234567", 10, []string{}}, // the end of the number, not any part of it
			{"1234", 10, []string{}},
			{"99999", 10, []string{}},
		} {
			got, err := s.HoldersByPhone(ctx, c.digits, c.limit)
			if err != nil {
				t.Fatalf("HoldersByPhone(%s): %v", c.digits, err)
			}
			if g := cards(got); len(g) != len(c.want) || (len(g) > 0 && g[0] != c.want[0]) || (len(g) > 1 && g[1] != c.want[1]) {
				t.Errorf("HoldersByPhone(%s, %d) = %v, want %v", c.digits, c.limit, g, c.want)
			}
		}
		got, _ := s.HoldersByPhone(ctx, "1234567", 10)
		if len(got) != 1 || got[0].Name != "Василий" || got[0].Phone != "+7 900 123-45-67" {
			t.Errorf("the holder found = %+v, want Василий with his phone as written", got)
		}
		if _, err := s.ForgetHolder(ctx, cardA, Epoch.Add(1)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.HoldersByPhone(ctx, "4567", 10); err != nil || len(got) != 1 || got[0].Card != cardB {
			t.Errorf("after forgetting %s: HoldersByPhone = %v %v, want only %s", cardA, cards(got), err, cardB)
		}
	})

	t.Run("CardEvents", func(t *testing.T) {
		s := newStore(t)
		t1 := Sales("S1-T1", 1, "", SaleSpec{cardA, 1000_00, 10, 0}, SaleSpec{"", 50_00, 0, 0}, SaleSpec{cardB, 200_00, 2, 0})
		t1 = append(t1, Refunds("S1-T1", 4, t1[2].Hash, RefundSpec{Card: cardA, Sale: 1, Spend: 1000_00, Reversed: 10})...)
		t2 := Sales("S2-T1", 1, "", SaleSpec{cardA, 3000_00, 30, 5}) // the same second as S1-T1's first
		for _, up := range []struct {
			terminal string
			evs      []event.Event
		}{{"S1-T1", t1}, {"S2-T1", t2}, {"S1-T1", t1}} { // the second S1-T1: exactly once
			if _, err := s.Append(ctx, up.terminal, up.evs); err != nil {
				t.Fatalf("Append %s: %v", up.terminal, err)
			}
		}
		want := []event.Event{t1[3], t2[0], t1[0]}
		got, err := s.CardEvents(ctx, cardA, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("CardEvents(%s) = %d events, want %d", cardA, len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.Terminal != w.Terminal || g.Seq != w.Seq || g.Type != w.Type || g.Hash != w.Hash || !g.At.Equal(w.At) || !bytes.Equal(g.Body, w.Body) || g.Epoch != "" {
				t.Errorf("CardEvents(%s)[%d] = %s/%d %s at %s, want %s/%d %s at %s", cardA, i, g.Terminal, g.Seq, g.Type, g.At, w.Terminal, w.Seq, w.Type, w.At)
			}
		}
		if got, err := s.CardEvents(ctx, cardA, 2); err != nil || len(got) != 2 || got[0].Hash != t1[3].Hash || got[1].Hash != t2[0].Hash {
			t.Errorf("CardEvents limit 2 = %d events %v, want the newest two", len(got), err)
		}
		if got, err := s.CardEvents(ctx, cardB, 100); err != nil || len(got) != 1 || got[0].Hash != t1[2].Hash {
			t.Errorf("CardEvents(%s) = %d events %v, want its one sale", cardB, len(got), err)
		}
		if got, err := s.CardEvents(ctx, cardC, 100); err != nil || len(got) != 0 {
			t.Errorf("CardEvents of a card without sales = %d events %v", len(got), err)
		}
		// A card that is a prefix of another is not that one.
		if got, err := s.CardEvents(ctx, cardA[:5], 100); err != nil || len(got) != 0 {
			t.Errorf("CardEvents(%s) = %d events %v, want none", cardA[:5], len(got), err)
		}
	})
}
