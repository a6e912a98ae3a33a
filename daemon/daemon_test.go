package daemon

import (
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/ledger"
)

// New that fails after the ledger is open closes what it opened (it used to
// dereference a nil Daemon in its cleanup), and one that cannot listen opens
// no file at all; each error is in its class.
func TestNewFailureReleasesEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	defer func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines left behind by failed News", n-before)
		}
	}()
	data := t.TempDir()
	reader, err := device.Open("front", "fake", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Terminal: "S1-T1", DataDir: data, Listen: "127.0.0.1:0",
		Readers: []Reader{{Name: "front", Type: "fake", Reader: reader}, {Name: "front", Type: "fake", Reader: reader}}}
	if _, err := New(cfg, Options{}); !errors.Is(err, device.ErrDuplicateReader) {
		t.Fatalf("New with two readers of one name: %v, want ErrDuplicateReader", err)
	}
	// The ledger's lock and the address are free again.
	l, err := ledger.Open(filepath.Join(data, "ledger.db"), ledger.Options{Terminal: "S1-T1"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fresh := t.TempDir()
	_, err = New(Config{Terminal: "S1-T1", DataDir: fresh, Listen: ln.Addr().String()}, Options{})
	if !errors.Is(err, ErrListen) || ExitCodeOf(err) != 69 {
		t.Fatalf("New on a taken address: %v (exit %d), want ErrListen (69)", err, ExitCodeOf(err))
	}
	if matches, _ := filepath.Glob(filepath.Join(fresh, "*")); len(matches) != 0 {
		t.Errorf("New that could not listen left %v", matches)
	}
	if _, err := New(Config{Terminal: "S1-T1", DataDir: filepath.Join(fresh, "none"), Listen: "127.0.0.1:0"}, Options{}); ExitCodeOf(err) != 66 {
		t.Errorf("New without a data directory: %v (exit %d), want 66", err, ExitCodeOf(err))
	}
}
