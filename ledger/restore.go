package ledger

import (
	"encoding/json"
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

// restoredReturns is the write that counts a restored refund's units in
// the returns of its sale, when the sale is kept.
func restoredReturns(tx *bolt.Tx, m meta, e *event.Event) ([]put, error) {
	f, err := decodeRefundFacts(e.Body)
	if err != nil {
		return nil, err
	}
	if f.SaleTerminal != "" {
		// Another terminal's sale: its returns here are counted under its
		// key, without the sale (HQ bounds them across terminals).
		key := foreignReturnsKey(f.SaleTerminal, f.SaleSeq)
		var stored []byte
		if b := tx.Bucket(bucketReturns); b != nil {
			stored = b.Get(key)
		}
		v, err := addForeignReturns(stored, f.returnLines())
		if err != nil {
			return nil, err
		}
		return []put{{bucketReturns, key, v}}, nil
	}
	if f.SaleSeq <= m.anchorSeq || f.SaleSeq >= e.Seq {
		return nil, nil
	}
	se, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(f.SaleSeq)))
	if err != nil {
		return nil, fmt.Errorf("the refund's sale %d: %w", f.SaleSeq, err)
	}
	var sl saleLines
	if err := json.Unmarshal(se.Body, &sl); err != nil {
		return nil, fmt.Errorf("the refund's sale %d: %w", f.SaleSeq, err)
	}
	counts := make([]int64, len(sl.Lines))
	if b := tx.Bucket(bucketReturns); b != nil {
		if v := b.Get(u64(f.SaleSeq)); v != nil {
			r, err := decodeReturns(v, len(sl.Lines))
			if err != nil {
				return nil, err
			}
			counts = r.Lines
		}
	}
	for _, l := range f.Lines {
		if l.Line < 1 || l.Line > len(counts) || l.Qty < 1 || counts[l.Line-1]+l.Qty > sl.Lines[l.Line-1].Qty {
			return nil, fmt.Errorf("%w: the refund returns %d of line %d of sale %d", ErrOverReturn, l.Qty, l.Line, f.SaleSeq)
		}
		counts[l.Line-1] += l.Qty
	}
	return []put{{bucketReturns, u64(f.SaleSeq), encodeReturns(returnsRecord{Lines: counts})}}, nil
}

// RestoredSale is what Restore needs to know of a sale event (or of any event
// type the ledger records: a refund's id, digest, card, spend and points) to
// rebuild the records a sale writes beside it: the client's sale id and request digest
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
					// HQ's refunds of the sales before are not counted here.
					{bucketMeta, keyReturnsKept, u64(m.anchorSeq)},
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
			if _, ok := kinds[e.Type]; !ok {
				return fmt.Errorf("event %d: type %q cannot be restored", e.Seq, e.Type)
			}
			s, err := sale(*e)
			if err != nil {
				return fmt.Errorf("event %d: %w", e.Seq, err)
			}
			ev, err := encodeEvent(e)
			if err != nil {
				return err
			}
			key := u64(e.Seq)
			var idx []byte
			if s.ID != "" {
				idx = indexKey(e.Type, s.ID)
			}
			puts := []put{
				{bucketEvents, key, ev},
				{bucketEffects, key, encodeEffect(effect{card: s.Card, saleID: string(idx), spend: s.Spend, points: s.Points})},
			}
			if s.ID != "" {
				if tx.Bucket(bucketSales).Get(idx) != nil {
					return fmt.Errorf("event %d: %s id %q was recorded before", e.Seq, e.Type, s.ID)
				}
				puts = append(puts, put{bucketSales, idx, encodeSaleRef(saleRef{seq: e.Seq, digest: s.Digest})})
			}
			if e.Type == event.TypeRefund {
				p, err := restoredReturns(tx, m, e)
				if err != nil {
					return fmt.Errorf("event %d: %w", e.Seq, err)
				}
				puts = append(puts, p...)
			}
			if e.Type == event.TypeFeedback && s.Card != "" {
				puts = append(puts, put{bucketAsked, []byte(s.Card), u64(uint64(e.At.UnixNano()))})
			}
			if s.Card != "" {
				acct := accountOf(s.Card)
				if v := accounts.Get([]byte(s.Card)); v != nil {
					if acct, err = decodeAccount(v); err != nil {
						return fmt.Errorf("card %s: %w", pos.MaskCard(s.Card), err)
					}
				}
				if err := applyEffect(&acct, effect{spend: s.Spend, points: s.Points}, e.Type, e.Body, e.At); err != nil {
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
