package serial

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/devicetest"
)

// openReader builds a serial reader through the registry, as tilld does.
func openReader(t *testing.T, cfg Config) *Reader {
	t.Helper()
	r, err := device.Open("front-scanner", "serial", func(v any) error {
		*v.(*Config) = cfg
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.(*Reader)
}

func TestConformance(t *testing.T) {
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindBarcode,
		Data: []string{"2000000000008", "4006381333931", "96385074"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			pty := newPTYPair(t, t.TempDir())
			r := openReader(t, Config{Port: pty.Device})
			var host io.Writer
			return r, func(data string) {
				if host == nil {
					host = pty.openHost(t)
				}
				writeSlowly(t, host, data+"\r\n")
			}
		},
	})
}

func TestConformanceSTXETX(t *testing.T) {
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindTrack,
		Data: []string{";6276000000000004=3012101?", "%B79927398713^PETROV/P^?"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			pty := newPTYPair(t, t.TempDir())
			r := openReader(t, Config{Port: pty.Device, Baud: 19200, Parity: "even", Prefix: "STX", Suffix: "ETX", Kind: "track"})
			var host io.Writer
			return r, func(data string) {
				if host == nil {
					host = pty.openHost(t)
				}
				writeSlowly(t, host, "\x02"+data+"\x03")
			}
		},
	})
}

// recorder collects what a running reader emits and reports.
type recorder struct {
	mu      sync.Mutex
	scans   []device.Scan
	faults  []error
	healthy int
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (rec *recorder) emit(s device.Scan) {
	rec.mu.Lock()
	rec.scans = append(rec.scans, s)
	rec.mu.Unlock()
	rec.notify()
}

func (rec *recorder) health(err error) {
	rec.mu.Lock()
	if err == nil {
		rec.healthy++
	} else {
		rec.faults = append(rec.faults, err)
	}
	rec.mu.Unlock()
	rec.notify()
}

func (rec *recorder) notify() {
	select {
	case rec.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond, evaluated under the lock, holds.
func (rec *recorder) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		rec.mu.Lock()
		ok := cond()
		rec.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-rec.changed:
		case <-deadline:
			rec.mu.Lock()
			defer rec.mu.Unlock()
			t.Fatalf("%s: not within %v (scans %v, faults %v, healthy %d)", what, timeout, rec.scans, rec.faults, rec.healthy)
		}
	}
}

// runReader runs r until the test ends and checks that it stops promptly.
func runReader(t *testing.T, r device.Reader, rec *recorder) (stop func()) {
	ctx, cancel := context.WithCancel(device.WithHealthFunc(t.Context(), rec.health))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, rec.emit) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil on cancel", err)
				}
			case <-time.After(2 * time.Second):
				t.Errorf("Run did not return within 2s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestUnplugAndReplug stops socat under a running reader (the adapter is
// unplugged), checks the reader retries without spinning, starts socat on the
// same paths again (plugged back in) and checks scans flow again.
func TestUnplugAndReplug(t *testing.T) {
	pty := newPTYPair(t, t.TempDir())
	r := openReader(t, Config{Port: pty.Device})
	r.retryMin, r.retryMax = 100*time.Millisecond, 800*time.Millisecond
	rec := newRecorder()
	runReader(t, r, rec)

	rec.waitFor(t, "port opened", 5*time.Second, func() bool { return rec.healthy == 1 })
	writeSlowly(t, pty.openHost(t), "2000000000008\r\n")
	rec.waitFor(t, "first scan", 5*time.Second, func() bool { return len(rec.scans) == 1 })

	pty.stop(t)
	rec.waitFor(t, "unplug noticed", 5*time.Second, func() bool { return len(rec.faults) > 0 })
	rec.mu.Lock()
	first := rec.faults[0]
	rec.mu.Unlock()
	// Depending on timing, a pty whose other side closed fails reads with EIO
	// or returns nothing at once (a hang-up); both mean the port is gone.
	if !errors.Is(first, syscall.EIO) && !errors.Is(first, errHungUp) || !strings.Contains(first.Error(), pty.Device) {
		t.Errorf("first fault = %v, want EIO or a hang-up naming %s", first, pty.Device)
	}
	const down = 3 * time.Second
	time.Sleep(down)
	rec.mu.Lock()
	attempts := len(rec.faults) - 1 // failed reopen attempts
	last := rec.faults[len(rec.faults)-1]
	rec.mu.Unlock()
	// Backoff 100 ms doubling to 800 ms, jittered to half: 4 to 9 attempts in 3 s.
	if attempts < 3 || attempts > 12 {
		t.Errorf("%d reopen attempts in %v while unplugged, want 3 to 12 (retrying, not spinning)", attempts, down)
	}
	if !errors.Is(last, syscall.ENOENT) {
		t.Errorf("reopen fault = %v, want ENOENT (the port is gone)", last)
	}

	pty.start(t)
	rec.waitFor(t, "port reopened", 5*time.Second, func() bool { return rec.healthy == 2 })
	writeSlowly(t, pty.openHost(t), "4006381333931\r\n")
	rec.waitFor(t, "scan after replug", 5*time.Second, func() bool { return len(rec.scans) == 2 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := rec.scans[1].Data; got != "4006381333931" {
		t.Errorf("scan after replug = %q, want 4006381333931", got)
	}
}

// TestNoiseThenBarcode writes 10 000 random bytes, lets the line go quiet, then
// sends a barcode: it is the last scan, and no scan is longer than max_frame.
func TestNoiseThenBarcode(t *testing.T) {
	pty := newPTYPair(t, t.TempDir())
	r := openReader(t, Config{Port: pty.Device, MaxFrame: 64})
	rec := newRecorder()
	runReader(t, r, rec)
	rec.waitFor(t, "port opened", 5*time.Second, func() bool { return rec.healthy == 1 })

	stale := make(chan struct{}, 1)
	r.onStale = func() {
		select {
		case stale <- struct{}{}:
		default:
		}
	}
	host := pty.openHost(t)
	rng := rand.New(rand.NewPCG(7, 7))
	noise := make([]byte, 10_000)
	for i := range noise {
		noise[i] = byte(rng.UintN(256))
	}
	// Never a barcode terminated by chance: keep digits out of the noise.
	for i, b := range noise {
		if '0' <= b && b <= '9' {
			noise[i] = 'x'
		}
	}
	noise = append(noise, "\r\nhalf a fr"...) // end mid-frame, always
	if _, err := host.Write(noise); err != nil {
		t.Fatal(err)
	}
	// The noise ends mid-frame; once the line has been quiet for staleAfter, the
	// reader drops that partial frame. The scanner is silent meanwhile.
	select {
	case <-stale:
	case <-time.After(10 * time.Second):
		t.Fatal("the partial frame at the end of the noise was never discarded")
	}
	writeSlowly(t, host, "2000000000008\r\n")
	rec.waitFor(t, "barcode after noise", 10*time.Second, func() bool {
		return len(rec.scans) > 0 && rec.scans[len(rec.scans)-1].Data == "2000000000008"
	})
	time.Sleep(3 * readTimeout)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if last := rec.scans[len(rec.scans)-1].Data; last != "2000000000008" {
		t.Errorf("last scan = %q, want the barcode", last)
	}
	for _, s := range rec.scans {
		if len(s.Data) > 64 || s.Data == "" || strings.ContainsAny(s.Data, "\r\n") {
			t.Errorf("scan data %q breaks framing (max_frame 64)", s.Data)
		}
	}
}

// fakePort is a port whose reads are scripted, for faults socat cannot make.
type fakePort struct {
	read   func(p []byte) (int, error)
	closed chan struct{}
}

func (p *fakePort) Read(b []byte) (int, error) { return p.read(b) }
func (p *fakePort) Close() error               { close(p.closed); return nil }

func TestFaults(t *testing.T) {
	quietRead := func(p []byte) (int, error) { time.Sleep(readTimeout); return 0, io.EOF }
	tests := []struct {
		name string
		open func(n int) (func(p []byte) (int, error), error) // for open attempt n (from 1)
		want string                                           // in the first fault reported
	}{
		{
			name: "port missing",
			open: func(n int) (func([]byte) (int, error), error) {
				if n < 3 {
					return nil, syscall.ENOENT
				}
				return quietRead, nil
			},
			want: "serial port /dev/ttyUSB9: no such file or directory",
		},
		{
			name: "read fails with EIO",
			open: func(n int) (func([]byte) (int, error), error) {
				if n < 3 {
					return func([]byte) (int, error) { return 0, syscall.EIO }, nil
				}
				return quietRead, nil
			},
			want: "serial port /dev/ttyUSB9: input/output error",
		},
		{
			name: "hung up: reads return nothing at once",
			open: func(n int) (func([]byte) (int, error), error) {
				if n < 3 {
					return func([]byte) (int, error) { return 0, io.EOF }, nil
				}
				return quietRead, nil
			},
			want: "port hung up",
		},
		{
			name: "overlong frame",
			open: func(n int) (func([]byte) (int, error), error) {
				sent := false
				return func(p []byte) (int, error) {
					if sent {
						return quietRead(p)
					}
					sent = true
					return copy(p, strings.Repeat("9", 300)+"\r\n"), nil
				}, nil
			},
			want: "dropped a frame longer than max_frame (256 bytes); is suffix right?",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New("front", Config{Port: "/dev/ttyUSB9"})
			if err != nil {
				t.Fatal(err)
			}
			r.retryMin, r.retryMax = 10*time.Millisecond, 40*time.Millisecond
			var mu sync.Mutex
			opens := 0
			r.open = func() (io.ReadCloser, error) {
				mu.Lock()
				opens++
				n := opens
				mu.Unlock()
				read, err := tt.open(n)
				if err != nil {
					return nil, err
				}
				return &fakePort{read: read, closed: make(chan struct{})}, nil
			}
			rec := newRecorder()
			stop := runReader(t, r, rec)
			rec.waitFor(t, "a fault reported", 5*time.Second, func() bool { return len(rec.faults) > 0 })
			rec.waitFor(t, "healthy again", 5*time.Second, func() bool { return rec.healthy > 0 && len(rec.faults) < 10 })
			stop()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !strings.Contains(rec.faults[0].Error(), tt.want) {
				t.Errorf("first fault = %v, want it to say %q", rec.faults[0], tt.want)
			}
			if len(rec.scans) != 0 {
				t.Errorf("scans %v, want none", rec.scans)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		msg  string // error message, "" for success
	}{
		{name: "defaults", cfg: Config{Port: "/dev/ttyUSB0"}},
		{name: "everything", cfg: Config{Port: "/dev/ttyS0", Baud: 115200, Parity: "Odd", Prefix: "STX", Suffix: "crlf", MaxFrame: 1024, Kind: "track"}},
		{name: "no port", cfg: Config{}, msg: `device: bad reader configuration: port is required (e.g. port = "/dev/ttyUSB0")`},
		{name: "negative baud", cfg: Config{Port: "/dev/x", Baud: -1}, msg: "device: bad reader configuration: baud -1: must be positive"},
		{name: "parity", cfg: Config{Port: "/dev/x", Parity: "mark"}, msg: `device: bad reader configuration: parity "mark": want none, odd or even`},
		{name: "kind", cfg: Config{Port: "/dev/x", Kind: "uid"}, msg: `device: bad reader configuration: kind "uid": want barcode or track`},
		{name: "suffix", cfg: Config{Port: "/dev/x", Suffix: "TAB"}, msg: `device: bad reader configuration: suffix "TAB": want CR, LF, CRLF, ETX or none (CR or LF)`},
		{name: "max_frame", cfg: Config{Port: "/dev/x", MaxFrame: -5}, msg: "device: bad reader configuration: max_frame -5: want 1 to 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New("r", tt.cfg)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("New(%+v): %v", tt.cfg, err)
				}
				if r.cfg.Baud == 0 || r.cfg.MaxFrame == 0 || r.kind == "" {
					t.Errorf("defaults not applied: %+v", r.cfg)
				}
				return
			}
			if err == nil || err.Error() != tt.msg || !errors.Is(err, device.ErrBadConfig) {
				t.Errorf("New(%+v) = %v, want %q wrapping ErrBadConfig", tt.cfg, err, tt.msg)
			}
		})
	}
}

// TestManagerSeesUnplug runs a serial reader under a device.Manager and checks
// that Status follows the adapter being unplugged and plugged back in.
func TestManagerSeesUnplug(t *testing.T) {
	pty := newPTYPair(t, t.TempDir())
	r := openReader(t, Config{Port: pty.Device})
	r.retryMin, r.retryMax = 100*time.Millisecond, 400*time.Millisecond
	scans := make(chan device.Scan, 10)
	m := device.NewManager(device.ManagerOptions{OnScan: func(s device.Scan) { scans <- s }})
	if err := m.Add("front-scanner", "serial", r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Manager.Run = %v", err)
		}
	}()

	waitState := func(want device.State) device.Health {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			h := m.Status()[0]
			if h.State == want {
				return h
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %s, want %s: %+v", h.State, want, h)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	scan := func(data string) {
		t.Helper()
		writeSlowly(t, pty.openHost(t), data+"\r\n")
		select {
		case s := <-scans:
			if s.Data != data || s.Source != "front-scanner" {
				t.Fatalf("scan %+v, want %q from front-scanner", s, data)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no scan of %q", data)
		}
	}

	waitState(device.StateRunning)
	scan("2000000000008")
	pty.stop(t)
	h := waitState(device.StateFailed)
	if !strings.Contains(h.LastError, pty.Device) || h.Errors == 0 {
		t.Errorf("health while unplugged = %+v, want an error naming the port", h)
	}
	pty.start(t)
	waitState(device.StateRunning)
	scan("4006381333931")
	if h := m.Status()[0]; h.Scans != 2 {
		t.Errorf("Scans = %d, want 2", h.Scans)
	}
}
