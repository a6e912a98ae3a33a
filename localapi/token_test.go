package localapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// TestClientRereadsTokenFile: a client with a TokenFile reads it once, not
// before every request, and reads it again when tilld refuses the token
// (made anew), asking once more with the same body.
func TestClientRereadsTokenFile(t *testing.T) {
	dir := t.TempDir()
	tok, err := localapi.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	want := tok
	var seen []string // each request's token and body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		seen = append(seen, got[:4]+" "+string(body))
		if got != want {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := localapi.NewClient(srv.URL)
	c.TokenFile = filepath.Join(dir, localapi.TokenFile)
	post := func(n int) (int, error) {
		return c.Do(context.Background(), http.MethodPost, "/v1/x", map[string]int{"n": n}, nil)
	}
	if code, err := post(1); err != nil || code != http.StatusOK {
		t.Fatalf("first request: %d %v", code, err)
	}
	// The file changes (say, to nothing) while the token stands: the client
	// keeps the token it read.
	if err := os.WriteFile(c.TokenFile, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if code, err := post(2); err != nil || code != http.StatusOK {
		t.Fatalf("second request: %d %v", code, err)
	}
	// tilld makes a new token: the client is refused once, reads the file
	// and asks again with the same body.
	os.Remove(c.TokenFile)
	fresh, err := localapi.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	want = fresh
	mu.Unlock()
	if code, err := post(3); err != nil || code != http.StatusOK {
		t.Fatalf("after a new token: %d %v", code, err)
	}
	old, now := tok[:4], fresh[:4]
	wantSeen := []string{old + ` {"n":1}`, old + ` {"n":2}`, old + ` {"n":3}`, now + ` {"n":3}`}
	if !slices.Equal(seen, wantSeen) {
		t.Errorf("requests seen %q, want %q", seen, wantSeen)
	}
	// A token that is simply wrong is refused without a loop.
	mu.Lock()
	want = strings.Repeat("x", 64)
	mu.Unlock()
	if code, err := post(4); code != http.StatusUnauthorized || err == nil {
		t.Errorf("a refused token: %d %v, want 401 and an error", code, err)
	}
	if len(seen) != len(wantSeen)+1 {
		t.Errorf("a refused token with an unchanged file asked %d times, want once", len(seen)-len(wantSeen))
	}
}
