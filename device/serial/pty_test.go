package serial

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ptyPair is two pseudo-terminals joined by socat, as a null-modem cable would
// join two serial ports: bytes written to one link come out of the other. The
// links live in a test's temporary directory, so socat can be stopped (the port
// disappears, like an unplugged USB adapter) and started again on the same paths.
type ptyPair struct {
	// Host is the end the test writes to, Device the end the reader opens.
	Host, Device string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *strings.Builder // socat's log, for failure messages
}

// newPTYPair starts socat with links in dir and stops it at the end of the test.
func newPTYPair(t *testing.T, dir string) *ptyPair {
	t.Helper()
	p := &ptyPair{Host: filepath.Join(dir, "ttyV0"), Device: filepath.Join(dir, "ttyV1")}
	p.start(t)
	t.Cleanup(func() { p.stop(t) })
	return p
}

// start runs socat and waits until it moves data between the two ptys.
func (p *ptyPair) start(t *testing.T) {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Fatal("socat not found; install it: apt-get install -y socat")
	}
	// A killed socat leaves its links behind, pointing at pty numbers another
	// process may get next: never reuse them.
	os.Remove(p.Host)
	os.Remove(p.Device)
	cmd := exec.Command(socat, "-d", "-d",
		"pty,raw,echo=0,link="+p.Host, "pty,raw,echo=0,link="+p.Device)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start socat: %v", err)
	}
	out := new(strings.Builder)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			p.mu.Lock()
			out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "starting data transfer loop") {
				once()
			}
		}
		once()
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("socat did not start within 5s:\n%s", p.log())
	}
	for _, link := range []string{p.Host, p.Device} {
		if _, err := os.Stat(link); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("socat started but %v:\n%s", err, p.log())
		}
	}
	p.mu.Lock()
	p.cmd, p.out = cmd, out
	p.mu.Unlock()
}

// stop ends socat the way a clean unplug looks: the ptys and their links go away.
func (p *ptyPair) stop(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("socat ignored SIGTERM for 5s")
	}
}

func (p *ptyPair) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// openHost opens the test's end of the pair for writing.
func (p *ptyPair) openHost(t *testing.T) io.WriteCloser {
	t.Helper()
	f, err := os.OpenFile(p.Host, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open %s: %v\nsocat log:\n%s", p.Host, err, p.log())
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// writeSlowly writes s one byte per write, so the reader gets it in pieces.
func writeSlowly(t *testing.T, w io.Writer, s string) {
	t.Helper()
	for i := range len(s) {
		if _, err := w.Write([]byte{s[i]}); err != nil {
			t.Fatalf("write byte %d of %q: %v", i, s, err)
		}
	}
}
