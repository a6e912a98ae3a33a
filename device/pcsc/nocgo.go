//go:build !cgo && !windows

package pcsc

import (
	"context"
	"fmt"

	"github.com/tilld/tilld/device"
)

// errNoCgo says why this build cannot read PC/SC readers.
var errNoCgo = fmt.Errorf("%w: pcsc needs cgo (libpcsclite) and this binary was built with CGO_ENABLED=0", device.ErrUnsupported)

// Run fails at once: this build has no PC/SC support.
func (r *Reader) Run(ctx context.Context, emit func(device.Scan)) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("pcsc reader %s: %w", r.name, errNoCgo)
}

// Discover fails: this build has no PC/SC support.
func Discover(context.Context) ([]device.Discovered, error) {
	return nil, errNoCgo
}

// pcscContext stands in for the PC/SC context a cgo build uses; this build
// never makes one.
//
//lint:ignore U1000 the type of a field that only cgo builds use
type pcscContext interface{}
