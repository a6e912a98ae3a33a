// Package serial reads barcode scanners and magstripe readers attached to a
// serial port (RS-232, or USB adapters showing up as /dev/ttyUSB* and
// /dev/ttyACM*), using github.com/tarm/serial. It registers itself as reader
// type "serial" with package device.
//
// A [Reader] owns its port: it opens it, cuts the byte stream into frames with
// a [Framer], and emits one scan per frame. When the adapter is unplugged (the
// port fails with EIO, or cannot be opened) it closes the port and reopens it
// with a capped, jittered backoff until its context is cancelled, reporting the
// fault with device.ReportHealth meanwhile.
package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	tarm "github.com/tarm/serial"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/internal/backoff"
)

func init() {
	device.Register("serial", func(name string, decode func(any) error) (device.Reader, error) {
		var c Config
		if err := decode(&c); err != nil {
			return nil, fmt.Errorf("decode serial reader config: %w", err)
		}
		return New(name, c)
	})
}

// Config is a serial reader's table in the configuration file. The zero value
// of every field but Port means its documented default.
type Config struct {
	// Port is the device path, e.g. /dev/ttyUSB0, or a stable udev link under
	// /dev/serial/by-id. Required.
	Port string `toml:"port"`
	// Baud is the line speed; default 9600. Eight data bits and one stop bit.
	Baud int `toml:"baud"`
	// Parity is "none" (default), "odd" or "even".
	Parity string `toml:"parity"`
	// Prefix is what starts a frame: "" (nothing) or "STX".
	Prefix string `toml:"prefix"`
	// Suffix is what ends a frame: "CR", "LF", "CRLF" or "ETX"; default any CR or LF.
	Suffix string `toml:"suffix"`
	// MaxFrame is the longest frame in bytes, default 256; longer ones are dropped.
	MaxFrame int `toml:"max_frame"`
	// Kind is what the device reads: "barcode" (default) or "track" (magstripe).
	Kind string `toml:"kind"`
}

// Defaults and timings.
const (
	DefaultBaud = 9600
	// readTimeout bounds each read, so Run notices cancellation and Close never
	// waits on a silent line (tarm/serial rounds it to 100 ms steps).
	readTimeout = 200 * time.Millisecond
	// hangupReads is how many reads in a row may return nothing long before the
	// read timeout before the port counts as hung up: a tty whose USB adapter was
	// unplugged can return 0 bytes at once forever instead of failing.
	hangupReads = 8
	// staleAfter is how long the line may stay quiet in the middle of a frame
	// before the partial frame is discarded as noise. A scanner sends a frame in
	// one burst (13 digits take 15 ms at 9600 baud), so a frame stalled this long
	// is line noise, from an adapter being plugged in, say, and must not spoil
	// the next scan.
	staleAfter = time.Second
)

// errHungUp is the failure of a port that returns no data without waiting.
var errHungUp = errors.New("port hung up: reads return at once with no data")

// Reader reads scans from one serial port. Create it with New.
type Reader struct {
	name    string
	cfg     Config // defaults applied
	kind    device.Kind
	parity  tarm.Parity
	framing FramerOptions

	// Backoff between attempts to reopen the port.
	retryMin, retryMax time.Duration
	// open opens the port; a function field so tests can inject faults.
	open func() (io.ReadCloser, error)
	// onStale, when set, is called after a stale partial frame was discarded.
	onStale func()
}

// New checks cfg and returns a reader named name. It does not open the port.
// Errors wrap device.ErrBadConfig.
func New(name string, cfg Config) (*Reader, error) {
	bad := func(format string, args ...any) (*Reader, error) {
		return nil, fmt.Errorf("%w: %s", device.ErrBadConfig, fmt.Sprintf(format, args...))
	}
	if cfg.Port == "" {
		return bad("port is required (e.g. port = \"/dev/ttyUSB0\")")
	}
	if cfg.Baud == 0 {
		cfg.Baud = DefaultBaud
	}
	if cfg.Baud < 0 {
		return bad("baud %d: must be positive", cfg.Baud)
	}
	r := &Reader{name: name, retryMin: 250 * time.Millisecond, retryMax: 5 * time.Second}
	switch strings.ToLower(cfg.Parity) {
	case "", "none":
		r.parity = tarm.ParityNone
	case "odd":
		r.parity = tarm.ParityOdd
	case "even":
		r.parity = tarm.ParityEven
	default:
		return bad("parity %q: want none, odd or even", cfg.Parity)
	}
	switch device.Kind(cfg.Kind) {
	case "":
		cfg.Kind = string(device.KindBarcode)
	case device.KindBarcode, device.KindTrack:
	default:
		return bad("kind %q: want barcode or track", cfg.Kind)
	}
	r.kind = device.Kind(cfg.Kind)
	r.framing = FramerOptions{Prefix: cfg.Prefix, Suffix: cfg.Suffix, MaxFrame: cfg.MaxFrame}
	if _, err := NewFramer(r.framing); err != nil {
		return bad("%v", err)
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	r.cfg = cfg
	r.open = r.openPort
	return r, nil
}

func (r *Reader) openPort() (io.ReadCloser, error) {
	return tarm.OpenPort(&tarm.Config{Name: r.cfg.Port, Baud: r.cfg.Baud, Parity: r.parity, ReadTimeout: readTimeout})
}

// Run reads scans until ctx is cancelled; see device.Reader. It returns nil on
// cancel and never gives up on the port by itself: open and read failures are
// reported with device.ReportHealth and retried with backoff.
func (r *Reader) Run(ctx context.Context, emit func(device.Scan)) error {
	framer, err := NewFramer(r.framing)
	if err != nil { // New checked the options already
		return fmt.Errorf("serial reader %s: %w", r.name, err)
	}
	b := backoff.Backoff{Min: r.retryMin, Max: r.retryMax}
	for ctx.Err() == nil {
		opened := time.Now()
		port, err := r.open()
		if err == nil {
			// Bytes queued while nobody listened are stale: a card shown
			// minutes ago must not land on this sale.
			if fl, ok := port.(interface{ Flush() error }); ok {
				_ = fl.Flush() // best effort: a port that cannot flush still reads
			}
			device.ReportHealth(ctx, nil)
			err = r.read(ctx, port, framer, emit)
			port.Close() // the read error, if any, is the one that matters
			if err == nil {
				return nil
			}
		}
		device.ReportHealth(ctx, fmt.Errorf("serial port %s: %w", r.cfg.Port, err))
		framer.Reset()
		// A port that worked for a while is retried quickly first.
		backoff.Sleep(ctx, b.Failed(time.Since(opened)))
	}
	return nil
}

// read reads frames from port until ctx is cancelled (nil) or the port fails.
func (r *Reader) read(ctx context.Context, port io.Reader, framer *Framer, emit func(device.Scan)) error {
	buf := make([]byte, 512)
	quick := 0
	lastByte := time.Now()
	onFrame := func(frame string) {
		data := strings.TrimFunc(frame, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) })
		if data != "" {
			emit(device.Scan{Source: r.name, Kind: r.kind, Data: data, At: time.Now()})
		}
	}
	for ctx.Err() == nil {
		start := time.Now()
		n, err := port.Read(buf)
		if n > 0 {
			quick = 0
			lastByte = time.Now()
			dropped := framer.Dropped()
			framer.Feed(buf[:n], onFrame)
			if framer.Dropped() > dropped {
				device.ReportHealth(ctx, fmt.Errorf("serial port %s: dropped a frame longer than max_frame (%d bytes); is suffix right?", r.cfg.Port, r.cfg.MaxFrame))
			}
			continue
		}
		switch {
		case errors.Is(err, io.EOF), err == nil:
			// The read timed out: the line is quiet.
			if framer.Pending() && time.Since(lastByte) >= staleAfter {
				framer.Reset()
				if r.onStale != nil {
					r.onStale()
				}
			}
			if time.Since(start) < readTimeout/4 {
				if quick++; quick >= hangupReads {
					return errHungUp
				}
			} else {
				quick = 0
			}
		default:
			return err
		}
	}
	return nil
}
