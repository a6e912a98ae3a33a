package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/pos"
)

// An account view is a base plus the effects of this terminal's events after it.
// The base of a card is either the last HQ snapshot of it (PutSnapshot) or the
// effects of its pruned events folded together (Prune); a card with neither
// starts from zero. Each base records the seq it is complete up to, so the view
// can always be rebuilt from the base and the events kept: Verify does.

// base is the starting point of a card's view: everything this terminal sold
// on the card up to seq through is in acct.
type base struct {
	through uint64
	acct    pos.Account
}

// PutSnapshot sets what HQ knows of a card: acct as of this terminal's seq
// asOfHQ, that is, including every sale of this terminal up to asOfHQ (and
// whatever other stores and HQ itself did), where HQ's event asOfHQ has the hash
// asOfHash. The card's view becomes acct plus the sales recorded here after
// asOfHQ. acct.Card must be empty or card.
//
// HQ's claim holds only if this ledger's own event asOfHQ has that hash (each
// hash covers the one before, so then HQ holds every event up to it as this
// ledger has them), or asOfHQ is 0 and HQ acknowledged nothing here yet. A
// ledger restored from a backup may hold other events under those seqs: then
// the snapshot is ErrOtherChain and changes nothing, as it does when asOfHQ is
// beyond the last event (ErrAckAhead). A snapshot older than the one stored,
// or older than the events pruned, is ErrStaleSnapshot. The caller may ignore
// all three. It reads the events after asOfHQ: keep HQ's snapshots recent.
//
// The snapshot has no commit of its own: it rides along with the next sale's
// (see alongNext). Lost in a crash, it is sent again: the change feed is read
// on from the position kept before it (SetFeedPosition) after a restart.
func (l *Ledger) PutSnapshot(card string, acct pos.Account, asOfHQ uint64, asOfHash string) error {
	switch {
	case card == "":
		return fmt.Errorf("put snapshot: %w", &pos.InputError{Field: "card", Problem: "missing"})
	case len(card) > MaxCardLen || !utf8.ValidString(card):
		return fmt.Errorf("put snapshot: %w", &pos.InputError{Field: "card", Problem: fmt.Sprintf("not UTF-8 of at most %d bytes", MaxCardLen)})
	case acct.Card != "" && acct.Card != card:
		return fmt.Errorf("put snapshot %s: %w", pos.MaskCard(card), &pos.InputError{Field: "card", Problem: "the account is of another card"})
	}
	acct.Card = card
	err := l.alongNext(func(tx *bolt.Tx) ([]put, error) {
		m, err := readMeta(tx)
		if err != nil {
			return nil, err
		}
		switch {
		case asOfHQ > m.lastSeq:
			return nil, fmt.Errorf("%w: snapshot as of seq %d, the last event is %d", ErrAckAhead, asOfHQ, m.lastSeq)
		case asOfHQ < m.anchorSeq:
			return nil, fmt.Errorf("%w: %w: snapshot as of seq %d, events up to %d are pruned", ErrStaleSnapshot, ErrSnapshotPruned, asOfHQ, m.anchorSeq)
		case asOfHQ == 0 && asOfHash == "":
			if m.acked > 0 {
				return nil, fmt.Errorf("%w: HQ's snapshot includes none of this ledger's events, but HQ acknowledged up to %d", ErrOtherChain, m.acked)
			}
		case asOfHQ == m.anchorSeq:
			if asOfHash != m.anchorHash {
				return nil, fmt.Errorf("%w: HQ's event %d is not this ledger's", ErrOtherChain, asOfHQ)
			}
		default:
			e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(asOfHQ)))
			if err != nil {
				return nil, fmt.Errorf("event %d: %w", asOfHQ, err)
			}
			if e.Hash != asOfHash {
				return nil, fmt.Errorf("%w: HQ's event %d is not this ledger's", ErrOtherChain, asOfHQ)
			}
		}
		bases := tx.Bucket(bucketBases)
		oldBase := bases.Get([]byte(card))
		if oldBase != nil {
			old, err := decodeBase(oldBase)
			if err != nil {
				return nil, err
			}
			if old.through > asOfHQ {
				return nil, fmt.Errorf("%w: snapshot as of seq %d, the stored one is as of %d", ErrStaleSnapshot, asOfHQ, old.through)
			}
		}
		view := acct
		err = forCardEffects(tx, asOfHQ+1, card, func(seq uint64, f effect) error {
			e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(seq)))
			if err != nil {
				return fmt.Errorf("event %d: %w", seq, err)
			}
			return applyEffect(&view, f, e.Type, e.Body, e.At)
		})
		if err != nil {
			return nil, err
		}
		bv, err := encodeBase(base{through: asOfHQ, acct: acct})
		if err != nil {
			return nil, err
		}
		av, err := encodeAccount(view)
		if err != nil {
			return nil, err
		}
		// Mostly HQ only tells the till what it knows: the effect of its own
		// sales, uploaded. Then the view is what it was, and only the base
		// moves (so that later views read fewer events).
		var puts []put
		if !bytes.Equal(bv, oldBase) {
			puts = append(puts, put{bucketBases, []byte(card), bv})
		}
		if !bytes.Equal(av, tx.Bucket(bucketAccounts).Get([]byte(card))) {
			puts = append(puts, put{bucketAccounts, []byte(card), av})
		}
		return puts, nil
	})
	if err != nil {
		return fmt.Errorf("put snapshot %s: %w", pos.MaskCard(card), err)
	}
	return nil
}

// accountOf is the empty account of card.
func accountOf(card string) pos.Account { return pos.Account{Card: card} }

// forCardEffects calls fn for the effect of every event of card from seq from
// to the last. The other cards' effects are skipped undecoded: after a day
// offline, HQ's snapshots of many cards each read the effects of thousands of
// events.
func forCardEffects(tx *bolt.Tx, from uint64, card string, fn func(seq uint64, f effect) error) error {
	c := tx.Bucket(bucketEffects).Cursor()
	for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
		seq, err := seqKey(k)
		if err != nil {
			return fmt.Errorf("effects: %w", err)
		}
		if holder, err := effectCard(v); err != nil {
			return fmt.Errorf("effect %d: %w", seq, err)
		} else if string(holder) != card {
			continue
		}
		f, err := decodeEffect(v)
		if err != nil {
			return fmt.Errorf("effect %d: %w", seq, err)
		}
		if err := fn(seq, f); err != nil {
			return err
		}
	}
	return nil
}

// A base is stored as through (big-endian uint64) then the account as
// encodeAccount writes it.
func encodeBase(b base) ([]byte, error) {
	a, err := encodeAccount(b.acct)
	if err != nil {
		return nil, err
	}
	return append(u64(b.through), a...), nil
}

func decodeBase(b []byte) (base, error) {
	if len(b) < 8 {
		return base{}, fmt.Errorf("decode base: want at least 8 bytes, got %d", len(b))
	}
	a, err := decodeAccount(b[8:])
	if err != nil {
		return base{}, fmt.Errorf("decode base: %w", err)
	}
	return base{through: binary.BigEndian.Uint64(b), acct: a}, nil
}
