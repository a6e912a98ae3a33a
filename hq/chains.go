package hq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/sync/wire"
)

// A terminal's events are filed by chain: (terminal, epoch, seq). A terminal's
// first ledger uploads under the empty epoch; a ledger created empty, or one that
// found HQ holds other events under its seqs (a fork: restored from a backup),
// uploads under a new epoch of its own, based on an event of a parent epoch.
// HQ keeps every chain: each acknowledged event stays where it was filed, and
// the sales of all of them add up in the reports and the accounts.

// ChainState is one of a terminal's chains as a store keeps it. Before its first
// event, the Watermark is its base.
type ChainState struct {
	Epoch event.Epoch
	// BaseVerified: the parent held event BaseSeq with BaseHash when the
	// epoch began (always true for a chain based on nothing).
	BaseVerified bool
	Watermark
	Count int64
	Total int64
	// Refunds and Refunded are the refund events and the money they took
	// off the sales (the goods' part of what they handed back).
	Refunds  int64
	Refunded int64
	Currency string
	Created  time.Time
	Last     time.Time // the last upload that stored events
}

// Wire returns the chain as the reports show it.
func (c ChainState) Wire(head bool) wire.Chain {
	return wire.Chain{Epoch: c.Epoch, BaseVerified: c.BaseVerified, Acked: c.Seq, Hash: c.Hash,
		Count: c.Count, Total: c.Total, Refunds: c.Refunds, Refunded: c.Refunded, Net: c.Total - c.Refunded,
		Created: c.Created, LastUpload: c.Last, Head: head}
}

// ChainTx is what the chain logic reads of one terminal inside a store's
// transaction.
type ChainTx interface {
	// Chain returns the terminal's chain of the epoch; ok is false when HQ
	// has none.
	Chain(epoch string) (c ChainState, ok bool, err error)
	// Hashes returns the hashes of the events filed under the epoch itself
	// with seqs from..to, in order, "" for a seq without one.
	Hashes(epoch string, from, to uint64) ([]string, error)
}

// ErrBadEpoch: an upload names an epoch that cannot be (a malformed id, a base
// without a hash, a first chain with a parent).
var ErrBadEpoch = errors.New("bad epoch")

// CheckEpoch checks what a terminal says of the chain it uploads to.
func CheckEpoch(e event.Epoch) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadEpoch, fmt.Sprintf(format, args...))
	}
	if err := event.CheckEpochID(e.ID); err != nil {
		return bad("%v", err)
	}
	if err := event.CheckEpochID(e.Parent); err != nil {
		return bad("parent: %v", err)
	}
	switch {
	case e.ID == "" && (e.Parent != "" || e.BaseSeq != 0 || e.BaseHash != ""):
		return bad("the first chain (empty id) has no parent or base")
	case e.ID != "" && e.ID == e.Parent:
		return bad("epoch %q names itself as its parent", e.ID)
	case e.BaseSeq == 0 && (e.BaseHash != "" || e.Parent != ""):
		return bad("a chain based on nothing has no base hash or parent")
	case e.BaseSeq > 0:
		if b, err := hex.DecodeString(e.BaseHash); err != nil || len(b) != 32 {
			return bad("base hash %q is not a SHA-256 in hex", e.BaseHash)
		}
	}
	return nil
}

// maxLineage bounds the walk up an epoch's parents (a store's data is trusted,
// but a loop must not hang an upload).
const maxLineage = 64

// OpenChain returns the chain an upload under e extends: the one HQ has, or a
// new one (isNew) starting at e's base, verified against its parent's events.
func OpenChain(tx ChainTx, e event.Epoch, now time.Time) (c ChainState, isNew bool, err error) {
	c, ok, err := tx.Chain(e.ID)
	if err != nil || ok {
		return c, false, err
	}
	c = ChainState{Epoch: e, BaseVerified: true, Watermark: Watermark{Seq: e.BaseSeq, Hash: e.BaseHash}, Created: now}
	if e.BaseSeq > 0 {
		p, ok, err := tx.Chain(e.Parent)
		if err != nil {
			return c, false, err
		}
		c.BaseVerified = false
		if ok && p.Seq >= e.BaseSeq {
			hs, err := Held(tx, p)(e.BaseSeq, e.BaseSeq)
			if err != nil {
				return c, false, err
			}
			c.BaseVerified = len(hs) == 1 && hs[0] == e.BaseHash
		}
	}
	return c, true, nil
}

// Held returns the HeldFunc of chain c: the hashes of its own events above its
// base, and of its parents' at or below it.
func Held(tx ChainTx, c ChainState) HeldFunc {
	return func(from, to uint64) ([]string, error) {
		var out []string
		err := Lineage(tx, c, from, to, func(epoch string, lo, hi uint64) error {
			if len(out) == 0 && lo > from { // below the oldest parent HQ has
				out = make([]string, lo-from)
			}
			hs, err := tx.Hashes(epoch, lo, hi)
			out = append(out, hs...)
			return err
		})
		return out, err
	}
}

// Lineage calls fn for the parts of seqs from..to of chain c, lowest first: the
// epoch whose events hold each part. Seqs below the oldest parent HQ has are
// left out (fn is not called for them).
func Lineage(tx ChainTx, c ChainState, from, to uint64, fn func(epoch string, from, to uint64) error) error {
	type part struct {
		epoch    string
		from, to uint64
	}
	var parts []part // highest first
	cur := c
	for depth := 0; from <= to; depth++ {
		if depth == maxLineage {
			return fmt.Errorf("chain %q: more than %d parents", c.Epoch.ID, maxLineage)
		}
		if lo := max(from, cur.Epoch.BaseSeq+1); lo <= to {
			parts = append(parts, part{cur.Epoch.ID, lo, to})
		}
		if from > cur.Epoch.BaseSeq || cur.Epoch.BaseSeq == 0 {
			break
		}
		to = cur.Epoch.BaseSeq
		p, ok, err := tx.Chain(cur.Epoch.Parent)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		cur = p
	}
	for i := len(parts) - 1; i >= 0; i-- {
		if err := fn(parts[i].epoch, parts[i].from, parts[i].to); err != nil {
			return err
		}
	}
	return nil
}

// Appended moves c on by what Extend stored, as of now.
func (c *ChainState) Appended(x Extension, now time.Time) {
	c.Watermark = x.Next
	for _, s := range x.Sales {
		if s.Refund {
			c.Refunds++
			c.Refunded -= int64(s.Total)
		} else {
			c.Count++
			c.Total += int64(s.Total)
		}
		if c.Currency == "" {
			c.Currency = s.Currency
		}
	}
	c.Last = now
}

// SortChains orders a terminal's chains as the reports show them: oldest
// first (the first chain, created before chains had a time, leads).
func SortChains(cs []wire.Chain) {
	slices.SortStableFunc(cs, func(a, b wire.Chain) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Epoch.ID, b.Epoch.ID)
	})
}
