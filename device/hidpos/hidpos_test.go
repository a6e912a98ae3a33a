package hidpos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/karalabe/hid"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/devicetest"
	"github.com/tilld/tilld/device/hidpos/hidtest"
)

// bus is a fake USB bus: the enumerate and open functions of a Reader, with
// devices plugged in and out by the test.
type bus struct {
	mu          sync.Mutex
	devices     map[string]*fakeDevice // by path
	enumerates  atomic.Int64
	openErr     error
	closeInRead atomic.Int64 // Close calls that came while a read was running
}

func newBus() *bus { return &bus{devices: map[string]*fakeDevice{}} }

// plug attaches a device and returns it.
func (b *bus) plug(info hid.DeviceInfo) *fakeDevice {
	d := &fakeDevice{bus: b, info: info, reports: make(chan []byte, 4096), gone: make(chan struct{})}
	b.mu.Lock()
	b.devices[info.Path] = d
	b.mu.Unlock()
	return d
}

// unplug detaches the device at path: reads of it fail from now on.
func (b *bus) unplug(path string) {
	b.mu.Lock()
	d := b.devices[path]
	delete(b.devices, path)
	b.mu.Unlock()
	if d != nil {
		close(d.gone)
	}
}

func (b *bus) enumerate(vid, pid uint16) ([]hid.DeviceInfo, error) {
	b.enumerates.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []hid.DeviceInfo
	for _, d := range b.devices {
		if (vid == 0 || d.info.VendorID == vid) && (pid == 0 || d.info.ProductID == pid) {
			out = append(out, d.info)
		}
	}
	return out, nil
}

func (b *bus) open(info hid.DeviceInfo) (Device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openErr != nil {
		return nil, b.openErr
	}
	d := b.devices[info.Path]
	if d == nil {
		return nil, errors.New("hidapi: failed to open device")
	}
	d.opens.Add(1)
	return d, nil
}

// fakeDevice is an attached device whose input reports the test queues.
type fakeDevice struct {
	bus     *bus
	info    hid.DeviceInfo
	reports chan []byte
	gone    chan struct{}
	inRead  atomic.Bool
	opens   atomic.Int64
	reads   atomic.Int64
}

func (d *fakeDevice) ReadTimeout(b []byte, timeout int) (int, error) {
	d.inRead.Store(true)
	defer d.inRead.Store(false)
	d.reads.Add(1)
	select {
	case <-d.gone:
		return 0, errors.New("hidapi: device disconnected")
	default:
	}
	select {
	case r := <-d.reports:
		return copy(b, r), nil
	case <-d.gone:
		return 0, errors.New("hidapi: device disconnected")
	case <-time.After(time.Duration(timeout) * time.Millisecond):
		return 0, nil
	}
}

func (d *fakeDevice) Close() error {
	if d.inRead.Load() {
		d.bus.closeInRead.Add(1)
	}
	return nil
}

func (d *fakeDevice) send(reports ...[]byte) {
	for _, r := range reports {
		d.reports <- r
	}
}

// newReader builds a hidpos reader through the registry, on bus b.
func newReader(t *testing.T, b *bus, cfg Config) *Reader {
	t.Helper()
	dr, err := device.Open("front-scanner", "hidpos", func(v any) error {
		*v.(*Config) = cfg
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := dr.(*Reader)
	r.supported = func() bool { return true }
	r.enumerate, r.open = b.enumerate, b.open
	r.retryMin, r.retryMax = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() {
		if n := b.closeInRead.Load(); n > 0 {
			t.Errorf("device closed %d times during a read", n)
		}
	})
	return r
}

var gadget = hid.DeviceInfo{Path: "1-1:1.0", VendorID: 0x1d6b, ProductID: 0x0104, Interface: 0, Product: "POS gadget"}

func TestConformancePOS(t *testing.T) {
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindBarcode,
		Data: []string{"2000000000008", "https://club.example/c/2500000000003?campaign=" + strings.Repeat("x", 60), "96385074"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			b := newBus()
			d := b.plug(gadget)
			r := newReader(t, b, Config{Device: "1d6b:0104"})
			return r, func(data string) { d.send(hidtest.POSReports(DefaultReportID, "]Q1", []byte(data))...) }
		},
	})
}

func TestConformanceKeyboard(t *testing.T) {
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindBarcode,
		Data: []string{"2000000000008", "CLUB-000123456"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			b := newBus()
			// A known keyboard-mode scanner: no device or mode configured.
			d := b.plug(hid.DeviceInfo{Path: "2-1:1.0", VendorID: 0x05f9, ProductID: 0x2206})
			r := newReader(t, b, Config{})
			return r, func(data string) {
				reports, err := hidtest.KeyboardReports(data)
				if err != nil {
					t.Fatal(err)
				}
				d.send(reports...)
			}
		},
	})
}

// running is a Run in the background with its scans and health reports.
type running struct {
	scans  chan device.Scan
	mu     sync.Mutex
	health []error
	done   chan error
}

func run(t *testing.T, r *Reader) *running {
	t.Helper()
	ru := &running{scans: make(chan device.Scan, 64), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	ctx = device.WithHealthFunc(ctx, func(err error) {
		ru.mu.Lock()
		ru.health = append(ru.health, err)
		ru.mu.Unlock()
	})
	go func() { ru.done <- r.Run(ctx, func(s device.Scan) { ru.scans <- s }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ru.done:
			if err != nil {
				t.Errorf("Run = %v after cancel", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Run did not return within 2s of cancel")
		}
	})
	return ru
}

// waitHealth waits for a health report that matches.
func (ru *running) waitHealth(t *testing.T, what string, match func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ru.mu.Lock()
		for _, e := range ru.health {
			if match(e) {
				ru.health = nil
				ru.mu.Unlock()
				return
			}
		}
		ru.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no health report %s within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (ru *running) next(t *testing.T) device.Scan {
	t.Helper()
	select {
	case s := <-ru.scans:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no scan within 5s")
		return device.Scan{}
	}
}

// TestUnplugAndReturn: the scanner goes away mid-use and comes back; the
// reader reports it missing meanwhile and reads the returned one.
func TestUnplugAndReturn(t *testing.T) {
	b := newBus()
	d := b.plug(gadget)
	ru := run(t, newReader(t, b, Config{Device: "1d6b:0104", Interface: new(0)}))
	ru.waitHealth(t, "ready", func(err error) bool { return err == nil })
	d.send(hidtest.POSReports(2, "]E0", []byte("2000000000008"))...)
	if s := ru.next(t); s.Data != "2000000000008" {
		t.Fatalf("scan %+v", s)
	}

	b.unplug(gadget.Path)
	ru.waitHealth(t, "saying the scanner is gone", func(err error) bool { return errors.Is(err, ErrNoScanner) })

	d = b.plug(gadget)
	ru.waitHealth(t, "ready again", func(err error) bool { return err == nil })
	d.send(hidtest.POSReports(2, "]E0", []byte("2500000000003"))...)
	if s := ru.next(t); s.Data != "2500000000003" {
		t.Fatalf("scan after replug %+v", s)
	}
}

// TestSelection: configured IDs, interface and serial pick one device among
// several; the known table picks a scanner among other HID devices.
func TestSelection(t *testing.T) {
	devices := []hid.DeviceInfo{
		{Path: "1-1:1.0", VendorID: 0x046d, ProductID: 0xc52b, Interface: 0}, // a mouse receiver
		{Path: "1-2:1.0", VendorID: 0x1eab, ProductID: 0x1310, Interface: 0, Serial: "A1"},
		{Path: "1-2:1.1", VendorID: 0x1eab, ProductID: 0x1310, Interface: 1, Serial: "A1"},
		{Path: "1-3:1.0", VendorID: 0x1eab, ProductID: 0x1310, Interface: 0, Serial: "B2"},
	}
	tests := []struct {
		name string
		cfg  Config
		want string // path
		mode Mode
	}{
		{"known table", Config{}, "1-2:1.0", ModePOS},
		{"by id", Config{Device: "1EAB:1310"}, "1-2:1.0", ModePOS},
		{"by interface", Config{Device: "1eab:1310", Interface: new(1)}, "1-2:1.1", ModePOS},
		{"by serial", Config{Device: "1eab:1310", Serial: "B2"}, "1-3:1.0", ModePOS},
		{"unknown device in keyboard mode", Config{Device: "046d:c52b", Mode: "keyboard"}, "1-1:1.0", ModeKeyboard},
		{"unknown device defaults to pos", Config{Device: "046d:c52b"}, "1-1:1.0", ModePOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus()
			for _, info := range devices {
				b.plug(info)
			}
			r := newReader(t, b, tt.cfg)
			info, mode, err := r.find()
			if err != nil || info.Path != tt.want || mode != tt.mode {
				t.Errorf("find = %s %s %v, want %s %s", info.Path, mode, err, tt.want, tt.mode)
			}
		})
	}

	t.Run("nothing matches", func(t *testing.T) {
		b := newBus()
		b.plug(devices[0])
		for cfg, msg := range map[*Config]string{
			{}:                                       "none of the 17 known scanners",
			{Device: "1eab:1310", Interface: new(2)}: "no 1eab:1310 interface 2",
		} {
			_, _, err := newReader(t, b, *cfg).find()
			if !errors.Is(err, ErrNoScanner) || !strings.Contains(err.Error(), msg) {
				t.Errorf("find = %v, want ErrNoScanner saying %q", err, msg)
			}
		}
	})
}

// TestFaults: open failures and malformed reports are reported, not fatal.
func TestFaults(t *testing.T) {
	b := newBus()
	d := b.plug(gadget)
	b.openErr = errors.New("hidapi: failed to open device")
	ru := run(t, newReader(t, b, Config{Device: "1d6b:0104"}))
	ru.waitHealth(t, "naming the open failure", func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "open scanner 1d6b:0104 (1-1:1.0): hidapi: failed to open device")
	})
	b.mu.Lock()
	b.openErr = nil
	b.mu.Unlock()
	ru.waitHealth(t, "ready", func(err error) bool { return err == nil })

	d.send([]byte{2, 99, 0, 0, 0})
	ru.waitHealth(t, "about the bad report", func(err error) bool { return errors.Is(err, ErrBadReport) })
	d.send(hidtest.POSReports(2, "", []byte("96385074"))...)
	if s := ru.next(t); s.Data != "96385074" {
		t.Fatalf("scan after a bad report %+v", s)
	}
}

// TestStalePartialBarcode: the first half of a barcode whose second half
// never comes is dropped, and does not spoil the next scan.
func TestStalePartialBarcode(t *testing.T) {
	b := newBus()
	d := b.plug(gadget)
	ru := run(t, newReader(t, b, Config{Device: "1d6b:0104"}))
	ru.waitHealth(t, "ready", func(err error) bool { return err == nil })
	d.send(hidtest.POSReports(2, "]Q1", []byte(strings.Repeat("A", 70)))[0])
	time.Sleep(staleAfter + 2*readTimeout)
	d.send(hidtest.POSReports(2, "]E0", []byte("2000000000008"))...)
	if s := ru.next(t); s.Data != "2000000000008" {
		t.Fatalf("scan %q, want the new barcode alone", s.Data)
	}
}

// TestNoBusyPolling: without a scanner the reader looks for one every few
// seconds, and with one it waits in reads of readTimeout.
func TestNoBusyPolling(t *testing.T) {
	b := newBus()
	r := newReader(t, b, Config{})
	r.retryMin, r.retryMax = 250*time.Millisecond, 5*time.Second // the defaults
	run(t, r)
	time.Sleep(3 * time.Second)
	if n := b.enumerates.Load(); n > 6 {
		t.Errorf("%d enumerations in 3s with no scanner, want at most 6", n)
	}

	b2 := newBus()
	d := b2.plug(gadget)
	run(t, newReader(t, b2, Config{Device: "1d6b:0104"}))
	time.Sleep(time.Second)
	if n := d.reads.Load(); n > int64(time.Second/readTimeout)+2 {
		t.Errorf("%d reads in 1s of silence, want about %d", n, time.Second/readTimeout)
	}
}

func TestUnsupportedBuild(t *testing.T) {
	r := newReader(t, newBus(), Config{})
	r.supported = func() bool { return false }
	err := r.Run(t.Context(), func(device.Scan) {})
	if !errors.Is(err, device.ErrUnsupported) || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("Run = %v, want ErrUnsupported naming CGO_ENABLED=0", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		cfg Config
		msg string // "" for a valid configuration
	}{
		{Config{}, ""},
		{Config{Device: "1eab:1310", Interface: new(2), Serial: "X", Mode: "keyboard", ReportID: 1}, ""},
		{Config{Device: "1eab"}, `device: "1eab": want vendor and product ID in hex`},
		{Config{Device: "zz:1310"}, `device: "zz:1310"`},
		{Config{Device: "0:1"}, `device: "0:1"`},
		{Config{Interface: new(0)}, "interface and serial need a device"},
		{Config{Device: "1eab:1310", Interface: new(300)}, "interface 300: want 0 to 255"},
		{Config{Mode: "serial"}, `mode "serial": want pos or keyboard`},
		{Config{ReportID: 256}, "report_id 256"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.cfg), func(t *testing.T) {
			_, err := New("x", tt.cfg)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if !errors.Is(err, device.ErrBadConfig) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New = %v, want ErrBadConfig saying %q", err, tt.msg)
			}
		})
	}
}

func TestDiscovered(t *testing.T) {
	got := discovered([]hid.DeviceInfo{
		{VendorID: 0x1eab, ProductID: 0x1310, Interface: 0},
		{VendorID: 0x046d, ProductID: 0xc52b, Interface: 2, Manufacturer: "Logitech", Product: "USB Receiver"},
	})
	want := []device.Discovered{
		{Type: "hidpos", ID: "1eab:1310 interface 0", Description: "Newland EM30xx/EM20xx/HR3260/HR200C (HID POS)", State: "known scanner: Newland EM30xx/EM20xx/HR3260/HR200C (HID POS), pos mode"},
		{Type: "hidpos", ID: "046d:c52b interface 2", Description: "Logitech USB Receiver"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("discovered = %+v\nwant %+v", got, want)
	}
}
