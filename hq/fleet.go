package hq

import (
	"context"
	"errors"
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
	// PutContact stores the terminal's last contact in place of the one before.
	PutContact(ctx context.Context, c Contact) error
	// Contacts returns every terminal's last contact, by terminal.
	Contacts(ctx context.Context) ([]Contact, error)
}

// contactPersistEvery is how often a terminal's unchanged contact (the same
// address, ruleset and health, only a later time) is written to the store:
// every poll used to be a store commit (an fsync with bbolt) per terminal.
// The replica that holds the poll keeps the latest in memory and shows it in
// its fleet view; the other replicas see it at most this much later.
const contactPersistEvery = time.Minute

// contacts are the terminals' last contacts this replica saw, and when each
// was last written to the store.
type contacts struct {
	mu   sync.Mutex
	last map[string]contactMemo
}

type contactMemo struct {
	c      Contact
	stored time.Time // when c's content was last written; zero: never, or it failed
}

// sameContact reports whether b tells the fleet view nothing a does not, but
// a later time.
func sameContact(a, b Contact) bool {
	return a.Remote == b.Remote && a.Ruleset == b.Ruleset && a.Health.Tilld == b.Health.Tilld &&
		a.Health.Outbox == b.Health.Outbox && a.Health.Oldest.Equal(b.Health.Oldest)
}

// recordContact notes the contact of a till's poll: in memory always, and in
// the store when something but its time changed, or contactPersistEvery
// after it was last written there. A failure is logged, never the poll's.
func (s *Server) recordContact(r *http.Request, after int64) {
	fs, ok := s.opts.Store.(FleetStore)
	terminal := terminalOf(r)
	if !ok || terminal == "" || !idPattern.MatchString(terminal) {
		return
	}
	h, _ := wire.ParseHealth(r.URL.Query())
	c := Contact{Terminal: terminal, At: s.opts.Now().UTC(), Remote: r.RemoteAddr, Ruleset: after, Health: h}
	s.contacts.mu.Lock()
	if s.contacts.last == nil {
		s.contacts.last = map[string]contactMemo{}
	}
	m, seen := s.contacts.last[terminal]
	persist := !seen || !sameContact(m.c, c) || c.At.Sub(m.stored) >= contactPersistEvery
	m.c = c
	if persist {
		m.stored = c.At
	}
	s.contacts.last[terminal] = m
	s.contacts.mu.Unlock()
	if !persist {
		return
	}
	if err := fs.PutContact(r.Context(), c); err != nil {
		s.log.Warn("cannot record a terminal's contact", "terminal", terminal, "err", err)
		s.contacts.mu.Lock()
		if m := s.contacts.last[terminal]; m.c.At.Equal(c.At) {
			m.stored = time.Time{} // write it at the next poll
			s.contacts.last[terminal] = m
		}
		s.contacts.mu.Unlock()
	}
}

// FlushContacts writes to the store every contact this replica holds that is
// newer than the one written: tillhq calls it when it stops.
func (s *Server) FlushContacts(ctx context.Context) error {
	fs, ok := s.opts.Store.(FleetStore)
	if !ok {
		return nil
	}
	s.contacts.mu.Lock()
	var todo []Contact
	for t, m := range s.contacts.last {
		if !m.stored.Equal(m.c.At) {
			todo = append(todo, m.c)
			m.stored = m.c.At
			s.contacts.last[t] = m
		}
	}
	s.contacts.mu.Unlock()
	var errs []error
	for _, c := range todo {
		if err := fs.PutContact(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("terminal %s: %w", c.Terminal, err))
		}
	}
	return errors.Join(errs...)
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
