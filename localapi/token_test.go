package localapi_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tilld/tilld/localapi"
)

// TestEnsureToken: the token is made once, readable by its owner and group
// only, kept across starts, made anew when deleted (rotation) and replaced
// when every user could read it.
func TestEnsureToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, localapi.TokenFile)
	tok, err := localapi.EnsureToken(dir)
	if err != nil || len(tok) != 64 {
		t.Fatalf("EnsureToken = %q, %v", tok, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("token file: %v %v; want mode 0640", fi.Mode(), err)
	}
	if again, err := localapi.EnsureToken(dir); err != nil || again != tok {
		t.Fatalf("second start: %q %v; want the same token", again, err)
	}
	if read, err := localapi.ReadToken(path); err != nil || read != tok {
		t.Fatalf("ReadToken = %q %v", read, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	replaced, err := localapi.EnsureToken(dir)
	if err != nil || replaced == tok {
		t.Fatalf("a world-readable token was kept: %q %v", replaced, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("replaced token file mode %v", fi.Mode())
	}
	os.Remove(path)
	rotated, err := localapi.EnsureToken(dir)
	if err != nil || rotated == replaced || rotated == tok {
		t.Fatalf("after deleting the file: %q %v; want a new token", rotated, err)
	}
	if err := os.WriteFile(path, []byte("short\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := localapi.ReadToken(path); err == nil {
		t.Fatal("ReadToken accepted a file without a token")
	}
	if fresh, err := localapi.EnsureToken(dir); err != nil || len(fresh) != 64 {
		t.Fatalf("a file without a token was not replaced: %q %v", fresh, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left in the data directory: %v", entries)
	}
}
