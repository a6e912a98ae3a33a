package e2e

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo starts `tilld demo` and runs the commands it prints.
func TestDemo(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(bin("tilld"), "demo", "--listen", addr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("demo exit after SIGTERM: %v", err)
		}
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	var printed []string
	deadline := time.After(20 * time.Second)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early; it printed:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			ready = strings.Contains(l, "Ctrl-C stops the demo")
		case <-deadline:
			t.Fatalf("demo not ready in 20 s; it printed:\n%s", strings.Join(printed, "\n"))
		}
	}
	text := strings.Join(printed, "\n")
	if !strings.Contains(text, "http://"+addr) {
		t.Fatalf("demo did not print its URL http://%s:\n%s", addr, text)
	}
	// The demo says where tillctl finds its API token: use it as printed.
	for _, l := range printed {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "export" {
			for _, kv := range f[1:] {
				if file, ok := strings.CutPrefix(kv, "TILLD_TOKEN_FILE="); ok {
					tokenFiles.Store(addr, file)
				}
			}
		}
	}
	if _, ok := tokenFiles.Load(addr); !ok {
		t.Fatalf("demo did not print TILLD_TOKEN_FILE:\n%s", text)
	}
	// Run every tillctl line the demo suggests, as printed.
	ran := 0
	for _, l := range printed {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "tillctl ") {
			continue
		}
		if i := strings.Index(l, "#"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		out := ctl(t, addr, strings.Fields(l)[1:]...)
		t.Logf("$ %s\n%s", l, out)
		ran++
	}
	if ran < 5 {
		t.Fatalf("demo suggested %d tillctl commands, want at least 5:\n%s", ran, text)
	}
	acct := ctl(t, addr, "account", "2000000000022")
	if !strings.Contains(acct, "Gold") {
		t.Errorf("the demo's regular is not in the Gold tier:\n%s", acct)
	}
}
