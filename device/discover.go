package device

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Discovered is a reader or scanner attached to the terminal, whether or not
// the configuration names it: what `tillctl devices` lists beside the
// configured readers' [Health], so store IT can see what to configure.
type Discovered struct {
	// Type is the reader type that drives it, as registered ("pcsc", "hidpos").
	Type string `json:"type"`
	// ID is what selects this device in a reader's configuration: the PC/SC
	// reader name, a USB "vid:pid" with its interface.
	ID string `json:"id"`
	// Description is for people: the reader's name, a scanner's maker and model.
	Description string `json:"description,omitempty"`
	// State is what the transport can tell without opening the device: "card
	// present", "empty", "in use", "known scanner (pos mode)"... Empty when unknown.
	State string `json:"state,omitempty"`
}

// DiscoverFunc lists the devices of one transport that are attached now. It
// must not disturb readers that are running (no exclusive opens) and should
// return within a second or two. A transport that cannot work in this build
// (say, compiled without cgo) returns an error wrapping [ErrUnsupported].
type DiscoverFunc func(ctx context.Context) ([]Discovered, error)

// ErrUnsupported is wrapped by readers and discovery of a transport that this
// build or platform cannot drive, e.g. PC/SC in a binary built with CGO_ENABLED=0.
var ErrUnsupported = errors.New("device: transport not supported by this build")

var discoverers = map[string]DiscoverFunc{} // guarded by registryMu

// RegisterDiscover makes [Discover] list the devices of transport typ with f,
// normally from the transport package's init beside [Register]. It panics if typ
// is empty, f is nil or typ already has one.
func RegisterDiscover(typ string, f DiscoverFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if typ == "" || f == nil {
		panic("device.RegisterDiscover: empty type or nil func")
	}
	if _, dup := discoverers[typ]; dup {
		panic("device.RegisterDiscover: type " + typ + " registered twice")
	}
	discoverers[typ] = f
}

// Discover lists the devices every registered transport finds attached, sorted
// by type and ID. A transport that fails does not hide the others: their
// devices are returned with an error joining each failure, prefixed with its type.
func Discover(ctx context.Context) ([]Discovered, error) {
	registryMu.RLock()
	fs := make(map[string]DiscoverFunc, len(discoverers))
	for t, f := range discoverers {
		fs[t] = f
	}
	registryMu.RUnlock()

	var all []Discovered
	var errs []error
	for _, typ := range slices.Sorted(maps.Keys(fs)) {
		found, err := fs[typ](ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("discover %s devices: %w", typ, err))
		}
		all = append(all, found...)
	}
	slices.SortStableFunc(all, func(a, b Discovered) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
	})
	return all, errors.Join(errs...)
}
