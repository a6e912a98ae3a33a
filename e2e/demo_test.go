package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/internal/readme"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/till"
)

// TestDemo starts `tilld demo` and runs the commands it prints, as printed,
// and opens the HQ address it prints.
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
	// The printed HQ address answers.
	m := regexp.MustCompile(`(?m)^  HQ +(http://\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("demo printed no HQ address:\n%s", text)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the demo's HQ address %s answers %s", m[1], resp.Status)
	}
	// Run the commands it suggests as printed, in one shell, from here: the
	// lines after "Try next" up to the blank line.
	var block strings.Builder
	for i, l := range printed {
		if !strings.HasPrefix(l, "Try next") {
			continue
		}
		for _, l := range printed[i+2:] {
			if strings.TrimSpace(l) == "" {
				break
			}
			block.WriteString(strings.TrimPrefix(l, "  ") + "\n")
		}
		break
	}
	cmds, err := readme.Commands(readme.Block{Text: block.String(), Line: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) < 6 || !strings.HasPrefix(cmds[0].Text, "export TILLD_ADDR="+addr+" TILLD_TOKEN_FILE=") {
		t.Fatalf("demo suggested %d commands, the first %q; want an export of its address and token, then at least 5:\n%s", len(cmds), cmds[0].Text, text)
	}
	r := newReadmeRun(t, ".")
	r.source = "the demo's text"
	r.before[bin("tillhq")+" report sales"] = func() {
		waitTill(t, localapi.NewClient(addr), "the demo's sales at HQ", func(s till.Status) bool { return s.Outbox == 0 })
	}
	r.want[bin("tillctl")+" quote --explain"] = []string{"tier Gold: ", "PRICE", "99.90 RUB", "199.80 RUB", "club-card"}
	r.want[bin("tillhq")+" report sales"] = []string{"DEMO-1", " RUB"}
	for _, c := range cmds {
		r.command(c)
	}
	if len(r.before)+len(r.want) > 0 {
		t.Errorf("the demo no longer prints some commands the test expects: %v %v", r.before, r.want)
	}
	tokenFiles.Store(addr, strings.TrimPrefix(strings.Fields(cmds[0].Text)[2], "TILLD_TOKEN_FILE="))
	acct := ctl(t, addr, "account", "2000000000022")
	if !strings.Contains(acct, "Gold") {
		t.Errorf("the demo's regular is not in the Gold tier:\n%s", acct)
	}
	st, err := localapi.NewClient(addr).Status(context.Background())
	if err != nil || st.Store != "DEMO" {
		t.Errorf("the demo's /v1/status: store %q, %v; want DEMO", st.Store, err)
	}
}
