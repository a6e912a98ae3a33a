package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tilld/tilld/pos"
)

// Kind says what the data of a scan is.
type Kind string

// Kinds of scan.
const (
	// KindUID is the UID of a contactless card, as hex digits.
	KindUID Kind = "uid"
	// KindBarcode is the decoded text of a barcode (a club card, a phone screen, a product).
	KindBarcode Kind = "barcode"
	// KindTrack is the text of a magnetic stripe, one or more ISO 7813 tracks with
	// their sentinels ("%B…^…?;…=…?" or just ";…=…?").
	KindTrack Kind = "track"
)

// Valid reports whether k is one of the kinds this package knows.
func (k Kind) Valid() bool {
	switch k {
	case KindUID, KindBarcode, KindTrack:
		return true
	}
	return false
}

// Scan is one read by one reader: raw, not yet validated. Data may hold a card
// number, so Scan formats itself with the data masked (see [Mask]) in logs and
// %v; use the Data field itself only where the full number is needed.
type Scan struct {
	Source string    `json:"source"` // name of the reader, as configured
	Kind   Kind      `json:"kind"`
	Data   string    `json:"data"`
	At     time.Time `json:"at"`
}

// String describes the scan with its data masked.
func (s Scan) String() string {
	return fmt.Sprintf("%s scan from %s: %s", s.Kind, s.Source, pos.MaskCard(s.Data))
}

// LogValue logs the scan with its data masked.
func (s Scan) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String(logKeySource, s.Source),
		slog.String(logKeyKind, string(s.Kind)),
		slog.String(logKeyData, pos.MaskCard(s.Data)),
	)
}

// Reader is one configured input device.
//
// Run reads from the device until ctx is cancelled and calls emit for every scan.
// It returns nil once ctx is cancelled (promptly: within about half a second),
// and an error only when the device failed in a way the reader cannot recover
// from by itself; whoever supervises it (a [Manager]) then calls Run again, on
// the same Reader, after a backoff. Run is never called twice at the same time.
//
// emit does not block for long and may be called from any goroutine, but only
// while Run has not returned. Scans carry the reader's name in Source.
//
// A reader that rides out device faults inside Run (it reopens an unplugged
// adapter, reconnects to a restarted smart card service) says so with
// [ReportHealth]: ReportHealth(ctx, nil) once the device is open and ready to read
// (test suites wait for it before presenting a card), ReportHealth(ctx, err)
// whenever it is not.
//
// Run owns the device: it opens it, and closes it before returning.
type Reader interface {
	Run(ctx context.Context, emit func(Scan)) error
}

// Factory builds a reader named name. decode fills the transport's own
// configuration struct (passed as a pointer) from the reader's table in the
// configuration file. A factory validates the configuration but does not open
// the device: that is Run's job, so a missing device at start-up is a health
// problem, not a start-up failure. Configuration errors wrap [ErrBadConfig].
type Factory func(name string, decode func(v any) error) (Reader, error)

var (
	// ErrUnknownType is returned by [Open] for a reader type no transport registered.
	ErrUnknownType = errors.New("device: unknown reader type")
	// ErrBadConfig is wrapped by factories when a reader's configuration is invalid.
	ErrBadConfig = errors.New("device: bad reader configuration")
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a transport available under typ, normally from the transport
// package's init. It panics if typ is empty, f is nil or typ is taken: those are
// programming errors.
func Register(typ string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if typ == "" || f == nil {
		panic("device.Register: empty type or nil factory")
	}
	if _, dup := registry[typ]; dup {
		panic("device.Register: type " + typ + " registered twice")
	}
	registry[typ] = f
}

// Types returns the registered reader types, sorted.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	types := make([]string, 0, len(registry))
	for t := range registry {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Open builds the reader name of type typ with the factory registered for typ.
// decode fills the transport's configuration struct from the reader's table (see
// [Factory]); nil means the table is empty.
func Open(name, typ string, decode func(v any) error) (Reader, error) {
	registryMu.RLock()
	f := registry[typ]
	registryMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("open reader %q: %w %q (registered: %s)", name, ErrUnknownType, typ, strings.Join(Types(), ", "))
	}
	if decode == nil {
		decode = func(any) error { return nil }
	}
	r, err := f(name, decode)
	if err != nil {
		return nil, fmt.Errorf("open reader %q: %w", name, err)
	}
	return r, nil
}

type healthKey struct{}

// WithHealthFunc returns a copy of ctx that carries f, which [ReportHealth] calls.
// A supervisor passes such a context to Reader.Run. f must be safe for concurrent
// use and return quickly.
func WithHealthFunc(ctx context.Context, f func(err error)) context.Context {
	return context.WithValue(ctx, healthKey{}, f)
}

// ReportHealth tells the supervisor of the Run that ctx was given to that the
// device is working (err == nil) or failing with err while the reader keeps
// trying. Without a supervisor it does nothing.
func ReportHealth(ctx context.Context, err error) {
	if f, ok := ctx.Value(healthKey{}).(func(error)); ok && f != nil {
		f(err)
	}
}
