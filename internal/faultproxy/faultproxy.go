// Package faultproxy is a TCP proxy that breaks the network between a client and
// a server on purpose, for end-to-end tests of code that must survive a bad link:
// it resets connections, delays them, cuts them mid-way after a number of bytes in
// either direction, and answers HTTP requests itself with an error status and
// Retry-After, the way an overloaded load balancer does.
//
// Most faults are byte-level: the proxy forwards TCP without looking inside, so
// it works under TLS (mutual TLS included) without any key. Answering an HTTP
// error needs HTTP, so for those connections only the proxy terminates TLS
// itself with Options.TLS (the server's certificate and key, and the client CAs
// when the server requires client certificates), reads one request and answers
// it without ever reaching the server. It never forwards a request it has
// decrypted, so it needs no client key and impersonates nobody.
//
// Each accepted connection gets one Fault from Options.Plan, which is called from
// one goroutine in accept order: a plan drawing from a seeded random source
// gives the same faults to the same connection numbers on every run (timing
// still varies). Heal stops all faults, on live connections too.
package faultproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is what the proxy does to a connection.
type Kind int

const (
	// None forwards the connection faithfully.
	None Kind = iota
	// Reset resets the connection (TCP RST) as soon as it is accepted, before the
	// server is dialled.
	Reset
	// Cut forwards Fault.After bytes in one direction (Fault.Down: server to
	// client, else client to server) and resets both sides when more come: a
	// request or an answer is cut mid-way, or a TLS handshake when After is
	// small. A stream that ends within After bytes is not cut.
	Cut
	// HTTPError does not reach the server: the proxy reads one HTTP request
	// (over TLS when Options.TLS is set) and answers Fault.Status with
	// Retry-After: Fault.RetryAfter seconds, then closes the connection.
	HTTPError
)

var kindNames = [...]string{"none", "reset", "cut", "http-error"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Fault is the fate of one connection. Besides its Kind, a forwarded connection
// (None or Cut) can be slow: Delay holds every chunk read from either side that
// long before passing it on, for the life of the connection. A slow connection
// that is never cut keeps being slow, as long as its client reuses it.
type Fault struct {
	Kind       Kind
	Delay      time.Duration // None, Cut: how long each chunk is held
	After      int64         // Cut: bytes forwarded before the cut
	Down       bool          // Cut: count the server-to-client stream instead of client-to-server
	Status     int           // HTTPError: the status answered (default 503)
	RetryAfter int           // HTTPError: Retry-After in seconds; 0 leaves the header out
}

func (f Fault) String() string {
	var s string
	switch f.Kind {
	case Cut:
		dir := "up"
		if f.Down {
			dir = "down"
		}
		s = fmt.Sprintf("cut %s after %d bytes", dir, f.After)
	case HTTPError:
		return fmt.Sprintf("http %d retry-after %d", f.Status, f.RetryAfter)
	default:
		s = f.Kind.String()
	}
	if f.Delay > 0 && f.Kind != Reset {
		s += fmt.Sprintf(", delay %v", f.Delay)
	}
	return s
}

// Options configure a Proxy.
type Options struct {
	// Target is the server's address, host:port. Required.
	Target string
	// Plan chooses each new connection's fault. It is called from one goroutine,
	// in accept order, and not at all after Heal. Nil: no faults.
	Plan func() Fault
	// TLS is the configuration the proxy terminates TLS with for HTTPError
	// connections. Nil: those connections speak plain HTTP.
	TLS *tls.Config
	// OnHTTPError, when set, is called with each request the proxy answered
	// itself and the fault it answered with; r.TLS holds the client's
	// certificates, r.Body is drained. It is called from many goroutines.
	OnHTTPError func(r *http.Request, f Fault)
	// DialTimeout bounds dialling the target (default 10 s).
	DialTimeout time.Duration
}

// Counts are the faults a proxy has injected so far. A fault is counted when it
// happens, not when it is planned: a Cut on a connection that ends before its
// byte count is not counted, nor an HTTPError whose client never sends a request.
type Counts struct {
	Conns      int64         // connections accepted
	Resets     int64         // connections reset at accept
	Delayed    int64         // connections forwarded with a Delay
	CutsUp     int64         // client-to-server streams cut mid-way
	CutsDown   int64         // server-to-client streams cut mid-way
	HTTPErrors map[int]int64 // requests answered by the proxy, by status
	BytesUp    int64         // forwarded client to server
	BytesDown  int64         // forwarded server to client
}

func (c Counts) String() string {
	return fmt.Sprintf("%d connections: %d reset, %d delayed, %d cut up, %d cut down, HTTP errors %v; %d bytes up, %d down",
		c.Conns, c.Resets, c.Delayed, c.CutsUp, c.CutsDown, c.HTTPErrors, c.BytesUp, c.BytesDown)
}

// Sub returns the faults counted in c and not yet in before, an earlier Counts
// of the same proxy.
func (c Counts) Sub(before Counts) Counts {
	d := Counts{
		Conns:      c.Conns - before.Conns,
		Resets:     c.Resets - before.Resets,
		Delayed:    c.Delayed - before.Delayed,
		CutsUp:     c.CutsUp - before.CutsUp,
		CutsDown:   c.CutsDown - before.CutsDown,
		HTTPErrors: map[int]int64{},
		BytesUp:    c.BytesUp - before.BytesUp,
		BytesDown:  c.BytesDown - before.BytesDown,
	}
	for status, n := range c.HTTPErrors {
		if n -= before.HTTPErrors[status]; n != 0 {
			d.HTTPErrors[status] = n
		}
	}
	return d
}

// Proxy forwards connections from its listener to a target, with faults.
type Proxy struct {
	opts   Options
	ln     net.Listener
	healed atomic.Bool

	mu     sync.Mutex
	counts Counts
	conns  map[net.Conn]struct{} // live connections of both sides, closed by Run's end
	closed bool
}

// New returns a proxy that accepts on ln; call Run to start it.
func New(ln net.Listener, opts Options) *Proxy {
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	return &Proxy{opts: opts, ln: ln, conns: map[net.Conn]struct{}{}, counts: Counts{HTTPErrors: map[int]int64{}}}
}

// Addr returns the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Heal stops injecting faults: new connections are forwarded faithfully, and
// live ones stop being delayed and are no longer cut. A request the proxy is
// already answering itself is still answered.
func (p *Proxy) Heal() { p.healed.Store(true) }

// Counts returns the faults injected so far.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	c.HTTPErrors = make(map[int]int64, len(p.counts.HTTPErrors))
	for k, v := range p.counts.HTTPErrors {
		c.HTTPErrors[k] = v
	}
	return c
}

// Run accepts and forwards connections until ctx is cancelled, then closes the
// listener and every live connection, waits for its goroutines and returns nil.
// It returns an error only when accepting fails otherwise.
func (p *Proxy) Run(ctx context.Context) error {
	var once sync.Once
	shutdown := func() {
		once.Do(func() {
			p.ln.Close()
			p.mu.Lock()
			defer p.mu.Unlock()
			p.closed = true
			for c := range p.conns {
				c.Close()
			}
		})
	}
	defer context.AfterFunc(ctx, shutdown)()
	var wg sync.WaitGroup
	var err error
	for {
		c, aerr := p.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("faultproxy: accept: %w", aerr)
			}
			break
		}
		f := Fault{}
		if p.opts.Plan != nil && !p.healed.Load() {
			f = p.opts.Plan()
		}
		p.add(func(c *Counts) { c.Conns++ })
		wg.Go(func() { p.handle(ctx, c, f) })
	}
	shutdown()
	wg.Wait()
	return err
}

func (p *Proxy) add(f func(*Counts)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.counts)
}

// track registers a live connection so Run can close it; false means Run is
// ending and c was closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) handle(ctx context.Context, client net.Conn, f Fault) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	switch f.Kind {
	case Reset:
		p.add(func(c *Counts) { c.Resets++ })
		reset(client)
		return
	case HTTPError:
		p.answer(client, f)
		return
	}
	d := net.Dialer{Timeout: p.opts.DialTimeout}
	server, err := d.DialContext(ctx, "tcp", p.opts.Target)
	if err != nil {
		reset(client) // as if the server were not there
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	if f.Delay > 0 {
		p.add(func(c *Counts) { c.Delayed++ })
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(server, client, f, false) })
	p.pipe(client, server, f, true)
	wg.Wait()
}

// pipe copies src to dst, applying f to the stream in its direction, until src
// ends (then it closes dst for writing), either side fails (then it closes
// both, as the failing side would have), or the stream is cut (then it resets
// both).
func (p *Proxy) pipe(dst, src net.Conn, f Fault, down bool) {
	cut := f.Kind == Cut && f.Down == down
	var passed int64
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if f.Delay > 0 && !p.healed.Load() {
				time.Sleep(f.Delay)
			}
			cutNow := cut && passed+int64(n) > f.After && !p.healed.Load()
			if cutNow {
				chunk = chunk[:f.After-passed]
			}
			if _, werr := dst.Write(chunk); werr != nil {
				src.Close()
				dst.Close()
				return
			}
			passed += int64(len(chunk))
			p.add(func(c *Counts) {
				if down {
					c.BytesDown += int64(len(chunk))
				} else {
					c.BytesUp += int64(len(chunk))
				}
			})
			if cutNow {
				p.cut(dst, src, down)
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			return
		}
		if err != nil {
			src.Close()
			dst.Close()
			return
		}
	}
}

func (p *Proxy) cut(dst, src net.Conn, down bool) {
	p.add(func(c *Counts) {
		if down {
			c.CutsDown++
		} else {
			c.CutsUp++
		}
	})
	reset(src)
	reset(dst)
}

// reset closes c so that its peer sees a connection reset rather than an orderly
// end, where the connection type allows.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// answer plays the server for one request and answers it with f's status.
func (p *Proxy) answer(client net.Conn, f Fault) {
	client.SetDeadline(time.Now().Add(30 * time.Second))
	conn := client
	if p.opts.TLS != nil {
		tc := tls.Server(client, p.opts.TLS)
		if err := tc.Handshake(); err != nil {
			return
		}
		conn = tc
	}
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	// Read the whole body, so the client sees the answer and not a reset.
	if _, err := io.Copy(io.Discard, io.LimitReader(req.Body, 256<<20)); err != nil {
		return
	}
	if tc, ok := conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		req.TLS = &st
	}
	status := f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	body := fmt.Sprintf(`{"code":"fault_injected","message":"faultproxy answered %d instead of the server"}`+"\n", status)
	resp := &http.Response{
		StatusCode:    status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(strings.NewReader(body)),
		Close:         true,
	}
	if f.RetryAfter > 0 {
		resp.Header.Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	// Count and report before the client can see the answer, so a client's next
	// request is never observed before the answer that preceded it.
	p.add(func(c *Counts) { c.HTTPErrors[status]++ })
	if p.opts.OnHTTPError != nil {
		p.opts.OnHTTPError(req, f)
	}
	if err := resp.Write(conn); err != nil {
		return
	}
	if tc, ok := conn.(*tls.Conn); ok {
		tc.CloseWrite() // close_notify: the answer is complete
	}
}
