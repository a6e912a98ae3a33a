package ledger

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
)

// The chain's epoch (see event.Epoch) is the meta key "epoch": the JSON of the
// epoch the ledger's new events are filed under at HQ. A file without it (made
// before epochs) is on the terminal's first chain, the empty epoch. A new file
// begins an epoch of its own, based on nothing: a till started empty never
// files its seq 1 under a seq HQ holds from an earlier ledger.

var keyEpoch = []byte("epoch")

// ErrFork is returned by Fork when it cannot keep a promise it makes: events
// HQ must get again were pruned.
var ErrFork = errors.New("cannot continue in a new epoch")

// newEpochID returns a random epoch id: 16 hex digits.
func newEpochID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func readEpoch(b *bolt.Bucket) (event.Epoch, error) {
	var e event.Epoch
	v := b.Get(keyEpoch)
	if v == nil {
		return e, nil
	}
	if last := lastEpoch.Load(); last != nil && bytes.Equal(last.raw, v) {
		return last.epoch, nil // every commit reads it: decode it once
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return e, fmt.Errorf("%w: meta epoch: %v", ErrCorrupt, err)
	}
	if err := event.CheckEpochID(e.ID); err != nil {
		return e, fmt.Errorf("%w: meta epoch: %v", ErrCorrupt, err)
	}
	lastEpoch.Store(&decodedEpoch{raw: bytes.Clone(v), epoch: e})
	return e, nil
}

// decodedEpoch is an epoch's stored bytes and what readEpoch made of them.
type decodedEpoch struct {
	raw   []byte
	epoch event.Epoch
}

// lastEpoch is the epoch readEpoch decoded last, by its bytes: the same
// bytes decode the same in any file.
var lastEpoch atomic.Pointer[decodedEpoch]

func putEpoch(tx *bolt.Tx, e event.Epoch) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyEpoch, v)
}

// Epoch returns the epoch the ledger's events are filed under at HQ.
func (l *Ledger) Epoch() (event.Epoch, error) {
	var e event.Epoch
	err := l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		e = m.epoch
		return err
	})
	if err != nil {
		return event.Epoch{}, fmt.Errorf("ledger epoch: %w", err)
	}
	return e, nil
}

// Fork moves the ledger to a new epoch because HQ holds, under the epoch named
// from, another event than this ledger's under seq at: the ledger was restored
// from a backup, or copied. The new epoch is based on this ledger's event at-1,
// which HQ holds as this ledger has it; every event after it is filed under the
// new epoch, so HQ keeps both its own copy and this ledger's, and no
// acknowledged sale of either is hidden. Events after at-1 that were taken as
// acknowledged are not any more: they go to HQ again, in the new epoch.
//
// A Fork naming an epoch the ledger has already left changes nothing (a late
// answer) and returns the current epoch with moved false. When events HQ must
// get again were pruned, the new epoch starts after the last pruned one and the
// error wraps ErrFork: HQ will show its base as unverified.
func (l *Ledger) Fork(from string, at uint64) (e event.Epoch, moved bool, err error) {
	var pruned error
	err = l.update(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		e = m.epoch
		switch {
		case m.epoch.ID != from:
			return nil
		case at == 0 || at > m.lastSeq+1:
			return fmt.Errorf("fork at seq %d: the ledger's events are 1..%d", at, m.lastSeq)
		}
		base := at - 1
		if base < m.anchorSeq {
			pruned = fmt.Errorf("%w: HQ differs from seq %d, but events up to %d were pruned: the new epoch starts after them", ErrFork, at, m.anchorSeq)
			base = m.anchorSeq
		}
		next := event.Epoch{ID: newEpochID(), Parent: m.epoch.ID, BaseSeq: base}
		switch {
		case base == 0:
			next.Parent = ""
		case base == m.anchorSeq:
			next.BaseHash = m.anchorHash
		default:
			be, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(base)))
			if err != nil {
				return fmt.Errorf("event %d: %w", base, err)
			}
			next.BaseHash = be.Hash
		}
		if err := putEpoch(tx, next); err != nil {
			return err
		}
		if m.acked > base {
			if err := tx.Bucket(bucketMeta).Put(keyAcked, u64(base)); err != nil {
				return err
			}
		}
		e, moved = next, true
		return nil
	})
	if err != nil {
		return event.Epoch{}, false, fmt.Errorf("ledger fork at %d: %w", at, err)
	}
	if moved {
		l.log.Error("HQ holds other events under this ledger's seqs (restored from a backup, started empty, or copied); new events continue in a new epoch, HQ keeps both",
			"epoch", e.ID, "parent", e.Parent, "base", e.BaseSeq, logErr, pruned)
	}
	return e, moved, pruned
}

// verifyEpoch checks the epoch in the meta against the events.
func (v *verifier) epoch(tx *bolt.Tx, m meta) {
	e := m.epoch
	switch {
	case e.ID == "" && (e.Parent != "" || e.BaseSeq != 0 || e.BaseHash != ""):
		v.addf(0, "", "meta epoch: the first chain has no parent or base")
	case e.BaseSeq > m.lastSeq:
		v.addf(e.BaseSeq, "", "meta epoch %q is based on seq %d, beyond the last event %d", e.ID, e.BaseSeq, m.lastSeq)
	case e.BaseSeq == 0:
		if e.BaseHash != "" {
			v.addf(0, "", "meta epoch %q is based on nothing but names a base hash", e.ID)
		}
	case e.BaseSeq == m.anchorSeq:
		if e.BaseHash != m.anchorHash {
			v.addf(e.BaseSeq, "", "meta epoch %q: base hash differs from the anchor's", e.ID)
		}
	case e.BaseSeq > m.anchorSeq:
		be, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(e.BaseSeq)))
		if err != nil || be.Hash != e.BaseHash {
			v.addf(e.BaseSeq, "", "meta epoch %q: base hash differs from event %d's", e.ID, e.BaseSeq)
		}
	}
}
