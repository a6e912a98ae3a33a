package hq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tilld/tilld/sync/wire"
)

// The combined long poll (wire.PathWait): a terminal waits on one connection
// for a newer ruleset and for changes of the cards it has seen. Its first
// check runs in the request's handler; when that finds nothing, the poll is
// parked without a goroutine (park.go) while ServeTerminals serves, or waits
// in its handler as the older polls do.

// waitPoll is one terminal's combined poll.
type waitPoll struct {
	terminal string // the terminal asking (its certificate's, or ?terminal=)
	cert     string // the terminal its certificate names: checked for revocation
	rules    bool   // it follows the rules
	rulesHas int64  // the ruleset version it has
	changes  bool   // it follows the change feed
	after    int64  // its change-feed position: moved past changes not for it
	feed     string // the identity of the feed after is a position in ("": this one)
	deadline time.Time
	parked   parkedConn // set while parked
}

// parseWait reads a combined poll's query; wait is how long it may be held.
func (s *Server) parseWait(r *http.Request) (p *waitPoll, wait time.Duration, err error) {
	q := r.URL.Query()
	p = &waitPoll{terminal: terminalOf(r), cert: TerminalOf(r)}
	if v, ok := q["rules"]; ok {
		p.rules = true
		if p.rulesHas, err = strconv.ParseInt(v[0], 10, 64); err != nil || p.rulesHas < 0 {
			return nil, 0, fmt.Errorf("?rules=%q is not a ruleset version", v[0])
		}
	}
	if v, ok := q["changes"]; ok {
		p.changes = true
		if p.after, err = strconv.ParseInt(v[0], 10, 64); err != nil || p.after < 0 {
			return nil, 0, fmt.Errorf("?changes=%q is not a change-feed position", v[0])
		}
		if p.feed, err = feedParam(q); err != nil {
			return nil, 0, err
		}
	}
	if !p.rules && !p.changes {
		return nil, 0, errors.New("a wait names what it waits for: ?rules=VERSION, ?changes=POSITION or both")
	}
	secs, _ := strconv.Atoi(q.Get("wait"))
	return p, min(time.Duration(max(secs, 0))*time.Second, s.opts.MaxWait), nil
}

// wait is the combined long poll's handler.
func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	p, wait, err := s.parseWait(r)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if p.rules {
		s.recordContact(r, p.rulesHas)
	}
	p.deadline = s.opts.Now().Add(wait)
	if wait > 0 && s.park(w, r, p) {
		return
	}
	s.longPoll(w, r, &s.either, func() bool {
		ans, ready, err := s.check(r.Context(), p, true)
		if err != nil {
			s.log.Error("wait", "terminal", p.terminal, "err", err)
			wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
			return true
		}
		if ready || wait <= 0 {
			wire.WriteJSON(w, http.StatusOK, ans)
		}
		return ready || wait <= 0
	}, func() {
		ans, _, err := s.check(r.Context(), p, false)
		if err != nil {
			s.storeError(w, "wait", err)
			return
		}
		wire.WriteJSON(w, http.StatusOK, ans)
	})
}

// feedParam reads ?feed=, the identity of the feed a terminal's position
// is in (wire.ChangesAnswer.Feed).
func feedParam(q url.Values) (string, error) {
	feed := q.Get("feed")
	if len(feed) > wire.MaxFeedID {
		return "", fmt.Errorf("?feed= is %d bytes, want at most %d", len(feed), wire.MaxFeedID)
	}
	return feed, nil
}

// check reads what p waits for: ready says there is something new for it.
// With cards false the change feed is not read (a wake by a ruleset, or the
// end of the wait): the answer keeps the terminal's position. A look at the
// feed that finds nothing for the terminal moves p past what it read.
func (s *Server) check(ctx context.Context, p *waitPoll, cards bool) (ans wire.WaitAnswer, ready bool, err error) {
	rs, err := s.rulesNow.get(ctx, s.opts.Store)
	if err != nil {
		return ans, false, err
	}
	ans.Rules = rs.Version
	ready = p.rules && ans.Rules > p.rulesHas
	if ready {
		ans.Ruleset = &wire.RulesetAnswer{Version: rs.Version, Hash: rs.Hash, Signature: rs.Signature, TOML: string(rs.Raw)}
	}
	if !p.changes {
		return ans, ready, nil
	}
	ch := wire.ChangesAnswer{Next: p.after, Accounts: []wire.AccountAnswer{}, Feed: p.feed}
	if cards {
		if ch, err = s.opts.Store.Changes(ctx, p.terminal, p.feed, p.after, 500); err != nil {
			return ans, false, fmt.Errorf("changes for %s: %w", p.terminal, err)
		}
		if len(ch.Accounts) > 0 {
			s.changesOut(ctx, &ch)
			ready = true
		} else {
			// skip what this terminal has not seen, in this feed
			p.after, p.feed = ch.Next, ch.Feed
		}
	}
	ans.Changes = &ch
	return ans, ready, nil
}

// rulesCache is the ruleset HQ publishes now, read from the store once
// after each publication (here or at another replica) rather than at every
// poll.
type rulesCache struct {
	mu      sync.Mutex
	known   bool
	current Ruleset // Version 0: none published
	gen     uint64  // forgets so far: a read that raced one is not kept
}

func (c *rulesCache) get(ctx context.Context, st Store) (Ruleset, error) {
	c.mu.Lock()
	if c.known {
		defer c.mu.Unlock()
		return c.current, nil
	}
	gen := c.gen
	c.mu.Unlock()
	rs, err := st.CurrentRuleset(ctx)
	switch {
	case errors.Is(err, ErrNoRuleset):
		rs = Ruleset{}
	case err != nil:
		return Ruleset{}, fmt.Errorf("read ruleset: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.known, c.current = true, rs
	}
	return rs, nil
}

// forget drops the ruleset known: a ruleset was published.
func (c *rulesCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.known = false
	c.gen++
}

// revokedMessage is what a revoked terminal is told.
func revokedMessage(rev Revocation) string {
	return fmt.Sprintf("terminal %s was revoked at %s: HQ refuses its certificate; enroll the till under a new terminal id",
		rev.Terminal, rev.At.UTC().Format(time.RFC3339))
}
