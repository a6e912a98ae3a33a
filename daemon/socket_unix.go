//go:build unix

package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// listenSocket listens on the unix socket at path, mode 0660: tilld's user
// and group connect, as they read the API's token file, and a request over it
// is the POS app's without the token (localapi.Options). A socket left by a
// tilld that died is replaced; one another tilld still serves, or a file that
// is no socket, is an error that names it.
func listenSocket(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("%s is %d bytes, longer than a unix socket's path may be (%d): set socket in tilld.toml to a shorter path, or \"off\"", path, len(path), maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s is there and is not a socket: move it away, or set socket in tilld.toml to another path (or \"off\")", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another tilld serves the local API on %s: stop it first", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// maxSocketPath is the longest path a unix socket may have on every unix
// tilld builds for (sun_path is 104 bytes on the BSDs, 108 on Linux, with
// its NUL).
const maxSocketPath = 103
