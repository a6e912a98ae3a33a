package bench

import (
	"encoding/hex"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/pcsc"
	"github.com/tilld/tilld/device/pcsc/vpcdtest"
	"github.com/tilld/tilld/device/serial"
)

// BenchmarkScanToEventSerial: a barcode frame written to a pty (the last byte
// of the frame leaving the writer is t0) until its event arrives on /v1/events.
func BenchmarkScanToEventSerial(b *testing.B) {
	pty := newPTYPair(b)
	r, err := serial.New("front", serial.Config{Port: pty.Device})
	if err != nil {
		b.Fatal(err)
	}
	s := newStack(b, map[string]device.Reader{"serial": r})
	s.waitRunning(b)
	host, err := os.OpenFile(pty.Host, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer host.Close()
	frame := []byte("2000000000008\r")
	var lat latencies
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := host.Write(frame); err != nil {
			b.Fatal(err)
		}
		ev := s.next(b)
		lat = append(lat, ev.at.Sub(t0))
		if ev.Card != "2000000000008" {
			b.Fatalf("event %+v", ev.ScanEvent)
		}
	}
	b.StopTimer()
	lat.report(b, "ms")
}

// BenchmarkScanToEventPCSC: a virtual card put on a vpcd reader until its
// event arrives on /v1/events. "beyond-wire" starts when the card has sent
// its answer to the UID read (the last byte on the wire); "total" starts when
// the card is put down, and so includes pcscd's presence polling (every 400 ms).
// "beyond-wire" splits into "pcscd-relay" (the answer travelling through pcscd
// and the client library to the reader) and "daemon" (the reader's scan
// through the manager, the till and the API to the client).
func BenchmarkScanToEventPCSC(b *testing.B) {
	d := vpcdtest.Start(b)
	r, err := pcsc.New("counter", pcsc.Config{Reader: vpcdtest.Reader0})
	if err != nil {
		b.Fatal(err)
	}
	s := newStack(b, map[string]device.Reader{"pcsc": r})
	s.waitRunning(b)
	uid, _ := hex.DecodeString("04A1B2C3D4E5F6")
	var answered atomic.Int64
	card := vpcdtest.Card{UID: uid, OnAPDU: func([]byte) { answered.Store(time.Now().UnixNano()) }}
	var beyond, total, relay, daemon latencies
	b.ResetTimer()
	for range b.N {
		answered.Store(0)
		t0 := time.Now()
		in, err := card.Insert(d.CardAddr(0), 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		ev := s.next(b)
		if ev.Card != "04A1B2C3D4E5F6" {
			b.Fatalf("event %+v", ev.ScanEvent)
		}
		wire := time.Unix(0, answered.Load())
		total = append(total, ev.at.Sub(t0))
		beyond = append(beyond, ev.at.Sub(wire))
		relay = append(relay, ev.At.Sub(wire))    // card's answer → reader has the UID (pcscd, libpcsclite)
		daemon = append(daemon, ev.at.Sub(ev.At)) // reader emits → event on the stream (tilld's own path)
		b.StopTimer()
		in.Remove()
		waitEmpty(b, vpcdtest.Reader0)
		b.StartTimer()
	}
	b.StopTimer()
	beyond.report(b, "beyond-wire-ms")
	relay.report(b, "pcscd-relay-ms")
	daemon.report(b, "daemon-ms")
	total.report(b, "total-ms")
}

// waitEmpty waits until pcscd has seen the card go.
func waitEmpty(tb testing.TB, reader string) {
	tb.Helper()
	sc, err := scard.EstablishContext()
	if err != nil {
		tb.Fatal(err)
	}
	defer sc.Release()
	st := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := sc.GetStatusChange(st, time.Until(deadline)); err != nil {
			tb.Fatalf("wait for %s to be empty: %v", reader, err)
		}
		if st[0].EventState&scard.StateEmpty != 0 {
			return
		}
		st[0].CurrentState = st[0].EventState &^ scard.StateChanged
	}
}
