package hq

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tilld/tilld/sync/wire"
)

// Contact is a terminal's last rules poll: when (HQ's clock), from where,
// and the health it sent with it (wire.Health); the store and certificate
// expiry HQ saw in its certificate.
type Contact struct {
	Terminal string      `json:"terminal"`
	At       time.Time   `json:"at"`
	Remote   string      `json:"remote"`
	Ruleset  int64       `json:"ruleset"`
	Health   wire.Health `json:"health"`
	// Store is the terminal's store as its certificate names it (its
	// enrollment's); "" when the poll came without one.
	Store string `json:"store,omitempty"`
	// Cert is when the terminal's certificate expires: the one HQ saw in
	// the TLS handshake, else the one the till said (Health.CertNotAfter).
	Cert time.Time `json:"cert,omitzero"`
}

// Skew is the till's clock minus HQ's when HQ received the poll, and
// whether the till sent its clock.
func (c Contact) Skew() (time.Duration, bool) {
	if c.Health.Clock.IsZero() {
		return 0, false
	}
	return c.Health.Clock.Sub(c.At), true
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
// its fleet view; the other replicas see it at most this much later. It is a
// minute, or less when polls are held shorter (2 × MaxWait, not under the
// 30 s cap of a till's retry backoff), so that a short MaxWait also shows a
// stopped till offline sooner.
func (s *Server) contactPersistEvery() time.Duration {
	return min(time.Minute, max(2*s.opts.MaxWait, 30*time.Second))
}

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
// a later time (and a clock skew within a second of a's).
func sameContact(a, b Contact) bool {
	ha, hb := a.Health, b.Health
	sa, _ := a.Skew()
	sb, _ := b.Skew()
	return a.Remote == b.Remote && a.Ruleset == b.Ruleset && a.Store == b.Store && a.Cert.Equal(b.Cert) &&
		ha.Tilld == hb.Tilld && ha.Outbox == hb.Outbox && ha.Oldest.Equal(hb.Oldest) &&
		ha.Readers == hb.Readers && ha.ReadersUp == hb.ReadersUp && ha.ReaderError == hb.ReaderError &&
		ha.Clock.IsZero() == hb.Clock.IsZero() && (sa-sb).Abs() < time.Second && ha.CertNotAfter.Equal(hb.CertNotAfter)
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
	c := Contact{Terminal: terminal, At: s.opts.Now().UTC(), Remote: r.RemoteAddr, Ruleset: after, Health: h, Cert: h.CertNotAfter}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		c.Cert = cert.NotAfter.UTC()
		if ou := cert.Subject.OrganizationalUnit; len(ou) > 0 {
			c.Store = ou[0] // pki.CA.SignTerminal puts the enrollment's store there
		}
	}
	s.contacts.mu.Lock()
	if s.contacts.last == nil {
		s.contacts.last = map[string]contactMemo{}
	}
	m, seen := s.contacts.last[terminal]
	if !seen || !sameContact(m.c, c) || c.At.Sub(m.stored) >= s.contactPersistEvery() {
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

// The limits the fleet view judges terminals by (wire.Fleet).
const (
	// maxClockSkew: a till's clock further off than this needs attention:
	// its sales carry its clock, and beyond a minute reports across tills
	// disagree on the order of what happened.
	maxClockSkew = time.Minute
	// certWarnDays: a terminal certificate expiring within this many days
	// needs attention (re-enroll the till before).
	certWarnDays = 30
)

// offlineAfter is how long since its last contact a terminal counts as
// offline. A till that reaches HQ polls again at most MaxWait after its last
// poll began (HQ answers the long poll by then), and retries a failed one
// within its backoff's cap (30 s); its contact reaches the store, where the
// other replicas read it, at least every contactPersistEvery. So a till
// that polls is never seen older than contactPersistEvery + MaxWait (plus a
// flush): two missed polls more, 2 × MaxWait, make it offline. With the
// defaults: 1 min + 2 × 30 s = 2 min; with tillhq serve --max-wait 5s:
// 30 s + 2 × 5 s = 40 s.
func (s *Server) offlineAfter() time.Duration { return s.contactPersistEvery() + 2*s.opts.MaxWait }

// fleetView is what fleetTerminal judges a contact against.
type fleetView struct {
	now          time.Time
	current      int64 // HQ's current ruleset
	offlineAfter time.Duration
}

// fleetTerminal is c as the fleet view shows it, and its attention rank
// (lower: more urgent; see wire.Fleet).
func (v fleetView) fleetTerminal(c Contact, revoked bool) (wire.FleetTerminal, int) {
	ft := wire.FleetTerminal{Terminal: c.Terminal, Store: c.Store, LastContact: c.At.UTC().Format(time.RFC3339), Remote: c.Remote,
		Tilld: c.Health.Tilld, Ruleset: c.Ruleset, Waiting: c.Health.Outbox, Revoked: revoked,
		Readers: c.Health.Readers, ReadersUp: c.Health.ReadersUp, ReaderError: c.Health.ReaderError,
		ContactAge: int64(max(v.now.Sub(c.At), 0) / time.Second)}
	if ft.Waiting > 0 && !c.Health.Oldest.IsZero() {
		ft.OldestWait = c.Health.Oldest.UTC().Format(time.RFC3339)
		ft.OldestAge = int64(max(v.now.Sub(c.Health.Oldest), 0) / time.Second)
	}
	if skew, ok := c.Skew(); ok {
		secs := math.Round(skew.Seconds()*1000) / 1000
		ft.ClockSkew = &secs
	}
	if !c.Cert.IsZero() {
		days := int(math.Floor(c.Cert.Sub(v.now).Hours() / 24))
		ft.CertDaysLeft = &days
	}
	offline := v.now.Sub(c.At) > v.offlineAfter
	switch {
	case revoked:
		ft.Status = wire.FleetRevoked
	case offline:
		ft.Status = wire.FleetOffline
	default:
		ft.Status = wire.FleetOnline
	}
	var why []string
	switch {
	case (revoked || offline) && ft.Waiting > 0:
		why = append(why, wire.AttentionOffline)
	case ft.Waiting > 0 && time.Duration(ft.OldestAge)*time.Second > v.offlineAfter:
		why = append(why, wire.AttentionWaiting)
	case offline && !revoked:
		why = append(why, wire.AttentionSilent)
	}
	if !revoked {
		if ft.ReadersUp < ft.Readers {
			why = append(why, wire.AttentionReader)
		}
		if skew, ok := c.Skew(); ok && skew.Abs() > maxClockSkew {
			why = append(why, wire.AttentionClock)
		}
		if ft.CertDaysLeft != nil && *ft.CertDaysLeft < certWarnDays {
			why = append(why, wire.AttentionCert)
		}
		if ft.Ruleset < v.current {
			why = append(why, wire.AttentionRuleset)
		}
	}
	ft.Attention = why
	switch {
	case len(why) > 0:
		return ft, slices.Index(attentionOrder, why[0])
	case revoked:
		return ft, len(attentionOrder) + 1 // revoked, nothing left to come from it: last
	default:
		return ft, len(attentionOrder)
	}
}

// fleetQuery is what the fleet view asks for: ?find=TEXT (in the terminal
// or store id, any case), ?attention=1 (only those needing attention),
// ?limit=N (the first N in attention order; 0 or none: all).
type fleetQuery struct {
	find      string
	attention bool
	limit     int
}

func parseFleetQuery(q url.Values) (fleetQuery, error) {
	f := fleetQuery{find: strings.ToLower(strings.TrimSpace(q.Get("find"))), attention: q.Get("attention") == "1"}
	if len(f.find) > 64 {
		return f, fmt.Errorf("?find=%.20q…: at most 64 bytes (a terminal or store id)", f.find)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, fmt.Errorf("?limit=%q is not a number of terminals", v)
		}
		f.limit = n
	}
	return f, nil
}

func (f fleetQuery) match(ft wire.FleetTerminal) bool {
	if f.attention && len(ft.Attention) == 0 {
		return false
	}
	return f.find == "" || strings.Contains(strings.ToLower(ft.Terminal), f.find) || strings.Contains(strings.ToLower(ft.Store), f.find)
}

// attentionOrder ranks the attention reasons, most urgent first.
var attentionOrder = []string{wire.AttentionOffline, wire.AttentionWaiting, wire.AttentionSilent, wire.AttentionReader,
	wire.AttentionClock, wire.AttentionCert, wire.AttentionRuleset}

// fleet answers every terminal's last contact, its revocation, and HQ's
// current ruleset, the terminals that need attention first (wire.Fleet).
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
	v := fleetView{now: s.opts.Now().UTC(), offlineAfter: s.offlineAfter()}
	if rs, err := s.opts.Store.CurrentRuleset(r.Context()); err == nil {
		v.current = rs.Version
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
	f, err := parseFleetQuery(r.URL.Query())
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	ans := wire.Fleet{Terminals: []wire.FleetTerminal{}, Current: v.current, At: v.now.Format(time.RFC3339), Total: len(cs),
		OfflineAfter: int64(v.offlineAfter / time.Second), MaxSkewSeconds: int64(maxClockSkew / time.Second), CertWarnDays: certWarnDays}
	type ranked struct {
		ft   wire.FleetTerminal
		rank int
	}
	rs := make([]ranked, 0, len(cs))
	for _, c := range cs {
		ft, rank := v.fleetTerminal(c, revoked[c.Terminal])
		if ft.Status == wire.FleetOffline {
			ans.Offline++
		}
		if len(ft.Attention) > 0 {
			ans.NeedAttention++
		}
		if f.match(ft) {
			rs = append(rs, ranked{ft, rank})
		}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { // cs is by terminal
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(b.ft.OldestAge, a.ft.OldestAge))
	})
	ans.Matching = len(rs)
	if f.limit > 0 && len(rs) > f.limit {
		rs = rs[:f.limit]
	}
	for _, r := range rs {
		ans.Terminals = append(ans.Terminals, r.ft)
	}
	wire.WriteJSON(w, http.StatusOK, ans)
}
