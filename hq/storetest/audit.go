package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// PricedSpec is one sale of a chain built by PricedSales: priced with the
// rules file Rules (its version and hash are the event's) as a till prices
// it, for Account (nil: no card) at the till's wall-clock time At.
type PricedSpec struct {
	Rules   []byte
	Basket  pos.Basket
	Account *pos.Account
	At      time.Time
	// NoInputs leaves the sale's inputs out, as tills did before they kept
	// them; Edit, when set, changes the sale before it is encoded.
	NoInputs bool
	Edit     func(*pos.Sale)
}

// PricedSales returns the events from seq from on of a terminal's chain, one
// per spec, each a sale as till.Sale records it, linked to prevHash.
func PricedSales(terminal string, from uint64, prevHash string, specs ...PricedSpec) ([]event.Event, error) {
	var out []event.Event
	parsed := map[string]*discount.Ruleset{}
	for i, sp := range specs {
		seq := from + uint64(i)
		rs, ok := parsed[string(sp.Rules)]
		if !ok {
			var err error
			if rs, err = rulesfile.Parse(sp.Rules); err != nil {
				return nil, err
			}
			parsed[string(sp.Rules)] = rs
		}
		b := sp.Basket
		b.Terminal = terminal
		q, err := discount.Apply(rs, b, sp.Account, sp.At)
		if err != nil {
			return nil, fmt.Errorf("price sale %d: %w", seq, err)
		}
		q.Greeting = ""
		s := pos.Sale{ID: fmt.Sprintf("%s-sale-%d", terminal, seq), Card: b.Card, At: sp.At.UTC(), Quote: q}
		if !sp.NoInputs {
			s.Inputs = pos.NewSaleInputs(b, sp.Account, sp.At)
		}
		if sp.Edit != nil {
			sp.Edit(&s)
		}
		body, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(sp.Rules)
		e := event.Event{Terminal: terminal, Seq: seq, ID: fmt.Sprintf("%s-%d", terminal, seq), Type: event.TypeSale,
			At: s.At, RulesetVersion: rs.Version, RulesetHash: hex.EncodeToString(sum[:]), Prev: prevHash, Body: body}
		e.Hash = e.ComputeHash()
		prevHash = e.Hash
		out = append(out, e)
	}
	return out, nil
}

// Version returns the rules file raw with its version set to v.
func Version(raw []byte, v int64) []byte {
	i := bytes.Index(raw, []byte("\nversion = "))
	j := bytes.IndexByte(raw[i+1:], '\n')
	return slices.Concat(raw[:i+1], fmt.Appendf(nil, "version = %d", v), raw[i+1+j:])
}

// RunAudit is the audit's part of the suite: it holds every store to the same
// audit: rulesets by version, a cursor per chain that never skips an event nor
// gives one twice (also to auditors running at once), flags and tallies, an
// upload during an audit, and the Auditor over the store. open is as for Run.
func RunAudit(t *testing.T, open func(t *testing.T) hq.Store) {
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
	// seen records every event given to an audit function, and answers as
	// one would: each a sale, seq 2 of every chain flagged, every event of
	// terminal "OLD" not re-priceable.
	type key struct {
		terminal, epoch string
		seq             uint64
	}
	type recorder struct {
		mu      sync.Mutex
		seen    map[key]int
		batches []string
	}
	newRecorder := func() *recorder { return &recorder{seen: map[key]int{}} }
	flagOf := func(b hq.AuditBatch, e event.Event) wire.AuditFlag {
		return wire.AuditFlag{Terminal: b.Terminal, Epoch: b.Epoch, Seq: e.Seq, SaleID: e.ID, At: e.At.UTC(), RulesetVersion: e.RulesetVersion,
			Currency: "RUB", Findings: []wire.AuditFinding{{Code: wire.AuditTotal, Till: 1, HQ: 2}, {Code: wire.AuditRulesetHash, Detail: "not as published"}}}
	}
	fn := func(r *recorder) func(hq.AuditBatch) (hq.AuditResult, error) {
		return func(b hq.AuditBatch) (hq.AuditResult, error) {
			var res hq.AuditResult
			r.mu.Lock()
			defer r.mu.Unlock()
			r.batches = append(r.batches, fmt.Sprintf("%s/%s:%d-%d", b.Terminal, b.Epoch, b.Events[0].Seq, b.Events[len(b.Events)-1].Seq))
			for i, e := range b.Events {
				if e.Terminal != b.Terminal || i > 0 && e.Seq != b.Events[i-1].Seq+1 {
					return res, fmt.Errorf("batch %s holds event %s/%d out of order", r.batches[len(r.batches)-1], e.Terminal, e.Seq)
				}
				r.seen[key{b.Terminal, b.Epoch, e.Seq}]++
				tally := hq.AuditTally{Sales: 1}
				if b.Terminal == "OLD" {
					tally = hq.AuditTally{Sales: 1, Unpriceable: 1, UnpricedFirst: e.Seq, UnpricedLast: e.Seq}
				}
				res.Add(tally)
				if e.Seq == 2 {
					res.Flags = append(res.Flags, flagOf(b, e))
				}
			}
			return res, nil
		}
	}
	drain := func(t *testing.T, s hq.Store, limit int, r *recorder) {
		t.Helper()
		for range 1000 {
			ok, err := s.AuditNext(ctx, limit, fn(r))
			if err != nil {
				t.Fatalf("AuditNext: %v", err)
			}
			if !ok {
				return
			}
		}
		t.Fatal("AuditNext never ran out of events")
	}
	sameJSON := func(t *testing.T, what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s =\n%s\nwant\n%s", what, g, w)
		}
	}

	t.Run("RulesetByVersion", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Ruleset(ctx, 1); !errors.Is(err, hq.ErrNoRuleset) {
			t.Fatalf("Ruleset(1) before any publish = %v; want ErrNoRuleset", err)
		}
		for _, v := range []int64{2, 5} {
			rs := hq.Ruleset{Version: v, Hash: fmt.Sprintf("h%d", v), Raw: fmt.Appendf(nil, "version = %d\n", v), Signature: []byte{byte(v)}}
			if err := s.PublishRuleset(ctx, rs); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range []int64{2, 5} {
			got, err := s.Ruleset(ctx, v)
			if err != nil || got.Version != v || got.Hash != fmt.Sprintf("h%d", v) || string(got.Raw) != fmt.Sprintf("version = %d\n", v) || !bytes.Equal(got.Signature, []byte{byte(v)}) {
				t.Errorf("Ruleset(%d) = %+v, %v", v, got, err)
			}
		}
		for _, v := range []int64{0, 1, 3, 4, 6, -1} {
			if _, err := s.Ruleset(ctx, v); !errors.Is(err, hq.ErrNoRuleset) {
				t.Errorf("Ruleset(%d), never published = %v; want ErrNoRuleset", v, err)
			}
		}
		if err := s.PublishRuleset(ctx, hq.Ruleset{Version: 9, Hash: "h9", Raw: []byte("version = 9\n")}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			before int64
			limit  int
			want   []int64
		}{
			{0, 10, []int64{9, 5, 2}}, {0, 2, []int64{9, 5}}, {-1, 1, []int64{9}}, {9, 10, []int64{5, 2}}, {6, 10, []int64{5, 2}},
			{5, 10, []int64{2}}, {2, 10, nil}, {100, 10, []int64{9, 5, 2}}, {0, 0, nil},
		} {
			got, err := s.Rulesets(ctx, c.before, c.limit)
			var vs []int64
			for _, rs := range got {
				vs = append(vs, rs.Version)
				if rs.Hash != fmt.Sprintf("h%d", rs.Version) || string(rs.Raw) != fmt.Sprintf("version = %d\n", rs.Version) {
					t.Errorf("Rulesets(%d, %d): version %d = %+v", c.before, c.limit, rs.Version, rs)
				}
			}
			if err != nil || !slices.Equal(vs, c.want) {
				t.Errorf("Rulesets(%d, %d) = %v, %v; want %v", c.before, c.limit, vs, err, c.want)
			}
		}
	})

	t.Run("AuditCursor", func(t *testing.T) {
		s := newStore(t)
		r := newRecorder()
		if ok, err := s.AuditNext(ctx, 3, fn(r)); ok || err != nil {
			t.Fatalf("AuditNext on an empty store = %v, %v", ok, err)
		}
		t1 := Chain("T1", 1, 9, "", 100)
		for _, up := range []struct {
			terminal string
			evs      []event.Event
		}{{"T1", t1[:7]}, {"T2", Chain("T2", 1, 2, "", 100)}, {"OLD", Chain("OLD", 1, 4, "", 100)}} {
			if _, err := s.Append(ctx, up.terminal, up.evs); err != nil {
				t.Fatal(err)
			}
		}
		if sum, err := s.AuditSummary(ctx); err != nil || sum != (wire.AuditSummary{Waiting: 13}) {
			t.Fatalf("summary before the audit = %+v, %v; want 13 waiting", sum, err)
		}
		// An audit function that fails stores nothing: the events come again.
		boom := errors.New("boom")
		var failed hq.AuditBatch
		if ok, err := s.AuditNext(ctx, 3, func(b hq.AuditBatch) (hq.AuditResult, error) { failed = b; return hq.AuditResult{}, boom }); ok || !errors.Is(err, boom) {
			t.Fatalf("AuditNext with a failing function = %v, %v; want its error", ok, err)
		}
		if len(failed.Events) == 0 || len(failed.Events) > 3 || failed.Events[0].Seq != 1 {
			t.Fatalf("the failing function got %+v", failed)
		}
		drain(t, s, 3, r)
		for k, n := range r.seen {
			if n != 1 {
				t.Errorf("event %+v audited %d times", k, n)
			}
		}
		if len(r.seen) != 13 {
			t.Errorf("%d events audited, want 13: %v", len(r.seen), r.batches)
		}
		for _, b := range r.batches {
			var lo, hi uint64
			if _, err := fmt.Sscanf(b[strings.IndexByte(b, ':')+1:], "%d-%d", &lo, &hi); err != nil || hi-lo >= 3 {
				t.Errorf("batch %s: more than the limit of 3 (%v)", b, err)
			}
		}
		rep, err := s.AuditReport(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := wire.AuditReport{
			Summary: wire.AuditSummary{Sales: 13, Flagged: 3, Unpriceable: 4},
			Chains: []wire.AuditChain{
				{Terminal: "OLD", Audited: 4, Acked: 4, Sales: 4, Flagged: 1, Unpriceable: 4, UnpricedFirst: 1, UnpricedLast: 4},
				{Terminal: "T1", Audited: 7, Acked: 7, Sales: 7, Flagged: 1},
				{Terminal: "T2", Audited: 2, Acked: 2, Sales: 2, Flagged: 1},
			},
			Flags: []wire.AuditFlag{
				flagOf(hq.AuditBatch{Terminal: "OLD"}, Chain("OLD", 1, 4, "", 100)[1]),
				flagOf(hq.AuditBatch{Terminal: "T1"}, t1[1]),
				flagOf(hq.AuditBatch{Terminal: "T2"}, Chain("T2", 1, 2, "", 100)[1]),
			},
		}
		sameJSON(t, "report", rep, want)
		if rep, err := s.AuditReport(ctx, 2); err != nil || len(rep.Flags) != 2 || rep.Summary.Flagged != 3 {
			t.Errorf("report of 2 flags = %d flags, summary %+v, %v", len(rep.Flags), rep.Summary, err)
		}
		if ok, err := s.AuditNext(ctx, 3, fn(r)); ok || err != nil {
			t.Fatalf("AuditNext with nothing left = %v, %v", ok, err)
		}
		// New events of T1: only they are audited.
		if _, err := s.Append(ctx, "T1", t1[7:]); err != nil {
			t.Fatal(err)
		}
		if sum, _ := s.AuditSummary(ctx); sum.Waiting != 2 {
			t.Fatalf("waiting after 2 new events = %d", sum.Waiting)
		}
		r2 := newRecorder()
		drain(t, s, 3, r2)
		if !slices.Equal(r2.batches, []string{"T1/:8-9"}) {
			t.Errorf("batches after new events = %v, want [T1/:8-9]", r2.batches)
		}
		if sum, _ := s.AuditSummary(ctx); sum != (wire.AuditSummary{Sales: 15, Flagged: 3, Unpriceable: 4}) {
			t.Errorf("summary = %+v", sum)
		}
	})

	t.Run("AuditEpochs", func(t *testing.T) {
		s := newStore(t)
		first := Chain("T1", 1, 5, "", 100)
		if _, err := s.Append(ctx, "T1", first); err != nil {
			t.Fatal(err)
		}
		// A ledger restored from a backup of event 3 sold 4..6 again, in an
		// epoch of its own: the audit reads only that epoch's own events.
		epoch := event.Epoch{ID: "e1", BaseSeq: 3, BaseHash: first[2].Hash}
		if _, err := s.AppendEpoch(ctx, "T1", epoch, Chain("T1", 4, 6, first[2].Hash, 7)); err != nil {
			t.Fatal(err)
		}
		r := newRecorder()
		drain(t, s, 100, r)
		slices.Sort(r.batches)
		if !slices.Equal(r.batches, []string{"T1/:1-5", "T1/e1:4-6"}) {
			t.Errorf("batches = %v, want T1/:1-5 and T1/e1:4-6", r.batches)
		}
		rep, err := s.AuditReport(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "chains", rep.Chains, []wire.AuditChain{
			{Terminal: "T1", Audited: 5, Acked: 5, Sales: 5, Flagged: 1},
			{Terminal: "T1", Epoch: "e1", Audited: 6, Acked: 6, Sales: 3},
		})
	})

	t.Run("AuditorsNeverOverlap", func(t *testing.T) {
		s := newStore(t)
		const terminals, per, auditors = 4, 30, 4
		for i := range terminals {
			term := fmt.Sprintf("C%d", i)
			if _, err := s.Append(ctx, term, Chain(term, 1, per, "", 100)); err != nil {
				t.Fatal(err)
			}
		}
		r := newRecorder()
		var wg sync.WaitGroup
		errs := make(chan error, auditors)
		for range auditors {
			wg.Go(func() {
				for {
					ok, err := s.AuditNext(ctx, 4, fn(r))
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		drain(t, s, 4, r) // what the others held when one found nothing left
		for k, n := range r.seen {
			if n != 1 {
				t.Errorf("event %+v audited %d times", k, n)
			}
		}
		if len(r.seen) != terminals*per {
			t.Errorf("%d events audited, want %d", len(r.seen), terminals*per)
		}
		if sum, err := s.AuditSummary(ctx); err != nil || sum != (wire.AuditSummary{Sales: terminals * per, Flagged: terminals}) {
			t.Errorf("summary = %+v, %v", sum, err)
		}
	})

	t.Run("AuditNeverHoldsUpIngest", func(t *testing.T) {
		s := newStore(t)
		evs := Chain("T1", 1, 6, "", 100)
		if _, err := s.Append(ctx, "T1", evs[:3]); err != nil {
			t.Fatal(err)
		}
		// While the audit of T1 is under way, T1 uploads again: the upload
		// must not wait for the audit (a deadline turns a wait into an error).
		r := newRecorder()
		audit := fn(r)
		ok, err := s.AuditNext(ctx, 10, func(b hq.AuditBatch) (hq.AuditResult, error) {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if acked, err := s.Append(actx, "T1", evs[3:]); err != nil || acked != 6 {
				return hq.AuditResult{}, fmt.Errorf("upload during the audit = %d, %w", acked, err)
			}
			return audit(b)
		})
		if !ok || err != nil {
			t.Fatalf("AuditNext = %v, %v", ok, err)
		}
		drain(t, s, 10, r)
		if !slices.Equal(r.batches, []string{"T1/:1-3", "T1/:4-6"}) {
			t.Errorf("batches = %v", r.batches)
		}
	})

	t.Run("AuditorFlagsForgedSales", func(t *testing.T) {
		s := newStore(t)
		v1, v3 := discount.Example, Version(discount.Example, 3)
		for _, raw := range [][]byte{v1, v3} {
			publishRules(ctx, t, s, raw)
		}
		at := time.Date(2026, 11, 23, 12, 30, 0, 0, time.FixedZone("MSK", 3*3600))
		basket := pos.Basket{Card: "2000000000015", Store: "S1", Lines: []pos.Line{{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 99_90}, {SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 50_000_00}}}
		gold := &pos.Account{Card: "2000000000015", LifetimeSpend: 12_000_00, Points: 40, Sales: 9}
		noCard := basket
		noCard.Card = ""
		doctored := bytes.Replace(v1, []byte(`percent = "3%"`), []byte(`percent = "99%"`), 1)
		evs, err := PricedSales("T9", 1, "",
			PricedSpec{Rules: v1, Basket: basket, Account: gold, At: at},                                        // honest, an old ruleset
			PricedSpec{Rules: v3, Basket: noCard, At: at},                                                       // honest, no card
			PricedSpec{Rules: doctored, Basket: basket, Account: gold, At: at},                                  // 99 % under version 1
			PricedSpec{Rules: Version(v1, 2), Basket: basket, Account: gold, At: at},                            // version 2 was never published
			PricedSpec{Rules: v3, Basket: basket, Account: gold, At: at, NoInputs: true},                        // sold before tills kept inputs
			PricedSpec{Rules: v3, Basket: basket, Account: gold, At: at, Edit: func(s *pos.Sale) { s.Total-- }}, // a kopeck off
		)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, "T9", evs); err != nil {
			t.Fatal(err)
		}
		a := hq.NewAuditor(hq.AuditorOptions{Store: s, Batch: 4})
		if n, err := a.Drain(ctx); err != nil || n != 2 {
			t.Fatalf("Drain = %d batches, %v; want 2", n, err)
		}
		rep, err := s.AuditReport(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary != (wire.AuditSummary{Sales: 6, Flagged: 3, Unpriceable: 1}) {
			t.Errorf("summary = %+v; want 6 sales, 3 flagged, 1 not re-priceable", rep.Summary)
		}
		var codes []string
		for _, f := range rep.Flags {
			for _, fd := range f.Findings {
				codes = append(codes, fmt.Sprintf("%d:%s", f.Seq, fd.Code))
			}
		}
		want := []string{"3:ruleset_hash", "3:total", "3:discount", "3:points_earned", "4:unpublished_ruleset", "6:total"}
		if !slices.Equal(codes, want) {
			t.Errorf("findings = %v\nwant       %v", codes, want)
		}
		if len(rep.Flags) == 3 {
			if f := rep.Flags[0].Findings[1]; f.Till >= f.HQ/10 || rep.Flags[0].SaleID != "T9-sale-3" || rep.Flags[0].Currency != "RUB" {
				t.Errorf("the 99 %% sale's flag: %+v", rep.Flags[0])
			}
			if f := rep.Flags[2].Findings[0]; f.Till != f.HQ-1 {
				t.Errorf("the kopeck: %+v", f)
			}
		}
		if c := rep.Chains; len(c) != 1 || c[0].Unpriceable != 1 || c[0].UnpricedFirst != 5 || c[0].UnpricedLast != 5 {
			t.Errorf("chains = %+v", c)
		}
	})

	t.Run("AuditorChecksRefunds", func(t *testing.T) {
		s := newStore(t)
		raw := discount.Example
		sum := sha256.Sum256(raw)
		if err := s.PublishRuleset(ctx, hq.Ruleset{Version: 1, Hash: hex.EncodeToString(sum[:]), Raw: raw}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 23, 12, 30, 0, 0, time.FixedZone("MSK", 3*3600))
		basket := pos.Basket{Card: "2000000000015", Store: "S1", Lines: []pos.Line{{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 99_90}, {SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 50_000_00}}}
		gold := &pos.Account{Card: "2000000000015", LifetimeSpend: 12_000_00, Points: 40, Sales: 9}
		evs, err := PricedSales("T9", 1, "", PricedSpec{Rules: raw, Basket: basket, Account: gold, At: at})
		if err != nil {
			t.Fatal(err)
		}
		var sale pos.Sale
		if err := json.Unmarshal(evs[0].Body, &sale); err != nil {
			t.Fatal(err)
		}
		// refund returns lines of the sale after the units before, as a till
		// records it, edited by edit.
		prev := evs[0].Hash
		refund := func(seq, saleSeq uint64, lines []pos.ReturnLine, before []int64, edit func(*pos.Refund)) event.Event {
			t.Helper()
			rq, err := discount.RefundAfter(sale, lines, before)
			if err != nil {
				t.Fatal(err)
			}
			r := pos.Refund{ID: fmt.Sprintf("r%d", seq), At: at.Add(time.Duration(seq) * time.Minute).UTC(), SaleEvent: evs[0].ID, SaleSeq: saleSeq,
				SaleAt: evs[0].At, Before: before, RefundQuote: rq, Spend: rq.Amount}
			if edit != nil {
				edit(&r)
			}
			e := link("T9", seq, event.TypeRefund, r.At, prev, r)
			prev = e.Hash
			return e
		}
		evs = append(evs,
			refund(2, 1, []pos.ReturnLine{{Line: 1, Qty: 1}}, nil, nil), // honest
			refund(3, 1, []pos.ReturnLine{{Line: 1, Qty: 1, Before: 1}}, []int64{1, 0}, func(r *pos.Refund) { // 100.00 and a point more
				r.Amount += 100_00
				r.Back += 100_00
				r.PointsReturned++
			}),
			refund(4, 1, []pos.ReturnLine{{Line: 2, Qty: 1}}, []int64{2, 0}, func(r *pos.Refund) { r.SaleSeq = 9 }), // no such sale
		)
		if _, err := s.Append(ctx, "T9", evs); err != nil {
			t.Fatal(err)
		}
		// One event a batch: each refund's sale comes from the store.
		if n, err := hq.NewAuditor(hq.AuditorOptions{Store: s, Batch: 1}).Drain(ctx); err != nil || n != 4 {
			t.Fatalf("Drain = %d batches, %v; want 4", n, err)
		}
		rep, err := s.AuditReport(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary != (wire.AuditSummary{Sales: 1, Refunds: 3, RefundsFlagged: 2}) {
			t.Errorf("summary = %+v; want 1 sale, 3 refunds, 2 of them flagged", rep.Summary)
		}
		var codes []string
		for _, f := range rep.Flags {
			for _, fd := range f.Findings {
				codes = append(codes, fmt.Sprintf("%d:%s:%s", f.Seq, f.Refund, fd.Code))
			}
		}
		want := []string{"3:r3:refund_amount", "3:r3:refund_back", "3:r3:points_returned", "4:r4:refund_sale"}
		if !slices.Equal(codes, want) {
			t.Errorf("findings = %v\nwant       %v", codes, want)
		}
		if c := rep.Chains; len(c) != 1 || c[0].Refunds != 3 || c[0].RefundsFlagged != 2 || c[0].Flagged != 0 {
			t.Errorf("chains = %+v", c)
		}
	})

	t.Run("AuditorFlagsOverReturns", func(t *testing.T) {
		s := newStore(t)
		raw := discount.Example
		sum := sha256.Sum256(raw)
		if err := s.PublishRuleset(ctx, hq.Ruleset{Version: 1, Hash: hex.EncodeToString(sum[:]), Raw: raw}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC)
		evs, err := PricedSales("T9", 1, "", PricedSpec{Rules: raw, At: at,
			Basket:  pos.Basket{Card: "2000000000015", Lines: []pos.Line{{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 99_90}}},
			Account: &pos.Account{Card: "2000000000015"}})
		if err != nil {
			t.Fatal(err)
		}
		var sale pos.Sale
		if err := json.Unmarshal(evs[0].Body, &sale); err != nil {
			t.Fatal(err)
		}
		// Honest refunds, each as its till saw the sale: T9 returns one
		// milk, S2 (offline, or racing) both.
		refund := func(terminal string, seq uint64, prev, saleTerminal string, qty int64) event.Event {
			t.Helper()
			rq, err := discount.RefundAfter(sale, []pos.ReturnLine{{Line: 1, Qty: qty}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := pos.Refund{ID: fmt.Sprintf("%s-r%d", terminal, seq), At: at.Add(time.Hour), SaleEvent: evs[0].ID, SaleSeq: 1,
				SaleTerminal: saleTerminal, SaleAt: evs[0].At, RefundQuote: rq, Spend: rq.Amount}
			return link(terminal, seq, event.TypeRefund, r.At, prev, r)
		}
		if _, err := s.Append(ctx, "T9", append(evs, refund("T9", 2, evs[0].Hash, "", 1))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, "S2", []event.Event{refund("S2", 1, "", "T9", 2)}); err != nil {
			t.Fatal(err)
		}
		if _, err := hq.NewAuditor(hq.AuditorOptions{Store: s}).Drain(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := s.AuditReport(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Refunds != 2 || rep.Summary.RefundsFlagged != 2 || rep.Summary.Flagged != 0 {
			t.Errorf("summary = %+v; want 2 refunds, both flagged", rep.Summary)
		}
		var codes []string
		for _, f := range rep.Flags {
			for _, fd := range f.Findings {
				codes = append(codes, fmt.Sprintf("%s:%s:%s:%d>%d", f.Terminal, f.Refund, fd.Code, fd.HQ, fd.Till))
			}
		}
		want := []string{"S2:S2-r1:over_returned:3>2", "T9:T9-r2:over_returned:3>2"}
		if !slices.Equal(codes, want) {
			t.Errorf("findings = %v\nwant       %v", codes, want)
		}
	})
}

// publishRules publishes a rules file as the store's current ruleset, at the
// version it names.
func publishRules(ctx context.Context, t *testing.T, s hq.Store, raw []byte) {
	t.Helper()
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if err := s.PublishRuleset(ctx, hq.Ruleset{Version: rs.Version, Hash: hex.EncodeToString(sum[:]), Raw: raw}); err != nil {
		t.Fatal(err)
	}
}
