package hq

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/wire"
)

// Parking idle combined polls. A terminal's combined poll (wire.PathWait)
// that finds nothing new is taken from net/http (Hijack) and kept as its bare
// connection (a *tls.Conn) in a registry: no goroutine, no bufio buffers,
// no request, a hundred bytes besides the connection itself. A wake (a
// ruleset published, cards changed, a terminal revoked; here or at another
// replica) or the end of its wait lets one sweeper answer the polls concerned
// with a few workers: each answer is written with net/http's own
// http.Response.Write, and the still-open connection is handed to a second
// http.Server that accepts from the registry instead of a socket. net/http
// sees the same *tls.Conn there, so the terminal's next request has r.TLS and
// its certificate as before. Measured in bench/hqbench (BenchmarkLongPoll).

// parkedConn is a parked poll's connection.
type parkedConn struct{ conn net.Conn }

// parkWorkers is how many parked polls a sweep answers at once.
const parkWorkers = 8

// parkTick is how often the sweeper looks for polls whose wait is over.
const parkTick = 500 * time.Millisecond

// parking is the registry of parked polls, and the listener of the second
// server, which accepts the connections of the polls answered.
type parking struct {
	s      *Server
	ctx    context.Context // ServeTerminals's: the store reads of sweeps
	addr   net.Addr
	accept chan net.Conn // answered polls' connections, for the second server
	kick   chan struct{} // a sweep is due
	lnDone chan struct{} // the listener was closed
	lnOnce sync.Once

	mu       sync.Mutex
	busy     time.Time // when a poll was last parked or answered
	answered int       // polls answered since memory was last returned
	polls    map[*waitPoll]struct{}
	gen      uint64             // wakes so far
	rules    bool               // a ruleset was published since the last sweep
	cards    bool               // cards changed since the last sweep
	all      bool               // a terminal was revoked, or anything may have happened: check every poll
	feed     int64              // the change-feed position the sweeps have looked up to
	feedSet  bool               // feed was read: else a sweep for cards reads every poll's feed
	recheck  map[*waitPoll]bool // parked while a wake went by: their feed is read at the next sweep
	closed   bool               // HQ is stopping: nothing is parked any more
}

func newParking(ctx context.Context, s *Server, addr net.Addr) *parking {
	return &parking{s: s, ctx: ctx, addr: addr, accept: make(chan net.Conn, 256), kick: make(chan struct{}, 1),
		lnDone: make(chan struct{}), polls: map[*waitPoll]struct{}{}, recheck: map[*waitPoll]bool{}}
}

// ServeTerminals serves Handler on ln, a TLS listener of terminals, until
// ctx ends, parking the combined polls that wait (see above); then it
// answers every parked poll that HQ is stopping (503, Retry-After: 1).
func (s *Server) ServeTerminals(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pk := newParking(ctx, s, ln.Addr())
	s.parked.Store(pk)
	defer s.parked.CompareAndSwap(pk, nil)
	h := s.Handler()
	swept := make(chan struct{})
	go func() { pk.run(); close(swept) }()
	flushed := make(chan struct{})
	go func() { s.flushContacts(ctx); close(flushed) }()
	defer func() { <-flushed }()
	errc := make(chan error, 2)
	go func() { errc <- serve.HTTP(ctx, ln, h, 0); cancel() }()
	// The second server takes connections of terminals that authenticated
	// and were just answered: to it each is new, but it is a kept-alive
	// connection, whose next request may come after a while when the
	// terminal is busy (a ruleset to check, a wave of answers on a loaded
	// machine). Closing it then would cost a new TLS handshake.
	again := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() { errc <- serve.Server(ctx, pk, again, 0); cancel() }()
	err := errors.Join(<-errc, <-errc)
	<-swept
	return err
}

// park parks p, the poll of r, when nothing is new for it, and reports
// whether it answered r (parked, or answered at once). false: it did
// nothing, and the caller waits as the older polls do (no ServeTerminals,
// HTTP/2, a writer that cannot be hijacked).
func (s *Server) park(w http.ResponseWriter, r *http.Request, p *waitPoll) bool {
	pk := s.parked.Load()
	hj, ok := w.(http.Hijacker)
	if pk == nil || !ok || r.ProtoMajor != 1 || r.Close {
		return false
	}
	gen := pk.generation()
	ans, ready, err := s.check(r.Context(), p, true)
	switch {
	case err != nil:
		s.storeError(w, "wait", err)
		return true
	case ready:
		wire.WriteJSON(w, http.StatusOK, ans)
		return true
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return false
	}
	if rw.Reader.Buffered() > 0 {
		// The terminal sent more before this answer (pipelining): what
		// net/http read of it would be lost with its buffer. Answer now,
		// and close, so the next request comes on a new connection.
		pk.answer(conn, http.StatusOK, ans, true)
		return true
	}
	conn.SetDeadline(time.Time{}) // net/http's read and write deadlines
	p.parked.conn = conn
	pk.put(p, gen)
	return true
}

// generation is the number of wakes so far.
func (pk *parking) generation() uint64 {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	return pk.gen
}

// put parks p, whose check began at wake gen: when a wake went by since,
// the next sweep (due at once) reads p's feed again, since the sweep for
// that wake did not see p parked.
func (pk *parking) put(p *waitPoll, gen uint64) {
	pk.mu.Lock()
	if pk.closed {
		pk.mu.Unlock()
		pk.answer(p.parked.conn, http.StatusServiceUnavailable, wire.Error{Code: "shutting_down", Message: "HQ is restarting"}, true)
		return
	}
	pk.polls[p] = struct{}{}
	pk.busy = time.Now()
	missed := pk.gen != gen
	if missed {
		pk.recheck[p] = true // checked whole: the ruleset and its feed
	}
	pk.mu.Unlock()
	if missed {
		pk.due()
	}
}

// wake notes topic (notify.go) and makes a sweep due.
func (pk *parking) wake(topic string) {
	pk.mu.Lock()
	pk.gen++
	switch topic {
	case TopicRules:
		pk.rules = true
	case TopicCards:
		pk.cards = true
	default: // a revocation, or anything after a lost connection
		pk.all = true
	}
	pk.mu.Unlock()
	pk.due()
}

func (pk *parking) due() {
	select {
	case pk.kick <- struct{}{}:
	default:
	}
}

// run sweeps at every wake and every parkTick until ServeTerminals's
// context ends, then answers the parked polls that HQ is stopping. Wakes
// during a sweep make one more: a burst of uploads costs one sweep.
func (pk *parking) run() {
	t := time.NewTicker(parkTick)
	defer t.Stop()
	for {
		select {
		case <-pk.ctx.Done():
			pk.mu.Lock()
			pk.closed = true
			polls := pk.polls
			pk.polls = nil
			pk.mu.Unlock()
			bye := wire.Error{Code: "shutting_down", Message: "HQ is restarting"}
			pk.each(keys(polls), func(p *waitPoll) { pk.answer(p.parked.conn, http.StatusServiceUnavailable, bye, true) })
			return
		case <-pk.kick:
		case <-t.C:
			pk.tidy()
		}
		pk.sweep()
	}
}

// tidyAfter is how many polls a wave answers before tidy returns the
// memory it took, once quiet for tidyQuiet.
const (
	tidyAfter = 256
	tidyQuiet = time.Second
)

// tidy returns the memory a wave of answers took (a publication answers
// every terminal at once; their buffers, goroutines and garbage outlive
// it) to the system once HQ is quiet: one collection, rarely.
func (pk *parking) tidy() {
	pk.mu.Lock()
	due := pk.answered >= tidyAfter && time.Since(pk.busy) >= tidyQuiet
	if due {
		pk.answered = 0
	}
	pk.mu.Unlock()
	if due {
		debug.FreeOSMemory()
	}
}

func keys(m map[*waitPoll]struct{}) []*waitPoll {
	out := make([]*waitPoll, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	return out
}

// sweep answers the parked polls that a wake concerns or whose wait is over,
// or parks them again when nothing is new for them. It reads the
// revocations and the current ruleset once for them all; when cards
// changed, which terminals have something in their feed once
// (Store.Watching), and then the feed of those only.
func (pk *parking) sweep() {
	now := time.Now()
	pk.mu.Lock()
	rules, cards, all, gen := pk.rules, pk.cards, pk.all, pk.gen
	pk.rules, pk.cards, pk.all = false, false, false
	read := pk.recheck // the polls whose feed is read
	pk.recheck = map[*waitPoll]bool{}
	feed, feedSet := pk.feed, pk.feedSet
	var todo, followers []*waitPoll
	for p := range pk.polls {
		switch {
		case all || rules && p.rules || !now.Before(p.deadline) || read[p]:
			todo = append(todo, p)
			delete(pk.polls, p)
		case cards && p.changes:
			followers = append(followers, p)
		}
	}
	pk.mu.Unlock()
	if cards || all {
		if all || !feedSet {
			for _, p := range todo {
				read[p] = true
			}
		}
		watching, err := pk.watching(feed, feedSet && !all, followers)
		if err != nil {
			pk.s.log.Error("read the change feed", "err", err)
			watching = followers // read each one's: a failure answers it
		}
		pk.mu.Lock()
		for _, p := range watching {
			if _, ok := pk.polls[p]; ok {
				delete(pk.polls, p)
				todo = append(todo, p)
			}
			read[p] = true
		}
		pk.mu.Unlock()
	}
	if len(todo) == 0 {
		return
	}
	pk.mu.Lock()
	pk.answered += len(todo)
	pk.busy = time.Now()
	pk.mu.Unlock()
	revoked, err := pk.s.revocations(pk.ctx)
	if err != nil {
		pk.s.log.Error("read revocations", "err", err)
		unavailable := wire.Error{Code: "store_unavailable", Message: "HQ cannot use its store right now"}
		pk.each(todo, func(p *waitPoll) { pk.answer(p.parked.conn, http.StatusServiceUnavailable, unavailable, false) })
		return
	}
	pk.each(todo, func(p *waitPoll) {
		if rev, ok := revoked[p.cert]; ok && p.cert != "" {
			pk.s.log.Warn("revoked terminal refused", "terminal", p.cert, "remote", p.parked.conn.RemoteAddr().String())
			pk.answer(p.parked.conn, http.StatusForbidden, wire.Error{Code: wire.CodeRevoked, Message: revokedMessage(rev)}, false)
			return
		}
		over := !now.Before(p.deadline)
		ans, ready, err := pk.s.check(pk.ctx, p, read[p])
		switch {
		case err != nil:
			pk.s.log.Error("wait", "terminal", p.terminal, "err", err)
			pk.answer(p.parked.conn, http.StatusServiceUnavailable, wire.Error{Code: "store_unavailable", Message: "HQ cannot read its store right now"}, false)
		case ready || over:
			pk.answer(p.parked.conn, http.StatusOK, ans, false)
		default:
			pk.put(p, gen)
		}
	})
}

// watching returns the followers with something in their change feed after
// position feed, and moves the sweeps' position on. Without known (the
// first sweep, or after anything may have happened) it returns them all,
// to be read one by one.
func (pk *parking) watching(feed int64, known bool, followers []*waitPoll) ([]*waitPoll, error) {
	if !known {
		_, last, err := pk.s.opts.Store.Watching(pk.ctx, 0, nil)
		if err != nil {
			return nil, err
		}
		pk.mu.Lock()
		pk.feed, pk.feedSet = max(pk.feed, last), true
		pk.mu.Unlock()
		return followers, nil
	}
	terminals := make([]string, 0, len(followers))
	for _, p := range followers {
		terminals = append(terminals, p.terminal)
	}
	ts, last, err := pk.s.opts.Store.Watching(pk.ctx, feed, terminals)
	if err != nil {
		return nil, err
	}
	pk.mu.Lock()
	pk.feed = max(pk.feed, last)
	pk.mu.Unlock()
	want := make(map[string]bool, len(ts))
	for _, t := range ts {
		want[t] = true
	}
	var out []*waitPoll
	for _, p := range followers {
		if want[p.terminal] {
			out = append(out, p)
		}
	}
	return out, nil
}

// each runs fn on every poll with parkWorkers workers.
func (pk *parking) each(polls []*waitPoll, fn func(*waitPoll)) {
	work := make(chan *waitPoll)
	var wg sync.WaitGroup
	for range min(parkWorkers, len(polls)) {
		wg.Go(func() {
			for p := range work {
				fn(p)
			}
		})
	}
	for _, p := range polls {
		work <- p
	}
	close(work)
	wg.Wait()
}

// revocations returns the revoked terminals, by terminal.
func (s *Server) revocations(ctx context.Context) (map[string]Revocation, error) {
	st := s.operators()
	if st == nil {
		return nil, nil
	}
	revs, err := st.Revocations(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Revocation, len(revs))
	for _, r := range revs {
		out[r.Terminal] = r
	}
	return out, nil
}

var answerBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 2048) }}

// answer writes a JSON answer on a parked connection with net/http's
// writer, then hands the connection to the second server for the
// terminal's next request, or closes it.
func (pk *parking) answer(conn net.Conn, status int, body any, closeAfter bool) {
	data, err := json.Marshal(body)
	if err != nil {
		conn.Close()
		return
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	resp := &http.Response{StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Header: h, Close: closeAfter,
		ContentLength: int64(len(data)), Body: io.NopCloser(bytes.NewReader(data))}
	bw := answerBufs.Get().(*bufio.Writer)
	bw.Reset(conn)
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err = resp.Write(bw); err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	answerBufs.Put(bw)
	conn.SetWriteDeadline(time.Time{})
	if err != nil || closeAfter {
		conn.Close()
		return
	}
	select {
	case pk.accept <- conn:
	case <-pk.lnDone:
		conn.Close()
	}
}

// Accept, Close and Addr make the registry the second server's listener.
func (pk *parking) Accept() (net.Conn, error) {
	select {
	case c := <-pk.accept:
		return c, nil
	case <-pk.lnDone:
		return nil, net.ErrClosed
	}
}

func (pk *parking) Close() error {
	pk.lnOnce.Do(func() { close(pk.lnDone) })
	return nil
}

func (pk *parking) Addr() net.Addr { return pk.addr }

// ParkedPolls is how many combined polls are parked now.
func (s *Server) ParkedPolls() int {
	pk := s.parked.Load()
	if pk == nil {
		return 0
	}
	pk.mu.Lock()
	defer pk.mu.Unlock()
	return len(pk.polls)
}
