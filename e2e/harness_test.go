// Package e2e runs the real binaries — tillhq, tilld, tillctl — as separate
// processes talking over real sockets, with real serial ptys from socat.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/localapi"
)

var binDir string

func TestMain(m *testing.M) {
	if dir := os.Getenv(floorEnv); dir != "" {
		os.Exit(serveFloor(dir)) // this process is a benchmark's floor server
	}
	dir, err := os.MkdirTemp("", "tilld-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/tilld", "./cmd/tillhq", "./cmd/tillctl")
	cmd.Dir = ".."
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	if pg.cluster != nil {
		if err := pg.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = max(code, 1)
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// pg is the PostgreSQL cluster of the tests that run tillhq on PostgreSQL: the
// first pgDatabase starts it, TestMain stops it. This is what pgtest.Main and
// pgtest.URL do, but pgtest.Main exits without returning, and TestMain must
// still remove the binaries it built.
var pg struct {
	once    sync.Once
	cluster *pgtest.Cluster
	err     error
}

// pgDatabase returns the URL of a new empty database, dropped when t ends.
func pgDatabase(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() { pg.cluster, pg.err = pgtest.Start(context.Background(), pgtest.Options{}) })
	if pg.err != nil {
		t.Fatalf("pgtest: %v", pg.err)
	}
	return pg.cluster.NewDatabase(t)
}

func bin(name string) string { return filepath.Join(binDir, name) }

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a started binary whose output is kept for the failure report.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a binary until the test ends (or stop is called).
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, exec.Command(bin(name), args...))
}

// startCmd runs cmd until the test ends (or stop is called).
func startCmd(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(cmd.Args, " "), p.out)
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 15 s of SIGTERM", p.name)
	}
}

// run runs a command to completion and returns its output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tokenFiles maps a tilld's API address to the file of its API token, for
// ctl: what store IT's tillctl reads from tilld's data directory.
var tokenFiles sync.Map

// apiClient is a local API client of the tilld at addr with data directory
// dataDir: it sends the token tilld keeps there, and ctl does too.
func apiClient(addr, dataDir string) *localapi.Client {
	file := filepath.Join(dataDir, localapi.TokenFile)
	tokenFiles.Store(addr, file)
	c := localapi.NewClient(addr)
	c.TokenFile = file
	return c
}

// ctl runs tillctl against addr, with its token when apiClient knows it, and
// returns its output.
func ctl(t *testing.T, addr string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin("tillctl"), append([]string{"--addr", addr}, args...)...)
	if file, ok := tokenFiles.Load(addr); ok {
		cmd.Env = append(os.Environ(), "TILLD_TOKEN_FILE="+file.(string))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tillctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls cond until it holds or the limit passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ptyPair starts socat with two linked ptys and returns their paths: the reader
// opens the first, the test writes to the second.
func ptyPair(t *testing.T) (readerEnd, scannerEnd string) {
	t.Helper()
	return ptyPairIn(t, t.TempDir(), "")
}

// ptyPairIn is ptyPair with the ptys' links in dir, and socat's pty options
// readerOpts (",group=dialout,perm=0660") on the reader's end.
func ptyPairIn(t *testing.T, dir, readerOpts string) (readerEnd, scannerEnd string) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatal("socat not found; install it (apt-get install -y socat) or run `make test`, which does")
	}
	readerEnd, scannerEnd = filepath.Join(dir, "ttyV0"), filepath.Join(dir, "ttyV1")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "socat", "pty,raw,echo=0"+readerOpts+",link="+readerEnd, "pty,raw,echo=0,link="+scannerEnd)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start socat: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	waitFor(t, 5*time.Second, "socat's ptys", func() bool {
		_, e1 := os.Stat(readerEnd)
		_, e2 := os.Stat(scannerEnd)
		return e1 == nil && e2 == nil
	})
	return readerEnd, scannerEnd
}
