package ledger

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Offline limits. While HQ cannot be reached, a sale with a card is priced
// knowing the points the card already redeemed in this terminal's sales that
// HQ has not acknowledged, made since the till went offline
// (pos.Account.OfflineRedeemedToday). Walking the outbox for them at every
// sale made each sale offline dearer than the one before: with one card
// paying with points at every sale, a sale took 8 ms after a thousand sales
// offline and 100 ms after ten thousand (BenchmarkOfflineSale).
//
// So the ledger counts the outbox once and then keeps counting
// (pendingSums): the points per card, as of a seq through which every event
// is counted. A sale reads only the events recorded since. Events up to a
// durable seq never change while they are in the outbox (events are only
// appended, and only acknowledged ones are pruned), so the count holds until
// HQ acknowledges more or the limits' start (since: the start of the till's
// day) moves, when it starts over.
// The events of a group commit not yet journaled are counted for the sale
// that asks and never kept: a failed journal write drops them, and their
// seqs go to other sales.

// maxPendingCards bounds the cards pendingSums keeps: past it, the count
// starts over.
const maxPendingCards = 1 << 20

// pendingSums is the kept count. Its lock makes it safe from a reader of the
// file that holds no txMu (view without an open transaction).
type pendingSums struct {
	mu sync.Mutex
	c  redeemedCount
}

// redeemedCount is the points each card redeemed in the outbox's events
// after acked, through seq through, counted as the limits count them: from
// the card's last event made before since on. A card not in points has
// nothing counted.
type redeemedCount struct {
	acked   uint64
	since   time.Time
	through uint64
	points  map[string]int64
}

func newCount(acked uint64, since time.Time) redeemedCount {
	return redeemedCount{acked: acked, since: since, through: acked, points: make(map[string]int64)}
}

// pendingRedeemed returns the points card redeemed in the outbox's events
// (those after acked) made at or after since, from the card's last event
// made before since on. durable is the last seq known to be durable
// (journaled or in the file): the count is kept up to it.
func (l *Ledger) pendingRedeemed(tx *bolt.Tx, acked, durable uint64, card string, since time.Time) (int64, error) {
	s := &l.pending
	s.mu.Lock()
	if s.c.points == nil || s.c.acked != acked || !s.c.since.Equal(since) || len(s.c.points) > maxPendingCards {
		s.c = newCount(acked, since)
	}
	if s.c.through > durable {
		// A reader of the file as of the last checkpoint, behind the sales
		// journaled since: a count of its own, which holds no sale back.
		s.mu.Unlock()
		c := newCount(acked, since)
		return c.count(tx, durable, card)
	}
	defer s.mu.Unlock()
	points, err := s.c.count(tx, durable, card)
	if err != nil {
		s.c = redeemedCount{} // part counted: start over next time
	}
	return points, err
}

// count counts the durable events after c.through, for every card, and
// returns card's points with the events after durable counted too.
func (c *redeemedCount) count(tx *bolt.Tx, durable uint64, card string) (int64, error) {
	add := func(points int64, at time.Time, redeemed int64) int64 {
		if at.Before(c.since) {
			return 0 // what came before the till went offline is HQ's to know
		}
		return points + max(redeemed, 0)
	}
	events := tx.Bucket(bucketEvents)
	cur := tx.Bucket(bucketEffects).Cursor()
	points, past := int64(0), false
	for k, v := cur.Seek(u64(c.through + 1)); k != nil; k, v = cur.Next() {
		seq, err := seqKey(k)
		if err != nil {
			return 0, fmt.Errorf("effects: %w", err)
		}
		if seq > durable && !past {
			c.through, points, past = durable, c.points[card], true
		}
		holder, err := effectCard(v)
		if err != nil {
			return 0, fmt.Errorf("effect %d: %w", seq, err)
		}
		if len(holder) == 0 || (past && string(holder) != card) {
			continue
		}
		var e struct {
			At   time.Time `json:"at"`
			Body struct {
				Redeemed int64 `json:"points_redeemed"`
			} `json:"body"`
		}
		if err := json.Unmarshal(events.Get(k), &e); err != nil {
			return 0, fmt.Errorf("event %d: %w", seq, err)
		}
		if past {
			points = add(points, e.At, e.Body.Redeemed)
		} else if p := add(c.points[string(holder)], e.At, e.Body.Redeemed); p != 0 {
			c.points[string(holder)] = p
		} else {
			delete(c.points, string(holder))
		}
	}
	if !past {
		c.through, points = durable, c.points[card]
	}
	return points, nil
}
