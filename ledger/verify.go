package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// Report is what Verify found.
type Report struct {
	Terminal string
	Events   uint64 // events walked
	Accounts int    // account records compared
	Holders  int    // card holder records read
	// Anchor is the seq of the last pruned event (0 when none was): the chain
	// is verified from its hash. LastSeq is the seq of the last event.
	Anchor, LastSeq uint64
	Problems        []Problem
}

// OK reports whether Verify found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Problem is one inconsistency, tied to an event (Seq > 0), a card (Card != ""),
// or the file as a whole.
type Problem struct {
	Seq  uint64
	Card string // the full card number; String masks it
	Err  error  // event.ChainError for a broken chain; errors.Is works through it
}

// MaskedCard is the problem's card with all but its last four characters
// hidden, empty when the problem is not about a card.
func (p Problem) MaskedCard() string { return pos.MaskCard(p.Card) }

// String describes the problem with the card masked, fit for logs and screens.
func (p Problem) String() string {
	switch {
	case p.Seq > 0 && p.Card != "":
		return fmt.Sprintf("seq %d card %s: %v", p.Seq, pos.MaskCard(p.Card), p.Err)
	case p.Seq > 0:
		return fmt.Sprintf("seq %d: %v", p.Seq, p.Err)
	case p.Card != "":
		return fmt.Sprintf("card %s: %v", pos.MaskCard(p.Card), p.Err)
	}
	return p.Err.Error()
}

// Verify reads the whole file in one read transaction and checks it: bbolt's
// page structure (every page in use or free, never both; keys in order); every
// event's hash and link to the previous one (event.Verify),
// from the anchor left by pruning, gap-free seqs and the meta that summarises
// them; the sales index, both ways; the cached rulesets' hashes; and every
// account, rebuilt from its base and the events' effects and compared with the
// stored one. Problems are listed in the Report; the error is for a file that
// cannot be read at all.
//
// It walks bbolt's page structure itself, reading the file with bounds checks,
// before letting bbolt walk it, so a damaged file gives a report, not a crash. Sales can
// be recorded meanwhile; one that must grow the file's mapping waits for it.
func (l *Ledger) Verify() (rep Report, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("verify ledger %s: %w: bbolt: %v", l.path, ErrCorrupt, r)
		}
	}()
	for try := 1; ; try++ {
		err = l.viewFile(func(tx, cur *bolt.Tx) error {
			if err := l.checkAllPages(tx, !l.readOnly); err != nil {
				if !errors.Is(err, ErrCorrupt) || (errors.Is(err, errMetaGone) && try < metaTries) {
					return err
				}
				rep = Report{Problems: []Problem{{Err: err}}}
				return nil
			}
			// bbolt's own check reads the live freelist: only right while no writer
			// can run, that is when this process opened the file read-only.
			if cur != nil {
				// The records as they are with the journaled sales; the
				// pages checked are those of the file.
				tx = cur
			}
			rep = verify(tx, l.readOnly, l.checkedRuleset)
			return nil
		})
		if !errors.Is(err, errMetaGone) {
			break
		}
	}
	if err != nil {
		return Report{}, fmt.Errorf("verify ledger %s: %w", l.path, err)
	}
	if !rep.OK() {
		l.log.Warn("ledger verify found problems", logProblems, len(rep.Problems), logFirst, rep.Problems[0].String())
	}
	return rep, nil
}

// errMetaGone is checkAllPages's error when the meta page of tx's snapshot was
// overwritten before it could be read: bbolt keeps two meta pages and writes
// them in turn, so two commits right after tx began reuse its page (the pages of
// the snapshot stay, as long as tx is open). A new read transaction is the cure.
var errMetaGone = errors.New("the snapshot's meta page was overwritten by later commits")

// metaTries bounds the read transactions Verify begins when errMetaGone
// happens; it is then damage.
const metaTries = 10

// checkAllPages walks every page of tx's snapshot with the bounds-checked
// reader (pages.go): bbolt's own check and cursors trust the pages. Damage is
// ErrCorrupt; a meta page overwritten meanwhile is ErrCorrupt and errMetaGone.
//
// live says writers may be committing meanwhile (Verify on a read-write ledger).
func (l *Ledger) checkAllPages(tx *bolt.Tx, live bool) error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	pageSize := l.db.Info().PageSize
	snap, err := readSnapshot(f, pageSize, uint64(tx.ID()))
	if err != nil {
		if live {
			return fmt.Errorf("%w: %w: %v", ErrCorrupt, errMetaGone, err)
		}
		return fmt.Errorf("%w: bbolt pages: %v", ErrCorrupt, err)
	}
	if err := checkPages(f, pageSize, snap, true); err != nil {
		return fmt.Errorf("%w: bbolt pages: %v", ErrCorrupt, err)
	}
	return nil
}

// verifier collects the problems of one Verify.
type verifier struct {
	tx  *bolt.Tx
	rep Report
	// foreign counts, by returns key, what the kept refunds of other
	// terminals' sales returned.
	foreign map[string][]int64
	// pruned counts, by sale, what the kept refunds of this terminal's
	// pruned sales returned (sales pruned since schema 5 keep their counts).
	pruned map[uint64][]int64
	// anchor and returnsKept are the meta's: sales up to anchor are pruned,
	// and those after returnsKept kept their returns count.
	anchor, returnsKept uint64
	// checkRuleset decodes and checks a cached ruleset (Ledger.checkedRuleset).
	checkRuleset func(version uint64, rec []byte) (CachedRuleset, error)
}

func (v *verifier) add(seq uint64, card string, err error) {
	v.rep.Problems = append(v.rep.Problems, Problem{Seq: seq, Card: card, Err: err})
}

func (v *verifier) addf(seq uint64, card, format string, args ...any) {
	v.add(seq, card, fmt.Errorf(format, args...))
}

func verify(tx *bolt.Tx, boltCheck bool, checkRuleset func(version uint64, rec []byte) (CachedRuleset, error)) Report {
	v := &verifier{tx: tx, checkRuleset: checkRuleset}
	if boltCheck {
		for err := range tx.Check() {
			v.addf(0, "", "bbolt: %v", err)
		}
	}
	missing := false
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			v.addf(0, "", "bucket %q is missing", name)
			missing = true
		}
	}
	if missing {
		return v.rep
	}
	m, err := readMeta(tx)
	if err != nil {
		v.add(0, "", err)
		return v.rep
	}
	v.rep.Terminal, v.rep.Anchor = m.terminal, m.anchorSeq
	if m.schema != SchemaVersion {
		v.addf(0, "", "meta: schema %d, want %d", m.schema, SchemaVersion)
	}
	if err := checkTerminal(m.terminal); err != nil {
		v.addf(0, "", "meta: %v", err)
	}
	bases := v.bases(m.lastSeq)
	lastSeq, lastHash, ids, accounts, returns := v.events(m, bases)
	v.rep.LastSeq = lastSeq
	if m.lastSeq != lastSeq {
		v.addf(0, "", "meta: last seq is %d, the last event is %d", m.lastSeq, lastSeq)
	}
	if m.lastHash != lastHash {
		v.addf(0, "", "meta: last hash %.12s… differs from event %d's %.12s…", m.lastHash, lastSeq, lastHash)
	}
	if m.acked > m.lastSeq {
		v.addf(0, "", "meta: acknowledged seq %d is beyond the last seq %d", m.acked, m.lastSeq)
	}
	if m.anchorSeq > m.acked {
		v.addf(0, "", "meta: events up to %d were pruned, but HQ acknowledged only %d", m.anchorSeq, m.acked)
	}
	v.sales(m.anchorSeq, lastSeq, ids)
	v.epoch(tx, m)
	v.accounts(accounts)
	v.anchor, v.returnsKept = m.anchorSeq, m.returnsKept
	if m.returnsKeptStored > m.anchorSeq {
		v.addf(0, "", "meta: returns_kept %d is beyond the anchor %d: no kept sale can have lost its returns count", m.returnsKeptStored, m.anchorSeq)
	}
	v.returns(returns)
	v.rules(m.activeRules)
	v.holders()
	return v.rep
}

// holders checks that every card holder record decodes and names its card.
// They are outside the chain: nothing else ties them to the events.
func (v *verifier) holders() {
	_ = v.tx.Bucket(bucketHolders).ForEach(func(k, val []byte) error {
		v.rep.Holders++
		r, err := decodeHolder(val)
		switch {
		case err != nil:
			v.add(0, string(k), err)
		case r.Card != string(k):
			v.addf(0, string(k), "holder record names card %s", pos.MaskCard(r.Card))
		}
		return nil
	})
}

// bases reads every card's base.
func (v *verifier) bases(lastSeq uint64) map[string]base {
	out := make(map[string]base)
	_ = v.tx.Bucket(bucketBases).ForEach(func(k, val []byte) error {
		card := string(k)
		b, err := decodeBase(val)
		switch {
		case err != nil:
			v.add(0, card, err)
		case b.through > lastSeq:
			v.addf(0, card, "base as of seq %d, beyond the last event %d", b.through, lastSeq)
		case b.acct.Card != card:
			v.addf(0, card, "base of card %s stored under this card", pos.MaskCard(b.acct.Card))
		default:
			out[card] = b
		}
		return nil
	})
	return out
}

// events walks the chain from the anchor and rebuilds the accounts from their
// bases and the effects. It returns the last seq and hash seen, the sale id of
// each event, and the rebuilt accounts.
func (v *verifier) events(m meta, bases map[string]base) (lastSeq uint64, lastHash string, ids map[uint64]string, accounts map[string]*pos.Account, returns map[uint64][]int64) {
	accounts = make(map[string]*pos.Account)
	returns = make(map[uint64][]int64)
	ids = make(map[uint64]string)
	for card, b := range bases {
		a := b.acct
		accounts[card] = &a
	}
	events, effects := v.tx.Bucket(bucketEvents), v.tx.Bucket(bucketEffects)
	lastSeq, lastHash = m.anchorSeq, m.anchorHash
	c := events.Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		seq, err := seqKey(k)
		if err != nil {
			v.addf(0, "", "events: key %x: %v", k, err)
			continue
		}
		v.rep.Events++
		e, err := decodeEvent(val)
		if err != nil {
			v.add(seq, "", err)
			lastSeq = seq
			continue
		}
		if e.Seq != seq {
			v.addf(seq, "", "event stored under seq %d says seq %d", seq, e.Seq)
		}
		if e.Terminal != m.terminal {
			v.addf(seq, "", "event of terminal %q in the ledger of %q", e.Terminal, m.terminal)
		}
		if want := eventID(m.terminal, seq); e.ID != want {
			v.addf(seq, "", "event id %q, want %q", e.ID, want)
		}
		// Check the link against the key's order, so a gap is reported once and
		// the events after it are still checked against their own predecessor.
		if err := event.Verify(lastSeq, lastHash, &e); err != nil {
			v.add(seq, "", err)
		}
		lastSeq, lastHash = seq, e.Hash
		fv := effects.Get(k)
		if fv == nil {
			v.addf(seq, "", "no effect record")
			continue
		}
		f, err := decodeEffect(fv)
		if err != nil {
			v.add(seq, "", err)
			continue
		}
		if f.saleID == "" {
			v.addf(seq, "", "effect names no sale id")
		} else {
			ids[seq] = f.saleID
		}
		if card, ok := bodyCard(e.Body); ok && card != f.card {
			v.addf(seq, f.card, "effect's card differs from the card in the event body (%s)", pos.MaskCard(card))
		}
		if e.Type == event.TypeRefund {
			v.refund(m, seq, e.Body, returns)
		}
		if f.card == "" || seq <= bases[f.card].through {
			continue
		}
		a := accounts[f.card]
		if a == nil {
			a = &pos.Account{Card: f.card}
			accounts[f.card] = a
		}
		if err := applyEffect(a, f, e.Type, e.Body, e.At); err != nil {
			v.add(seq, f.card, err)
		}
	}
	if k, _ := effects.Cursor().First(); k != nil {
		if n, err := seqKey(k); err != nil || n <= m.anchorSeq {
			v.addf(0, "", "effects: record %x at or before the anchor %d", k, m.anchorSeq)
		}
	}
	if k, _ := effects.Cursor().Last(); k != nil {
		if n, err := seqKey(k); err != nil || n > lastSeq {
			v.addf(0, "", "effects: record %x beyond the last event %d", k, lastSeq)
		}
	}
	return lastSeq, lastHash, ids, accounts, returns
}

// refund adds what the refund event seq returned to the counts of its sale,
// when the sale is kept, checking it against the sale's lines.
func (v *verifier) refund(m meta, seq uint64, body []byte, returns map[uint64][]int64) {
	f, err := decodeRefundFacts(body)
	switch {
	case err != nil:
		v.add(seq, "", err)
		return
	case f.SaleTerminal != "":
		key := string(foreignReturnsKey(f.SaleTerminal, f.SaleSeq))
		counts, err := addLines(v.foreign[key], f.returnLines())
		if err != nil {
			v.addf(seq, "", "refund of sale %d of %s: %v", f.SaleSeq, f.SaleTerminal, err)
			return
		}
		if v.foreign == nil {
			v.foreign = map[string][]int64{}
		}
		v.foreign[key] = counts
		return
	case f.SaleSeq >= seq:
		v.addf(seq, "", "refund of sale %d, recorded after it", f.SaleSeq)
		return
	case f.SaleSeq <= m.returnsKept:
		return // the sale was pruned, and its counts with it (schema 4)
	case f.SaleSeq <= m.anchorSeq:
		// The sale is pruned; its count stays, at least what the kept
		// refunds of it returned (returns compares).
		if v.pruned == nil {
			v.pruned = map[uint64][]int64{}
		}
		counts, err := addLines(v.pruned[f.SaleSeq], f.returnLines())
		if err != nil {
			v.addf(seq, "", "refund of sale %d: %v", f.SaleSeq, err)
		}
		v.pruned[f.SaleSeq] = counts
		return
	}
	counts := returns[f.SaleSeq]
	if counts == nil {
		var sl saleLines
		e, err := decodeEvent(v.tx.Bucket(bucketEvents).Get(u64(f.SaleSeq)))
		if err == nil && e.Type != event.TypeSale {
			err = fmt.Errorf("event %d is a %s", f.SaleSeq, e.Type)
		}
		if err == nil {
			err = json.Unmarshal(e.Body, &sl)
		}
		if err != nil {
			v.addf(seq, "", "refund of sale %d: %v", f.SaleSeq, err)
			return
		}
		counts = make([]int64, len(sl.Lines))
		for i, l := range sl.Lines {
			counts[i] = -l.Qty // what is left to return, below zero
		}
		returns[f.SaleSeq] = counts
	}
	for _, l := range f.Lines {
		if l.Line < 1 || l.Line > len(counts) || l.Qty < 1 {
			v.addf(seq, "", "refund of sale %d returns %d of line %d", f.SaleSeq, l.Qty, l.Line)
			continue
		}
		counts[l.Line-1] += l.Qty
		if counts[l.Line-1] > 0 {
			v.addf(seq, "", "refunds of sale %d return %d more units of line %d than were sold", f.SaleSeq, counts[l.Line-1], l.Line)
		}
	}
}

// returns compares the returns bucket with the counts rebuilt from the
// refund events.
func (v *verifier) returns(rebuilt map[uint64][]int64) {
	stored := map[uint64]bool{}
	if b := v.tx.Bucket(bucketReturns); b != nil {
		_ = b.ForEach(func(k, val []byte) error {
			if bytes.HasPrefix(k, []byte(foreignReturnsPrefix)) {
				v.foreignReturns(k, val)
				return nil
			}
			seq, err := seqKey(k)
			if err != nil {
				v.addf(0, "", "returns: key %x: %v", k, err)
				return nil
			}
			stored[seq] = true
			if seq <= v.anchor {
				v.prunedReturns(seq, val)
				return nil
			}
			counts, ok := rebuilt[seq]
			if !ok {
				v.addf(seq, "", "returns recorded for sale %d, which no refund kept returns", seq)
				return nil
			}
			r, err := decodeReturns(val, len(counts))
			if err != nil {
				v.add(seq, "", err)
				return nil
			}
			e, _ := decodeEvent(v.tx.Bucket(bucketEvents).Get(k))
			var sl saleLines
			_ = json.Unmarshal(e.Body, &sl)
			for i := range counts {
				if i < len(sl.Lines) && r.Lines[i] != counts[i]+sl.Lines[i].Qty {
					v.addf(seq, "", "returns of sale %d: line %d counted %d, the refunds return %d", seq, i+1, r.Lines[i], counts[i]+sl.Lines[i].Qty)
				}
			}
			return nil
		})
	}
	seqs := make([]uint64, 0)
	for seq := range rebuilt {
		if !stored[seq] {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		v.addf(seq, "", "the returns of sale %d are not recorded", seq)
	}
	for _, k := range slices.Sorted(maps.Keys(v.foreign)) {
		v.addf(0, "", "the returns %q of another terminal's sale are not recorded", k)
	}
	for _, seq := range slices.Sorted(maps.Keys(v.pruned)) {
		if !stored[seq] {
			v.addf(seq, "", "the returns of pruned sale %d are not recorded", seq)
		}
	}
}

// prunedReturns checks the returns count val of this terminal's pruned
// sale seq: it counts at least what the kept refunds of it returned (those
// pruned with or after it are not there to count).
func (v *verifier) prunedReturns(seq uint64, val []byte) {
	var r returnsRecord
	if err := json.Unmarshal(val, &r); err != nil {
		v.addf(seq, "", "returns of pruned sale %d: %v", seq, err)
		return
	}
	if err := r.checkCounts(); err != nil {
		v.addf(seq, "", "returns of pruned sale %d: %v", seq, err)
	}
	for i, n := range v.pruned[seq] {
		if i >= len(r.Lines) || r.Lines[i] < n {
			got := int64(0)
			if i < len(r.Lines) {
				got = r.Lines[i]
			}
			v.addf(seq, "", "returns of pruned sale %d: line %d counted %d, the kept refunds return %d", seq, i+1, got, n)
		}
	}
}

// sales checks the sales index against the events' sale ids, both ways: every
// entry points at a kept event recorded under its id, and every kept event's id
// is in the index.
func (v *verifier) sales(anchor, lastSeq uint64, ids map[uint64]string) {
	indexed := make(map[uint64]bool)
	_ = v.tx.Bucket(bucketSales).ForEach(func(id, val []byte) error {
		ref, err := decodeSaleRef(val)
		switch {
		case err != nil:
			v.addf(0, "", "sale %q: %v", id, err)
		case ref.seq > lastSeq:
			v.addf(ref.seq, "", "sale %q points beyond the last event %d", id, lastSeq)
		case ref.seq <= anchor:
			v.addf(ref.seq, "", "sale %q points at a pruned event (anchor %d)", id, anchor)
		case indexed[ref.seq]:
			v.addf(ref.seq, "", "sale %q points at an event another sale id points at", id)
		case ids[ref.seq] != "" && ids[ref.seq] != string(id):
			v.addf(ref.seq, "", "sale %q points at the event of sale %q", id, ids[ref.seq])
		default:
			indexed[ref.seq] = true
		}
		return nil
	})
	seqs := make([]uint64, 0)
	for seq := range ids {
		if !indexed[seq] {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		v.addf(seq, "", "sale %q is missing from the sales index", ids[seq])
	}
}

// accounts compares the stored accounts with the ones rebuilt from the bases and
// events.
func (v *verifier) accounts(rebuilt map[string]*pos.Account) {
	stored := make(map[string]bool)
	_ = v.tx.Bucket(bucketAccounts).ForEach(func(k, val []byte) error {
		card := string(k)
		stored[card] = true
		v.rep.Accounts++
		a, err := decodeAccount(val)
		if err != nil {
			v.add(0, card, err)
			return nil
		}
		want := rebuilt[card]
		if want == nil {
			v.addf(0, card, "account has no sale events and no base")
			return nil
		}
		if diff := accountDiff(a, *want); diff != "" {
			v.addf(0, card, "stored account differs from the one rebuilt from events: %s", diff)
		}
		return nil
	})
	cards := make([]string, 0, len(rebuilt))
	for card := range rebuilt {
		if !stored[card] {
			cards = append(cards, card)
		}
	}
	sort.Strings(cards)
	for _, card := range cards {
		v.addf(0, card, "account record is missing (%d sales in its base and events)", rebuilt[card].Sales)
	}
}

func accountDiff(got, want pos.Account) string {
	var diff []string
	if got.Card != want.Card {
		diff = append(diff, fmt.Sprintf("card %s, want %s", pos.MaskCard(got.Card), pos.MaskCard(want.Card)))
	}
	if got.LifetimeSpend != want.LifetimeSpend {
		diff = append(diff, fmt.Sprintf("lifetime_spend %d, want %d", got.LifetimeSpend, want.LifetimeSpend))
	}
	if got.Points != want.Points {
		diff = append(diff, fmt.Sprintf("points %d, want %d", got.Points, want.Points))
	}
	if got.Sales != want.Sales {
		diff = append(diff, fmt.Sprintf("sales %d, want %d", got.Sales, want.Sales))
	}
	if !got.LastSale.Equal(want.LastSale) {
		diff = append(diff, fmt.Sprintf("last_sale %s, want %s", got.LastSale, want.LastSale))
	}
	if !got.BirthdayBonus.Equal(want.BirthdayBonus) {
		diff = append(diff, fmt.Sprintf("birthday_bonus %s, want %s", got.BirthdayBonus, want.BirthdayBonus))
	}
	if !slices.EqualFunc(got.Lots, want.Lots, func(a, b pos.PointsLot) bool {
		return a.Points == b.Points && a.Earned.Equal(b.Earned) && a.Expires.Equal(b.Expires)
	}) {
		diff = append(diff, fmt.Sprintf("lots %v, want %v", got.Lots, want.Lots))
	}
	return strings.Join(diff, ", ")
}

// rules checks every cached ruleset: its hash against its bytes, and with
// Options.CheckRuleset HQ's signature; and that the active one is cached.
func (v *verifier) rules(active uint64) {
	found := false
	_ = v.tx.Bucket(bucketRulesets).ForEach(func(k, val []byte) error {
		n, err := seqKey(k)
		if err != nil {
			v.addf(0, "", "ruleset key %x: %v", k, err)
			return nil
		}
		found = found || n == active
		if _, err := v.checkRuleset(n, val); err != nil {
			v.add(0, "", err)
		}
		return nil
	})
	if active != 0 && !found {
		v.addf(0, "", "the active ruleset version %d is not cached", active)
	}
}

// foreignReturns checks the count of the returns of another terminal's sale
// under key k: at least what the kept refunds returned (the refunds pruned
// since counted too).
func (v *verifier) foreignReturns(k, val []byte) {
	var r returnsRecord
	if err := json.Unmarshal(val, &r); err != nil {
		v.addf(0, "", "returns %q: %v", k, err)
		return
	}
	want := v.foreign[string(k)]
	if len(r.Lines) < len(want) {
		v.addf(0, "", "returns %q count %d lines, the refunds return %d", k, len(r.Lines), len(want))
		return
	}
	for i, n := range want {
		if r.Lines[i] < n {
			v.addf(0, "", "returns %q: line %d counted %d, the refunds return %d", k, i+1, r.Lines[i], n)
		}
	}
	delete(v.foreign, string(k))
}
