package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// "cardevents" indexes the sale and refund events that name a card:
// card+NUL+time(8 bytes, big-endian, sign flipped)+terminal+NUL+seq(8 bytes)
// to the event's epoch. The card's events are one key range, newest last.
var bucketCardEvents = []byte("cardevents")

func cardEventKey(card string, at time.Time, terminal string, seq uint64) []byte {
	k := make([]byte, 0, len(card)+len(terminal)+18)
	k = append(append(k, card...), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano())^1<<63)
	k = append(append(k, terminal...), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// indexCardEvents adds a terminal's newly stored sales and refunds (their
// facts, which carry their seq and time) to the card index.
func indexCardEvents(tx *bolt.Tx, terminal, epoch string, sales []hq.SaleFacts) error {
	b := tx.Bucket(bucketCardEvents)
	for _, s := range sales {
		if s.Card == "" {
			continue
		}
		if err := b.Put(cardEventKey(s.Card, s.At, terminal, s.Seq), []byte(epoch)); err != nil {
			return err
		}
	}
	return nil
}

// migrateCardEvents fills the card index of a store written before it
// existed, from every chain's events.
func migrateCardEvents(tx *bolt.Tx) error {
	if tx.Bucket(bucketCardEvents) != nil {
		return nil
	}
	idx, err := tx.CreateBucket(bucketCardEvents)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketEvents).ForEachBucket(func(k []byte) error {
		terminal, epoch, _ := strings.Cut(string(k), "\x00")
		return tx.Bucket(bucketEvents).Bucket(k).ForEach(func(_, v []byte) error {
			var e event.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("chain %s/%q: %w", terminal, epoch, err)
			}
			if card := hq.EventCard(e); card != "" {
				return idx.Put(cardEventKey(card, e.At, terminal, e.Seq), []byte(epoch))
			}
			return nil
		})
	})
}

// CardEvents implements hq.Customers.
func (s *Store) CardEvents(_ context.Context, card string, limit int) ([]hq.CardEvent, error) {
	var out []hq.CardEvent
	err := s.view(func(tx *bolt.Tx) error {
		prefix := append([]byte(card), 0)
		c := tx.Bucket(bucketCardEvents).Cursor()
		end := append(append([]byte(nil), prefix...), bytes.Repeat([]byte{0xff}, 9)...)
		var v []byte
		k, _ := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			if len(k) < len(prefix)+8+9 {
				return fmt.Errorf("card index key %x is short", k)
			}
			terminal := string(k[len(prefix)+8 : len(k)-9])
			seq := binary.BigEndian.Uint64(k[len(k)-8:])
			raw := tx.Bucket(bucketEvents).Bucket(chainKey(terminal, string(v)))
			var ev []byte
			if raw != nil {
				ev = raw.Get(seqKey(seq))
			}
			if ev == nil {
				return fmt.Errorf("card index names %s/%q seq %d, which the store does not hold", terminal, v, seq)
			}
			var e event.Event
			if err := json.Unmarshal(ev, &e); err != nil {
				return fmt.Errorf("event %s/%q seq %d: %w", terminal, v, seq, err)
			}
			e.Terminal = terminal
			out = append(out, hq.CardEvent{Epoch: string(v), Event: e})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of card %s: %w", pos.MaskCard(card), err)
	}
	return out, nil
}

// HoldersByPhone implements hq.Customers: it reads every holder (the bbolt
// store is for a small chain; the PostgreSQL store keeps an index).
func (s *Store) HoldersByPhone(_ context.Context, digits string, limit int) ([]pos.CardHolder, error) {
	var out []pos.CardHolder
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHolders).ForEach(func(k, v []byte) error {
			var h pos.CardHolder
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("holder of %s: %w", pos.MaskCard(string(k)), err)
			}
			if strings.HasSuffix(hq.PhoneDigits(h.Phone), digits) {
				out = append(out, h)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("holders by phone: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Card < out[j].Card })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
