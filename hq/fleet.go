package hq

import (
	"context"
	"net/http"
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

// recordContact stores the contact of a till's rules poll; a failure is
// logged, never the poll's.
func (s *Server) recordContact(r *http.Request, after int64) {
	fs, ok := s.opts.Store.(FleetStore)
	terminal := terminalOf(r)
	if !ok || terminal == "" || !idPattern.MatchString(terminal) {
		return
	}
	h, _ := wire.ParseHealth(r.URL.Query())
	c := Contact{Terminal: terminal, At: s.opts.Now().UTC(), Remote: r.RemoteAddr, Ruleset: after, Health: h}
	if err := fs.PutContact(r.Context(), c); err != nil {
		s.log.Warn("cannot record a terminal's contact", "terminal", terminal, "err", err)
	}
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
