package ledger

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
)

// Stats is a snapshot of the ledger's bookkeeping.
type Stats struct {
	Terminal string
	Epoch    event.Epoch // the chain new events are filed under at HQ
	LastSeq  uint64      // seq of the last event, 0 when none
	Acked    uint64      // highest seq HQ acknowledged
	Outbox   uint64      // events HQ has not acknowledged: LastSeq - Acked
	// Anchor is the seq of the last pruned event, 0 when none was: the ledger
	// holds the events after it, and the first one's Prev is AnchorHash.
	Anchor     uint64
	AnchorHash string
	// OldestPending is the time of the oldest unacknowledged event, zero when
	// the outbox is empty: how far behind HQ is.
	OldestPending time.Time
}

// Stats returns the ledger's counters. It reads the meta and at most one event.
func (l *Ledger) Stats() (Stats, error) {
	var s Stats
	err := l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		s = Stats{Terminal: m.terminal, Epoch: m.epoch, LastSeq: m.lastSeq, Acked: m.acked, Outbox: m.lastSeq - m.acked, Anchor: m.anchorSeq, AnchorHash: m.anchorHash}
		if s.Outbox == 0 {
			return nil
		}
		e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(m.acked + 1)))
		if err != nil {
			return fmt.Errorf("event %d: %w", m.acked+1, err)
		}
		s.OldestPending = e.At
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("ledger stats: %w", err)
	}
	return s, nil
}

// OutboxLen returns how many events HQ has not acknowledged. It reads two
// numbers, whatever the outbox's length.
func (l *Ledger) OutboxLen() (uint64, error) {
	var n uint64
	err := l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		n = m.lastSeq - m.acked
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ledger outbox length: %w", err)
	}
	return n, nil
}

// Pending returns up to limit of the oldest events HQ has not acknowledged, in
// seq order; none when the outbox is empty. limit must be positive.
func (l *Ledger) Pending(limit int) ([]event.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("ledger pending: limit must be positive, got %d", limit)
	}
	var out []event.Event
	err := l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		out, err = readEvents(tx, m.acked+1, min(uint64(limit), m.lastSeq-m.acked))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger pending: %w", err)
	}
	return out, nil
}

// readEvents decodes n events from seq from, which must all exist.
func readEvents(tx *bolt.Tx, from, n uint64) ([]event.Event, error) {
	if n == 0 {
		return nil, nil
	}
	out := make([]event.Event, 0, n)
	c := tx.Bucket(bucketEvents).Cursor()
	want := from
	for k, v := c.Seek(u64(from)); k != nil && uint64(len(out)) < n; k, v = c.Next() {
		seq, err := seqKey(k)
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		if seq != want {
			return nil, fmt.Errorf("event %d is missing", want)
		}
		e, err := decodeEvent(v)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", seq, err)
		}
		out = append(out, e)
		want++
	}
	if uint64(len(out)) < n {
		return nil, fmt.Errorf("event %d is missing", want)
	}
	return out, nil
}

// Ack records that HQ holds every event up to and including seq through. A through
// at or below the current acknowledgement is ignored (acks arrive out of order); one
// beyond the last recorded event is ErrAckAhead.
//
// The acknowledgement has no commit of its own: it rides along with the next
// sale's (see alongNext). Lost in a crash, it costs a re-upload HQ dedupes.
//
// With Options.Retain set, an Ack that finds acknowledged events older than
// Retain then prunes up to PruneBatch of them, in a transaction of its own: a
// pruning that fails is logged and leaves the acknowledgement recorded.
func (l *Ledger) Ack(through uint64) error {
	var moved, due bool
	var cutoff time.Time
	var pruneErr error
	err := l.alongNext(func(tx *bolt.Tx) ([]put, error) { return l.ack(tx, through, &moved) })
	if err == nil && moved && l.retain != 0 {
		cutoff = l.now().Add(-l.retain)
		err = l.view(func(tx *bolt.Tx) error {
			due, pruneErr = pruneDue(tx, cutoff)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("ledger ack %d: %w", through, err)
	}
	if moved {
		l.log.Debug("outbox acknowledged", logAcked, through)
	}
	if due {
		pruneErr = l.update(func(tx *bolt.Tx) error {
			_, _, err := l.pruneTx(tx, cutoff, PruneBatch)
			return err
		})
	}
	if pruneErr != nil {
		l.log.Error("pruning old events failed; the ledger keeps them", logErr, pruneErr)
	}
	return nil
}

// ack returns the put that moves the acknowledgement in tx, setting *moved,
// or none when it would not move.
func (l *Ledger) ack(tx *bolt.Tx, through uint64, moved *bool) ([]put, error) {
	m, err := readMeta(tx)
	if err != nil {
		return nil, err
	}
	if through > m.lastSeq {
		return nil, fmt.Errorf("%w: the last event is %d", ErrAckAhead, m.lastSeq)
	}
	if through <= m.acked {
		return nil, nil
	}
	*moved = true
	return []put{{bucketMeta, keyAcked, u64(through)}}, nil
}

// errStop ends an Events page early without an error.
var errStop = errors.New("stop")

// eventsPage is how many events Events decodes per read transaction, so a slow
// consumer does not hold a transaction open (which would keep bbolt from
// reusing pages and block it from growing the file's mapping).
const eventsPage = 256

// Events calls fn for every event from seq from to the last, in seq order,
// reading a page of events per read transaction so that a slow fn holds nothing
// open; events recorded meanwhile are visited too. A from at or below the anchor
// (0 included) starts at the first event kept. Events pruned during the walk,
// before it reached them, end it with an error. An error from fn stops the walk
// and is returned wrapped.
func (l *Ledger) Events(from uint64, fn func(event.Event) error) error {
	first := true
	for {
		var page []event.Event
		err := l.view(func(tx *bolt.Tx) error {
			m, err := readMeta(tx)
			if err != nil {
				return err
			}
			if from <= m.anchorSeq {
				if !first {
					return fmt.Errorf("events up to %d were pruned during the walk", m.anchorSeq)
				}
				from = m.anchorSeq + 1
			}
			first = false
			if from > m.lastSeq {
				return errStop
			}
			page, err = readEvents(tx, from, min(eventsPage, m.lastSeq-from+1))
			return err
		})
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ledger events from %d: %w", from, err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return fmt.Errorf("ledger events at %d: %w", e.Seq, err)
			}
		}
		from += uint64(len(page))
	}
}
