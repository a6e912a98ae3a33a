package pcsc

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tilld/tilld/device"
)

func init() {
	device.Register("pcsc", func(name string, decode func(any) error) (device.Reader, error) {
		var c Config
		if err := decode(&c); err != nil {
			return nil, fmt.Errorf("decode pcsc reader config: %w", err)
		}
		return New(name, c)
	})
	device.RegisterDiscover("pcsc", Discover)
}

// ErrNoReader is reported (device.ReportHealth) while no PC/SC reader the
// configuration selects is attached.
var ErrNoReader = errors.New("pcsc: no matching reader attached")

// Config is a PC/SC reader's table in the configuration file. The zero value
// reads the UID of cards on every PC/SC reader attached, now or later.
type Config struct {
	// Reader selects the PC/SC readers to watch by name, as `tillctl devices`
	// or pcsc_scan list them: a whole name ("ACS ACR122U PICC Interface 00 00")
	// or a prefix followed by "*" ("ACS ACR122U*"). Empty watches every reader.
	Reader string `toml:"reader"`
	// AID, when set, is the loyalty application to select (hex, spaces
	// allowed: "F0 54 49 4C 4C 44"); the card number is then read from it with
	// ReadAPDU instead of using the card's UID.
	AID string `toml:"aid"`
	// ReadAPDU is the command that returns the card number once AID is
	// selected (hex); default READ BINARY, "00 B0 00 00 00".
	ReadAPDU string `toml:"read_apdu"`
	// Number is how the application stores the card number: "ascii"
	// (default), "bcd" or "hex" (see DecodeNumber). ASCII and BCD numbers are
	// scanned as barcodes (so EAN-13 club numbers and card patterns apply), hex
	// as UIDs.
	Number string `toml:"number"`
	// Logger receives the reader's logs (cards that could not be read); nil
	// means slog.Default(). Not read from the configuration file.
	Logger *slog.Logger `toml:"-"`
}

// Reader reads cards on the PC/SC readers its configuration selects. Create it
// with New; Run it under a device.Manager.
type Reader struct {
	name string
	cfg  Config
	plan plan
	kind device.Kind
	log  *slog.Logger

	// Backoff between attempts to reach pcscd.
	retryMin, retryMax time.Duration
	// statusTimeout bounds each wait for a reader event. Cancellation does not
	// wait for it (SCardCancel ends the wait): it is only a safety net.
	statusTimeout time.Duration
	// establish connects to the PC/SC service; nil means the real one. Tests
	// set it to inject readers and faults (see pcscContext).
	//lint:ignore U1000 unused only in builds without cgo, which never reach PC/SC
	establish func() (pcscContext, error)
}

// New checks cfg and returns a reader named name. It does not talk to pcscd.
// Errors wrap device.ErrBadConfig.
func New(name string, cfg Config) (*Reader, error) {
	bad := func(format string, args ...any) (*Reader, error) {
		return nil, fmt.Errorf("%w: %s", device.ErrBadConfig, fmt.Sprintf(format, args...))
	}
	if strings.Contains(strings.TrimSuffix(cfg.Reader, "*"), "*") {
		return bad("reader %q: \"*\" may only end a name prefix", cfg.Reader)
	}
	r := &Reader{
		name:          name,
		kind:          device.KindUID,
		plan:          plan{number: "hex"},
		retryMin:      250 * time.Millisecond,
		retryMax:      5 * time.Second,
		statusTimeout: time.Minute,
		log:           cfg.Logger,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("reader", name, "type", "pcsc")
	if cfg.AID == "" {
		if cfg.ReadAPDU != "" || cfg.Number != "" {
			return bad("read_apdu and number need an aid to select first")
		}
	} else {
		aid, err := parseHex("aid", cfg.AID)
		if err != nil {
			return bad("%v", err)
		}
		if len(aid) < 5 || len(aid) > 16 {
			return bad("aid %q: %d bytes, want 5 to 16 (ISO/IEC 7816-5)", cfg.AID, len(aid))
		}
		r.plan.selectAID = selectCommand(aid)
		r.plan.read = cmdReadBinary
		if cfg.ReadAPDU != "" {
			if r.plan.read, err = parseHex("read_apdu", cfg.ReadAPDU); err != nil {
				return bad("%v", err)
			}
			if len(r.plan.read) < 4 {
				return bad("read_apdu %q: %d bytes, want at least 4 (CLA INS P1 P2)", cfg.ReadAPDU, len(r.plan.read))
			}
		}
		switch cfg.Number {
		case "", "ascii":
			r.plan.number, r.kind = "ascii", device.KindBarcode
		case "bcd":
			r.plan.number, r.kind = "bcd", device.KindBarcode
		case "hex":
			r.plan.number, r.kind = "hex", device.KindUID
		default:
			return bad("number %q: want ascii, bcd or hex", cfg.Number)
		}
	}
	r.cfg = cfg
	return r, nil
}

// selects reports whether the configuration selects the PC/SC reader named reader.
func (r *Reader) selects(reader string) bool {
	switch {
	case r.cfg.Reader == "":
		return true
	case strings.HasSuffix(r.cfg.Reader, "*"):
		return strings.HasPrefix(reader, strings.TrimSuffix(r.cfg.Reader, "*"))
	}
	return reader == r.cfg.Reader
}
