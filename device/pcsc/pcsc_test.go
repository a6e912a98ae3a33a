//go:build cgo || windows

package pcsc

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/devicetest"
	"github.com/tilld/tilld/device/pcsc/vpcdtest"
)

// Timeouts: pcscd polls vpcd readers for card presence every 400 ms.
const (
	eventTimeout = 10 * time.Second
	settle       = 1500 * time.Millisecond // several presence polls
)

// openReader builds a pcsc reader through the registry, as tilld does.
func openReader(t *testing.T, cfg Config) *Reader {
	t.Helper()
	r, err := device.Open("counter-1", "pcsc", func(v any) error {
		*v.(*Config) = cfg
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.(*Reader)
}

// waitReaderState waits until pcscd sees reader in a state with all of want set.
func waitReaderState(t *testing.T, reader string, want scard.StateFlag) {
	t.Helper()
	sc, err := scard.EstablishContext()
	if err != nil {
		t.Fatalf("test's own PC/SC context: %v", err)
	}
	defer sc.Release()
	states := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(eventTimeout)
	for {
		err := sc.GetStatusChange(states, time.Until(deadline))
		if err != nil {
			t.Fatalf("wait for %s to be in state %#x: %v (last state %#x)", reader, want, err, states[0].EventState)
		}
		if states[0].EventState&want == want {
			return
		}
		states[0].CurrentState = states[0].EventState &^ scard.StateChanged
	}
}

// presenter shows cards to one slot of a daemon the way a customer does: it
// puts the card down, waits until the card has answered the reader, and takes
// it away again once pcscd has seen it go.
type presenter struct {
	d    *vpcdtest.Daemon
	slot int
	// card builds the virtual card for data; nil shows data as a UID.
	card func(data string) vpcdtest.Card
	// apdus is how many commands a read of the card takes; 0 means 1.
	apdus int64
}

func (p *presenter) present(t *testing.T, data string) {
	t.Helper()
	in := p.put(t, data)
	p.take(t, in)
}

// put places the card and waits until it has answered the reader's commands.
func (p *presenter) put(t *testing.T, data string) *vpcdtest.Inserted {
	t.Helper()
	var c vpcdtest.Card
	if p.card != nil {
		c = p.card(data)
	} else {
		uid, err := hex.DecodeString(data)
		if err != nil {
			t.Fatalf("present %q: %v", data, err)
		}
		c = vpcdtest.Card{UID: uid}
	}
	in, err := c.Insert(p.d.CardAddr(p.slot), eventTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Remove)
	deadline := time.Now().Add(eventTimeout)
	for in.APDUs() < max(p.apdus, 1) {
		if time.Now().After(deadline) {
			t.Fatalf("card %q on slot %d was never read within %v; pcscd log:\n%s", data, p.slot, eventTimeout, p.d.Log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return in
}

// take removes the card and waits until pcscd has noticed.
func (p *presenter) take(t *testing.T, in *vpcdtest.Inserted) {
	t.Helper()
	in.Remove()
	waitReaderState(t, p.readerName(), scard.StateEmpty)
}

func (p *presenter) readerName() string {
	if p.slot == 1 {
		return vpcdtest.Reader1
	}
	return vpcdtest.Reader0
}

func TestConformance(t *testing.T) {
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindUID,
		Data: []string{"04A1B2C3D4E5F6", "DEADBEEF"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			p := &presenter{d: vpcdtest.Start(t)}
			r := openReader(t, Config{Reader: vpcdtest.Reader0})
			return r, func(data string) { p.present(t, data) }
		},
	})
}

func TestConformanceAID(t *testing.T) {
	aid := []byte{0xF0, 0x54, 0x49, 0x4C, 0x4C, 0x44}
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindBarcode,
		Data: []string{"2000000000008", "2500000000003"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			p := &presenter{d: vpcdtest.Start(t), apdus: 2, card: func(data string) vpcdtest.Card {
				// The UID differs from the number: the scan must carry the number.
				return vpcdtest.Card{Respond: vpcdtest.AppletResponder(aid, []byte(data+"\x00\x00"), []byte{1, 2, 3, 4})}
			}}
			r := openReader(t, Config{Reader: vpcdtest.Reader0, AID: "F0 54 49 4C 4C 44"})
			return r, func(data string) { p.present(t, data) }
		},
	})
}

// running is a reader's Run in the background with what it emitted and reported.
type running struct {
	scans  chan device.Scan
	mu     sync.Mutex
	health []error
	ready  chan struct{} // gets a value each time the reader reports itself healthy
	done   chan error
}

func run(t *testing.T, r device.Reader) *running {
	t.Helper()
	ru := &running{scans: make(chan device.Scan, 16), ready: make(chan struct{}, 16), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	ctx = device.WithHealthFunc(ctx, func(err error) {
		ru.mu.Lock()
		ru.health = append(ru.health, err)
		ru.mu.Unlock()
		if err == nil {
			ru.ready <- struct{}{}
		} else {
			t.Logf("reader reports: %v", err)
		}
	})
	go func() { ru.done <- r.Run(ctx, func(s device.Scan) { ru.scans <- s }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ru.done:
			if err != nil {
				t.Errorf("Run = %v after cancel, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("Run did not return within 2s of cancel")
		}
	})
	return ru
}

func (ru *running) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-ru.ready:
	case <-time.After(eventTimeout):
		t.Fatalf("reader not ready within %v; it reported %v", eventTimeout, ru.reports())
	}
}

func (ru *running) reports() []error {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return append([]error(nil), ru.health...)
}

func (ru *running) next(t *testing.T) device.Scan {
	t.Helper()
	select {
	case s := <-ru.scans:
		return s
	case <-time.After(eventTimeout):
		t.Fatalf("no scan within %v", eventTimeout)
		return device.Scan{}
	}
}

func (ru *running) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case s := <-ru.scans:
		t.Fatalf("unexpected scan %+v", s)
	case <-time.After(d):
	}
}

// TestCardLifecycle: a card presented gives one scan, however long it stays;
// taken away and presented again it gives a second.
func TestCardLifecycle(t *testing.T) {
	d := vpcdtest.Start(t)
	p := &presenter{d: d}
	ru := run(t, openReader(t, Config{}))
	ru.waitReady(t)

	in := p.put(t, "04112233445566")
	if s := ru.next(t); s.Data != "04112233445566" || s.Kind != device.KindUID || s.Source != "counter-1" {
		t.Fatalf("scan = %+v, want UID 04112233445566 from counter-1", s)
	}
	ru.none(t, settle) // left on the reader: no second scan
	if n := in.APDUs(); n != 1 {
		t.Errorf("card left on the reader answered %d APDUs, want 1 (read once)", n)
	}
	p.take(t, in)
	ru.none(t, 100*time.Millisecond) // removal is no scan

	in = p.put(t, "04112233445566")
	if s := ru.next(t); s.Data != "04112233445566" {
		t.Fatalf("second presentation: scan %+v", s)
	}
	p.take(t, in)

	// The other slot is watched too (Reader is empty: every reader).
	p1 := &presenter{d: d, slot: 1}
	p1.present(t, "AABBCCDD")
	if s := ru.next(t); s.Data != "AABBCCDD" {
		t.Fatalf("slot 1: scan %+v", s)
	}
}

// TestReaderSelection: a reader configured by name ignores cards on other readers.
func TestReaderSelection(t *testing.T) {
	d := vpcdtest.Start(t)
	for _, tt := range []struct{ name, reader string }{
		{"by name", vpcdtest.Reader1},
		{"by prefix", "Virtual PCD 00 01*"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ru := run(t, openReader(t, Config{Reader: tt.reader}))
			ru.waitReady(t)
			// A card on the other reader is not read at all.
			other := &presenter{d: d, slot: 0}
			in, err := vpcdtest.Card{UID: []byte{1, 2, 3, 4}}.Insert(d.CardAddr(0), eventTimeout)
			if err != nil {
				t.Fatal(err)
			}
			waitReaderState(t, vpcdtest.Reader0, scard.StatePresent)
			ru.none(t, settle)
			if n := in.APDUs(); n != 0 {
				t.Errorf("card on an unselected reader answered %d APDUs, want 0", n)
			}
			other.take(t, in)
			(&presenter{d: d, slot: 1}).present(t, "05060708")
			if s := ru.next(t); s.Data != "05060708" {
				t.Fatalf("scan %+v, want the card on slot 1", s)
			}
		})
	}
}

// TestNoMatchingReader: a reader configured for hardware that is not there
// says so through its health and keeps running.
func TestNoMatchingReader(t *testing.T) {
	vpcdtest.Start(t)
	ru := run(t, openReader(t, Config{Reader: "ACS ACR122U*"}))
	deadline := time.Now().Add(eventTimeout)
	for {
		rep := ru.reports()
		if len(rep) > 0 {
			if !errors.Is(rep[0], ErrNoReader) {
				t.Fatalf("health reports %v, want ErrNoReader first", rep)
			}
			if msg := rep[0].Error(); !strings.Contains(msg, `"ACS ACR122U*"`) {
				t.Errorf("report %q does not name the configured reader", msg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no health report")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ru.none(t, 100*time.Millisecond)
}

// TestPCSCDRestart: pcscd killed and started again; the reader reconnects
// and reads the next card.
func TestPCSCDRestart(t *testing.T) {
	d := vpcdtest.Start(t)
	p := &presenter{d: d}
	r := openReader(t, Config{Reader: vpcdtest.Reader0})
	r.retryMin, r.retryMax = 50*time.Millisecond, 500*time.Millisecond
	ru := run(t, r)
	ru.waitReady(t)
	p.present(t, "01020304")
	ru.next(t)

	d.Kill(t)
	deadline := time.Now().Add(eventTimeout)
	for {
		rep := ru.reports()
		if last := rep[len(rep)-1]; last != nil {
			t.Logf("after kill the reader reports %v", last)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader did not report pcscd's death; reports %v", rep)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnects
	d.Restart(t)
	ru.waitReady(t)
	p.present(t, "0A0B0C0D")
	if s := ru.next(t); s.Data != "0A0B0C0D" {
		t.Fatalf("scan after restart %+v", s)
	}
}
