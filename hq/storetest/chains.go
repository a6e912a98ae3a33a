package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// runChains holds every store to the same answers on a terminal's recovery
// paths: an upload is compared with what the store holds by hash, a different
// event under a held seq is a fork (never an ack), and a terminal that forks or
// starts empty continues in an epoch of its own, kept beside the first.
func runChains(t *testing.T, newStore func(t *testing.T) hq.Store) {
	ctx := context.Background()
	total := func(evs []event.Event) (n int64) {
		for _, e := range evs {
			var f struct {
				Total int64 `json:"total"`
			}
			if err := json.Unmarshal(e.Body, &f); err != nil {
				t.Fatal(err)
			}
			n += f.Total
		}
		return n
	}
	line := func(t *testing.T, s hq.Store, terminal string) wire.TerminalSales {
		t.Helper()
		rows, err := s.SalesReport(ctx)
		if err != nil {
			t.Fatalf("sales report: %v", err)
		}
		for _, r := range rows {
			if r.Terminal == terminal {
				return r
			}
		}
		t.Fatalf("no report line for %s", terminal)
		return wire.TerminalSales{}
	}
	// The terminal's first ledger sold 1..30; its backup holds 1..10, and the
	// ledger restored from it sold another 11..40.
	first := Chain("T1", 1, 30, "", 100)
	restored := append(append([]event.Event(nil), first[:10]...), Chain("T1", 11, 40, first[9].Hash, 7)...)

	t.Run("RetransmitAcksOnlyWhatMatches", func(t *testing.T) {
		s := newStore(t)
		if acked, err := s.Append(ctx, "T1", first); err != nil || acked != 30 {
			t.Fatalf("append 1..30 = %d, %v", acked, err)
		}
		// The restored ledger sends 6..10 again: the same events, acked up to
		// what it sent, never up to HQ's 30.
		if acked, err := s.Append(ctx, "T1", restored[5:10]); err != nil || acked != 10 {
			t.Fatalf("append of held 6..10 = %d, %v; want 10, nil", acked, err)
		}
		acked, err := s.Append(ctx, "T1", restored[10:20])
		var f *hq.ForkError
		if !errors.As(err, &f) || !hq.IsFork(err) || f.At != 11 || f.Head.Seq != 30 || f.Head.Hash != first[29].Hash {
			t.Fatalf("append of other 11..20 = %v; want a fork at 11 with HQ's head at 30", err)
		}
		if acked != 10 || f.Acked != 10 {
			t.Fatalf("a fork acks %d (error says %d); want 10: HQ holds the event 11 follows", acked, f.Acked)
		}
		// The fork's first event alone: HQ knows it follows event 10.
		if acked, err := s.Append(ctx, "T1", restored[10:11]); !hq.IsFork(err) || acked != 10 {
			t.Fatalf("append of other 11 alone = %d, %v; want 10 and a fork", acked, err)
		}
		if r := line(t, s, "T1"); r.Count != 30 || r.Total != total(first) {
			t.Fatalf("after the fork the report says %d sales for %d; want 30 for %d (nothing stored)", r.Count, r.Total, total(first))
		}
		// A ledger started empty forks at 1: nothing of it is HQ's.
		empty := Chain("T1", 1, 3, "", 55)
		if acked, err := s.Append(ctx, "T1", empty); !errors.As(err, &f) || f.At != 1 || acked != 0 {
			t.Fatalf("append of another 1..3 = %d, %v; want 0 and a fork at 1", acked, err)
		}
	})

	t.Run("ForkContinuesInAnEpoch", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Append(ctx, "T1", first); err != nil {
			t.Fatal(err)
		}
		epoch := event.Epoch{ID: "e2", BaseSeq: 10, BaseHash: first[9].Hash}
		if acked, err := s.AppendEpoch(ctx, "T1", epoch, restored[10:25]); err != nil || acked != 25 {
			t.Fatalf("append 11..25 in epoch e2 = %d, %v; want 25, nil", acked, err)
		}
		if acked, err := s.AppendEpoch(ctx, "T1", epoch, restored[20:]); err != nil || acked != 40 {
			t.Fatalf("append 21..40 in epoch e2 = %d, %v; want 40, nil", acked, err)
		}
		if a, err := s.Acked(ctx, "T1"); err != nil || a != 40 {
			t.Fatalf("Acked = %d, %v; want 40 (the head chain is e2)", a, err)
		}
		// Every acknowledged sale once: the first ledger's 30 and the restored
		// one's 30 new ones.
		r := line(t, s, "T1")
		if want := total(first) + total(restored[10:]); r.Count != 60 || r.Total != want || r.MaxSeq != 40 {
			t.Fatalf("report = %d sales, total %d, max seq %d; want 60, %d, 40", r.Count, r.Total, r.MaxSeq, want)
		}
		if len(r.Chains) != 2 || r.Chains[0].Epoch.ID != "" || r.Chains[1].Epoch != epoch || !r.Chains[1].BaseVerified ||
			!r.Chains[1].Head || r.Chains[0].Head || r.Chains[0].Count != 30 || r.Chains[1].Count != 30 || r.Chains[1].Acked != 40 {
			t.Fatalf("report chains = %+v; want the first chain (30 sales) and e2 (30, based on 10, verified, head)", r.Chains)
		}
		cs, err := s.Chains(ctx, "T1")
		if err != nil || len(cs) != 2 {
			t.Fatalf("Chains = %+v, %v", cs, err)
		}
		// A ledger rebuilt from HQ's copy of e2 gets 1..10 of the first chain
		// and its own 11..40, exactly as uploaded.
		c, evs, err := s.ChainEvents(ctx, "T1", "e2", 0, 0)
		if err != nil || c.Acked != 40 || !c.Head || len(evs) != 40 {
			t.Fatalf("ChainEvents(e2) = %+v, %d events, %v; want 40 events", c, len(evs), err)
		}
		prev := ""
		for i := range evs {
			if err := event.Verify(uint64(i), prev, &evs[i]); err != nil || evs[i].Hash != restored[i].Hash {
				t.Fatalf("event %d of e2's lineage: %v (hash %s, want %s)", i+1, err, evs[i].Hash, restored[i].Hash)
			}
			prev = evs[i].Hash
		}
		_, page, err := s.ChainEvents(ctx, "T1", "e2", 8, 5)
		if err != nil || len(page) != 5 || page[0].Seq != 9 || page[4].Seq != 13 || page[4].Hash != restored[12].Hash {
			t.Fatalf("ChainEvents(e2, after 8, 5) = %d events, %v; want 9..13 across the base", len(page), err)
		}
		if _, evs, err := s.ChainEvents(ctx, "T1", "", 25, 0); err != nil || len(evs) != 5 || evs[4].Hash != first[29].Hash {
			t.Fatalf("ChainEvents(first, after 25) = %d events, %v; want 26..30 of the first chain", len(evs), err)
		}
		if _, _, err := s.ChainEvents(ctx, "T1", "nope", 0, 0); !errors.Is(err, hq.ErrNoChain) {
			t.Fatalf("ChainEvents of an unknown epoch = %v; want ErrNoChain", err)
		}
		// Retransmits in the epoch compare like any others; one that differs
		// there forks again.
		if acked, err := s.AppendEpoch(ctx, "T1", epoch, restored[30:]); err != nil || acked != 40 {
			t.Fatalf("retransmit in e2 = %d, %v", acked, err)
		}
		other := Chain("T1", 36, 36, restored[34].Hash, 3)
		if _, err := s.AppendEpoch(ctx, "T1", epoch, other); !hq.IsFork(err) {
			t.Fatalf("another 36 in e2 = %v; want a fork", err)
		}
	})

	t.Run("StartedEmptyAndUnverifiedBases", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Append(ctx, "T1", first[:5]); err != nil {
			t.Fatal(err)
		}
		fresh := Chain("T1", 1, 4, "", 9)
		if acked, err := s.AppendEpoch(ctx, "T1", event.Epoch{ID: "fresh"}, fresh); err != nil || acked != 4 {
			t.Fatalf("append of a new empty epoch = %d, %v", acked, err)
		}
		// A base HQ never held (the parent's copy ends before it) is kept, and
		// shown as unverified.
		beyond := Chain("T1", 51, 52, first[4].Hash, 11)
		unverified := event.Epoch{ID: "far", BaseSeq: 50, BaseHash: first[4].Hash}
		if acked, err := s.AppendEpoch(ctx, "T1", unverified, beyond); err != nil || acked != 52 {
			t.Fatalf("append on an unverified base = %d, %v", acked, err)
		}
		r := line(t, s, "T1")
		if want := total(first[:5]) + total(fresh) + total(beyond); r.Count != 11 || r.Total != want {
			t.Fatalf("report = %d sales for %d; want 11 for %d", r.Count, r.Total, want)
		}
		byEpoch := map[string]wire.Chain{}
		for _, c := range r.Chains {
			byEpoch[c.Epoch.ID] = c
		}
		if c := byEpoch["fresh"]; !c.BaseVerified || c.Count != 4 {
			t.Errorf("fresh epoch = %+v; want 4 sales on a verified (empty) base", c)
		}
		if c := byEpoch["far"]; c.BaseVerified || c.Count != 2 || !c.Head {
			t.Errorf("far epoch = %+v; want 2 sales, an unverified base, the head", c)
		}
		// An upload that stores nothing creates no chain.
		if _, err := s.AppendEpoch(ctx, "T1", event.Epoch{ID: "gap"}, Chain("T1", 2, 2, "x", 1)); err != nil {
			t.Fatalf("a gap in a new epoch: %v", err)
		}
		if cs, _ := s.Chains(ctx, "T1"); len(cs) != 3 {
			t.Fatalf("chains = %d, want 3 (no chain for an upload that stored nothing)", len(cs))
		}
	})

	t.Run("AccountAsOfFollowsTheHeadChain", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Append(ctx, "T1", first[:12]); err != nil {
			t.Fatal(err)
		}
		a, err := s.Account(ctx, "T1", "2000000000015")
		if err != nil || a.AsOf != 12 || a.AsOfHash != first[11].Hash {
			t.Fatalf("account as of %d %q, %v; want 12 and event 12's hash", a.AsOf, a.AsOfHash, err)
		}
		epoch := event.Epoch{ID: "e2", BaseSeq: 10, BaseHash: first[9].Hash}
		if _, err := s.AppendEpoch(ctx, "T1", epoch, restored[10:14]); err != nil {
			t.Fatal(err)
		}
		a, err = s.Account(ctx, "T1", "2000000000015")
		if err != nil || a.AsOf != 14 || a.AsOfHash != restored[13].Hash {
			t.Fatalf("account as of %d %q, %v; want 14 of e2", a.AsOf, a.AsOfHash, err)
		}
		if want := total(first[:12]) + total(restored[10:14]); int64(a.Account.LifetimeSpend) != want || a.Account.Sales != 16 {
			t.Fatalf("account spend %d over %d sales; want %d over 16 (both chains)", a.Account.LifetimeSpend, a.Account.Sales, want)
		}
	})

	t.Run("SameSeqTwiceInOneUpload", func(t *testing.T) {
		s := newStore(t)
		evs := append(append([]event.Event(nil), first[:3]...), Chain("T1", 3, 3, first[1].Hash, 1)...)
		acked, err := s.Append(ctx, "T1", evs)
		if !hq.IsBrokenChain(err) || acked != 3 {
			t.Fatalf("two events under seq 3 = %d, %v; want the first 3 kept and a broken chain", acked, err)
		}
	})
}
