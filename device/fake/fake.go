// Package fake is a reader with no device behind it, for the demo and for tests:
// whatever is passed to Present comes out of Run as a scan. It registers itself
// as reader type "fake"; get at Present with a type assertion on what
// device.Open returns.
package fake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tilld/tilld/device"
)

func init() {
	device.Register("fake", func(name string, decode func(any) error) (device.Reader, error) {
		var c Config
		if err := decode(&c); err != nil {
			return nil, fmt.Errorf("decode fake reader config: %w", err)
		}
		return New(name, c)
	})
}

// Config is a fake reader's table in the configuration file.
type Config struct {
	// Kind is what Present's data is: "barcode" (default), "uid" or "track".
	Kind string `toml:"kind"`
}

// Pending is how many presentations wait for Run at most.
const Pending = 64

// ErrBusy is returned by Present when Pending presentations are already waiting
// for Run to pick them up (Run is not running, or its emit is stuck).
var ErrBusy = errors.New("fake: too many presentations waiting")

// Reader emits what it is shown. Present is safe to call from any goroutine,
// whether Run is running or not: presentations wait for the next Run.
type Reader struct {
	name  string
	kind  device.Kind
	queue chan device.Scan
}

// New returns a fake reader named name. Errors wrap device.ErrBadConfig.
func New(name string, cfg Config) (*Reader, error) {
	kind := device.Kind(cfg.Kind)
	if kind == "" {
		kind = device.KindBarcode
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("%w: kind %q: want barcode, uid or track", device.ErrBadConfig, cfg.Kind)
	}
	return &Reader{name: name, kind: kind, queue: make(chan device.Scan, Pending)}, nil
}

// Present shows data to the reader as its configured kind.
func (r *Reader) Present(data string) error { return r.PresentKind(r.kind, data) }

// PresentKind shows data of the given kind to the reader.
func (r *Reader) PresentKind(kind device.Kind, data string) error {
	select {
	case r.queue <- device.Scan{Source: r.name, Kind: kind, Data: data, At: time.Now()}:
		return nil
	default:
		return fmt.Errorf("present to fake reader %s: %w", r.name, ErrBusy)
	}
}

// Run emits presented data until ctx is cancelled; see device.Reader.
func (r *Reader) Run(ctx context.Context, emit func(device.Scan)) error {
	device.ReportHealth(ctx, nil)
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-r.queue:
			emit(s)
		}
	}
}
