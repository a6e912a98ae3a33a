package till

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Event is one entry of the till's event stream, what the screens follow
// (GET /v1/events): a scan (Data is a ScanEvent), or what the POS app did
// through the local API ("quote", "sale", "feedback", "customer"; Data as
// the API gives it). IDs rise by one per event within a process; ID says
// which process (see Follow).
type Event struct {
	Seq  uint64
	Name string
	Data any
}

// eventBacklog is how many events the till keeps for screens that
// reconnect: a minute of a busy till's scans, quotes and sales.
const eventBacklog = 512

// events is the till's event stream: a ring of the latest events and the
// followers.
type events struct {
	mu   sync.Mutex
	boot string // names this process's stream in event ids
	next uint64
	ring []Event
	subs map[chan Event]struct{}
}

// EventID is the id of an event on the stream (SSE's id: field).
func (t *Till) EventID(e Event) string { return t.stream().boot + "-" + strconv.FormatUint(e.Seq, 10) }

func (t *Till) stream() *events {
	s := &t.evs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.boot == "" {
		var b [4]byte
		rand.Read(b[:])
		s.boot = hex.EncodeToString(b[:])
		s.subs = map[chan Event]struct{}{}
	}
	return s
}

// Publish adds an event to the stream and hands it to every follower; a
// follower that does not keep up loses it (it sees the gap in the ids and
// may reconnect), never blocks the till.
func (t *Till) Publish(name string, data any) {
	s := t.stream()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	e := Event{Seq: s.next, Name: name, Data: data}
	if len(s.ring) == eventBacklog {
		copy(s.ring, s.ring[1:])
		s.ring = s.ring[:eventBacklog-1]
	}
	s.ring = append(s.ring, e)
	for ch := range s.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Follow returns the events after the one lastID names (SSE's
// Last-Event-ID; "" for none) that the till still keeps, then a channel
// of the events published from now on, and a function that ends the
// following and closes the channel. An id of an earlier process of tilld
// gets nothing missed: that stream is gone.
func (t *Till) Follow(lastID string) (missed []Event, ch <-chan Event, cancel func()) {
	s := t.stream()
	s.mu.Lock()
	defer s.mu.Unlock()
	if boot, seq, ok := strings.Cut(lastID, "-"); ok && boot == s.boot {
		if after, err := strconv.ParseUint(seq, 10, 64); err == nil {
			for _, e := range s.ring {
				if e.Seq > after {
					missed = append(missed, e)
				}
			}
		}
	}
	c := make(chan Event, 64)
	s.subs[c] = struct{}{}
	return missed, c, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[c]; ok {
			delete(s.subs, c)
			close(c)
		}
	}
}

// String is the event for logs.
func (e Event) String() string { return fmt.Sprintf("%s #%d", e.Name, e.Seq) }
