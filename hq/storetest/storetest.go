// Package storetest is the conformance suite every hq.Store passes, in the manner
// of fstest.TestFS: the embedded bbolt store and the PostgreSQL store run the same
// cases, so a chain can move between them without a change in behaviour.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Chain returns events from..to of a terminal's chain of sales, each with the given
// total, linked to prevHash (the hash of event from-1; "" when from is 1).
func Chain(terminal string, from, to uint64, prevHash string, total money.Amount) []event.Event {
	var out []event.Event
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for seq := from; seq <= to; seq++ {
		sale := pos.Sale{
			ID:   fmt.Sprintf("%s-sale-%d", terminal, seq),
			Card: "2000000000015",
			At:   at.Add(time.Duration(seq) * time.Second),
			Quote: pos.Quote{
				Currency: "RUB",
				Lines:    []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: 1, UnitPrice: total}, Amount: total, Total: total}},
				Subtotal: total, Total: total, RulesetVersion: 1,
			},
		}
		e := link(terminal, seq, event.TypeSale, sale.At, prevHash, sale)
		prevHash = e.Hash
		out = append(out, e)
	}
	return out
}

// link returns event seq of a terminal's chain, of type typ at at, with v as
// its body, chained to prevHash.
func link(terminal string, seq uint64, typ string, at time.Time, prevHash string, v any) event.Event {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	e := event.Event{Terminal: terminal, Seq: seq, ID: fmt.Sprintf("%s-%d", terminal, seq), Type: typ,
		At: at, RulesetVersion: 1, Prev: prevHash, Body: body}
	e.Hash = e.ComputeHash()
	return e
}

// Run runs the suite but for the audit's part (RunAudit, which every store
// runs too). open returns a new, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) hq.Store) {
	ctx := context.Background()
	newStore := func(t *testing.T) hq.Store {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		return s
	}
	report := func(t *testing.T, s hq.Store, terminal string) (count int64, maxSeq uint64, total int64) {
		t.Helper()
		rows, err := s.SalesReport(ctx)
		if err != nil {
			t.Fatalf("sales report: %v", err)
		}
		for _, r := range rows {
			if r.Terminal == terminal {
				return r.Count, r.MaxSeq, r.Total
			}
		}
		return 0, 0, 0
	}

	t.Run("AppendInOrder", func(t *testing.T) {
		s := newStore(t)
		evs := Chain("T1", 1, 10, "", 1000)
		acked, err := s.Append(ctx, "T1", evs[:4])
		if err != nil || acked != 4 {
			t.Fatalf("append 1..4 = %d, %v; want 4, nil", acked, err)
		}
		acked, err = s.Append(ctx, "T1", evs[4:])
		if err != nil || acked != 10 {
			t.Fatalf("append 5..10 = %d, %v; want 10, nil", acked, err)
		}
		if c, m, tot := report(t, s, "T1"); c != 10 || m != 10 || tot != 10000 {
			t.Fatalf("report = count %d max %d total %d; want 10 10 10000", c, m, tot)
		}
		if a, err := s.Acked(ctx, "T1"); err != nil || a != 10 {
			t.Fatalf("Acked = %d, %v; want 10", a, err)
		}
	})

	t.Run("DuplicatesHaveNoEffect", func(t *testing.T) {
		s := newStore(t)
		evs := Chain("T1", 1, 6, "", 250)
		for _, batch := range [][]event.Event{evs[:3], evs[:3], evs[1:5], evs, evs[5:]} {
			if _, err := s.Append(ctx, "T1", batch); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		if c, m, tot := report(t, s, "T1"); c != 6 || m != 6 || tot != 1500 {
			t.Fatalf("report = count %d max %d total %d; want 6 6 1500", c, m, tot)
		}
	})

	t.Run("GapIsNotStored", func(t *testing.T) {
		s := newStore(t)
		evs := Chain("T1", 1, 5, "", 100)
		acked, err := s.Append(ctx, "T1", []event.Event{evs[0], evs[1], evs[3], evs[4]})
		if err != nil || acked != 2 {
			t.Fatalf("append with gap = %d, %v; want 2, nil", acked, err)
		}
		acked, err = s.Append(ctx, "T1", evs[2:])
		if err != nil || acked != 5 {
			t.Fatalf("append rest = %d, %v; want 5, nil", acked, err)
		}
		if c, _, _ := report(t, s, "T1"); c != 5 {
			t.Fatalf("count = %d, want 5", c)
		}
	})

	t.Run("BrokenChainIsRefused", func(t *testing.T) {
		s := newStore(t)
		evs := Chain("T1", 1, 4, "", 100)
		tampered := append([]event.Event(nil), evs...)
		tampered[2].Body = json.RawMessage(`{"id":"forged","total":1}`)
		acked, err := s.Append(ctx, "T1", tampered)
		var ce *event.ChainError
		if !errors.Is(err, hq.ErrBrokenChain) || !errors.As(err, &ce) || ce.Seq != 3 {
			t.Fatalf("append tampered = %v; want ErrBrokenChain at seq 3", err)
		}
		if acked != 2 {
			t.Fatalf("acked = %d, want 2 (the events before the break are kept)", acked)
		}
		other := Chain("T1", 3, 3, "not-the-hash", 100)
		if _, err := s.Append(ctx, "T1", other); !errors.Is(err, hq.ErrBrokenChain) {
			t.Fatalf("append mislinked = %v; want ErrBrokenChain", err)
		}
		if acked, err := s.Append(ctx, "T1", evs[2:]); err != nil || acked != 4 {
			t.Fatalf("append genuine rest = %d, %v; want 4, nil", acked, err)
		}
	})

	t.Run("EventsOfAnotherTerminalAreRefused", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Append(ctx, "T1", Chain("T2", 1, 1, "", 100)); !errors.Is(err, hq.ErrBrokenChain) {
			t.Fatalf("append T2's event as T1 = %v; want ErrBrokenChain", err)
		}
		if c, _, _ := report(t, s, "T1"); c != 0 {
			t.Fatalf("T1 count = %d, want 0", c)
		}
	})

	t.Run("ConcurrentTerminals", func(t *testing.T) {
		s := newStore(t)
		const terminals, per = 8, 40
		var wg sync.WaitGroup
		errs := make(chan error, terminals*2)
		for i := range terminals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				term := fmt.Sprintf("C%d", i)
				evs := Chain(term, 1, per, "", money.Amount(i+1))
				for j := 0; j < per; j += 7 {
					end := min(j+10, per) // overlapping batches, like retries
					if _, err := s.Append(ctx, term, evs[j:end]); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent append: %v", err)
		}
		for i := range terminals {
			c, m, tot := report(t, s, fmt.Sprintf("C%d", i))
			if c != per || m != per || tot != int64(per*(i+1)) {
				t.Errorf("C%d: count %d max %d total %d; want %d %d %d", i, c, m, tot, per, per, per*(i+1))
			}
		}
	})

	t.Run("EnrollmentTokens", func(t *testing.T) {
		s := newStore(t)
		ts, ok := s.(hq.TokenStore)
		if !ok {
			t.Fatal("store does not keep enrollment tokens (hq.TokenStore)")
		}
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		for _, tok := range []hq.Token{
			{Hash: "a", Terminal: "T1", Store: "S1", Expires: now.Add(time.Hour)},
			{Hash: "old", Terminal: "T2", Store: "S1", Expires: now.Add(-time.Second)},
		} {
			if err := ts.AddToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ts.UseToken(ctx, "a", now)
		if err != nil || got.Terminal != "T1" || got.Store != "S1" {
			t.Fatalf("first use = %+v, %v", got, err)
		}
		for hash, want := range map[string]error{"a": hq.ErrTokenUsed, "old": hq.ErrTokenExpired, "nope": hq.ErrTokenUnknown} {
			if _, err := ts.UseToken(ctx, hash, now); !errors.Is(err, want) {
				t.Errorf("UseToken(%q) = %v; want %v", hash, err, want)
			}
		}
	})

	t.Run("Rulesets", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.CurrentRuleset(ctx); !errors.Is(err, hq.ErrNoRuleset) {
			t.Fatalf("current before publish = %v; want ErrNoRuleset", err)
		}
		r2 := hq.Ruleset{Version: 2, Hash: "h2", Raw: []byte("version = 2\n"), Signature: []byte{1, 2, 3}}
		if err := s.PublishRuleset(ctx, r2); err != nil {
			t.Fatalf("publish v2: %v", err)
		}
		for _, v := range []int64{1, 2} {
			if err := s.PublishRuleset(ctx, hq.Ruleset{Version: v, Hash: "x", Raw: []byte("x")}); !errors.Is(err, hq.ErrOldRuleset) {
				t.Fatalf("publish v%d after v2 = %v; want ErrOldRuleset", v, err)
			}
		}
		got, err := s.CurrentRuleset(ctx)
		if err != nil || got.Version != 2 || got.Hash != "h2" || string(got.Raw) != string(r2.Raw) || string(got.Signature) != string(r2.Signature) {
			t.Fatalf("current = %+v, %v; want v2", got, err)
		}
		if err := s.PublishRuleset(ctx, hq.Ruleset{Version: 3, Hash: "h3", Raw: []byte("version = 3\n")}); err != nil {
			t.Fatalf("publish v3: %v", err)
		}
		if got, _ := s.CurrentRuleset(ctx); got.Version != 3 {
			t.Fatalf("current version = %d, want 3", got.Version)
		}
	})
	runCustomers(t, newStore)
	runCardSearch(t, newStore)
	runChains(t, newStore)
	runRefunds(t, newStore)
	runFeedback(t, newStore)
	runLots(t, newStore)
	runReturns(t, newStore)
	runReturnExcess(t, newStore)
}
