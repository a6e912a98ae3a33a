package hq

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tilld/tilld/sync/wire"
)

// signal wakes every long poll waiting on it: rules published, cards changed.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel that is closed at the next fire.
func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

func (g *signal) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

// longPoll answers a long poll of ?wait=S seconds (at most Options.MaxWait):
// answer is tried at once and again each time sig fires, until it says it
// answered; when the wait is over, idle answers instead. A request that ends
// first (HQ shutting down, the terminal gone) gets a 503 with Retry-After,
// rather than the empty 200 net/http would send.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, sig *signal, answer func() bool, idle func()) {
	wait, _ := strconv.Atoi(r.URL.Query().Get("wait"))
	deadline := time.NewTimer(min(time.Duration(wait)*time.Second, s.opts.MaxWait))
	defer deadline.Stop()
	for {
		woken := sig.wait()
		if s.refuseRevoked(w, r) {
			return
		}
		if answer() {
			return
		}
		select {
		case <-woken:
		case <-deadline.C:
			idle()
			return
		case <-r.Context().Done():
			w.Header().Set("Retry-After", "1")
			wire.WriteError(w, http.StatusServiceUnavailable, "shutting_down", "HQ is restarting")
			return
		}
	}
}

// terminalOf is the terminal a request comes from: the one its certificate
// names, or on a server without client certificates (tests, the demo) the
// ?terminal= parameter.
func terminalOf(r *http.Request) string {
	if t := TerminalOf(r); t != "" {
		return t
	}
	return r.URL.Query().Get("terminal")
}
