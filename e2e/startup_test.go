package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/ledgertest"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/till"
)

// tilldFails runs `tilld run --config conf` (as cred's user when not nil),
// wants it to exit within 15 s with code, and returns its last line: the one
// message that says what failed. A panic, a hang or another code fails the test.
func tilldFails(t *testing.T, cred *syscall.Credential, code int, conf string) string {
	t.Helper()
	tilld := bin("tilld")
	if cred != nil {
		tilld = worldExecutable(t, tilld)
	}
	cmd := exec.Command(tilld, "run", "--config", conf)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			t.Fatalf("tilld was still starting 15 s later; it stopped on SIGTERM:\n%s", out)
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("tilld hangs: still starting 15 s later, and deaf to SIGTERM:\n%s", out)
		}
	}
	text := out.String()
	if strings.Contains(text, "panic:") || strings.Contains(text, "goroutine ") {
		t.Fatalf("tilld panicked:\n%s", text)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != code {
		t.Fatalf("tilld exited with %v, want status %d:\n%s", err, code, text)
	}
	last := lastLine(text)
	if !strings.HasPrefix(last, "tilld: ") {
		t.Fatalf("tilld's last line is not its message:\n%s", text)
	}
	return last
}

// worldExecutable copies a binary where any user may run it (the harness
// builds into a directory only root may enter).
func worldExecutable(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// wants fails the test when msg does not say each of words.
func wants(t *testing.T, msg string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("tilld's message does not say %q:\n%s", w, msg)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on dir until the test ends. The
// test fails, saying why, when it cannot (not root, or no CAP_SYS_ADMIN): a
// full or read-only disk cannot be tested without one.
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("cannot mount a tmpfs on %s for a full or read-only disk (run the tests as root, with CAP_SYS_ADMIN): %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fillDisk takes every free byte of the file system of dir with a file it
// returns the path of.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	filler, err := ledgertest.FillDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	return filler
}

// Every failure before tilld serves ends with one line that says what failed,
// where and what to do, and the exit status of its class (daemon.ExitCodes,
// `tilld --help`): never a panic, never a hang.
func TestStartupFailures(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("these cases mount file systems and run tilld as another user: run the e2e tests as root (make test does)")
	}
	// conf writes a stand-alone till's configuration for data.
	conf := func(t *testing.T, data, listen string) string {
		t.Helper()
		c := filepath.Join(filepath.Dir(data), "tilld.toml")
		writeFile(t, c, fmt.Sprintf("terminal = \"S1-T1\"\ndata_dir = %q\nlisten = %q\n", data, listen))
		return c
	}
	newLedger := func(t *testing.T, data string) {
		t.Helper()
		l, err := ledger.Open(filepath.Join(data, "ledger.db"), ledger.Options{Terminal: "S1-T1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	work := func(t *testing.T) (dir, data string) {
		dir = t.TempDir()
		data = filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o750); err != nil {
			t.Fatal(err)
		}
		return dir, data
	}

	t.Run("port in use", func(t *testing.T) {
		_, data := work(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		msg := tilldFails(t, nil, 69, conf(t, data, ln.Addr().String()))
		wants(t, msg, "local API cannot listen", ln.Addr().String(), "address already in use", "ss -ltnp", "listen in tilld.toml")
		if _, err := os.Stat(filepath.Join(data, "ledger.db")); err == nil {
			t.Error("tilld created a ledger though it could not serve")
		}
	})
	t.Run("missing data dir", func(t *testing.T) {
		dir, _ := work(t)
		data := filepath.Join(dir, "gone")
		msg := tilldFails(t, nil, 66, conf(t, data, freeAddr(t)))
		wants(t, msg, "data directory does not exist", data, "install -d", "mount")
		if _, err := os.Stat(data); err == nil {
			t.Error("tilld created the missing data directory")
		}
	})
	t.Run("data dir is a file", func(t *testing.T) {
		dir, _ := work(t)
		data := filepath.Join(dir, "file")
		writeFile(t, data, "x")
		wants(t, tilldFails(t, nil, 66, conf(t, data, freeAddr(t))), data, "not a directory")
	})
	t.Run("not enrolled", func(t *testing.T) {
		dir, data := work(t)
		c := filepath.Join(dir, "tilld.toml")
		writeFile(t, c, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, freeAddr(t)))
		wants(t, tilldFails(t, nil, 67, c), "not enrolled", filepath.Join(data, "identity"), "tilld enroll", "stand-alone")
	})
	t.Run("not enrolled with an https HQ", func(t *testing.T) {
		dir, data := work(t)
		c := filepath.Join(dir, "tilld.toml")
		writeFile(t, c, fmt.Sprintf("terminal = \"S1-T1\"\ndata_dir = %q\nlisten = %q\nhq = \"https://127.0.0.1:1\"\nhq_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n", data, freeAddr(t)))
		wants(t, tilldFails(t, nil, 67, c), "not enrolled", "accepts only enrolled tills", "tilld enroll")
	})
	t.Run("config error", func(t *testing.T) {
		dir, data := work(t)
		c := filepath.Join(dir, "tilld.toml")
		writeFile(t, c, fmt.Sprintf("terminal = \"S1-T1\"\ndata_dir = %q\nlisen = \"x\"\n", data))
		wants(t, tilldFails(t, nil, 78, c), c, "lisen")
	})
	t.Run("corrupt ledger", func(t *testing.T) {
		_, data := work(t)
		writeFile(t, filepath.Join(data, "ledger.db"), strings.Repeat("not a ledger ", 5000))
		wants(t, tilldFails(t, nil, 65, conf(t, data, freeAddr(t))), "corrupt", "tillctl ledger verify --file")
	})
	t.Run("ledger held by another process", func(t *testing.T) {
		_, data := work(t)
		l, err := ledger.Open(filepath.Join(data, "ledger.db"), ledger.Options{Terminal: "S1-T1"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		wants(t, tilldFails(t, nil, 75, conf(t, data, freeAddr(t))), "locked", "another tilld")
	})
	t.Run("data dir of another user", func(t *testing.T) {
		dir, data := work(t)
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		c := conf(t, data, freeAddr(t))
		// The data directory is root's; tilld runs as nobody.
		msg := tilldFails(t, &syscall.Credential{Uid: 65534, Gid: 65534}, 77, c)
		wants(t, msg, data, "belongs to root", "chown -R", "runuser")
	})
	t.Run("ledger of another user", func(t *testing.T) {
		_, data := work(t)
		newLedger(t, data)
		path := filepath.Join(data, "ledger.db")
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		// Root could write it, but would leave the service user files it cannot open.
		msg := tilldFails(t, nil, 77, conf(t, data, freeAddr(t)))
		wants(t, msg, path, "belongs to", "tilld runs as root", "chown -R root "+data)
	})
	t.Run("read-only file system", func(t *testing.T) {
		_, data := work(t)
		mountTmpfs(t, data, 4<<20)
		newLedger(t, data)
		if out, err := exec.Command("mount", "-o", "remount,ro", data).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
		defer exec.Command("mount", "-o", "remount,rw", data).Run()
		msg := tilldFails(t, nil, 74, conf(t, data, freeAddr(t)))
		wants(t, msg, "read-only file system", data, "remount it read-write")
	})
	t.Run("full disk without a ledger", func(t *testing.T) {
		_, data := work(t)
		mountTmpfs(t, data, 1<<20)
		filler := fillDisk(t, data)
		c := conf(t, data, freeAddr(t))
		msg := tilldFails(t, nil, 73, c)
		wants(t, msg, "disk is full", data, "df -h")
		if _, err := os.Stat(filepath.Join(data, "ledger.db")); err == nil {
			t.Error("tilld left a ledger file behind on a full disk (it would be refused as corrupt next time)")
		}
		// Space returns: it starts.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		p := start(t, "tilld", "run", "--config", c)
		api := localapi.NewClient(strings.TrimPrefix(lastListen(t, c), "listen = "))
		waitFor(t, 15*time.Second, "tilld to serve once space returned", func() bool {
			_, err := api.Status(context.Background())
			return err == nil
		})
		p.stop(t)
	})
}

// lastListen reads the listen address back from a configuration conf wrote.
func lastListen(t *testing.T, conf string) string {
	t.Helper()
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "listen = "); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatalf("no listen in %s", conf)
	return ""
}

// A cached ruleset damaged on the disk (its bytes no longer match their
// SHA-256) no longer stops tilld: it starts, serves its status saying why it
// cannot price, and answers quotes and sales with 503 rules_refused.
func TestStartWithDamagedRules(t *testing.T) {
	s := newStandalone(t, filepath.Join(t.TempDir(), "data"))
	if err := ledgertest.DamageRuleset(s.ledger, 1); err != nil {
		t.Fatal(err)
	}
	start(t, "tilld", "run", "--config", s.conf)
	ctx := context.Background()
	var st till.Status
	waitFor(t, 15*time.Second, "tilld to serve", func() bool {
		var err error
		st, err = s.api.Status(ctx)
		return err == nil
	})
	if st.RulesetVersion != 0 || !strings.Contains(st.RulesError, "cached ruleset version 1") || !strings.Contains(st.RulesError, "nothing is priced") {
		t.Errorf("status with the only ruleset damaged: version %d, rules_error %q", st.RulesetVersion, st.RulesError)
	}
	var apiErr *localapi.APIError
	if _, err := s.api.Quote(ctx, basket("2000000000015", 0)); !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable || apiErr.Code != "rules_refused" {
		t.Errorf("quote with the only ruleset damaged: %v, want 503 rules_refused", err)
	}
	if _, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "s1", Basket: basket("", 0)}); !errors.As(err, &apiErr) || apiErr.Code != "rules_refused" {
		t.Errorf("sale with the only ruleset damaged: %v, want 503 rules_refused", err)
	}
	if rep, err := s.api.LedgerVerify(ctx); err != nil || rep.OK || !strings.Contains(fmt.Sprint(rep.Problems), "version 1") {
		t.Errorf("verify with the ruleset damaged: %+v %v", rep, err)
	}
}

// tilld restarted on a full disk, with sales in its journal that the disk
// would not take into the ledger file at the stop: it starts at once, serves
// status and quotes, refuses sales only while nothing fits, stops on SIGTERM,
// and sells again once space returns, without a restart. Every sale it
// acknowledged is in the ledger at the end.
func TestStartOnFullDisk(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mountTmpfs(t, data, 2<<20)
	s := newStandalone(t, data)
	p := s.start(t)
	ctx := context.Background()
	acked := map[string]uint64{}
	sale := func(id string) error {
		res, _, err := s.api.Sale(ctx, till.SaleRequest{ID: id, Basket: basket("2000000000015", 1000)})
		if err == nil {
			acked[id] = res.Seq
		}
		return err
	}
	// sellUntilFull sells until the disk refuses, and returns the refused id.
	sellUntilFull := func(prefix string) string {
		t.Helper()
		for i := range 5000 {
			id := fmt.Sprint(prefix, i)
			err := sale(id)
			var apiErr *localapi.APIError
			switch {
			case err == nil:
			case errors.As(err, &apiErr) && apiErr.Code == "disk_full":
				return id
			default:
				t.Fatalf("sale %s: %v", id, err)
			}
		}
		t.Fatal("5000 sales fit on a full 2 MiB disk")
		return ""
	}
	for i := range 10 {
		if err := sale(fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}
	filler := fillDisk(t, data)
	sellUntilFull("full-")
	p.stop(t) // a clean stop, though the journal could not be moved into the file
	if inFile, err := ledgertest.FileLastSeq(s.ledger); err != nil || inFile >= uint64(len(acked)) {
		t.Fatalf("the file holds seq %d of %d (%v): the stop's checkpoint went through, so this test tests nothing", inFile, len(acked), err)
	}

	p = start(t, "tilld", "run", "--config", s.conf)
	var st till.Status
	waitFor(t, 15*time.Second, "tilld to serve on the full disk", func() bool {
		var err error
		st, err = s.api.Status(ctx)
		return err == nil
	})
	if st.LastSeq != uint64(len(acked)) || st.RulesetVersion != 1 {
		t.Errorf("status on the full disk: last seq %d, rules %d; want %d and 1", st.LastSeq, st.RulesetVersion, len(acked))
	}
	if q, err := s.api.Quote(ctx, basket("2000000000015", 1000)); err != nil || q.Total == 0 {
		t.Errorf("quote on the full disk: %+v %v", q, err)
	}
	refused := sellUntilFull("restarted-")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := sale(refused); err != nil {
		t.Fatalf("the refused sale once space returned: %v", err)
	}
	for i := range 10 {
		if err := sale(fmt.Sprint("after-", i)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.api.LedgerVerify(ctx)
	if err != nil || !rep.OK || rep.LastSeq != uint64(len(acked)) {
		t.Errorf("verify once space returned: %+v %v; want OK with %d events", rep, err, len(acked))
	}
	p.stop(t)
	// Every acknowledged sale is in the file, under the seq it was given.
	l, err := ledger.Open(s.ledger, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var evs []event.Event
	if err := l.Events(1, func(e event.Event) error { evs = append(evs, e); return nil }); err != nil || len(evs) != len(acked) {
		t.Fatalf("events: %d %v, want %d", len(evs), err, len(acked))
	}
	for id, seq := range acked {
		if !strings.Contains(string(evs[seq-1].Body), fmt.Sprintf("%q", id)) {
			t.Errorf("sale %s was acknowledged as seq %d, which holds %s", id, seq, evs[seq-1].Body)
		}
	}
	t.Logf("%d sales acknowledged around a full disk and a restart on it", len(acked))
}
