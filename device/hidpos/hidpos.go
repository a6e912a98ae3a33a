package hidpos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/karalabe/hid"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/internal/backoff"
)

func init() {
	device.Register("hidpos", func(name string, decode func(any) error) (device.Reader, error) {
		var c Config
		if err := decode(&c); err != nil {
			return nil, fmt.Errorf("decode hidpos reader config: %w", err)
		}
		return New(name, c)
	})
	device.RegisterDiscover("hidpos", Discover)
}

// Config is a HID scanner's table in the configuration file. The zero value
// reads the first scanner of the Known table that is attached.
type Config struct {
	// Device is the scanner's USB "vid:pid" in hex, as lsusb or `tillctl
	// devices` show it ("1eab:1310"). Empty: the first Known scanner found.
	Device string `toml:"device"`
	// Interface is the USB interface to read on a composite device; absent
	// means any.
	Interface *int `toml:"interface"`
	// Serial picks one of several identical scanners by USB serial number.
	Serial string `toml:"serial"`
	// Mode is "pos" (HID POS reports) or "keyboard" (keyboard emulation).
	// Empty: the Known table's mode for the device, else "pos".
	Mode string `toml:"mode"`
	// ReportID is the report ID of scanned-data reports in pos mode (default
	// 2), or of keyboard reports on a keyboard with numbered reports (default
	// none).
	ReportID int `toml:"report_id"`
}

// Timings.
const (
	// readTimeout bounds each read: Run notices cancellation within it, and
	// the device is only ever closed between reads.
	readTimeout = 200 * time.Millisecond
	// staleAfter drops a barcode whose next report (or a line whose Enter)
	// has not come within this long: a scanner sends a barcode in one burst.
	staleAfter = time.Second
)

var (
	// ErrNoScanner is reported (device.ReportHealth) while the configured
	// scanner, or any Known one, is not attached.
	ErrNoScanner = errors.New("hidpos: scanner not attached")
	// errNoCgo says why a build cannot read HID devices.
	errNoCgo = fmt.Errorf("%w: hidpos needs cgo (hidapi, libusb) and this binary was built with CGO_ENABLED=0", device.ErrUnsupported)
)

// Device is the part of an open HID device a Reader uses: karalabe/hid's
// hid.Device satisfies it. ReadTimeout returns (0, nil) when nothing came
// within timeout milliseconds; Close is never called during a read.
type Device interface {
	ReadTimeout(b []byte, timeoutMillis int) (int, error)
	Close() error
}

// Reader reads barcodes from one HID scanner. Create it with New.
type Reader struct {
	name      string
	cfg       Config
	vid, pid  uint16 // 0, 0: any Known scanner
	mode      Mode   // "" until the device is found, when not configured
	reportID  byte
	retryMin  time.Duration
	retryMax  time.Duration
	supported func() bool
	// enumerate lists attached HID devices with the given IDs (0 matches any);
	// open opens one. Function fields, so tests can inject devices and faults.
	enumerate func(vid, pid uint16) ([]hid.DeviceInfo, error)
	open      func(hid.DeviceInfo) (Device, error)
}

// New checks cfg and returns a reader named name. It does not look for the
// scanner. Errors wrap device.ErrBadConfig.
func New(name string, cfg Config) (*Reader, error) {
	bad := func(format string, args ...any) (*Reader, error) {
		return nil, fmt.Errorf("%w: %s", device.ErrBadConfig, fmt.Sprintf(format, args...))
	}
	r := &Reader{
		name:      name,
		retryMin:  250 * time.Millisecond,
		retryMax:  5 * time.Second,
		supported: hid.Supported,
		enumerate: hid.Enumerate,
		open:      func(info hid.DeviceInfo) (Device, error) { return info.Open() },
	}
	if cfg.Device != "" {
		vid, pid, err := ParseID(cfg.Device)
		if err != nil {
			return bad("device: %v", err)
		}
		r.vid, r.pid = vid, pid
	} else if cfg.Interface != nil || cfg.Serial != "" {
		return bad("interface and serial need a device (\"vid:pid\") to apply to")
	}
	if cfg.Interface != nil && (*cfg.Interface < 0 || *cfg.Interface > 255) {
		return bad("interface %d: want 0 to 255", *cfg.Interface)
	}
	switch Mode(cfg.Mode) {
	case "", ModePOS, ModeKeyboard:
		r.mode = Mode(cfg.Mode)
	default:
		return bad("mode %q: want pos or keyboard", cfg.Mode)
	}
	if cfg.ReportID < 0 || cfg.ReportID > 255 {
		return bad("report_id %d: want 1 to 255", cfg.ReportID)
	}
	r.reportID = byte(cfg.ReportID)
	r.cfg = cfg
	return r, nil
}

// ParseID parses a USB "vid:pid" in hex ("1eab:1310").
func ParseID(s string) (vid, pid uint16, err error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want vendor and product ID in hex, like \"1eab:1310\"", s)
	}
	vv, err1 := strconv.ParseUint(v, 16, 16)
	pp, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil || vv == 0 {
		return 0, 0, fmt.Errorf("%q: want vendor and product ID in hex, like \"1eab:1310\"", s)
	}
	return uint16(vv), uint16(pp), nil
}

// Run reads barcodes until ctx is cancelled; see device.Reader. It returns nil
// on cancel and rides out unplugging by itself: it looks for the scanner with
// backoff and reopens it, reporting the fault with device.ReportHealth.
func (r *Reader) Run(ctx context.Context, emit func(device.Scan)) error {
	if ctx.Err() != nil {
		return nil
	}
	if !r.supported() {
		return fmt.Errorf("hidpos reader %s: %w", r.name, errNoCgo)
	}
	b := backoff.Backoff{Min: r.retryMin, Max: r.retryMax}
	for ctx.Err() == nil {
		opened := time.Now()
		err := r.session(ctx, emit)
		if err == nil {
			return nil
		}
		device.ReportHealth(ctx, err)
		// A scanner that worked for a while is looked for quickly first.
		backoff.Sleep(ctx, b.Failed(time.Since(opened)))
	}
	return nil
}

// session finds, opens and reads the scanner until ctx is cancelled (nil) or
// the scanner cannot be found or read (the error).
func (r *Reader) session(ctx context.Context, emit func(device.Scan)) error {
	info, mode, err := r.find()
	if err != nil {
		return err
	}
	dev, err := r.open(info)
	if err != nil {
		return fmt.Errorf("open scanner %04x:%04x (%s): %w", info.VendorID, info.ProductID, info.Path, err)
	}
	defer dev.Close() // only after the last read has returned
	device.ReportHealth(ctx, nil)
	if err := r.read(ctx, dev, mode, emit); err != nil {
		return fmt.Errorf("read scanner %04x:%04x (unplugged?): %w", info.VendorID, info.ProductID, err)
	}
	return nil
}

// find picks the scanner to read, and the mode to read it in.
func (r *Reader) find() (hid.DeviceInfo, Mode, error) {
	infos, err := r.enumerate(r.vid, r.pid)
	if err != nil {
		return hid.DeviceInfo{}, "", fmt.Errorf("list HID devices: %w", err)
	}
	slices.SortFunc(infos, func(a, b hid.DeviceInfo) int { return cmp.Compare(a.Path, b.Path) })
	for _, info := range infos {
		if r.vid != 0 {
			if info.VendorID != r.vid || info.ProductID != r.pid ||
				r.cfg.Interface != nil && info.Interface != *r.cfg.Interface ||
				r.cfg.Serial != "" && info.Serial != r.cfg.Serial {
				continue
			}
			mode := r.mode
			if mode == "" {
				mode = ModePOS
				if k, ok := knownScanner(info.VendorID, info.ProductID); ok {
					mode = k.Mode
				}
			}
			return info, mode, nil
		}
		if k, ok := knownScanner(info.VendorID, info.ProductID); ok {
			return info, cmp.Or(r.mode, k.Mode), nil
		}
	}
	if r.vid != 0 {
		return hid.DeviceInfo{}, "", fmt.Errorf("%w: no %s%s", ErrNoScanner, r.cfg.Device, r.filterText())
	}
	return hid.DeviceInfo{}, "", fmt.Errorf("%w: none of the %d known scanners (configure device = \"vid:pid\" for others)", ErrNoScanner, len(Known))
}

func (r *Reader) filterText() string {
	var s string
	if r.cfg.Interface != nil {
		s += fmt.Sprintf(" interface %d", *r.cfg.Interface)
	}
	if r.cfg.Serial != "" {
		s += " serial " + r.cfg.Serial
	}
	return s
}

// decoder is what POSDecoder and KeyboardDecoder have in common for read.
type decoder interface {
	feed(report []byte, emit func(string)) error
	Pending() bool
	Reset()
}

type posFeeder struct{ POSDecoder }

func (p *posFeeder) feed(report []byte, emit func(string)) error {
	return p.Feed(report, func(b Barcode) { emit(string(b.Data)) })
}

type kbdFeeder struct{ KeyboardDecoder }

func (k *kbdFeeder) feed(report []byte, emit func(string)) error { return k.Feed(report, emit) }

// read decodes reports from dev until ctx is cancelled (nil) or a read fails.
func (r *Reader) read(ctx context.Context, dev Device, mode Mode, emit func(device.Scan)) error {
	var dec decoder
	if mode == ModeKeyboard {
		dec = &kbdFeeder{KeyboardDecoder{ReportID: r.reportID}}
	} else {
		dec = &posFeeder{POSDecoder{ReportID: r.reportID}}
	}
	onData := func(data string) {
		data = strings.TrimFunc(data, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) || c == 0 })
		if data != "" {
			emit(device.Scan{Source: r.name, Kind: device.KindBarcode, Data: data, At: time.Now()})
		}
	}
	buf := make([]byte, 256)
	lastReport := time.Now()
	for ctx.Err() == nil {
		n, err := dev.ReadTimeout(buf, int(readTimeout/time.Millisecond))
		if err != nil {
			return err
		}
		if n == 0 {
			if dec.Pending() && time.Since(lastReport) > staleAfter {
				dec.Reset() // the rest never came: do not glue it to the next scan
			}
			continue
		}
		lastReport = time.Now()
		if err := dec.feed(buf[:n], onData); err != nil {
			device.ReportHealth(ctx, err)
		}
	}
	return nil
}

// Discover lists the HID devices attached now, for device.Discover: every
// HID interface, with the Known scanners named. It lists nothing in a build
// without cgo (and says so).
func Discover(ctx context.Context) ([]device.Discovered, error) {
	if !hid.Supported() {
		return nil, errNoCgo
	}
	infos, err := hid.Enumerate(0, 0)
	if err != nil {
		return nil, fmt.Errorf("list HID devices: %w", err)
	}
	return discovered(infos), nil
}

func discovered(infos []hid.DeviceInfo) []device.Discovered {
	out := make([]device.Discovered, 0, len(infos))
	for _, info := range infos {
		d := device.Discovered{
			Type:        "hidpos",
			ID:          fmt.Sprintf("%04x:%04x interface %d", info.VendorID, info.ProductID, info.Interface),
			Description: strings.TrimSpace(info.Manufacturer + " " + info.Product),
		}
		if k, ok := knownScanner(info.VendorID, info.ProductID); ok {
			d.Description = cmp.Or(d.Description, k.Name)
			d.State = fmt.Sprintf("known scanner: %s, %s mode", k.Name, k.Mode)
		}
		out = append(out, d)
	}
	return out
}
