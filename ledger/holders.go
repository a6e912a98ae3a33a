package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/internal/boltscrub"
	"github.com/tilld/tilld/pos"
)

// Card holders' personal data (name, birthday, contacts) lives in the holders
// bucket, beside the chained events and never inside them: a sale event carries
// the card number only. A holder registered at this till is pending until HQ has
// it; one HQ sent is not. Forgetting a holder deletes the record and zeroes every
// page of the file that held it.

// holderRecord is a holders bucket value.
type holderRecord struct {
	pos.CardHolder
	// Pending: registered or changed here, not yet acknowledged by HQ.
	Pending bool `json:"pending,omitempty"`
}

func encodeHolder(r holderRecord) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode holder: %w", err)
	}
	return b, nil
}

func decodeHolder(b []byte) (holderRecord, error) {
	var r holderRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return holderRecord{}, fmt.Errorf("decode holder: %w", err)
	}
	return r, nil
}

func checkHolderCard(card string) error {
	switch {
	case card == "":
		return &pos.InputError{Field: "card", Problem: "missing"}
	case len(card) > MaxCardLen || !utf8.ValidString(card):
		return &pos.InputError{Field: "card", Problem: fmt.Sprintf("not UTF-8 of at most %d bytes", MaxCardLen)}
	}
	return nil
}

// RegisterHolder records a card holder signed up or corrected at this till,
// durably, and marks it for HQ. created is false when the card already had a
// holder, which h replaces whole (keeping its first registration time). h
// must have passed Validate; Registered and Updated are set here.
func (l *Ledger) RegisterHolder(h pos.CardHolder) (stored pos.CardHolder, created bool, err error) {
	return l.ChangeHolder(h.Card, func(*pos.CardHolder) (pos.CardHolder, error) { return h, nil })
}

// ChangeHolder registers or corrects the holder of card at this till, durably,
// and marks it for HQ: change gets the card's current holder (nil when it has
// none) and returns the record to store, or an error that stores nothing and
// is returned as it is. A correction that raced another of the same card is
// made again on the record the other stored, so neither undoes the other's
// fields. created is false when the card already had a holder; its first
// registration time and terminal are kept.
func (l *Ledger) ChangeHolder(card string, change func(old *pos.CardHolder) (pos.CardHolder, error)) (stored pos.CardHolder, created bool, err error) {
	if err := checkHolderCard(card); err != nil {
		return pos.CardHolder{}, false, fmt.Errorf("register holder: %w", err)
	}
	for range maxHolderRaces {
		// change runs outside the write, so that a refusal costs no commit.
		var raw []byte
		err := l.viewCommitted(func(tx *bolt.Tx) error {
			raw = bytes.Clone(tx.Bucket(bucketHolders).Get([]byte(card)))
			return nil
		})
		if err != nil {
			return pos.CardHolder{}, false, fmt.Errorf("register holder %s: %w", pos.MaskCard(card), err)
		}
		now := l.now().UTC()
		registered, terminal := now, l.terminal
		var old *pos.CardHolder
		if raw != nil {
			r, err := decodeHolder(raw)
			if err != nil {
				return pos.CardHolder{}, false, fmt.Errorf("register holder %s: %w: %v", pos.MaskCard(card), ErrCorrupt, err)
			}
			old = &r.CardHolder
			if !r.Registered.IsZero() {
				registered, terminal = r.Registered, r.Terminal
			}
		}
		h, err := change(old)
		if err != nil {
			return pos.CardHolder{}, false, err
		}
		h.Card, h.Registered, h.Terminal, h.Updated = card, registered, terminal, now
		v, err := encodeHolder(holderRecord{CardHolder: h, Pending: true})
		if err != nil {
			return pos.CardHolder{}, false, err
		}
		raced := false
		err = l.update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketHolders)
			if raced = !bytes.Equal(b.Get([]byte(card)), raw); raced {
				return nil
			}
			return b.Put([]byte(card), v)
		})
		if err != nil {
			return pos.CardHolder{}, false, fmt.Errorf("register holder %s: %w", pos.MaskCard(card), err)
		}
		if !raced {
			l.holdersChanged.Add(1) // after the commit: see PendingHolders
			return h, old == nil, nil
		}
	}
	return pos.CardHolder{}, false, fmt.Errorf("register holder %s: changed %d times by others meanwhile; try again", pos.MaskCard(card), maxHolderRaces)
}

// maxHolderRaces bounds how often ChangeHolder starts again after another
// change of the same card.
const maxHolderRaces = 16

// PutHolder stores a holder as HQ knows it. A record registered here that HQ
// has not acknowledged and that is newer than h is kept: HQ will get it.
func (l *Ledger) PutHolder(h pos.CardHolder) error {
	if err := checkHolderCard(h.Card); err != nil {
		return fmt.Errorf("put holder: %w", err)
	}
	err := l.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHolders)
		if v := b.Get([]byte(h.Card)); v != nil {
			old, err := decodeHolder(v)
			if err != nil {
				return fmt.Errorf("%w: holder of %s: %v", ErrCorrupt, pos.MaskCard(h.Card), err)
			}
			if old.Pending && old.Updated.After(h.Updated) {
				return nil
			}
		}
		v, err := encodeHolder(holderRecord{CardHolder: h})
		if err != nil {
			return err
		}
		return b.Put([]byte(h.Card), v)
	})
	if err != nil {
		return fmt.Errorf("put holder %s: %w", pos.MaskCard(h.Card), err)
	}
	return nil
}

// Holder returns the card's holder; ok is false when this till has none.
func (l *Ledger) Holder(card string) (h pos.CardHolder, ok bool, err error) {
	if card == "" {
		return pos.CardHolder{}, false, nil
	}
	err = l.viewCommitted(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHolders).Get([]byte(card))
		if v == nil {
			return nil
		}
		r, err := decodeHolder(v)
		if err != nil {
			return fmt.Errorf("%w: holder of %s: %v", ErrCorrupt, pos.MaskCard(card), err)
		}
		h, ok = r.CardHolder, true
		return nil
	})
	if err != nil {
		return pos.CardHolder{}, false, fmt.Errorf("read holder %s: %w", pos.MaskCard(card), err)
	}
	return h, ok, nil
}

// PendingHolders returns up to limit holders registered here that HQ has not
// acknowledged yet.
//
// The uploader asks after every upload, and there is mostly none: the
// holders are read only when one may be pending, that is when a holder was
// registered or changed here since a read found none (a till with ten
// thousand holders read them all, 37 ms, at every upload).
func (l *Ledger) PendingHolders(limit int) ([]pos.CardHolder, error) {
	changed := l.holdersChanged.Load()
	if l.noPendingHolders.Load() == changed+1 {
		return nil, nil
	}
	var out []pos.CardHolder
	err := l.viewCommitted(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHolders).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			r, err := decodeHolder(v)
			if err != nil {
				return fmt.Errorf("%w: holder of %s: %v", ErrCorrupt, pos.MaskCard(string(k)), err)
			}
			if r.Pending {
				out = append(out, r.CardHolder)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending holders: %w", err)
	}
	if len(out) == 0 {
		// None as of changed: a change counted later is read next time.
		l.noPendingHolders.Store(changed + 1)
	}
	return out, nil
}

// HoldersSynced clears the pending mark of the holders HQ acknowledged, each as
// of the Updated time it was sent with: a record changed since stays pending.
func (l *Ledger) HoldersSynced(sent []pos.CardHolder) error {
	err := l.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHolders)
		for _, h := range sent {
			v := b.Get([]byte(h.Card))
			if v == nil {
				continue // forgotten meanwhile
			}
			r, err := decodeHolder(v)
			if err != nil {
				return fmt.Errorf("%w: holder of %s: %v", ErrCorrupt, pos.MaskCard(h.Card), err)
			}
			if !r.Pending || !r.Updated.Equal(h.Updated) {
				continue
			}
			r.Pending = false
			nv, err := encodeHolder(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(h.Card), nv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark holders synced: %w", err)
	}
	return nil
}

// ForgetHolders erases the personal data of the cards' holders: their records
// leave the holders bucket, and every free page of the file is overwritten with
// zeros and synced, so that no earlier copy of them stays in the file's bytes.
// Sales, account views and the chain are untouched. It waits for the
// transactions in progress and holds new ones back while it zeroes (a few
// milliseconds per thousand pages, and more the larger the file). It returns
// how many of the cards had a holder here.
//
// HQ names a forgotten card again at every lookup and change of it, and most
// times this till has no holder of it: then there is nothing to erase, and
// ForgetHolders neither commits nor zeroes, nor holds back a sale.
func (l *Ledger) ForgetHolders(cards ...string) (forgotten int, err error) {
	if l.readOnly {
		return 0, ErrReadOnly
	}
	due, err := l.forgetDue(cards)
	if err != nil {
		return 0, fmt.Errorf("forget holders: %w", err)
	}
	if !due {
		return 0, nil
	}
	l.gate.Lock()
	defer l.gate.Unlock()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	start := time.Now()
	err = l.commitWrite(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHolders)
		for _, card := range cards {
			if b.Get([]byte(card)) == nil {
				continue
			}
			if err := b.Delete([]byte(card)); err != nil {
				return fmt.Errorf("forget holder %s: %w", pos.MaskCard(card), err)
			}
			forgotten++
		}
		if forgotten == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyScrubDue, []byte{1})
	})
	if err != nil {
		return 0, fmt.Errorf("forget holders: %w", err)
	}
	pages, err := l.scrub()
	if err != nil {
		return forgotten, fmt.Errorf("forget holders: %w", err)
	}
	l.log.Info("card holders forgotten", "holders", forgotten, "pages_zeroed", pages, "took", time.Since(start))
	return forgotten, nil
}

// keyScrubDue, in the meta, says holders were deleted and the free pages that
// may still hold copies of them are not zeroed yet. It is written with the
// deletion and cleared after the zeroing, so that a crash between the two
// leaves it set: the next Open, or the next ForgetHolders, zeroes them.
var keyScrubDue = []byte("scrub_due")

// forgetDue says whether ForgetHolders has anything to do for cards: a
// holder of one of them to delete, or free pages a crash left unzeroed.
func (l *Ledger) forgetDue(cards []string) (due bool, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		due = tx.Bucket(bucketMeta).Get(keyScrubDue) != nil
		b := tx.Bucket(bucketHolders)
		for _, card := range cards {
			due = due || b.Get([]byte(card)) != nil
		}
		return nil
	})
	return due, err
}

// scrub zeroes the file's free pages and clears keyScrubDue. The journal must
// be committed (cur nil), txMu held and the gate held exclusively: no other
// transaction may be open (boltscrub).
func (l *Ledger) scrub() (pages int, err error) {
	if pages, err = boltscrub.Free(l.db); err != nil {
		return 0, storageError(err)
	}
	return pages, l.commitWrite(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyScrubDue) })
}

// finishForget zeroes, when Open finds keyScrubDue set, the free pages a
// crash left unzeroed after holders were deleted: ForgetHolders of no card.
// A failure is logged, not returned: the till sells on, the mark stays, and
// the next ForgetHolders or Open zeroes them.
func (l *Ledger) finishForget() {
	if _, err := l.ForgetHolders(); err != nil {
		l.log.Error("zeroing the free pages left by forgotten holders failed; the next forget or start tries again", logErr, err)
	}
}
