//go:build !unix

package daemon

import (
	"errors"
	"net"
)

// listenSocket: tilld serves no unix socket on this system; the local API is
// on its TCP address only.
func listenSocket(path string) (net.Listener, error) {
	return nil, errors.ErrUnsupported
}
