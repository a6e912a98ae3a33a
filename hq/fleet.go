package hq

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tilld/tilld/sync/wire"
)

// Contact is a terminal's last rules poll: when, from where, and the health
// it sent with it (wire.Health).
type Contact struct {
	Terminal string      `json:"terminal"`
	At       time.Time   `json:"at"`
	Remote   string      `json:"remote"`
	Ruleset  int64       `json:"ruleset"`
	Health   wire.Health `json:"health"`
}

// FleetStore keeps every terminal's last contact. Both HQ stores implement it.
type FleetStore interface {
	// PutContacts stores each terminal's last contact in place of the one
	// before, all at once.
	PutContacts(ctx context.Context, cs []Contact) error
	// Contacts returns every terminal's last contact, by terminal.
	Contacts(ctx context.Context) ([]Contact, error)
}

// contactPersistEvery is how often a terminal's unchanged contact (the same
// address, ruleset and health, only a later time) is written to the store:
// every poll used to be a store commit (an fsync with bbolt) per terminal.
// The replica that holds the poll keeps the latest in memory and shows it in
// its fleet view; the other replicas see it at most this much later.
const contactPersistEvery = time.Minute

// contactFlushEvery is how often ServeTerminals writes the contacts that
// changed, in one store commit: after a ruleset is published, every
// terminal's contact changes within a second.
const contactFlushEvery = time.Second

// contacts are the terminals' last contacts this replica saw, and when each
// was last written to the store.
type contacts struct {
	mu      sync.Mutex
	last    map[string]contactMemo
	batched bool // ServeTerminals writes them every contactFlushEvery; else each poll does
}

type contactMemo struct {
	c      Contact
	stored time.Time // when c's content was last written; zero: never
	dirty  bool      // c is to be written
}

// sameContact reports whether b tells the fleet view nothing a does not, but
// a later time.
func sameContact(a, b Contact) bool {
	return a.Remote == b.Remote && a.Ruleset == b.Ruleset && a.Health.Tilld == b.Health.Tilld &&
		a.Health.Outbox == b.Health.Outbox && a.Health.Oldest.Equal(b.Health.Oldest)
}

// recordContact notes the contact of a till's poll: in memory always, and in
// the store when something but its time changed, or contactPersistEvery
// after it was last written there (at once, or with the next batch while
// ServeTerminals serves). A failure is logged, never the poll's.
func (s *Server) recordContact(r *http.Request, after int64) {
	if _, ok := s.opts.Store.(FleetStore); !ok {
		return
	}
	terminal := terminalOf(r)
	if terminal == "" || !idPattern.MatchString(terminal) {
		return
	}
	h, _ := wire.ParseHealth(r.URL.Query())
	c := Contact{Terminal: terminal, At: s.opts.Now().UTC(), Remote: r.RemoteAddr, Ruleset: after, Health: h}
	s.contacts.mu.Lock()
	if s.contacts.last == nil {
		s.contacts.last = map[string]contactMemo{}
	}
	m, seen := s.contacts.last[terminal]
	if !seen || !sameContact(m.c, c) || c.At.Sub(m.stored) >= contactPersistEvery {
		m.dirty = true
	}
	m.c = c
	s.contacts.last[terminal] = m
	now := m.dirty && !s.contacts.batched
	s.contacts.mu.Unlock()
	if now {
		if err := s.FlushContacts(r.Context()); err != nil {
			s.log.Warn("cannot record a terminal's contact", "terminal", terminal, "err", err)
		}
	}
}

// FlushContacts writes to the store, in one commit, every contact this
// replica holds that is to be written: tillhq calls it when it stops.
func (s *Server) FlushContacts(ctx context.Context) error {
	fs, ok := s.opts.Store.(FleetStore)
	if !ok {
		return nil
	}
	s.contacts.mu.Lock()
	var todo []Contact
	for _, m := range s.contacts.last {
		if m.dirty {
			todo = append(todo, m.c)
		}
	}
	s.contacts.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	if err := fs.PutContacts(ctx, todo); err != nil {
		return fmt.Errorf("record %d terminals' contacts: %w", len(todo), err)
	}
	s.contacts.mu.Lock()
	defer s.contacts.mu.Unlock()
	for _, c := range todo {
		if m := s.contacts.last[c.Terminal]; m.c.At.Equal(c.At) {
			m.stored, m.dirty = c.At, false
			s.contacts.last[c.Terminal] = m
		}
	}
	return nil
}

// flushContacts writes the contacts to be written every contactFlushEvery
// until ctx ends (ServeTerminals).
func (s *Server) flushContacts(ctx context.Context) {
	s.contacts.mu.Lock()
	s.contacts.batched = true
	s.contacts.mu.Unlock()
	defer func() {
		s.contacts.mu.Lock()
		s.contacts.batched = false
		s.contacts.mu.Unlock()
	}()
	t := time.NewTicker(contactFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.FlushContacts(ctx); err != nil {
				s.log.Warn("cannot record the terminals' contacts", "err", err)
			}
		}
	}
}

// freshContacts returns the stored contacts cs with this replica's later ones
// in their place, by terminal.
func (s *Server) freshContacts(cs []Contact) []Contact {
	s.contacts.mu.Lock()
	defer s.contacts.mu.Unlock()
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		seen[c.Terminal] = true
		if m, ok := s.contacts.last[c.Terminal]; ok && m.c.At.After(c.At) {
			cs[i] = m.c
		}
	}
	for t, m := range s.contacts.last {
		if !seen[t] {
			cs = append(cs, m.c)
		}
	}
	slices.SortFunc(cs, func(a, b Contact) int { return strings.Compare(a.Terminal, b.Terminal) })
	return cs
}

// fleet answers every terminal's last contact, its revocation, and HQ's
// current ruleset.
func (s *Server) fleet(w http.ResponseWriter, r *http.Request) {
	fs, ok := s.opts.Store.(FleetStore)
	if !ok {
		wire.WriteError(w, http.StatusNotImplemented, "no_fleet", "this HQ store keeps no contacts")
		return
	}
	cs, err := fs.Contacts(r.Context())
	if err != nil {
		s.storeError(w, "fleet", err)
		return
	}
	cs = s.freshContacts(cs)
	ans := wire.Fleet{Terminals: []wire.FleetTerminal{}}
	if rs, err := s.opts.Store.CurrentRuleset(r.Context()); err == nil {
		ans.Current = rs.Version
	}
	revoked := map[string]bool{}
	if st := s.operators(); st != nil {
		revs, err := st.Revocations(r.Context())
		if err != nil {
			s.storeError(w, "fleet", err)
			return
		}
		for _, rev := range revs {
			revoked[rev.Terminal] = true
		}
	}
	for _, c := range cs {
		ft := wire.FleetTerminal{Terminal: c.Terminal, LastContact: c.At.UTC().Format(time.RFC3339), Remote: c.Remote, Tilld: c.Health.Tilld,
			Ruleset: c.Ruleset, Waiting: c.Health.Outbox, Revoked: revoked[c.Terminal]}
		if !c.Health.Oldest.IsZero() {
			ft.OldestWait = c.Health.Oldest.UTC().Format(time.RFC3339)
		}
		ans.Terminals = append(ans.Terminals, ft)
	}
	wire.WriteJSON(w, http.StatusOK, ans)
}
