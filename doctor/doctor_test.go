package doctor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/sync/hqclient"
)

// The acceptance test: a till whose serial adapter is unplugged, whose
// HQ is unreachable and whose certificate expired gets a report that names all
// three, each with its fix, and fails.
func TestDoctorNamesEveryProblemWithItsFix(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB0")
	hq := httptest.NewServer(http.NotFoundHandler())
	hqURL := hq.URL
	hq.Close() // nothing listens there any more
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	cert := writeCert(t, dir, "S1-T1", now.AddDate(-1, 0, 0), now.AddDate(0, 0, -3))

	checks := []Check{Serial("front", port, SerialOptions{})}
	checks = append(checks, HQ(hqclient.New(hqURL, hqclient.Options{}), HQOptions{})...)
	checks = append(checks,
		Certificate(cert, CertOptions{Now: func() time.Time { return now }}),
		Disk(dir, DiskOptions{WarnBelow: 1, FailBelow: 1}),
		Ledger(func(context.Context) (LedgerInfo, error) { return LedgerInfo{Events: 42}, nil }),
	)
	rep := Run(context.Background(), checks)
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())

	for _, want := range []string{
		// the three problems, each named...
		"serial front  FAIL",
		"serial port " + port + " missing: is the adapter plugged in?",
		"hq            FAIL",
		"HQ unreachable: no answer from " + hqURL,
		"certificate   FAIL",
		"expired 3 days ago, on 2025-11-17",
		// ...and each with its fix.
		"FAIL serial front: plug the adapter in",
		"FAIL hq: check the network and the hq setting in /etc/tilld/tilld.toml",
		"FAIL certificate: renew it: get a new token from HQ's staff (`tillhq terminal add`), move " + dir + " aside and run `sudo -u tilld tilld enroll --hq HQ_URL --token TOKEN`",
		// the rest is reported too
		"clock         WARN    not measured: no answer from HQ",
		"disk          ok",
		"ledger        ok      intact: 42 events",
		"6 checks: 2 ok, 1 warning, 3 failures.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	err := rep.Err()
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() = %v, want ErrFailed", err)
	}
	if want := "3 of 6 checks failed: serial front, hq, certificate"; !strings.Contains(err.Error(), want) {
		t.Errorf("Err() = %q, want it to contain %q", err, want)
	}
}

func TestRun(t *testing.T) {
	ok := Check{Name: "a", Run: func(context.Context) Result { return Result{Status: OK, Detail: "fine"} }}
	tests := []struct {
		name       string
		check      Check
		wantStatus Status
		wantDetail string
	}{
		{"ok", ok, OK, "fine"},
		{"warn is kept", Check{Name: "w", Run: func(context.Context) Result { return Result{Status: Warn, Detail: "meh", Fix: "x"} }}, Warn, "meh"},
		{"panic is a failure", Check{Name: "p", Run: func(context.Context) Result { panic("boom") }}, Fail, "check panicked: boom"},
		{"nil probe is a failure", Check{Name: "n"}, Fail, "check has no probe"},
		{"zero result is a failure", Check{Name: "z", Run: func(context.Context) Result { return Result{} }}, Fail, `unknown status ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Run(context.Background(), []Check{ok, tt.check})
			if len(rep.Outcomes) != 2 || rep.Outcomes[0].Name != "a" || rep.Outcomes[1].Name != tt.check.Name {
				t.Fatalf("outcomes not in the checks' order: %+v", rep.Outcomes)
			}
			got := rep.Outcomes[1]
			if got.Status != tt.wantStatus || !strings.Contains(got.Detail, tt.wantDetail) {
				t.Errorf("got %s %q, want %s containing %q", got.Status, got.Detail, tt.wantStatus, tt.wantDetail)
			}
			if (rep.Err() != nil) != (tt.wantStatus == Fail) {
				t.Errorf("Err() = %v with status %s", rep.Err(), tt.wantStatus)
			}
		})
	}
}

func TestRunConcurrently(t *testing.T) {
	// Each check waits for the other: run one after the other, they would
	// deadlock until the deadline.
	a, b := make(chan struct{}), make(chan struct{})
	meet := func(mine, theirs chan struct{}) func(context.Context) Result {
		return func(ctx context.Context) Result {
			close(mine)
			select {
			case <-theirs:
				return Result{Status: OK}
			case <-ctx.Done():
				return Result{Status: Fail, Detail: "ran alone"}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep := Run(ctx, []Check{{Name: "a", Run: meet(a, b)}, {Name: "b", Run: meet(b, a)}})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestRunGivesUpOnAHungCheck(t *testing.T) {
	release := make(chan struct{})
	returned := make(chan struct{})
	hung := Check{Name: "hung", Run: func(context.Context) Result {
		defer close(returned)
		<-release // ignores its context, as a buggy probe might
		return Result{Status: OK}
	}}
	fast := Check{Name: "fast", Run: func(context.Context) Result { return Result{Status: OK, Detail: "quick"} }}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep := Run(ctx, []Check{fast, hung})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v with a 100ms deadline", took)
	}
	if rep.Outcomes[0].Status != OK {
		t.Errorf("fast check: %+v", rep.Outcomes[0])
	}
	if o := rep.Outcomes[1]; o.Name != "hung" || o.Status != Fail || !strings.Contains(o.Detail, "no answer in time") {
		t.Errorf("hung check: %+v", o)
	}
	close(release)
	<-returned // no goroutine outlives the test
}

func TestPrint(t *testing.T) {
	rep := Report{Outcomes: []Outcome{
		{Name: "disk", Result: Result{Status: OK, Detail: "/var/lib/tilld: 3.0 GiB free"}},
		{Name: "rules", Result: Result{Status: Warn, Detail: "version 3,\nconfirmed 2 days ago", Fix: "check hq"}},
		{Name: "serial front", Result: Result{Status: Fail, Detail: "missing"}},
	}}
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	want := `CHECK         STATUS  DETAIL
disk          ok      /var/lib/tilld: 3.0 GiB free
rules         WARN    version 3,; confirmed 2 days ago
serial front  FAIL    missing

3 checks: 1 ok, 1 warning, 1 failure.

To fix:
  WARN rules: check hq
  FAIL serial front: (no fix suggested: see the detail above)
`
	if out.String() != want {
		t.Errorf("Print:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	if err := (Report{Outcomes: rep.Outcomes[:1]}).Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "To fix") || !strings.HasSuffix(out.String(), "1 checks: 1 ok, 0 warnings, 0 failures.\n") {
		t.Errorf("all-ok report:\n%s", out.String())
	}

	if err := rep.Print(failingWriter{}); err == nil {
		t.Error("Print to a failing writer returned nil")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// writeCert writes a self-signed certificate for cn valid in [from, until] to a
// PEM file in dir, after a private key block (as an enrolled terminal's
// combined file might have), and returns its path.
func writeCert(t testing.TB, dir, cn string, from, until time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: until}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	path := filepath.Join(dir, cn+".pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkGoroutines fails t when goroutines started during the test outlive it.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}
