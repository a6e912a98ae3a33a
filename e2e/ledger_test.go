package e2e

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// standalone is a tilld without HQ whose ledger was given the example rules,
// signed, before it started (as if HQ had sent them earlier); its config
// carries the key they verify with.
type standalone struct {
	conf, ledger string
	api          *localapi.Client
	addr         string
}

func newStandalone(t *testing.T, dataDir string) *standalone {
	t.Helper()
	return newStandaloneWith(t, dataDir, discount.Example, nil)
}

// newStandaloneWith is newStandalone with the rules file rules, and prep (when
// not nil) run on the ledger before tilld starts.
func newStandaloneWith(t *testing.T, dataDir string, rules []byte, prep func(*ledger.Ledger) error) *standalone {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	s := &standalone{ledger: filepath.Join(dataDir, "ledger.db"), addr: freeAddr(t)}
	l, err := ledger.Open(s.ledger, ledger.Options{Terminal: "S1-T1"})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	if err := l.PutRuleset(1, rules, wire.SignRules(priv, rules)); err != nil {
		t.Fatal(err)
	}
	if err := l.ActivateRuleset(1); err != nil {
		t.Fatal(err)
	}
	if prep != nil {
		if err := prep(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s.conf = filepath.Join(filepath.Dir(dataDir), "tilld.toml")
	writeFile(t, s.conf, fmt.Sprintf("terminal = \"S1-T1\"\ndata_dir = %q\nlisten = %q\nhq_key = %q\n", dataDir, s.addr, wire.FormatPublicKey(pub)))
	s.api = apiClient(s.addr, dataDir)
	return s
}

func (s *standalone) start(t *testing.T) *proc {
	t.Helper()
	p := start(t, "tilld", "run", "--config", s.conf)
	waitFor(t, 15*time.Second, "tilld to answer", func() bool {
		st, err := s.api.Status(context.Background())
		return err == nil && st.RulesetVersion == 1
	})
	return p
}

// basket is two lines, the second priced 1000.00 + extra kopecks.
func basket(card string, extra int64) pos.Basket {
	return pos.Basket{Card: card, Lines: []pos.Line{
		{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 9990},
		{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: money.Amount(100000 + extra)},
	}}
}

// requireLedgerCmd fails the test when tillctl was built without `ledger`.
func requireLedgerCmd(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(bin("tillctl"), "ledger", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "verify") {
		t.Fatalf("tillctl has no `ledger` command: cmd/tillctl must add ledgerCmd(&addr, stdout) to its root (%v):\n%s", err, out)
	}
}

// ctlFails runs tillctl and returns its output, failing the test if it exits 0.
func ctlFails(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin("tillctl"), args...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("tillctl %s: %v, want it to fail\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A ledger file that is not readable stops tilld at once with a message that
// names the file and the command that tells what is wrong; nothing touches the
// file.
func TestLedgerCorruptRefusesStart(t *testing.T) {
	requireLedgerCmd(t)
	src := filepath.Join(t.TempDir(), "src.db")
	l, err := ledger.Open(src, ledger.Options{Terminal: "S1-T1", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		id := fmt.Sprint("s", i)
		_, err := l.RecordSale(ledger.SaleRequest{ID: id, Digest: sha256.Sum256([]byte(id)), Card: "2000000000015"},
			func(pos.Account, time.Time) (ledger.Priced, error) {
				return ledger.Priced{Body: []byte(`{"id":"` + id + `","card":"2000000000015"}`), Spend: 100}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	good, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(4, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name    string
		content []byte
	}{
		{"truncated to half", good[:len(good)/2]},
		{"random bytes", garbage},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			data := filepath.Join(work, "data")
			os.MkdirAll(data, 0o750)
			path := filepath.Join(data, "ledger.db")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(work, "tilld.toml")
			writeFile(t, conf, fmt.Sprintf("terminal = \"S1-T1\"\ndata_dir = %q\nlisten = %q\n", data, freeAddr(t)))

			cmd := exec.Command(bin("tilld"), "run", "--config", conf)
			done := make(chan struct{})
			var out []byte
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("tilld still running 15 s after start on a damaged ledger:\n%s", out)
			}
			if err == nil {
				t.Fatalf("tilld exited 0 on a damaged ledger:\n%s", out)
			}
			for _, want := range []string{path, "corrupt or truncated", "tillctl ledger verify --file " + path, "backup"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("tilld's message does not say %q:\n%s", want, out)
				}
			}
			// The recovery command it names runs and says what is wrong.
			vout := ctlFails(t, "ledger", "verify", "--file", path)
			if !strings.Contains(vout, path) || !strings.Contains(vout, "corrupt or truncated") {
				t.Errorf("tillctl ledger verify --file said:\n%s", vout)
			}
			if got, _ := os.ReadFile(path); string(got) != string(tt.content) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// A real full disk (a 2 MiB tmpfs under the data directory): sales are refused
// with a 503 a cashier understands, quotes and status keep working, nothing
// partial is stored, and sales resume once space is freed.
func TestLedgerDiskFull(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the full disk (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", data).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", data, err, out)
		}
	})
	s := newStandalone(t, data)
	p := s.start(t)
	ctx := context.Background()
	sale := func(id string) (till.SaleResult, error) {
		res, _, err := s.api.Sale(ctx, till.SaleRequest{ID: id, Basket: basket("2000000000015", 1000)})
		return res, err
	}
	for i := range 20 {
		if _, err := sale(fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Fill the file system but for a few pages.
	filler := filepath.Join(data, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	fi, _ := os.Stat(filler)
	if err := os.Truncate(filler, fi.Size()-48<<10); err != nil {
		t.Fatal(err)
	}

	var refused string
	var apiErr *localapi.APIError
	last := uint64(20)
	for i := range 5000 {
		id := fmt.Sprint("full-", i)
		res, err := sale(id)
		if err != nil {
			if !errors.As(err, &apiErr) {
				t.Fatalf("sale %s: %v", id, err)
			}
			refused = id
			break
		}
		last = res.Seq
	}
	if refused == "" {
		t.Fatal("5000 sales fit in 48 KiB: the disk never filled")
	}
	t.Logf("the disk filled after seq %d: %d %s: %s", last, apiErr.Status, apiErr.Code, apiErr.Message)
	if apiErr.Status != http.StatusServiceUnavailable || apiErr.Code != "disk_full" ||
		!strings.Contains(apiErr.Message, "NOT saved") || !strings.Contains(apiErr.Message, "disk is full") || strings.Contains(apiErr.Message, data) {
		t.Errorf("answer on a full disk: %d %s %q; want 503 disk_full telling the cashier the sale was not saved", apiErr.Status, apiErr.Code, apiErr.Message)
	}
	if q, err := s.api.Quote(ctx, basket("2000000000015", 1000)); err != nil || q.Total == 0 {
		t.Errorf("quote on a full disk: %+v %v", q, err)
	}
	if st, err := s.api.Status(ctx); err != nil || st.LastSeq != last {
		t.Errorf("status on a full disk: %+v %v; want last seq %d", st, err, last)
	}
	if rep, err := s.api.LedgerVerify(ctx); err != nil || !rep.OK || rep.LastSeq != last {
		t.Errorf("verify on a full disk: %+v %v", rep, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	res, err := sale(refused)
	if err != nil || res.Seq != last+1 {
		t.Fatalf("the refused sale once space returned: %+v %v; want seq %d", res, err, last+1)
	}
	for i := range 20 {
		if _, err := sale(fmt.Sprint("after-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := s.api.LedgerVerify(ctx); err != nil || !rep.OK || rep.LastSeq != last+21 {
		t.Errorf("verify after the disk was freed: %+v %v", rep, err)
	}
	p.stop(t)
}

// tillctl ledger verify and export through the running tilld, and verify,
// export, prune and compact on the file once it is stopped.
func TestLedgerTools(t *testing.T) {
	requireLedgerCmd(t)
	s := newStandalone(t, filepath.Join(t.TempDir(), "data"))
	p := s.start(t)
	ctx := context.Background()
	for i := range 20 {
		if _, _, err := s.api.Sale(ctx, till.SaleRequest{ID: fmt.Sprint("s", i), Basket: basket("2000000000015", int64(i))}); err != nil {
			t.Fatal(err)
		}
	}

	if out := ctl(t, s.addr, "ledger", "verify"); !strings.Contains(out, "OK") || !strings.Contains(out, "20 events") {
		t.Errorf("tillctl ledger verify:\n%s", out)
	}
	var rep localapi.VerifyReport
	if err := json.Unmarshal([]byte(ctl(t, s.addr, "--json", "ledger", "verify")), &rep); err != nil || !rep.OK || rep.Events != 20 {
		t.Errorf("tillctl --json ledger verify: %+v %v", rep, err)
	}
	checkJSONLines(t, ctl(t, s.addr, "ledger", "export"), 1, 20)
	if out := ctlFails(t, "ledger", "verify", "--file", s.ledger); !strings.Contains(out, "another tilld") {
		t.Errorf("tillctl ledger verify --file while tilld runs:\n%s", out)
	}
	if out := ctlFails(t, "ledger", "compact", "--file", s.ledger); !strings.Contains(out, "another tilld") {
		t.Errorf("tillctl ledger compact while tilld runs:\n%s", out)
	}
	p.stop(t)

	if out := ctl(t, s.addr, "ledger", "verify", "--file", s.ledger, "--config", s.conf); !strings.Contains(out, "OK") {
		t.Errorf("tillctl ledger verify --file:\n%s", out)
	}
	checkJSONLines(t, ctl(t, s.addr, "ledger", "export", "--file", s.ledger, "--from", "11"), 11, 10)
	// HQ acknowledged nothing: nothing may be pruned, however old.
	time.Sleep(10 * time.Millisecond)
	if out := ctl(t, s.addr, "ledger", "prune", "--file", s.ledger, "--older-than", "1ms"); !strings.Contains(out, "pruned 0 events") {
		t.Errorf("tillctl ledger prune:\n%s", out)
	}
	if out := ctl(t, s.addr, "ledger", "compact", "--file", s.ledger); !strings.Contains(out, "compacted") || !strings.Contains(out, "20 events") {
		t.Errorf("tillctl ledger compact:\n%s", out)
	}

	s.start(t)
	res, code, err := s.api.Sale(ctx, till.SaleRequest{ID: "after", Basket: basket("", 1)})
	if err != nil || code != http.StatusCreated || res.Seq != 21 {
		t.Errorf("a sale after the compaction: %d %+v %v", code, res, err)
	}
	if res, code, err := s.api.Sale(ctx, till.SaleRequest{ID: "s3", Basket: basket("2000000000015", 3)}); err != nil || code != http.StatusOK || res.Seq != 4 {
		t.Errorf("a retry of a sale from before the compaction: %d %+v %v", code, res, err)
	}
}

// checkJSONLines checks an export: n events from seq first, chained.
func checkJSONLines(t *testing.T, out string, first uint64, n int) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	var prev event.Event
	got := 0
	for sc.Scan() {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %d: %v\n%s", got+1, err, out)
		}
		if got == 0 && e.Seq != first {
			t.Errorf("export starts at seq %d, want %d", e.Seq, first)
		}
		if got > 0 {
			if err := event.Verify(prev.Seq, prev.Hash, &e); err != nil {
				t.Errorf("export: %v", err)
			}
		}
		prev = e
		got++
	}
	if got != n {
		t.Errorf("export has %d events, want %d", got, n)
	}
}
