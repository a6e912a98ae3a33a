// Package pgtest starts a throwaway PostgreSQL cluster for tests: a temporary
// directory, initdb, a postmaster on a free loopback port with its unix socket in
// that directory, and a fresh database per test. It is how the HQ PostgreSQL store
// is tested against the real server rather than a fake.
//
// A package's tests use one cluster for the whole test binary:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.URL(t) // a new empty database, dropped when t ends
//		...
//	}
//
// The cluster starts on the first call to URL, so tests that do not need it do
// not pay for it, and Main stops it and removes its directory when the tests end.
// When the server binaries are missing, URL fails the test with ErrNoServer and the
// package to install; it never skips.
//
// The server runs with fsync on, as in production, unless Options.NoSync. initdb
// runs with --no-sync: the template files of a cluster that is deleted after the
// test need not reach the disk, and the server's own writes are still synced.
//
// PostgreSQL refuses to run as root. When the tests run as root the directory is
// given to the "postgres" user and initdb and the server run as that user;
// otherwise they run as the current user. The postmaster is a direct child of the
// test binary and, on Linux, gets SIGQUIT if the binary dies, so a killed test run
// leaves no server behind (only its directory under os.TempDir).
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoServer means the PostgreSQL server binaries (initdb, postgres) were not
// found. The error that wraps it names the package to install.
var ErrNoServer = errors.New("PostgreSQL server not found")

// InstallHint is what to install on Debian 12 when ErrNoServer happens.
const InstallHint = "apt-get install -y postgresql-15"

// Superuser is the name of the cluster's superuser; it needs no password on the
// cluster's loopback port and socket.
const Superuser = "postgres"

// Options tune a cluster. The zero value gives a durable server (fsync on) found
// in the standard Debian location.
type Options struct {
	// BinDir is the directory holding initdb and postgres. Default: the newest
	// /usr/lib/postgresql/*/bin that has both, else the directory of initdb on
	// $PATH.
	BinDir string
	// NoSync runs the server with fsync, synchronous_commit and full_page_writes
	// off. Only for benchmarks that measure client code: a commit no longer waits
	// for the disk, so numbers taken with it say nothing about production.
	NoSync bool
	// StartTimeout bounds how long Start waits for the server to accept
	// connections (default 60 s).
	StartTimeout time.Duration
}

// Cluster is a running throwaway PostgreSQL cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	dir  string // owned by the server's user: data/, the socket, server.log
	port int
	cmd  *exec.Cmd

	exited  chan struct{} // closed when the postmaster has exited
	waitErr error         // the postmaster's exit status, set before exited closes

	dbSeq    atomic.Int64
	stopOnce sync.Once
	stopErr  error
}

// Start creates and starts a cluster. Stop it with Stop, which also removes its
// directory.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	bin, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, fmt.Errorf("start test cluster: %w", err)
	}
	cred, err := serverUser()
	if err != nil {
		return nil, fmt.Errorf("start test cluster: %w", err)
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("start test cluster: %w", err)
	}
	c, err := start(ctx, opts, bin, cred, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start test cluster in %s: %w", dir, err)
	}
	return c, nil
}

func start(ctx context.Context, opts Options, bin string, cred *credential, dir string) (*Cluster, error) {
	if cred != nil {
		if err := os.Chown(dir, cred.uid, cred.gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := command(bin, "initdb", cred, dir,
		"-D", data, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, bytes.TrimSpace(out))
	}
	// A free port can be taken by someone else between the probe and the bind:
	// try a few.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c := &Cluster{dir: dir, port: port, exited: make(chan struct{})}
		if lastErr = c.run(ctx, opts, bin, cred); lastErr == nil {
			return c, nil
		}
	}
	return nil, lastErr
}

// run starts the postmaster and waits until it accepts connections.
func (c *Cluster) run(ctx context.Context, opts Options, bin string, cred *credential) error {
	logPath := filepath.Join(c.dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child keeps its own descriptor
	args := []string{
		"-D", filepath.Join(c.dir, "data"),
		"-p", strconv.Itoa(c.port),
		"-k", c.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200",
	}
	if opts.NoSync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := command(bin, "postgres", cred, c.dir, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	c.cmd = cmd

	started := make(chan error, 1)
	go func() {
		// On Linux the death signal fires when the thread that started the
		// child exits, not the process: keep this goroutine on its thread, and
		// never unlock it, until the server is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("postgres: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited: %v\n%s", c.waitErr, tail(logPath, 20))
		case <-ctx.Done():
			c.halt()
			return fmt.Errorf("postgres not accepting connections after %v: %w\n%s", opts.StartTimeout, err, tail(logPath, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL returns the pgx URL of database db over the loopback port.
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Dir returns the cluster's directory: data/, the unix socket and server.log.
func (c *Cluster) Dir() string { return c.dir }

// CreateDatabase creates a new empty database and returns its name.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", c.dbSeq.Add(1))
	if err := c.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// DropDatabase drops database name, closing the connections still open to it.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	if err := c.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// NewDatabase creates a database for t, drops it when t ends, and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name, err := c.CreateDatabase(context.Background())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.DropDatabase(context.Background(), name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c.URL(name)
}

func (c *Cluster) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast shutdown: open sessions are closed) and
// removes the cluster's directory. Calling it again returns the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	c.halt()
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("stop test cluster: %w", err)
	}
	return nil
}

// halt stops the postmaster: fast shutdown, then immediate, then kill, each given
// 20 s. It signals only the process this cluster started.
func (c *Cluster) halt() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		select {
		case <-c.exited:
			return
		default:
		}
		c.cmd.Process.Signal(sig) // fails only when the process is already gone
		select {
		case <-c.exited:
			return
		case <-time.After(20 * time.Second):
		}
	}
}

// The cluster shared by a test binary: started by the first URL, stopped by Main.
var shared struct {
	main    atomic.Bool
	once    sync.Once
	cluster *Cluster
	err     error
}

// Main runs the tests of a package and then stops the cluster URL started, if
// any. Call it from TestMain; it does not return.
func Main(m *testing.M) {
	shared.main.Store(true)
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// URL returns the URL of a new empty database on the test binary's cluster,
// starting the cluster on first use, and drops the database when t ends. It fails
// t when the cluster cannot start, for instance with ErrNoServer.
func URL(t testing.TB) string {
	t.Helper()
	if !shared.main.Load() {
		t.Fatal("pgtest.URL: the package needs func TestMain(m *testing.M) { pgtest.Main(m) }, which stops the cluster")
	}
	shared.once.Do(func() {
		shared.cluster, shared.err = Start(context.Background(), Options{})
	})
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.cluster.NewDatabase(t)
}

// findBinDir returns the directory holding initdb and postgres.
func findBinDir(dir string) (string, error) {
	has := func(d string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("%w in %s: %s", ErrNoServer, dir, InstallHint)
		}
		return dir, nil
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range versions {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("%w (looked in /usr/lib/postgresql/*/bin and $PATH): %s", ErrNoServer, InstallHint)
}

// majorOf returns the major version in /usr/lib/postgresql/<major>/bin, 0 when
// it is not a number.
func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// credential is a user to run the server binaries as, other than the current one.
type credential struct{ uid, gid int }

// command prepares one of the server binaries to run in dir as cred (nil: as
// ourselves), without the PG* variables of the test environment.
func command(bin, name string, cred *credential, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = dir // the server's user may not be able to enter the test's directory
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	runAs(cmd, cred)
	return cmd
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of the file at path, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "server log:\n" + strings.Join(lines, "\n")
}
