//go:build cgo || windows

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/internal/backoff"
)

// pnpReader is the pseudo-reader whose state changes when a reader is
// plugged in or out.
const pnpReader = `\\?PnP?\Notification`

// errReadersChanged ends a wait to rebuild the list of watched readers.
var errReadersChanged = errors.New("readers changed")

// pcscContext is the part of a PC/SC context a Reader uses. Reader.establish
// makes one; tests put a PC/SC service of their own behind it, whose readers
// come and go and whose calls fail on cue.
type pcscContext interface {
	ListReaders() ([]string, error)
	GetStatusChange(states []scard.ReaderState, timeout time.Duration) error
	Connect(reader string) (pcscCard, error)
	Cancel() error
	Release() error
}

// pcscCard is a connection to a card.
type pcscCard interface {
	Transmit(cmd []byte) ([]byte, error)
	Disconnect(d scard.Disposition) error
}

// scardContext is the real pcscContext.
type scardContext struct{ *scard.Context }

func establishSCard() (pcscContext, error) {
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, err
	}
	return scardContext{sc}, nil
}

func (c scardContext) Connect(reader string) (pcscCard, error) {
	return c.Context.Connect(reader, scard.ShareShared, scard.ProtocolAny)
}

// Run reads cards until ctx is cancelled; see device.Reader. It returns nil on
// cancel and never gives up by itself: while pcscd is unreachable it reports
// the fault with device.ReportHealth and reconnects with backoff.
func (r *Reader) Run(ctx context.Context, emit func(device.Scan)) error {
	b := backoff.Backoff{Min: r.retryMin, Max: r.retryMax}
	for ctx.Err() == nil {
		started := time.Now()
		err := r.session(ctx, emit)
		if ctx.Err() != nil {
			break
		}
		device.ReportHealth(ctx, err)
		// A session that worked for a while is retried quickly first.
		backoff.Sleep(ctx, b.Failed(time.Since(started)))
	}
	return nil
}

// session is one connection to pcscd: it watches readers until ctx is
// cancelled (nil) or pcscd fails (the error).
func (r *Reader) session(ctx context.Context, emit func(device.Scan)) error {
	establish := r.establish
	if establish == nil {
		establish = establishSCard
	}
	sc, err := establish()
	if err != nil {
		return fmt.Errorf("connect to pcscd: %w", err)
	}
	c := &canceller{sc: sc, stopped: make(chan struct{})}
	stop := context.AfterFunc(ctx, c.cancel)
	defer func() {
		stop()
		c.release()
	}()

	w := &watch{r: r, sc: sc, emit: emit, handled: map[string]uint32{}}
	for ctx.Err() == nil {
		if err := w.rebuild(ctx); err != nil {
			return err
		}
		err := w.wait(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errReadersChanged):
		case err != nil:
			return err
		}
	}
	return nil
}

// canceller ends a blocking SCardGetStatusChange when the context is done.
// SCardCancel only interrupts a call in progress, so it repeats until the
// session has released its PC/SC context: a cancel that lands just before the
// call starts is not lost.
type canceller struct {
	sc       pcscContext
	mu       sync.Mutex
	released bool
	stopped  chan struct{}
}

func (c *canceller) cancel() {
	for {
		c.mu.Lock()
		if c.released {
			c.mu.Unlock()
			return
		}
		_ = c.sc.Cancel() // fails only when no call is in progress: try again
		c.mu.Unlock()
		select {
		case <-c.stopped:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *canceller) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.released {
		c.released = true
		close(c.stopped)
		_ = c.sc.Release() // the session is over either way
	}
}

// watch is the state of one session: the readers watched and the cards read.
type watch struct {
	r      *Reader
	sc     pcscContext
	emit   func(device.Scan)
	states []scard.ReaderState // states[0] is the PnP pseudo-reader
	// handled maps a reader with a card already read to the event counter
	// pcscd reported with it: the card stays read until it is removed or the
	// counter moves (it was removed and presented again between two waits).
	handled map[string]uint32
	healthy *bool
}

// rebuild makes the watch list from the readers attached now, keeping the
// known state of readers that stay.
func (w *watch) rebuild(ctx context.Context) error {
	names, err := w.sc.ListReaders()
	if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
		return fmt.Errorf("list PC/SC readers: %w", err)
	}
	old := w.states
	pnp := scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateUnaware}
	if len(old) > 0 {
		pnp = old[0]
	}
	states := []scard.ReaderState{pnp}
	for _, name := range names {
		if !w.r.selects(name) {
			continue
		}
		st := scard.ReaderState{Reader: name, CurrentState: scard.StateUnaware}
		if i := slices.IndexFunc(old, func(s scard.ReaderState) bool { return s.Reader == name }); i > 0 {
			st = old[i]
		}
		states = append(states, st)
	}
	for name := range w.handled {
		if !slices.ContainsFunc(states, func(s scard.ReaderState) bool { return s.Reader == name }) {
			delete(w.handled, name)
		}
	}
	w.states = states
	healthy := len(states) > 1
	if w.healthy == nil || *w.healthy != healthy {
		w.healthy = &healthy
		if healthy {
			device.ReportHealth(ctx, nil)
		} else if w.r.cfg.Reader != "" {
			device.ReportHealth(ctx, fmt.Errorf("%w: none named %q", ErrNoReader, w.r.cfg.Reader))
		} else {
			device.ReportHealth(ctx, ErrNoReader)
		}
	}
	return nil
}

// wait blocks until a watched reader changes, reads any new card, and returns
// errReadersChanged when readers came or went.
func (w *watch) wait(ctx context.Context) error {
	err := w.sc.GetStatusChange(w.states, w.r.statusTimeout)
	switch {
	case err == nil:
	case errors.Is(err, scard.ErrTimeout):
		return nil
	case errors.Is(err, scard.ErrCancelled):
		if ctx.Err() != nil {
			return nil
		}
		return errReadersChanged // cancelled by someone else: look again
	case errors.Is(err, scard.ErrUnknownReader), errors.Is(err, scard.ErrReaderUnavailable):
		return errReadersChanged // a reader vanished between listing and waiting
	default:
		// pcscd went away (RPC transport error, "Service not available") or
		// the context broke: the session ends and Run reconnects.
		return fmt.Errorf("wait for PC/SC reader events: %w", err)
	}
	changed := false
	for i := range w.states {
		st := &w.states[i]
		ev := st.EventState
		if ev&scard.StateChanged == 0 {
			continue
		}
		st.CurrentState = ev &^ scard.StateChanged
		if i == 0 || ev&(scard.StateUnknown|scard.StateUnavailable|scard.StateIgnore) != 0 {
			changed = true // reader plugged in or out
			continue
		}
		w.cardEvent(ctx, st.Reader, ev)
	}
	if changed {
		return errReadersChanged
	}
	return nil
}

// cardEvent reads a card that has just been presented on reader.
func (w *watch) cardEvent(ctx context.Context, reader string, ev scard.StateFlag) {
	counter := uint32(ev) >> 16
	if ev&scard.StatePresent == 0 {
		delete(w.handled, reader) // removed: the next card is new
		return
	}
	if last, ok := w.handled[reader]; ok && last == counter {
		return // the card that was read already, still on the reader
	}
	if ev&scard.StateMute != 0 {
		return // not answering; it will change state when taken away
	}
	w.handled[reader] = counter
	card, err := w.sc.Connect(reader)
	if err != nil {
		w.unreadable(ctx, reader, fmt.Errorf("connect to card: %w", err))
		return
	}
	data, err := w.r.plan.readCard(card.Transmit)
	if err == nil {
		// Before disconnecting: the greeting should not wait for pcscd.
		w.emit(device.Scan{Source: w.r.name, Kind: w.r.kind, Data: data, At: time.Now()})
	} else {
		w.unreadable(ctx, reader, err)
	}
	_ = card.Disconnect(scard.LeaveCard) // read or not, this card is done with
}

// unreadable logs a card that was presented but could not be read: a card of
// another program, one taken away too soon. It is no fault of the reader's.
func (w *watch) unreadable(ctx context.Context, reader string, err error) {
	if ctx.Err() == nil {
		w.r.log.Info("card could not be read", "pcsc_reader", reader, "err", err)
	}
}

// Discover lists the PC/SC readers attached now and whether a card is on
// them, for device.Discover. It fails when pcscd is not running.
func Discover(ctx context.Context) ([]device.Discovered, error) {
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("connect to pcscd: %w", err)
	}
	defer sc.Release()
	names, err := sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) || len(names) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list PC/SC readers: %w", err)
	}
	states := make([]scard.ReaderState, len(names))
	for i, n := range names {
		states[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
	}
	if err := sc.GetStatusChange(states, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return nil, fmt.Errorf("read PC/SC reader states: %w", err)
	}
	out := make([]device.Discovered, len(names))
	for i, st := range states {
		ev := st.EventState
		out[i] = device.Discovered{
			Type:        "pcsc",
			ID:          st.Reader,
			Description: "PC/SC smart card reader",
			State: describeState(ev&scard.StatePresent != 0, ev&scard.StateEmpty != 0, ev&scard.StateInuse != 0,
				ev&scard.StateExclusive != 0, ev&scard.StateMute != 0, ev&scard.StateUnavailable != 0),
		}
	}
	return out, nil
}

// describeState turns a reader's state flags into words for Discovered.State.
func describeState(present, empty, inUse, exclusive, mute, unavailable bool) string {
	switch {
	case unavailable:
		return "unavailable"
	case mute:
		return "card present, not responding"
	case exclusive:
		return "card present, in exclusive use"
	case present && inUse:
		return "card present, in use"
	case present:
		return "card present"
	case empty:
		return "empty"
	}
	return ""
}
