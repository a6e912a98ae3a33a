package e2e

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalAPIOverUnixSocket: the real tilld serves its local API on the unix
// socket in its data directory (mode 0660), and tillctl records a sale over
// it without the token, which the same sale over TCP needs.
func TestLocalAPIOverUnixSocket(t *testing.T) {
	g := startGuardedTill(t)
	sock := filepath.Join(g.data, "api.sock")
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("tilld's socket %s: %v %v, want a socket of mode 0660", sock, fi, err)
	}
	// No token anywhere tillctl looks: not in the environment, and no
	// tilld.toml of the machine's names a data directory that holds one.
	noToken := append(os.Environ(), "TILLD_TOKEN_FILE="+filepath.Join(t.TempDir(), "none"))
	sell := func(addr, id string) (string, error) {
		cmd := exec.Command(bin("tillctl"), "--addr", addr, "sale", "--id", id, "--card", "2000000000015", "milk:dairy:1:89.90")
		cmd.Env = noToken
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := sell("unix:"+sock, "sock-1")
	if err != nil || !strings.Contains(out, "sale sock-1 recorded as seq") {
		t.Fatalf("tillctl sale over the socket without the token: %v\n%s", err, out)
	}
	out, err = sell(g.addr, "tcp-1")
	if err == nil || !strings.Contains(out, "401") {
		t.Errorf("tillctl sale over TCP without the token: %v\n%s, want 401", err, out)
	}
	// One sale recorded: the socket's.
	if a, err := g.api.Account(context.Background(), "2000000000015"); err != nil || a.Sales != 1 {
		t.Errorf("the card after a sale over the socket and one refused over TCP: %+v %v, want 1 sale", a, err)
	}
}
