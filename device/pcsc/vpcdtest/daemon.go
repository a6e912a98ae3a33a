package vpcdtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The PC/SC client library finds pcscd through a socket whose path it reads
// from PCSCLITE_CSOCK_NAME once, at the process's first PC/SC call. Setting it
// here, before any test runs, gives every test process a daemon of its own:
// packages tested in parallel, and an engineer's pcscd, never meet.
func init() {
	os.Setenv("PCSCLITE_CSOCK_NAME", SocketPath())
}

// SocketPath is where the private daemon of this process listens, and where
// this process's PC/SC calls go.
func SocketPath() string {
	return filepath.Join(runDir(), "pcscd.comm")
}

func runDir() string {
	base := os.TempDir()
	if len(base) > 60 { // a unix socket's path must fit in 108 bytes
		base = "/tmp"
	}
	return filepath.Join(base, fmt.Sprintf("tilld-pcscd-%d", os.Getpid()))
}

// Names of the two readers one vpcd driver instance creates.
const (
	Reader0 = "Virtual PCD 00 00"
	Reader1 = "Virtual PCD 00 01"
)

// How long a daemon may take to start or stop before the test fails.
const daemonTimeout = 10 * time.Second

// Daemon is a pcscd of the test's own, started with Start. pcscd keeps its
// socket and pid file in a fixed directory (/run/pcscd), so it runs in a mount
// namespace of its own where that directory is a private one: this needs root
// (or CAP_SYS_ADMIN) and util-linux's unshare.
type Daemon struct {
	// Port is the TCP port reader Reader0's driver listens on for a virtual
	// card; Reader1's is Port+1.
	Port int

	conf string // reader.conf.d of this daemon

	mu  sync.Mutex
	cmd *exec.Cmd
	out *lockedLog
}

// Start starts a private pcscd with two virtual readers on free ports, and
// stops it when the test ends. It fails the test, saying which Debian package
// to install, when pcscd, the vpcd driver or unshare is missing.
func Start(tb testing.TB) *Daemon {
	tb.Helper()
	for _, need := range []struct{ path, pkg string }{
		{"pcscd", "pcscd"},
		{"unshare", "util-linux"},
	} {
		if _, err := exec.LookPath(need.path); err != nil {
			tb.Fatalf("PC/SC tests need %s: apt-get install -y --no-install-recommends %s (%v)", need.path, need.pkg, err)
		}
	}
	driver, err := findDriver()
	if err != nil {
		tb.Fatalf("PC/SC tests need the vpcd driver: apt-get install -y --no-install-recommends vsmartcard-vpcd (%v)", err)
	}
	port, err := freePortPair()
	if err != nil {
		tb.Fatalf("find free ports for vpcd: %v", err)
	}
	d := &Daemon{Port: port, conf: tb.TempDir()}
	conf := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n", port, driver, port)
	if err := os.WriteFile(filepath.Join(d.conf, "vpcd"), []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	d.start(tb)
	tb.Cleanup(func() { d.Stop(tb) })
	return d
}

// CardAddr is the address a virtual card connects to for reader slot 0 or 1.
func (d *Daemon) CardAddr(slot int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port+slot))
}

// findDriver finds vpcd's IFD handler library.
func findDriver() (string, error) {
	for _, p := range []string{
		"/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
		"/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
		"/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
	} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("libifdvpcd.so not found under /usr/lib/pcsc/drivers/serial")
}

// freePortPair finds a port p such that p and p+1 are both free now.
func freePortPair() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf(":%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no two consecutive free ports after 20 tries")
}

// start runs pcscd and waits until it serves clients.
func (d *Daemon) start(tb testing.TB) {
	tb.Helper()
	dir := runDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	// The mount point must exist in the shared filesystem; mkdir -p is what
	// the pcscd package's own start-up does too.
	script := `mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec pcscd --foreground --info --config "$2"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, d.conf)
	out := &lockedLog{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start pcscd: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		once := sync.OnceFunc(func() { close(ready) })
		defer once()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "daemon ready") {
				once()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(daemonTimeout):
		cmd.Process.Kill()
		cmd.Wait()
		tb.Fatalf("pcscd did not get ready within %v (it runs in a private mount namespace, which needs root); log:\n%s", daemonTimeout, out)
	}
	// pcscd says it is ready a moment before it listens on its socket.
	for deadline := time.Now().Add(daemonTimeout); ; time.Sleep(5 * time.Millisecond) {
		conn, err := net.Dial("unix", SocketPath())
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			cmd.Wait()
			tb.Fatalf("pcscd started but made no socket within %v (%v); log:\n%s", daemonTimeout, err, out)
		}
	}
	d.mu.Lock()
	d.cmd, d.out = cmd, out
	d.mu.Unlock()
}

// Kill ends the daemon with SIGKILL, as a crash would: it cleans nothing up.
func (d *Daemon) Kill(tb testing.TB) {
	tb.Helper()
	d.end(tb, syscall.SIGKILL)
}

// Restart starts the daemon again after Kill or Stop, with the same readers
// and ports.
func (d *Daemon) Restart(tb testing.TB) {
	tb.Helper()
	d.start(tb)
}

// Stop ends the daemon cleanly (SIGTERM). It does nothing if it is not running.
func (d *Daemon) Stop(tb testing.TB) {
	tb.Helper()
	d.end(tb, syscall.SIGTERM)
}

func (d *Daemon) end(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	d.mu.Lock()
	cmd := d.cmd
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(daemonTimeout):
		cmd.Process.Kill()
		<-done
		tb.Errorf("pcscd ignored %v for %v", sig, daemonTimeout)
	}
	if sig == syscall.SIGTERM {
		os.Remove(runDir()) // empty once pcscd cleaned up; Restart makes it again
	}
}

// Log is what the daemon printed so far, for failure messages.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.out == nil {
		return ""
	}
	return d.out.String()
}

// lockedLog collects a process's output, keeping the last 64 KiB.
type lockedLog struct {
	mu  sync.Mutex
	buf []byte
}

const maxLog = 64 << 10

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - maxLog; over > 0 {
		l.buf = append(l.buf[:0], l.buf[over:]...)
	}
	return len(p), nil
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
