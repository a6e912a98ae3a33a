//go:build unix

package daemon

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
)

// TestLocalAPISocket: tilld serves its local API on a unix socket in the
// data directory, mode 0660, where a token route answers without the token
// (it still needs it over TCP); a socket left by a tilld that died is
// replaced; a file that is no socket, or a socket another tilld serves, is
// a configuration error naming it; "off" serves none.
func TestLocalAPISocket(t *testing.T) {
	data := t.TempDir()
	cfg := Config{Terminal: "S1-T1", DataDir: data, Listen: "127.0.0.1:0"}.withDefaults()
	sock := filepath.Join(data, SocketFile)
	if cfg.Socket != sock {
		t.Fatalf("the default socket is %q, want %q", cfg.Socket, sock)
	}
	// A socket a dead tilld left behind.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	d, err := New(cfg, Options{})
	if err != nil {
		t.Fatalf("New over a stale socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the socket after tilld stopped: %v, want it gone", err)
		}
	}()
	if d.Socket() != sock {
		t.Fatalf("Socket() = %q", d.Socket())
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("the socket: %v %v, want a socket of mode 0660", fi.Mode(), err)
	}
	overSocket, overTCP := localapi.NewClient("unix:"+sock), localapi.NewClient(d.Addr())
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if _, err := overSocket.Account(rctx, "2000000000015"); err != nil {
		t.Errorf("an account over the socket, without the token: %v", err)
	}
	var ae *localapi.APIError
	if _, err := overTCP.Account(rctx, "2000000000015"); !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("an account over TCP without the token: %v, want 401", err)
	}

	// A second tilld on the same socket path: refused, the first one kept.
	other := cfg
	other.DataDir, other.Socket = t.TempDir(), sock
	if _, err := New(other, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "another tilld serves") {
		t.Errorf("New on a socket another tilld serves: %v", err)
	}
	if _, err := overSocket.Account(rctx, "2000000000015"); err != nil {
		t.Errorf("the first tilld's socket after the second was refused: %v", err)
	}
	// A file that is no socket is never removed.
	plain := filepath.Join(t.TempDir(), "api.sock")
	if err := os.WriteFile(plain, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	other.DataDir, other.Socket = t.TempDir(), plain
	if _, err := New(other, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("New on a plain file as the socket: %v", err)
	}
	if b, err := os.ReadFile(plain); err != nil || string(b) != "keep me" {
		t.Errorf("the plain file after: %q %v", b, err)
	}
	// A path too long for a socket is named.
	other.Socket = "/" + strings.Repeat("x", 120)
	if _, err := New(other, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "longer than a unix socket's path may be") {
		t.Errorf("New on a socket path of 121 bytes: %v", err)
	}
	// off: none.
	off := Config{Terminal: "S1-T2", DataDir: t.TempDir(), Listen: "127.0.0.1:0", Socket: "off"}.withDefaults()
	d2, err := New(off, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Socket() != "" {
		t.Errorf("socket = \"off\" serves %q", d2.Socket())
	}
	d2.ledger.Close()
	d2.ln.Close()
}
