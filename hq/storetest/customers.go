package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// SaleSpec is one sale of a chain built by Sales.
type SaleSpec struct {
	Card             string
	Total            money.Amount
	Earned, Redeemed int64
}

// Epoch is the time of the first event Sales builds; each next one is a
// second later.
var Epoch = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Sales returns the events from seq from on of a terminal's chain, one per
// spec, linked to prevHash (the hash of event from-1; "" when from is 1).
func Sales(terminal string, from uint64, prevHash string, specs ...SaleSpec) []event.Event {
	var out []event.Event
	for i, sp := range specs {
		seq := from + uint64(i)
		sale := pos.Sale{
			ID: fmt.Sprintf("%s-sale-%d", terminal, seq), Card: sp.Card, At: Epoch.Add(time.Duration(seq) * time.Second),
			Quote: pos.Quote{
				Currency: "RUB",
				Lines:    []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: 1, UnitPrice: sp.Total}, Amount: sp.Total, Total: sp.Total}},
				Subtotal: sp.Total, Total: sp.Total, PointsEarned: sp.Earned, PointsRedeemed: sp.Redeemed, RulesetVersion: 1,
			},
		}
		e := link(terminal, seq, event.TypeSale, sale.At, prevHash, sale)
		prevHash = e.Hash
		out = append(out, e)
	}
	return out
}

func runCustomers(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	const (
		cardA = "2000000000015"
		cardB = "2000000000022"
		cardC = "2000000000039"
	)
	account := func(t *testing.T, s hq.Store, terminal, card string) (pos.Account, uint64) {
		t.Helper()
		a, err := s.Account(ctx, terminal, card)
		if err != nil {
			t.Fatalf("Account(%s, %s): %v", terminal, card, err)
		}
		if a.Card != card {
			t.Fatalf("Account(%s).Card = %q", card, a.Card)
		}
		return a.Account, a.AsOf
	}
	appendAll := func(t *testing.T, s hq.Store, terminal string, evs []event.Event) {
		t.Helper()
		if _, err := s.Append(ctx, terminal, evs); err != nil {
			t.Fatalf("Append %s: %v", terminal, err)
		}
	}

	t.Run("AccountsAcrossTerminals", func(t *testing.T) {
		s := newStore(t)
		t1 := Sales("S1-T1", 1, "", SaleSpec{cardA, 1000_00, 10, 0}, SaleSpec{"", 50_00, 0, 0}, SaleSpec{cardB, 200_00, 2, 0})
		t2 := Sales("S2-T1", 1, "", SaleSpec{cardA, 3000_00, 30, 5})
		appendAll(t, s, "S1-T1", t1)
		appendAll(t, s, "S2-T1", t2)
		appendAll(t, s, "S1-T1", t1) // again: exactly once
		a, asOf := account(t, s, "S2-T1", cardA)
		if a.LifetimeSpend != 4000_00 || a.Points != 35 || a.Sales != 2 || !a.LastSale.Equal(t2[0].At) || a.Profile != nil {
			t.Errorf("account A = %+v", a)
		}
		if asOf != 1 {
			t.Errorf("as of %d for S2-T1, want its acked seq 1", asOf)
		}
		if _, asOf := account(t, s, "S1-T1", cardA); asOf != 3 {
			t.Errorf("as of %d for S1-T1, want 3", asOf)
		}
		if a, _ := account(t, s, "", cardC); a.Sales != 0 || a.LifetimeSpend != 0 {
			t.Errorf("an unknown card: %+v", a)
		}
		// More sales of one terminal add to the same account.
		more := Sales("S2-T1", 2, t2[0].Hash, SaleSpec{cardA, 1_00, 1, 0})
		appendAll(t, s, "S2-T1", more)
		if a, _ := account(t, s, "", cardA); a.LifetimeSpend != 4001_00 || a.Points != 36 || a.Sales != 3 {
			t.Errorf("account A after more = %+v", a)
		}
	})

	t.Run("OverdraftFromOfflineRedemptions", func(t *testing.T) {
		s := newStore(t)
		t1 := Sales("S1-T1", 1, "", SaleSpec{cardA, 500_00, 500, 0})
		appendAll(t, s, "S1-T1", t1)
		// Two tills offline each let the card redeem 400 of its 500 points.
		t2 := Sales("S2-T1", 1, "", SaleSpec{cardA, 100_00, 0, 400})
		t3 := Sales("S3-T1", 1, "", SaleSpec{cardA, 100_00, 0, 400})
		appendAll(t, s, "S2-T1", t2)
		appendAll(t, s, "S3-T1", t3)
		a, err := s.Account(ctx, "", cardA)
		if err != nil || a.Account.Points != -300 || a.Overdraft != 300 {
			t.Fatalf("after the double redemption: %+v %v; want -300 points and an overdraft of 300", a, err)
		}
		od, err := s.Overdrafts(ctx)
		if err != nil || len(od) != 1 || od[0].Card != cardA || od[0].Owed != 300 || od[0].Recorded != 300 || !od[0].First.Equal(t3[0].At) {
			t.Fatalf("Overdrafts = %+v %v", od, err)
		}
		// Later earnings pay it back.
		appendAll(t, s, "S1-T1", Sales("S1-T1", 2, t1[0].Hash, SaleSpec{cardA, 1000_00, 200, 0}))
		a, _ = s.Account(ctx, "", cardA)
		od, _ = s.Overdrafts(ctx)
		if a.Account.Points != -100 || a.Overdraft != 100 || len(od) != 1 || od[0].Owed != 100 || od[0].Recorded != 300 {
			t.Errorf("after earning 200: %+v, %+v", a, od)
		}
		appendAll(t, s, "S2-T1", Sales("S2-T1", 2, t2[0].Hash, SaleSpec{cardA, 1000_00, 150, 0}))
		a, _ = s.Account(ctx, "", cardA)
		od, _ = s.Overdrafts(ctx)
		if a.Account.Points != 50 || a.Overdraft != 0 || len(od) != 1 || od[0].Owed != 0 || od[0].Recorded != 300 {
			t.Errorf("after earning 150 more: %+v, %+v", a, od)
		}
	})

	t.Run("Holders", func(t *testing.T) {
		s := newStore(t)
		h := pos.CardHolder{Card: cardA, Name: "Василий", Patronymic: "Петрович", Birthday: "1978-03-05",
			Phone: "+7 900 123-45-67", Consent: true, Registered: Epoch, Terminal: "S1-T1", Updated: Epoch}
		if n, err := s.PutHolders(ctx, "S1-T1", []pos.CardHolder{h}); err != nil || n != 1 {
			t.Fatalf("PutHolders = %d %v", n, err)
		}
		got, ok, err := s.Holder(ctx, cardA)
		if !ok || err != nil || !sameHolder(got, h) {
			t.Fatalf("Holder = %+v %v %v, want %+v", got, ok, err, h)
		}
		// An older version does not replace it; a newer one does.
		old := h
		old.Name, old.Updated = "Вася", Epoch.Add(-time.Hour)
		newer := h
		newer.Phone, newer.Updated = "+7 900 000-00-00", Epoch.Add(time.Hour)
		if n, err := s.PutHolders(ctx, "S2-T1", []pos.CardHolder{old}); err != nil || n != 0 {
			t.Errorf("older PutHolders = %d %v", n, err)
		}
		if n, err := s.PutHolders(ctx, "", []pos.CardHolder{newer}); err != nil || n != 1 {
			t.Errorf("newer PutHolders = %d %v", n, err)
		}
		if got, _, _ := s.Holder(ctx, cardA); !sameHolder(got, newer) {
			t.Errorf("Holder = %+v, want the newer one", got)
		}
		if a, err := s.Account(ctx, "S3-T1", cardA); err != nil || a.Holder == nil || a.Holder.Phone != newer.Phone || a.Forgotten {
			t.Errorf("Account carries holder %+v (%v)", a.Holder, err)
		}
		if _, ok, _ := s.Holder(ctx, cardB); ok {
			t.Error("a holder for a card nobody registered")
		}

		// Forgetting erases it; a till's stale copy is refused, a new sign-up is not.
		forgetAt := Epoch.Add(2 * time.Hour)
		if ok, err := s.ForgetHolder(ctx, cardA, forgetAt); !ok || err != nil {
			t.Fatalf("ForgetHolder = %v %v", ok, err)
		}
		if ok, err := s.ForgetHolder(ctx, cardA, forgetAt); ok || err != nil {
			t.Errorf("ForgetHolder again = %v %v", ok, err)
		}
		if _, ok, _ := s.Holder(ctx, cardA); ok {
			t.Error("the holder is still there")
		}
		a, err := s.Account(ctx, "", cardA)
		if err != nil || a.Holder != nil || !a.Forgotten {
			t.Errorf("Account after forgetting = %+v %v", a, err)
		}
		before, _ := s.Changes(ctx, "S4-T1", "", 0, 100)
		if n, _ := s.PutHolders(ctx, "S4-T1", []pos.CardHolder{newer}); n != 0 {
			t.Error("a stale copy came back after the forget")
		}
		// The till that sent it learns through its feed that the holder is forgotten.
		if ch, err := s.Changes(ctx, "S4-T1", "", before.Next, 100); err != nil || len(ch.Accounts) != 1 || !ch.Accounts[0].Forgotten || ch.Accounts[0].Holder != nil {
			t.Errorf("the feed of the till with a stale copy = %+v %v", ch, err)
		}
		again := newer
		again.Updated = forgetAt.Add(time.Minute)
		if n, _ := s.PutHolders(ctx, "S2-T1", []pos.CardHolder{again}); n != 1 {
			t.Error("a new sign-up after the forget was refused")
		}
		if a, _ := s.Account(ctx, "", cardA); a.Holder == nil || a.Forgotten {
			t.Errorf("after signing up again: %+v", a)
		}
	})

	// A holder dated at the zero time is the oldest version there is (HQ
	// dates so a terminal's holder dated ahead of its clock): it is kept
	// only when the store has nothing of the card, never replaces a holder
	// nor undoes a forget, and any dated version replaces it.
	t.Run("OldestHolder", func(t *testing.T) {
		s := newStore(t)
		h := pos.CardHolder{Card: cardA, Name: "Анна", Phone: "+7 900 000-00-01", Updated: Epoch}
		undated := pos.CardHolder{Card: cardA, Name: "Аня", Phone: "+7 900 000-00-02"}
		if n, err := s.PutHolders(ctx, "S1-T1", []pos.CardHolder{h}); n != 1 || err != nil {
			t.Fatalf("PutHolders = %d %v", n, err)
		}
		if n, err := s.PutHolders(ctx, "S2-T1", []pos.CardHolder{undated}); n != 0 || err != nil {
			t.Errorf("an undated copy over a holder: PutHolders = %d %v, want it refused", n, err)
		}
		if got, _, _ := s.Holder(ctx, cardA); !sameHolder(got, h) {
			t.Errorf("Holder = %+v, want the dated one", got)
		}
		if _, err := s.ForgetHolder(ctx, cardA, Epoch.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PutHolders(ctx, "S2-T1", []pos.CardHolder{undated}); n != 0 || err != nil {
			t.Errorf("an undated copy after a forget: PutHolders = %d %v, want it refused", n, err)
		}
		if a, err := s.Account(ctx, "", cardA); err != nil || a.Holder != nil || !a.Forgotten {
			t.Errorf("after the forget and an undated copy: %+v %v; want the card forgotten", a, err)
		}
		// A card the store has nothing of keeps it, until a dated version.
		undatedB := pos.CardHolder{Card: cardB, Name: "Борис", Phone: "+7 900 000-00-03"}
		if n, err := s.PutHolders(ctx, "S2-T1", []pos.CardHolder{undatedB}); n != 1 || err != nil {
			t.Errorf("an undated holder of a new card: PutHolders = %d %v, want it stored", n, err)
		}
		datedB := undatedB
		datedB.Name, datedB.Updated = "Боря", Epoch.Add(-24*time.Hour)
		if n, err := s.PutHolders(ctx, "", []pos.CardHolder{datedB}); n != 1 || err != nil {
			t.Errorf("a dated version over an undated one: PutHolders = %d %v, want it stored", n, err)
		}
		if got, _, _ := s.Holder(ctx, cardB); got.Name != "Боря" {
			t.Errorf("Holder = %+v, want the dated version", got)
		}
	})

	// Of two forgets of a card the later wins, whatever their order: a
	// copy from before the later one stays refused.
	t.Run("LaterForgetWins", func(t *testing.T) {
		s := newStore(t)
		h := pos.CardHolder{Card: cardA, Name: "Анна", Phone: "+7 900 000-00-01", Updated: Epoch}
		if _, err := s.PutHolders(ctx, "", []pos.CardHolder{h}); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{Epoch.Add(2 * time.Hour), Epoch.Add(time.Hour)} {
			if _, err := s.ForgetHolder(ctx, cardA, at); err != nil {
				t.Fatal(err)
			}
		}
		between := h
		between.Updated = Epoch.Add(90 * time.Minute)
		if n, err := s.PutHolders(ctx, "S1-T1", []pos.CardHolder{between}); n != 0 || err != nil {
			t.Errorf("a copy from between the two forgets: PutHolders = %d %v, want it refused", n, err)
		}
		after := h
		after.Updated = Epoch.Add(3 * time.Hour)
		if n, err := s.PutHolders(ctx, "S1-T1", []pos.CardHolder{after}); n != 1 || err != nil {
			t.Errorf("a sign-up after both forgets: PutHolders = %d %v, want it stored", n, err)
		}
	})

	// A terminal that looks up a card the store has no record of yet
	// follows it: the card's first changes (a sale elsewhere, a holder)
	// reach the terminal through its feed (docs/sync.md; HQ bounds the
	// number looked up, hq.Server).
	t.Run("UnknownCardLookUp", func(t *testing.T) {
		s := newStore(t)
		const card = "9000000000000"
		a, err := s.Account(ctx, "S1-T1", card)
		if err != nil || a.Holder != nil || a.Forgotten || a.Account.Sales != 0 || a.Change != 0 {
			t.Fatalf("Account of an unknown card = %+v %v; want an empty answer", a, err)
		}
		appendAll(t, s, "S2-T1", Sales("S2-T1", 1, "", SaleSpec{card, 10_00, 1, 0}))
		if w, _, err := s.Watching(ctx, 0, []string{"S1-T1"}); err != nil || !reflect.DeepEqual(w, []string{"S1-T1"}) {
			t.Errorf("Watching after a sale to a card S1-T1 looked up unknown = %v %v; want S1-T1", w, err)
		}
		if ch, err := s.Changes(ctx, "S1-T1", "", 0, 100); err != nil || len(ch.Accounts) != 1 || ch.Accounts[0].Account.Sales != 1 {
			t.Errorf("S1-T1's feed = %+v %v; want the card's sale", ch, err)
		}
	})

	t.Run("ChangeFeed", func(t *testing.T) {
		s := newStore(t)
		feed := func(t *testing.T, terminal string, after int64) ([]string, int64) {
			t.Helper()
			ch, err := s.Changes(ctx, terminal, "", after, 100)
			if err != nil {
				t.Fatalf("Changes(%s, %d): %v", terminal, after, err)
			}
			var cards []string
			for _, a := range ch.Accounts {
				cards = append(cards, a.Card)
				if a.Change <= after || a.Change > ch.Next {
					t.Errorf("change %d of %s outside (%d, %d]", a.Change, a.Card, after, ch.Next)
				}
			}
			return cards, ch.Next
		}
		// S1-T1 sells to A and B, so it has seen them; S2-T1 looks A up.
		t1 := Sales("S1-T1", 1, "", SaleSpec{cardA, 100_00, 1, 0}, SaleSpec{cardB, 100_00, 1, 0})
		appendAll(t, s, "S1-T1", t1)
		if _, err := s.Account(ctx, "S2-T1", cardA); err != nil {
			t.Fatal(err)
		}
		if cards, _ := feed(t, "S9-T9", 0); len(cards) != 0 {
			t.Errorf("a terminal that saw nothing gets %v", cards)
		}
		cards, next1 := feed(t, "S1-T1", 0)
		if !reflect.DeepEqual(cards, []string{cardA, cardB}) {
			t.Errorf("S1-T1's feed = %v", cards)
		}
		_, next2 := feed(t, "S2-T1", 0)
		// Watching: which waiting terminals have something in their feed.
		all := []string{"S1-T1", "S2-T1", "S9-T9"}
		w, last, err := s.Watching(ctx, 0, all)
		if slices.Sort(w); err != nil || !reflect.DeepEqual(w, []string{"S1-T1", "S2-T1"}) || last != max(next1, next2) {
			t.Errorf("Watching(0) = %v %d %v, want S1-T1 and S2-T1 up to %d", w, last, err, max(next1, next2))
		}
		if _, l, err := s.Watching(ctx, 0, nil); err != nil || l != last {
			t.Errorf("Watching for no terminal = %d %v, want the last position %d", l, err, last)
		}
		if w, l, err := s.Watching(ctx, last, all); err != nil || len(w) != 0 || l != last {
			t.Errorf("Watching with nothing new = %v %d %v, want none and %d", w, l, err, last)
		}
		// S2-T1 sells to A: both get A's new account; only S1-T1 has seen B.
		appendAll(t, s, "S2-T1", Sales("S2-T1", 1, "", SaleSpec{cardA, 50_00, 0, 0}))
		if w, l, err := s.Watching(ctx, last, []string{"S2-T1", "S9-T9"}); err != nil || !reflect.DeepEqual(w, []string{"S2-T1"}) || l <= last {
			t.Errorf("Watching after a sale to A = %v %d %v, want S2-T1 and a later position than %d", w, l, err, last)
		}
		cards, n := feed(t, "S1-T1", next1)
		if !reflect.DeepEqual(cards, []string{cardA}) || n <= next1 {
			t.Errorf("S1-T1 after S2-T1's sale: %v next %d (was %d)", cards, n, next1)
		}
		ch, _ := s.Changes(ctx, "S1-T1", "", next1, 100)
		if len(ch.Accounts) != 1 || ch.Accounts[0].Account.LifetimeSpend != 150_00 || ch.Accounts[0].AsOf != 2 {
			t.Errorf("S1-T1's change = %+v", ch.Accounts)
		}
		if cards, _ := feed(t, "S2-T1", next2); !reflect.DeepEqual(cards, []string{cardA}) {
			t.Errorf("S2-T1's feed = %v", cards)
		}
		// A holder registered at S2-T1 and then forgotten reaches S1-T1 as a change.
		_, n = feed(t, "S1-T1", 0)
		if _, err := s.PutHolders(ctx, "S2-T1", []pos.CardHolder{{Card: cardB, Name: "Мария", Phone: "+7 911 1234567", Updated: Epoch}}); err != nil {
			t.Fatal(err)
		}
		ch, _ = s.Changes(ctx, "S1-T1", "", n, 100)
		if len(ch.Accounts) != 1 || ch.Accounts[0].Card != cardB || ch.Accounts[0].Holder == nil {
			t.Errorf("after a holder: %+v", ch.Accounts)
		}
		if _, err := s.ForgetHolder(ctx, cardB, Epoch.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		ch, _ = s.Changes(ctx, "S1-T1", "", ch.Next, 100)
		if len(ch.Accounts) != 1 || ch.Accounts[0].Card != cardB || ch.Accounts[0].Holder != nil || !ch.Accounts[0].Forgotten {
			t.Errorf("after the forget: %+v", ch.Accounts)
		}
		// Nothing new: Next stays.
		if ch2, err := s.Changes(ctx, "S1-T1", "", ch.Next, 100); err != nil || len(ch2.Accounts) != 0 || ch2.Next != ch.Next {
			t.Errorf("an empty feed = %+v %v", ch2, err)
		}
		// A card S1-T1 has not seen changes (S3-T1 sells to it): S1-T1's
		// position moves past the change, so that its next poll does not
		// read the chain's changes since its last one of its own again.
		const cardC = "2000000000039"
		appendAll(t, s, "S3-T1", Sales("S3-T1", 1, "", SaleSpec{cardC, 10_00, 1, 0}))
		_, head, err := s.Watching(ctx, ch.Next, nil)
		if err != nil || head <= ch.Next {
			t.Fatalf("Watching after a sale to C = %d, %v", head, err)
		}
		if ch3, err := s.Changes(ctx, "S1-T1", "", ch.Next, 100); err != nil || len(ch3.Accounts) != 0 || ch3.Next != head {
			t.Errorf("after a change of a card S1-T1 has not seen: %+v %v; want no account and the position %d", ch3, err, head)
		}
		// A page limit is honoured and continues where it stopped.
		if ch, _ := s.Changes(ctx, "S1-T1", "", 0, 1); len(ch.Accounts) != 1 {
			t.Errorf("limit 1 gave %d", len(ch.Accounts))
		} else if rest, _ := s.Changes(ctx, "S1-T1", "", ch.Next, 100); len(rest.Accounts) == 0 || rest.Accounts[0].Change <= ch.Next {
			t.Errorf("the next page = %+v", rest)
		}
	})

	// A terminal keeps its position with the feed's identity across a
	// restart; a position of another feed (another HQ's store, or this one
	// restored from a backup) or past the head is read from the start.
	t.Run("FeedIdentity", func(t *testing.T) {
		s, other := newStore(t), newStore(t)
		t1 := Sales("S1-T1", 1, "", SaleSpec{cardA, 100_00, 1, 0}, SaleSpec{cardB, 100_00, 1, 0})
		appendAll(t, s, "S1-T1", t1)
		appendAll(t, other, "S1-T1", Sales("S1-T1", 1, "", SaleSpec{cardC, 100_00, 1, 0}))
		changes := func(s hq.Store, feed string, after int64) wire.ChangesAnswer {
			t.Helper()
			ch, err := s.Changes(ctx, "S1-T1", feed, after, 100)
			if err != nil {
				t.Fatalf("Changes(%q, %d): %v", feed, after, err)
			}
			return ch
		}
		cardsOf := func(ch wire.ChangesAnswer) (cards []string) {
			for _, a := range ch.Accounts {
				cards = append(cards, a.Card)
			}
			return cards
		}
		all := changes(s, "", 0)
		id := all.Feed
		if id == "" || len(id) > wire.MaxFeedID || !reflect.DeepEqual(cardsOf(all), []string{cardA, cardB}) {
			t.Fatalf("from the start: feed %q (at most %d bytes), cards %v", id, wire.MaxFeedID, cardsOf(all))
		}
		if o := changes(other, "", 0).Feed; o == "" || o == id {
			t.Errorf("two stores' feeds are %q and %q: want two identities", id, o)
		}
		if again := changes(s, id, all.Next); again.Feed != id || len(again.Accounts) != 0 || again.Next != all.Next {
			t.Errorf("from its own position in its feed: %+v; want nothing new at %d", again, all.Next)
		}
		first := changes(s, "", 0)
		if ch := changes(s, id, first.Accounts[0].Change); !reflect.DeepEqual(cardsOf(ch), []string{cardB}) {
			t.Errorf("from after A's change: %v; want B", cardsOf(ch))
		}
		for _, c := range []struct {
			name  string
			feed  string
			after int64
		}{
			{"another feed's position", "not-this-feed", all.Next},
			{"a position past the head", id, all.Next + 1000},
			{"a position past the head, no feed named", "", all.Next + 1000},
		} {
			ch := changes(s, c.feed, c.after)
			if !reflect.DeepEqual(cardsOf(ch), []string{cardA, cardB}) || ch.Feed != id || ch.Next != all.Next {
				t.Errorf("%s: %v next %d feed %q; want every card again, next %d in feed %q", c.name, cardsOf(ch), ch.Next, ch.Feed, all.Next, id)
			}
		}
		// A store restored from a backup is given a new identity by hand
		// (tillhq feed renew): every position of the old one reads from
		// the start.
		renewed, err := s.RenewFeed(ctx)
		if err != nil || renewed == id || renewed == "" {
			t.Fatalf("RenewFeed = %q, %v; want a new identity (was %q)", renewed, err, id)
		}
		if ch := changes(s, id, all.Next); ch.Feed != renewed || !reflect.DeepEqual(cardsOf(ch), []string{cardA, cardB}) {
			t.Errorf("a position of the identity before RenewFeed: %v feed %q; want every card again in feed %q", cardsOf(ch), ch.Feed, renewed)
		}
		id = renewed
		// A sale after a read from the start follows from its Next.
		appendAll(t, s, "S1-T1", Sales("S1-T1", 3, t1[1].Hash, SaleSpec{cardB, 10_00, 0, 0}))
		if ch := changes(s, id, all.Next); !reflect.DeepEqual(cardsOf(ch), []string{cardB}) || ch.Next <= all.Next {
			t.Errorf("after another sale to B: %v next %d", cardsOf(ch), ch.Next)
		}
	})

	// Many terminals selling to the same cards at once: no sale is lost from
	// the accounts, and the feed positions are unique.
	runBirthdayBonus(t, newStore)

	t.Run("ConcurrentAccounts", func(t *testing.T) {
		s := newStore(t)
		const terminals, sales = 8, 20
		var wg sync.WaitGroup
		for i := range terminals {
			wg.Go(func() {
				term := fmt.Sprintf("S%d-T1", i)
				prev := ""
				for seq := uint64(1); seq <= sales; seq++ {
					evs := Sales(term, seq, prev, SaleSpec{[]string{cardA, cardB}[seq%2], 1_00, 1, 0})
					if _, err := s.Append(ctx, term, evs); err != nil {
						t.Errorf("append %s %d: %v", term, seq, err)
						return
					}
					prev = evs[0].Hash
				}
			})
		}
		wg.Wait()
		for _, card := range []string{cardA, cardB} {
			a, err := s.Account(ctx, "", card)
			if err != nil || a.Account.Sales != terminals*sales/2 || a.Account.Points != terminals*sales/2 {
				t.Errorf("%s: %+v %v", card, a.Account, err)
			}
		}
	})
}

// sameHolder compares holders, times by instant.
func sameHolder(a, b pos.CardHolder) bool {
	ta, tb := [2]time.Time{a.Registered, a.Updated}, [2]time.Time{b.Registered, b.Updated}
	a.Registered, a.Updated, b.Registered, b.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta[0].Equal(tb[0]) && ta[1].Equal(tb[1])
}
