package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
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
	Problems []Problem
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

// String describes the problem with the card masked, fit for logs and screens.
func (p Problem) String() string {
	switch {
	case p.Seq > 0 && p.Card != "":
		return fmt.Sprintf("seq %d card %s: %v", p.Seq, mask(p.Card), p.Err)
	case p.Seq > 0:
		return fmt.Sprintf("seq %d: %v", p.Seq, p.Err)
	case p.Card != "":
		return fmt.Sprintf("card %s: %v", mask(p.Card), p.Err)
	}
	return p.Err.Error()
}

// Verify reads the whole file in one read transaction and checks it: bbolt's own
// page structure; every event's hash and link to the previous one (event.Verify),
// gap-free seqs from 1 and the meta that summarises them; the sales index; the
// ruleset's hash; and every account, rebuilt from the events' effects and compared
// with the stored one. Problems are listed in the Report; the error is for a file
// that cannot be read at all.
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
	err = l.view(func(tx *bolt.Tx) error {
		// bbolt's own check and cursors trust the pages; walk them safely first.
		f, err := os.Open(l.path)
		if err != nil {
			return err
		}
		defer f.Close()
		pageSize := l.db.Info().PageSize
		snap, err := readSnapshot(f, pageSize, uint64(tx.ID()))
		if err == nil {
			err = checkPages(f, pageSize, snap, true)
		}
		if err != nil {
			rep = Report{Problems: []Problem{{Err: fmt.Errorf("%w: bbolt pages: %v", ErrCorrupt, err)}}}
			return nil
		}
		rep = verify(tx)
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("verify ledger %s: %w", l.path, err)
	}
	if !rep.OK() {
		l.log.Warn("ledger verify found problems", logProblems, len(rep.Problems), logFirst, rep.Problems[0].String())
	}
	return rep, nil
}

// verifier collects the problems of one Verify.
type verifier struct {
	tx  *bolt.Tx
	rep Report
}

func (v *verifier) add(seq uint64, card string, err error) {
	v.rep.Problems = append(v.rep.Problems, Problem{Seq: seq, Card: card, Err: err})
}

func (v *verifier) addf(seq uint64, card, format string, args ...any) {
	v.add(seq, card, fmt.Errorf(format, args...))
}

func verify(tx *bolt.Tx) Report {
	v := &verifier{tx: tx}
	for err := range tx.Check() {
		v.addf(0, "", "bbolt: %v", err)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			v.addf(0, "", "bucket %q is missing", name)
		}
	}
	if tx.Bucket(bucketMeta) == nil {
		return v.rep
	}
	m, err := readMeta(tx)
	if err != nil {
		v.add(0, "", err)
		return v.rep
	}
	v.rep.Terminal = m.terminal
	if m.schema != SchemaVersion {
		v.addf(0, "", "meta: schema %d, want %d", m.schema, SchemaVersion)
	}
	if err := checkTerminal(m.terminal); err != nil {
		v.addf(0, "", "meta: %v", err)
	}
	lastSeq, lastHash, accounts := v.events(m.terminal)
	if m.lastSeq != lastSeq {
		v.addf(0, "", "meta: last seq is %d, the last event is %d", m.lastSeq, lastSeq)
	}
	if m.lastHash != lastHash {
		v.addf(0, "", "meta: last hash %.12s… differs from event %d's %.12s…", m.lastHash, lastSeq, lastHash)
	}
	if m.acked > m.lastSeq {
		v.addf(0, "", "meta: acknowledged seq %d is beyond the last seq %d", m.acked, m.lastSeq)
	}
	v.sales(lastSeq)
	v.accounts(accounts)
	v.rules()
	return v.rep
}

// events walks the chain and rebuilds the accounts from the effects. It returns
// the last seq and hash seen.
func (v *verifier) events(terminal string) (lastSeq uint64, lastHash string, accounts map[string]*pos.Account) {
	accounts = make(map[string]*pos.Account)
	events, effects := v.tx.Bucket(bucketEvents), v.tx.Bucket(bucketEffects)
	if events == nil {
		return 0, "", accounts
	}
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
		if e.Terminal != terminal {
			v.addf(seq, "", "event of terminal %q in the ledger of %q", e.Terminal, terminal)
		}
		if want := eventID(terminal, seq); e.ID != want {
			v.addf(seq, "", "event id %q, want %q", e.ID, want)
		}
		// Check the link against the key's order, so a gap is reported once and
		// the events after it are still checked against their own predecessor.
		if err := event.Verify(lastSeq, lastHash, &e); err != nil {
			v.add(seq, "", err)
		}
		lastSeq, lastHash = seq, e.Hash
		if effects == nil {
			continue
		}
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
		if card, ok := bodyCard(e.Body); ok && card != f.card {
			v.addf(seq, f.card, "effect's card differs from the card in the event body (%s)", mask(card))
		}
		if f.card == "" {
			continue
		}
		a := accounts[f.card]
		if a == nil {
			a = &pos.Account{Card: f.card}
			accounts[f.card] = a
		}
		if err := addAccount(a, f.spend, f.points); err != nil {
			v.add(seq, f.card, err)
		}
		a.LastSale = e.At
	}
	if effects != nil {
		if k, _ := effects.Cursor().Last(); k != nil {
			if n, err := seqKey(k); err != nil || n > lastSeq {
				v.addf(0, "", "effects: record %x beyond the last event %d", k, lastSeq)
			}
		}
	}
	return lastSeq, lastHash, accounts
}

// sales checks that every sales index entry points at a recorded event and that
// no two ids share one.
func (v *verifier) sales(lastSeq uint64) {
	b := v.tx.Bucket(bucketSales)
	if b == nil {
		return
	}
	seen := make(map[uint64]string)
	_ = b.ForEach(func(id, val []byte) error {
		ref, err := decodeSaleRef(val)
		switch {
		case err != nil:
			v.addf(0, "", "sale %q: %v", id, err)
		case ref.seq > lastSeq:
			v.addf(ref.seq, "", "sale %q points beyond the last event %d", id, lastSeq)
		case seen[ref.seq] != "":
			v.addf(ref.seq, "", "sales %q and %q share one event", seen[ref.seq], id)
		default:
			seen[ref.seq] = string(id)
		}
		return nil
	})
}

// accounts compares the stored accounts with the ones rebuilt from the events.
func (v *verifier) accounts(rebuilt map[string]*pos.Account) {
	b := v.tx.Bucket(bucketAccounts)
	if b == nil {
		return
	}
	stored := make(map[string]bool)
	_ = b.ForEach(func(k, val []byte) error {
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
			v.addf(0, card, "account has no sale events")
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
		v.addf(0, card, "account record is missing (%d sales in events)", rebuilt[card].Sales)
	}
}

func accountDiff(got, want pos.Account) string {
	var diff []string
	if got.Card != want.Card {
		diff = append(diff, fmt.Sprintf("card %s, want %s", mask(got.Card), mask(want.Card)))
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
	return strings.Join(diff, ", ")
}

// rules checks the stored ruleset's hash against its bytes.
func (v *verifier) rules() {
	b := v.tx.Bucket(bucketRules)
	if b == nil || b.Get(keyRulesVersion) == nil {
		return
	}
	if _, err := seqKey(b.Get(keyRulesVersion)); err != nil {
		v.addf(0, "", "ruleset version: %v", err)
	}
	sum := sha256.Sum256(b.Get(keyRulesRaw))
	if got := b.Get(keyRulesHash); !bytes.Equal(got, []byte(hex.EncodeToString(sum[:]))) {
		v.add(0, "", errors.New("ruleset: stored hash does not match its bytes"))
	}
}
