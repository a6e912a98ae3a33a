package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/durable"
	"github.com/tilld/tilld/pos"
)

// PruneBatch is the most events one pruning transaction removes, so that
// pruning a long history never holds the write lock for long.
const PruneBatch = 2048

// PruneResult says what Prune removed.
type PruneResult struct {
	Pruned uint64 // events removed
	// Anchor is the seq of the last event pruned so far (0 when none ever was):
	// the chain now starts after it, and the meta keeps its hash.
	Anchor uint64
}

// Prune removes, oldest first, events HQ acknowledged that were recorded before
// cutoff, stopping at the first event that is not acknowledged or not older. A
// pruned event's effect on its card is folded into the card's base, its sale id
// leaves the idempotency index, and the last pruned event's seq and hash become
// the anchor the remaining chain is verified from. The file does not shrink:
// freed pages are reused; Compact gives them back to the file system.
//
// It works in transactions of at most PruneBatch events. Options.Retain makes
// Ack prune by itself.
func (l *Ledger) Prune(cutoff time.Time) (PruneResult, error) {
	var res PruneResult
	for {
		var n uint64
		err := l.update(func(tx *bolt.Tx) error {
			var err error
			n, res.Anchor, err = l.pruneTx(tx, cutoff, PruneBatch)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("prune ledger before %s: %w", cutoff.Format(time.RFC3339), err)
		}
		res.Pruned += n
		if n < PruneBatch {
			return res, nil
		}
	}
}

// pruneDue reports whether the first event kept is acknowledged and older than
// cutoff: whether Prune would remove anything. It reads one event.
func pruneDue(tx *bolt.Tx, cutoff time.Time) (bool, error) {
	m, err := readMeta(tx)
	if err != nil || m.anchorSeq >= m.acked {
		return false, err
	}
	e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(m.anchorSeq + 1)))
	if err != nil {
		return false, fmt.Errorf("event %d: %w", m.anchorSeq+1, err)
	}
	return e.At.Before(cutoff), nil
}

// pruneTx prunes up to limit events inside tx (see Prune) and returns how many
// it pruned and the anchor after it.
func (l *Ledger) pruneTx(tx *bolt.Tx, cutoff time.Time, limit int) (uint64, uint64, error) {
	m, err := readMeta(tx)
	if err != nil {
		return 0, 0, err
	}
	events, effects, sales, bases := tx.Bucket(bucketEvents), tx.Bucket(bucketEffects), tx.Bucket(bucketSales), tx.Bucket(bucketBases)
	// Collect first: deleting under a bbolt cursor skips elements.
	var old []event.Event
	c := events.Cursor()
	for k, v := c.Seek(u64(m.anchorSeq + 1)); k != nil && len(old) < limit; k, v = c.Next() {
		seq, err := seqKey(k)
		if err != nil {
			return 0, 0, fmt.Errorf("events: %w", err)
		}
		if seq > m.acked {
			break
		}
		e, err := decodeEvent(v)
		if err != nil {
			return 0, 0, fmt.Errorf("event %d: %w", seq, err)
		}
		if !e.At.Before(cutoff) {
			break
		}
		if seq != m.anchorSeq+uint64(len(old))+1 || e.Seq != seq {
			return 0, 0, fmt.Errorf("%w: event %d where %d was expected", ErrCorrupt, seq, m.anchorSeq+uint64(len(old))+1)
		}
		old = append(old, e)
	}
	if len(old) == 0 {
		return 0, m.anchorSeq, nil
	}

	folded := make(map[string]*base)
	for _, e := range old {
		key := u64(e.Seq)
		f, err := decodeEffect(effects.Get(key))
		if err != nil {
			return 0, 0, fmt.Errorf("effect %d: %w", e.Seq, err)
		}
		if f.card != "" {
			b := folded[f.card]
			if b == nil {
				b = &base{acct: accountOf(f.card)}
				if v := bases.Get([]byte(f.card)); v != nil {
					if *b, err = decodeBase(v); err != nil {
						return 0, 0, fmt.Errorf("card %s: %w", pos.MaskCard(f.card), err)
					}
				}
				folded[f.card] = b
			}
			if e.Seq > b.through { // a snapshot may already count it
				if err := applyEffect(&b.acct, f, e.Type, e.Body, e.At); err != nil {
					return 0, 0, fmt.Errorf("card %s: %w", pos.MaskCard(f.card), err)
				}
				b.through = e.Seq
			}
		}
		if ref, err := decodeSaleRef(sales.Get([]byte(f.saleID))); err == nil && ref.seq == e.Seq {
			if err := sales.Delete([]byte(f.saleID)); err != nil {
				return 0, 0, err
			}
		}
		if err := effects.Delete(key); err != nil {
			return 0, 0, err
		}
		if err := events.Delete(key); err != nil {
			return 0, 0, err
		}
	}
	for card, b := range folded {
		v, err := encodeBase(*b)
		if err != nil {
			return 0, 0, err
		}
		if err := bases.Put([]byte(card), v); err != nil {
			return 0, 0, err
		}
	}
	last := old[len(old)-1]
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyAnchorSeq, u64(last.Seq)); err != nil {
		return 0, 0, err
	}
	if err := meta.Put(keyAnchorHash, []byte(last.Hash)); err != nil {
		return 0, 0, err
	}
	l.log.Info("events pruned", logPruned, len(old), logAnchor, last.Seq)
	return uint64(len(old)), last.Seq, nil
}

// CompactResult says what Compact did.
type CompactResult struct {
	Before, After int64 // file sizes in bytes
	Events        uint64
}

// Compact rewrites the ledger file at path without its free pages (those of
// pruned events, mostly): into a new file beside it, which is fsynced and fully
// verified, then renamed over the original. It is an offline operation: it holds
// the file's lock (shared) throughout, so it fails with ErrLocked while tilld
// runs, and a tilld started meanwhile waits for it and then times out. A file
// that fails Verify is not compacted. opts.Terminal, opts.Timeout and
// opts.Logger apply; the rest is ignored.
func Compact(path string, opts Options) (CompactResult, error) {
	var res CompactResult
	fail := func(err error) (CompactResult, error) { return res, fmt.Errorf("compact ledger %s: %w", path, err) }
	src, err := Open(path, Options{Terminal: opts.Terminal, Timeout: opts.Timeout, Logger: opts.Logger, ReadOnly: true})
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	defer src.Close()
	rep, err := src.Verify()
	if err != nil {
		return fail(err)
	}
	if !rep.OK() {
		return fail(fmt.Errorf("%w: verify found %d problems, the first: %s", ErrCorrupt, len(rep.Problems), rep.Problems[0]))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fail(err)
	}
	res.Before, res.Events = fi.Size(), rep.Events

	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	dst, err := bolt.Open(tmp, fi.Mode().Perm(), &bolt.Options{NoSync: true, Timeout: time.Second})
	if err != nil {
		return fail(err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = dst.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := bolt.Compact(dst, src.db, 64<<20); err != nil {
		return fail(fmt.Errorf("copy into %s: %w", tmp, err))
	}
	if err := dst.Sync(); err != nil {
		return fail(fmt.Errorf("sync %s: %w", tmp, err))
	}
	if err := dst.Close(); err != nil {
		return fail(err)
	}
	if err := checkCopy(tmp, src.terminal, rep); err != nil {
		return fail(fmt.Errorf("the compacted copy %s: %w", tmp, err))
	}
	if runtime.GOOS == "windows" {
		// NTFS cannot replace a file that is open or memory-mapped, so the
		// original is closed (and unlocked) first. A tilld that opens it in
		// between keeps it open, and the rename below then fails rather than
		// leave that tilld writing into a file no path leads to.
		if err := src.Close(); err != nil {
			return fail(err)
		}
	}
	if err := durable.Rename(tmp, path); err != nil {
		return fail(err)
	}
	ok = true
	if fi, err = os.Stat(path); err != nil {
		return fail(err)
	}
	res.After = fi.Size()
	return res, nil
}

// checkCopy verifies the compacted copy and compares it with the original's report.
func checkCopy(path, terminal string, want Report) error {
	l, err := Open(path, Options{Terminal: terminal, ReadOnly: true})
	if err != nil {
		return err
	}
	defer l.Close()
	got, err := l.Verify()
	switch {
	case err != nil:
		return err
	case !got.OK():
		return fmt.Errorf("verify found %d problems, the first: %s", len(got.Problems), got.Problems[0])
	case got.Events != want.Events || got.LastSeq != want.LastSeq || got.Accounts != want.Accounts:
		return fmt.Errorf("holds %d events to seq %d and %d accounts, the original %d to seq %d and %d",
			got.Events, got.LastSeq, got.Accounts, want.Events, want.LastSeq, want.Accounts)
	}
	return nil
}
