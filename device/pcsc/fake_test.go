//go:build cgo || windows

package pcsc

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tilld/tilld/device"
)

// service is a PC/SC service in the test's hands, behaving as pcsc-lite
// does: the PnP pseudo-reader's event state carries the reader count in its
// high word, a reader's carries a card event counter, and GetStatusChange
// blocks until some state differs from what the caller knows.
type service struct {
	mu       sync.Mutex
	changed  *sync.Cond
	readers  map[string]*fakeReader
	order    []string
	cancels  int  // pending SCardCancel calls
	down     bool // calls fail as when pcscd is gone
	failWait error
	contexts int // contexts established
}

type fakeReader struct {
	uid     []byte // card on the reader, nil when empty
	counter uint32
}

func newService() *service {
	s := &service{readers: map[string]*fakeReader{}}
	s.changed = sync.NewCond(&s.mu)
	return s
}

func (s *service) update(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
	s.changed.Broadcast()
}

func (s *service) plug(name string) {
	s.update(func() { s.readers[name] = &fakeReader{}; s.order = append(s.order, name) })
}

func (s *service) unplug(name string) {
	s.update(func() {
		delete(s.readers, name)
		s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
	})
}

func (s *service) present(name string, uid []byte) {
	s.update(func() { r := s.readers[name]; r.uid = uid; r.counter++ })
}

func (s *service) remove(name string) {
	s.update(func() { r := s.readers[name]; r.uid = nil; r.counter++ })
}

func (s *service) establish() (pcscContext, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, scard.ErrNoService
	}
	s.contexts++
	return &fakeContext{s: s}, nil
}

type fakeContext struct{ s *service }

func (c *fakeContext) ListReaders() ([]string, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.down {
		return nil, scard.ErrNoService
	}
	if len(c.s.order) == 0 {
		return nil, scard.ErrNoReadersAvailable
	}
	return slices.Clone(c.s.order), nil
}

// eventState computes a reader's state as pcsc-lite reports it.
func (s *service) eventState(st scard.ReaderState) scard.StateFlag {
	if st.Reader == pnpReader {
		return scard.StateFlag(len(s.readers) << 16)
	}
	r, ok := s.readers[st.Reader]
	if !ok {
		return scard.StateUnknown | scard.StateUnavailable
	}
	flags := scard.StateEmpty
	if r.uid != nil {
		flags = scard.StatePresent
	}
	return flags | scard.StateFlag(r.counter<<16)
}

func (c *fakeContext) GetStatusChange(states []scard.ReaderState, timeout time.Duration) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	timer := time.AfterFunc(timeout, s.changed.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	for {
		if s.down {
			return scard.ErrCommError // "RPC transport error"
		}
		if err := s.failWait; err != nil {
			s.failWait = nil
			return err
		}
		if s.cancels > 0 {
			s.cancels--
			return scard.ErrCancelled
		}
		any := false
		for i := range states {
			ev := s.eventState(states[i])
			if ev != states[i].CurrentState&^scard.StateChanged {
				states[i].EventState = ev | scard.StateChanged
				any = true
			} else {
				states[i].EventState = ev
			}
		}
		if any {
			return nil
		}
		if time.Now().After(deadline) {
			return scard.ErrTimeout
		}
		s.changed.Wait()
	}
}

func (c *fakeContext) Connect(reader string) (pcscCard, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	r, ok := c.s.readers[reader]
	if !ok || r.uid == nil {
		return nil, scard.ErrNoSmartcard
	}
	return fakeCard{uid: r.uid}, nil
}

func (c *fakeContext) Cancel() error {
	c.s.update(func() { c.s.cancels++ })
	return nil
}

func (c *fakeContext) Release() error {
	c.s.update(func() { c.s.cancels = 0 })
	return nil
}

type fakeCard struct{ uid []byte }

func (f fakeCard) Transmit(cmd []byte) ([]byte, error) {
	return append(slices.Clone(f.uid), 0x90, 0x00), nil
}

func (fakeCard) Disconnect(scard.Disposition) error { return nil }

func fakeReaderFor(t *testing.T, s *service, cfg Config) *Reader {
	t.Helper()
	r, err := New("counter-1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.establish = s.establish
	r.retryMin, r.retryMax = 10*time.Millisecond, 50*time.Millisecond
	return r
}

// lastHealth waits until the last health report matches.
func (ru *running) lastHealth(t *testing.T, what string, match func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		rep := ru.reports()
		if len(rep) > 0 && match(rep[len(rep)-1]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("last health report is not %s: reports %v", what, rep)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReaderPluggedInLater: with no reader attached the reader waits on the
// PnP notification, picks up a reader plugged in later, reads its card, and
// notices it going away again.
func TestReaderPluggedInLater(t *testing.T) {
	s := newService()
	ru := run(t, fakeReaderFor(t, s, Config{Reader: "ACS ACR122U*"}))
	ru.lastHealth(t, "ErrNoReader", func(err error) bool { return errors.Is(err, ErrNoReader) })

	s.plug("Identiv uTrust 3700 F 00 00") // not selected
	ru.none(t, 50*time.Millisecond)
	s.plug("ACS ACR122U PICC Interface 00 00")
	ru.lastHealth(t, "ready", func(err error) bool { return err == nil })
	s.present("ACS ACR122U PICC Interface 00 00", []byte{0xDE, 0xAD, 0xBE, 0xEF})
	if sc := ru.next(t); sc.Data != "DEADBEEF" || sc.Kind != device.KindUID {
		t.Fatalf("scan %+v", sc)
	}
	s.remove("ACS ACR122U PICC Interface 00 00")
	ru.none(t, 50*time.Millisecond)
	s.present("ACS ACR122U PICC Interface 00 00", []byte{0xDE, 0xAD, 0xBE, 0xEF})
	if sc := ru.next(t); sc.Data != "DEADBEEF" {
		t.Fatalf("card presented again: scan %+v", sc)
	}
	s.present("Identiv uTrust 3700 F 00 00", []byte{1, 2, 3, 4})
	ru.none(t, 50*time.Millisecond)

	s.unplug("ACS ACR122U PICC Interface 00 00")
	ru.lastHealth(t, "ErrNoReader again", func(err error) bool { return errors.Is(err, ErrNoReader) })
}

// TestCardSwappedBetweenWaits: a card taken away and another put down while
// the reader was busy elsewhere shows only as a new event counter; it is
// still a new card.
func TestCardSwappedBetweenWaits(t *testing.T) {
	s := newService()
	s.plug("R 00")
	s.present("R 00", []byte{1, 1, 1, 1})
	ru := run(t, fakeReaderFor(t, s, Config{}))
	if sc := ru.next(t); sc.Data != "01010101" {
		t.Fatalf("card on the reader at start: scan %+v", sc)
	}
	s.update(func() {
		r := s.readers["R 00"]
		r.uid, r.counter = []byte{2, 2, 2, 2}, r.counter+2 // removed and presented
	})
	if sc := ru.next(t); sc.Data != "02020202" {
		t.Fatalf("swapped card: scan %+v", sc)
	}
	ru.none(t, 50*time.Millisecond)
}

// TestServiceRestart: a wait that fails with an RPC transport error ends the
// session; while the service is down connecting fails with "Service not
// available"; the reader keeps trying and recovers when it is back.
func TestServiceRestart(t *testing.T) {
	s := newService()
	s.plug("R 00")
	ru := run(t, fakeReaderFor(t, s, Config{}))
	ru.lastHealth(t, "ready", func(err error) bool { return err == nil })

	s.update(func() { s.down = true })
	ru.lastHealth(t, "Service not available", func(err error) bool { return errors.Is(err, scard.ErrNoService) })
	rep := ru.reports()
	if !slices.ContainsFunc(rep, func(err error) bool { return errors.Is(err, scard.ErrCommError) }) {
		t.Errorf("reports %v do not include the RPC transport error", rep)
	}
	s.update(func() { s.down = false })
	ru.lastHealth(t, "ready again", func(err error) bool { return err == nil })
	s.present("R 00", []byte{9, 9, 9, 9})
	if sc := ru.next(t); sc.Data != "09090909" {
		t.Fatalf("scan after the restart %+v", sc)
	}

	// Any other failure of a wait reconnects too, and says what failed.
	before := s.contexts
	s.update(func() { s.failWait = scard.ErrInvalidHandle })
	ru.lastHealth(t, "the wait's failure", func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "wait for PC/SC reader events")
	})
	ru.lastHealth(t, "ready after reconnecting", func(err error) bool { return err == nil })
	s.mu.Lock()
	after := s.contexts
	s.mu.Unlock()
	if after <= before {
		t.Errorf("contexts established %d → %d: the reader did not reconnect", before, after)
	}
}

// TestCancelDuringWait: Run returns promptly when cancelled while it waits,
// however the cancel and the wait interleave.
func TestCancelDuringWait(t *testing.T) {
	s := newService()
	s.plug("R 00")
	for i := range 50 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			r := fakeReaderFor(t, s, Config{})
			r.statusTimeout = time.Hour
			ru := run(t, r)
			if i%2 == 0 {
				ru.lastHealth(t, "ready", func(err error) bool { return err == nil })
			}
			// run's cleanup cancels, and fails the test if Run takes over 2 s.
		})
	}
}
