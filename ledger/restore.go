package ledger

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// A ledger rebuilt from HQ's copy of the terminal's chain (`tillctl ledger
// restore --from-hq`, when a till's disk died): HQ holds every event the till
// uploaded, exactly as the till wrote it. Restore puts them into a new, empty
// ledger as the sales had put them: events, effects, account views, the sales
// index, every one acknowledged (HQ holds it), and files new events under the
// epoch HQ keeps them in, so the till sells on where the chain left off.

// RestoredSale is what Restore needs to know of a sale event to rebuild the
// records a sale writes beside it: the client's sale id and request digest
// (idempotency; a zero Digest when the event does not say, and then a retry
// of that sale id is answered ErrConflict, never recorded twice), the card
// and what the sale did to its account.
type RestoredSale struct {
	ID     string
	Digest [32]byte
	Card   string
	Spend  money.Amount
	Points int64
}

// ErrNotEmpty is returned by Restore for a ledger that has events of its own.
var ErrNotEmpty = errors.New("the ledger is not empty")

// Restore appends events HQ holds of this terminal's chain, filed under epoch
// at HQ, to a ledger that has none of its own: a new one, or one that earlier
// Restore calls of the same epoch filled. Call it with consecutive pages of
// the chain in seq order. The first page may start after seq 1 (HQ kept only
// the events after a base it never held): the events before it are taken as
// pruned. Every event must chain from the one before; sale describes each sale
// event. All of a call is one transaction: an error stores nothing of it.
func (l *Ledger) Restore(epoch event.Epoch, events []event.Event, sale func(event.Event) (RestoredSale, error)) error {
	if len(events) == 0 {
		return nil
	}
	err := l.update(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		switch {
		case m.lastSeq == 0 && m.anchorSeq == 0:
			if first := events[0]; first.Seq > 1 {
				// Start as if the events before were pruned.
				m.anchorSeq, m.anchorHash, m.lastSeq, m.lastHash, m.acked = first.Seq-1, first.Prev, first.Seq-1, first.Prev, first.Seq-1
				for _, kv := range []put{
					{bucketMeta, keyAnchorSeq, u64(m.anchorSeq)}, {bucketMeta, keyAnchorHash, []byte(m.anchorHash)},
				} {
					if err := kv.do(tx); err != nil {
						return err
					}
				}
			}
		case m.epoch != epoch || m.acked != m.lastSeq:
			return fmt.Errorf("%w: it holds events 1..%d of epoch %q, %d of them not at HQ", ErrNotEmpty, m.lastSeq, m.epoch.ID, m.lastSeq-m.acked)
		}
		accounts := tx.Bucket(bucketAccounts)
		for i := range events {
			e := &events[i]
			if e.Terminal != m.terminal {
				return fmt.Errorf("event %d is of terminal %q, the ledger of %q", e.Seq, e.Terminal, m.terminal)
			}
			if err := event.Verify(m.lastSeq, m.lastHash, e); err != nil {
				return err
			}
			body, err := canonicalBody(e.Body)
			if err != nil || string(body) != string(e.Body) {
				return fmt.Errorf("event %d: the body is not in the ledger's canonical form (%v)", e.Seq, err)
			}
			var s RestoredSale
			if e.Type == event.TypeSale {
				if s, err = sale(*e); err != nil {
					return fmt.Errorf("event %d: %w", e.Seq, err)
				}
			} else {
				return fmt.Errorf("event %d: type %q cannot be restored", e.Seq, e.Type)
			}
			ev, err := encodeEvent(e)
			if err != nil {
				return err
			}
			key := u64(e.Seq)
			puts := []put{
				{bucketEvents, key, ev},
				{bucketEffects, key, encodeEffect(effect{card: s.Card, saleID: s.ID, spend: s.Spend, points: s.Points})},
			}
			if s.ID != "" {
				if tx.Bucket(bucketSales).Get([]byte(s.ID)) != nil {
					return fmt.Errorf("event %d: sale id %q was recorded before", e.Seq, s.ID)
				}
				puts = append(puts, put{bucketSales, []byte(s.ID), encodeSaleRef(saleRef{seq: e.Seq, digest: s.Digest})})
			}
			if s.Card != "" {
				acct := accountOf(s.Card)
				if v := accounts.Get([]byte(s.Card)); v != nil {
					if acct, err = decodeAccount(v); err != nil {
						return fmt.Errorf("card %s: %w", pos.MaskCard(s.Card), err)
					}
				}
				if err := applyEffect(&acct, effect{spend: s.Spend, points: s.Points}, e.Body, e.At); err != nil {
					return fmt.Errorf("event %d, card %s: %w", e.Seq, pos.MaskCard(s.Card), err)
				}
				av, err := encodeAccount(acct)
				if err != nil {
					return err
				}
				puts = append(puts, put{bucketAccounts, []byte(s.Card), av})
			}
			for _, p := range puts {
				if err := p.do(tx); err != nil {
					return err
				}
			}
			m.lastSeq, m.lastHash = e.Seq, e.Hash
		}
		for _, p := range []put{
			{bucketMeta, keyLastSeq, u64(m.lastSeq)}, {bucketMeta, keyLastHash, []byte(m.lastHash)}, {bucketMeta, keyAcked, u64(m.lastSeq)},
		} {
			if err := p.do(tx); err != nil {
				return err
			}
		}
		return putEpoch(tx, epoch)
	})
	if err != nil {
		return fmt.Errorf("restore events %d..%d: %w", events[0].Seq, events[len(events)-1].Seq, err)
	}
	return nil
}
