package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// HQ's audit prices every synced sale again with the ruleset it names, as HQ
// published it, and flags a sale whose ruleset HQ never published, whose
// ruleset hash is not the published one, or whose totals differ from HQ's
// (docs/audit.md). It runs beside ingest, never in it: an Auditor per replica
// walks each chain's events after the chain's audit cursor, a batch at a time.

// Audits is the part of a Store that keeps the audit: per chain, a cursor (the
// seq the audit has read up to, from the chain's base) and what it counted,
// and the flagged sales keyed by (terminal, epoch, seq).
type Audits interface {
	// AuditNext picks a chain with events after its audit cursor that no
	// other caller is auditing (one being audited elsewhere is skipped, never
	// waited for), reads up to limit of the chain's own events after the
	// cursor in seq order, and calls fn with them. It then stores fn's flags
	// (replacing any under the same keys) and adds its tally to the chain's,
	// and moves the cursor past the events, in one transaction. fn may run
	// inside or outside that transaction, but no event is given to two calls
	// of fn whose results are both stored, and none is skipped. An error from
	// fn is returned and nothing is stored. ok is false when no chain waits.
	AuditNext(ctx context.Context, limit int, fn func(AuditBatch) (AuditResult, error)) (ok bool, err error)
	// AuditReport returns the summary, every chain with its audit, by
	// terminal and epoch, and up to limit flags (all when limit <= 0) by
	// terminal, epoch and seq.
	AuditReport(ctx context.Context, limit int) (wire.AuditReport, error)
	// AuditSummary returns the report's summary alone.
	AuditSummary(ctx context.Context) (wire.AuditSummary, error)
}

// AuditBatch is events of one chain for the audit, in seq order.
type AuditBatch struct {
	Terminal string
	Epoch    string
	Events   []event.Event
}

// AuditTally counts what the audit found in some of a chain's events.
type AuditTally struct {
	Sales int64 // sale events audited
	// Unpriceable counts the sales without inputs (sold before tills kept
	// them), seqs UnpricedFirst..UnpricedLast.
	Unpriceable                 int64
	UnpricedFirst, UnpricedLast uint64
	// Refunds counts the refund events audited, RefundsFlagged those of
	// them flagged.
	Refunds, RefundsFlagged int64
}

// Add adds u, a tally of later events of the same chain, to t.
func (t *AuditTally) Add(u AuditTally) {
	t.Sales += u.Sales
	t.Refunds += u.Refunds
	t.RefundsFlagged += u.RefundsFlagged
	if u.Unpriceable == 0 {
		return
	}
	if t.Unpriceable == 0 {
		t.UnpricedFirst = u.UnpricedFirst
	}
	t.Unpriceable += u.Unpriceable
	t.UnpricedLast = u.UnpricedLast
}

// AuditResult is what the audit of a batch found.
type AuditResult struct {
	AuditTally
	Flags []wire.AuditFlag
}

// add counts the audit of event seq.
func (r *AuditResult) add(seq uint64, a SaleAudit) {
	if a.Refund {
		r.Refunds++
		if a.Flag != nil {
			r.RefundsFlagged++
			r.Flags = append(r.Flags, *a.Flag)
		}
		return
	}
	if !a.Sale {
		return
	}
	t := AuditTally{Sales: 1}
	if a.Unpriceable {
		t.Unpriceable, t.UnpricedFirst, t.UnpricedLast = 1, seq, seq
	}
	r.AuditTally.Add(t)
	if a.Flag != nil {
		r.Flags = append(r.Flags, *a.Flag)
	}
}

// AuditRules is a published ruleset as the audit prices with it.
type AuditRules struct {
	Hash  string
	Rules *discount.Ruleset // nil when the published file does not parse; Err says why
	Err   error
}

// SaleAudit is the audit of one event.
type SaleAudit struct {
	Sale bool // a sale event
	// Refund: a refund event (AuditRefund); nothing else is audited.
	Refund bool
	// Unpriceable: the sale does not say what it was priced with, so it was
	// not priced again (its ruleset was still checked).
	Unpriceable bool
	Flag        *wire.AuditFlag // nil when nothing is wrong
}

// AuditEvent audits event e of a terminal's chain epoch against the rulesets
// HQ published, by version (a version missing from published was never
// published). It is pure: the same event and rulesets give the same answer at
// every replica.
func AuditEvent(epoch string, e event.Event, published map[int64]*AuditRules) (a SaleAudit) {
	if e.Type != event.TypeSale {
		return SaleAudit{}
	}
	a.Sale = true
	f := &wire.AuditFlag{Terminal: e.Terminal, Epoch: epoch, Seq: e.Seq, At: e.At, RulesetVersion: e.RulesetVersion}
	flag := func(fd wire.AuditFinding) { f.Findings = append(f.Findings, fd) }
	defer func() {
		if len(f.Findings) > 0 {
			a.Flag = f
		}
	}()
	var sale pos.Sale
	if err := json.Unmarshal(e.Body, &sale); err != nil {
		flag(wire.AuditFinding{Code: wire.AuditBadBody, Detail: err.Error()})
		return a
	}
	f.SaleID, f.Currency = sale.ID, sale.Currency
	if sale.RulesetVersion != e.RulesetVersion {
		flag(wire.AuditFinding{Code: wire.AuditRulesetVersion, Till: sale.RulesetVersion, HQ: e.RulesetVersion,
			Detail: fmt.Sprintf("the sale's quote says ruleset version %d, its event %d", sale.RulesetVersion, e.RulesetVersion)})
	}
	pub := published[e.RulesetVersion]
	switch {
	case pub == nil:
		flag(wire.AuditFinding{Code: wire.AuditUnpublished, Detail: fmt.Sprintf("ruleset version %d was never published", e.RulesetVersion)})
		a.Unpriceable = sale.Inputs == nil
		return a
	case e.RulesetHash != pub.Hash:
		flag(wire.AuditFinding{Code: wire.AuditRulesetHash,
			Detail: fmt.Sprintf("priced with a ruleset of SHA-256 %s, not version %d as published (%s)", cmpOr(e.RulesetHash, "(none)"), e.RulesetVersion, pub.Hash)})
	}
	basket, acct, at, err := pos.ReplayInputs(sale, e.Terminal, e.At)
	if errors.Is(err, pos.ErrNoInputs) {
		a.Unpriceable = true
		return a
	}
	if pub.Rules == nil {
		flag(wire.AuditFinding{Code: wire.AuditNotPriced, Detail: fmt.Sprintf("published ruleset version %d does not parse: %v", e.RulesetVersion, pub.Err)})
		return a
	}
	if acct != nil && sale.Birthday {
		acct.Profile = birthdayProfile(pub.Rules, sale.Applied, at)
	}
	q, err := discount.Apply(pub.Rules, basket, acct, at)
	if err != nil {
		flag(wire.AuditFinding{Code: wire.AuditNotPriced, Detail: err.Error()})
		return a
	}
	if q.Currency != sale.Currency {
		flag(wire.AuditFinding{Code: wire.AuditCurrency, Detail: fmt.Sprintf("the till says %q, the ruleset %q", sale.Currency, q.Currency)})
	}
	for _, d := range []struct {
		code      string
		till, got int64
	}{
		{wire.AuditTotal, int64(sale.Total), int64(q.Total)},
		{wire.AuditDiscount, int64(sale.Discount), int64(q.Discount)},
		{wire.AuditPointsEarned, sale.PointsEarned, q.PointsEarned},
		{wire.AuditPointsRedeemed, sale.PointsRedeemed, q.PointsRedeemed},
	} {
		if d.till != d.got {
			flag(wire.AuditFinding{Code: d.code, Till: d.till, HQ: d.got})
		}
	}
	return a
}

// maxBirthdayDays is the widest a birthday rule's window reaches either side.
const maxBirthdayDays = 31

// birthdayProfile returns a profile for a sale whose quote says the customer
// has a birthday now: the sale does not carry the holder's birthday (personal
// data), only the birthday rules that gave something (applied). The birthday
// is put where every one of those rules' windows holds the sale's date at,
// and as few of the ruleset's other birthday rules' windows as can be, the
// nearest to the date first. The engine reads the birthday only to decide
// which birthday rules may apply, so this prices the sale as the till did.
func birthdayProfile(rs *discount.Ruleset, applied []pos.Applied, at time.Time) *pos.Profile {
	var gave, others []*discount.Rule
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Kind != discount.KindBirthday {
			continue
		}
		if slices.ContainsFunc(applied, func(a pos.Applied) bool { return a.Rule == r.ID }) {
			gave = append(gave, r)
		} else {
			others = append(others, r)
		}
	}
	inside := func(r *discount.Rule, d int) bool { return d >= -r.DaysBefore && d <= r.DaysAfter }
	best, bestOthers := 0, -1
	for i := 0; i <= 2*maxBirthdayDays && bestOthers != 0; i++ {
		d := (i + 1) / 2 // 0, 1, -1, 2, -2, …: days since the birthday
		if i%2 == 1 {
			d = -d
		}
		if !slices.ContainsFunc(gave, func(r *discount.Rule) bool { return !inside(r, d) }) {
			n := 0
			for _, r := range others {
				if inside(r, d) {
					n++
				}
			}
			if bestOthers < 0 || n < bestOthers {
				best, bestOthers = d, n
			}
		}
	}
	b := at.AddDate(0, 0, -best)
	return &pos.Profile{BirthMonth: int(b.Month()), BirthDay: b.Day()}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// FormatFinding writes a finding for a person: amounts in major units with the
// currency (cur, the sale's).
func FormatFinding(f wire.AuditFinding, cur string) string {
	switch {
	case f.IsMoney():
		return fmt.Sprintf("%s: till %s, HQ %s", f.Code, money.Display(money.Amount(f.Till), cur), money.Display(money.Amount(f.HQ), cur))
	case f.Code == wire.AuditPointsEarned || f.Code == wire.AuditPointsRedeemed || f.Code == wire.AuditPointsReversed ||
		f.Code == wire.AuditPointsReturned || f.Code == wire.AuditPartnerPoints:
		return fmt.Sprintf("%s: till %d, HQ %d", f.Code, f.Till, f.HQ)
	}
	return f.Code + ": " + f.Detail
}

// AuditorOptions configure an Auditor. The zero value of every field but
// Store is a documented default.
type AuditorOptions struct {
	Store Store
	// Batch is the most events audited in one transaction (default 500).
	Batch int
	// Idle is how long the auditor waits when no chain waits for it, or
	// after a failure, before it looks again (default 5 s); Wake ends the
	// wait sooner.
	Idle time.Duration
	// Pause is how long the auditor rests after each batch, as a multiple of
	// the time the batch took (default 3: it works at most a quarter of the
	// time), so that a backlog never takes the CPU ingest needs. While Busy
	// says the replica is taking uploads, it rests BusyPause times as long
	// instead (default 19: a twentieth of the time).
	Pause, BusyPause float64
	// Busy reports whether uploads are under way; nil: never.
	Busy func() bool
	// Wake returns a channel closed when there may be new events (an upload
	// stored them); nil: only Idle.
	Wake   func() <-chan struct{}
	Logger *slog.Logger
}

// Auditor audits the events a store holds, chain by chain, after each chain's
// audit cursor. Any number may run on one store (one per replica): the store
// gives each chain to one at a time. Safe for concurrent use.
type Auditor struct {
	opts AuditorOptions
	log  *slog.Logger

	mu    sync.Mutex
	rules map[int64]*AuditRules // published rulesets never change
}

// NewAuditor returns an Auditor over opts.Store.
func NewAuditor(opts AuditorOptions) *Auditor {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Idle <= 0 {
		opts.Idle = 5 * time.Second
	}
	if opts.Pause <= 0 {
		opts.Pause = 3
	}
	if opts.BusyPause <= 0 {
		opts.BusyPause = 19
	}
	if opts.Busy == nil {
		opts.Busy = func() bool { return false }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Auditor{opts: opts, log: opts.Logger.With("component", "audit"), rules: map[int64]*AuditRules{}}
}

// Run audits until ctx ends, then returns nil.
func (a *Auditor) Run(ctx context.Context) error {
	failing := false
	for {
		start := time.Now()
		var wake <-chan struct{}
		if a.opts.Wake != nil {
			wake = a.opts.Wake() // before looking, so an upload during the look wakes the next wait
		}
		worked, err := a.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && !failing:
			a.log.Error("audit failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			a.log.Info("audit works again")
			failing = false
		}
		var rest time.Duration
		if worked && err == nil {
			pause := a.opts.Pause
			if a.opts.Busy() {
				pause = a.opts.BusyPause
			}
			rest = time.Duration(float64(time.Since(start)) * pause)
			wake = nil
		} else {
			rest = a.opts.Idle
		}
		t := time.NewTimer(rest)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

// Step audits one batch of one chain; worked is false when no chain waits.
func (a *Auditor) Step(ctx context.Context) (worked bool, err error) {
	worked, err = a.opts.Store.AuditNext(ctx, a.opts.Batch, func(b AuditBatch) (AuditResult, error) {
		published, err := a.published(ctx, b.Events)
		if err != nil {
			return AuditResult{}, err
		}
		var r AuditResult
		var excess []wire.ReturnExcess // read once, when a refund on a receipt's word is in the batch
		for i := range b.Events {
			e := &b.Events[i]
			if e.Type == event.TypeRefund && isClaim(e.Body) {
				if excess == nil {
					if excess, err = a.opts.Store.ReturnExcesses(ctx); err != nil {
						return AuditResult{}, err
					}
				}
				r.add(e.Seq, AuditClaim(b.Epoch, *e, excessOf(excess, b.Terminal, e.Seq)))
				continue
			}
			if e.Type == event.TypeRefund {
				sale, err := a.saleOf(ctx, b, i)
				if err != nil {
					return AuditResult{}, err
				}
				var returned []int64
				if sale != nil {
					if returned, err = a.opts.Store.Returned(ctx, sale.Terminal, sale.Seq, ""); err != nil {
						return AuditResult{}, err
					}
				}
				r.add(e.Seq, AuditRefund(b.Epoch, *e, sale, returned))
				continue
			}
			r.add(e.Seq, AuditEvent(b.Epoch, *e, published))
		}
		if n := len(r.Flags); n > 0 {
			a.log.Warn("sales flagged by the audit (tillhq report audit)", "terminal", b.Terminal, "epoch", b.Epoch,
				"flagged", n, "first_seq", r.Flags[0].Seq, "first", r.Flags[0].Findings[0].Code)
		}
		return r, nil
	})
	if err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	return worked, nil
}

// Drain audits until no chain waits, and returns how many batches it took.
func (a *Auditor) Drain(ctx context.Context) (batches int, err error) {
	for {
		worked, err := a.Step(ctx)
		if err != nil || !worked {
			return batches, err
		}
		batches++
	}
}

// published returns the published rulesets the sales among evs name,
// from the cache or the store.
func (a *Auditor) published(ctx context.Context, evs []event.Event) (map[int64]*AuditRules, error) {
	out := map[int64]*AuditRules{}
	var missing []int64
	a.mu.Lock()
	for i := range evs {
		v := evs[i].RulesetVersion
		if evs[i].Type != event.TypeSale {
			continue
		}
		if r, ok := a.rules[v]; ok {
			out[v] = r
		} else if !slices.Contains(missing, v) {
			missing = append(missing, v)
		}
	}
	a.mu.Unlock()
	for _, v := range missing {
		rs, err := a.opts.Store.Ruleset(ctx, v)
		if errors.Is(err, ErrNoRuleset) {
			continue // not cached: it may be published later
		}
		if err != nil {
			return nil, fmt.Errorf("ruleset version %d: %w", v, err)
		}
		r := &AuditRules{Hash: rs.Hash}
		r.Rules, r.Err = rulesfile.Parse(rs.Raw)
		a.mu.Lock()
		a.rules[v] = r
		a.mu.Unlock()
		out[v] = r
	}
	return out, nil
}

// reportAudit answers PathReportAudit: ?limit=N flags at most (default 1 000,
// 0 for all).
func (s *Server) reportAudit(w http.ResponseWriter, r *http.Request) {
	limit := 1000
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want a number of flags, 0 for all", v))
			return
		}
		limit = n
	}
	rep, err := s.opts.Store.AuditReport(r.Context(), limit)
	if err != nil {
		s.log.Error("audit report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	wire.WriteJSON(w, http.StatusOK, rep)
}
