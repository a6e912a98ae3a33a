package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/localapi"
)

// hqWithoutRules initialises tillhq in work/hq for the TLS names hosts and
// starts it with no ruleset: `tillhq init` and `systemctl start` with the
// starter ruleset init wrote taken away, so that serve publishes nothing.
func hqWithoutRules(t *testing.T, work string, hosts ...string) *hqProc {
	t.Helper()
	hqData := filepath.Join(work, "hq")
	args := []string{"init", "--data", hqData}
	for _, h := range hosts {
		args = append(args, "--host", h)
	}
	run(t, bin("tillhq"), args...)
	if err := os.Remove(filepath.Join(hqData, "starter-rules.toml")); err != nil {
		t.Fatal(err)
	}
	hqAddr, adminAddr := freeAddr(t), freeAddr(t)
	h := &hqProc{adminURL: "http://" + adminAddr, addr: hqAddr,
		args: []string{"serve", "--data", hqData, "--listen", hqAddr, "--admin", adminAddr}}
	h.start(t)
	return h
}

// exitOf runs a binary and returns its combined output and exit status.
func exitOf(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin(name), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	return "", 0
}

// Enrollment through an address HQ's certificate does not cover is refused
// before the token is sent, with the names it covers and how to re-issue it,
// exit status 76, and nothing in the data directory. After `tillhq cert`
// re-issues the certificate for that address too, the same token enrolls.
func TestEnrollRefusesAnAddressTheCertificateDoesNotCover(t *testing.T) {
	work := t.TempDir()
	h := hqWithoutRules(t, work, "hq.example.com")
	token := lastLine(run(t, bin("tillhq"), "terminal", "add", "--admin", h.adminURL, "--store", "S1", "--terminal", "S1-T1"))
	data := filepath.Join(work, "tilld")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	hqURL := "https://" + h.addr
	out, code := exitOf(t, nil, "tilld", "enroll", "--hq", hqURL, "--token", token, "--data", data)
	t.Logf("tilld enroll --hq %s:\n%s", hqURL, out)
	if code != 76 {
		t.Errorf("exit status %d, want 76", code)
	}
	for _, want := range []string{
		"certificate does not match the address",
		"HQ's certificate covers hq.example.com, not 127.0.0.1",
		"https://hq.example.com:" + strings.Split(h.addr, ":")[1],
		"tillhq cert --data /var/lib/tillhq --host hq.example.com --host 127.0.0.1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tilld enroll's error lacks %q", want)
		}
	}
	if ents, err := os.ReadDir(data); err != nil || len(ents) != 0 {
		t.Errorf("the data directory holds %v after a refused enrollment (%v), want nothing", ents, err)
	}

	// HQ's staff re-issue the certificate from the same CA; tillhq serves it
	// after a restart, and the token, never sent, still works.
	certOut := run(t, bin("tillhq"), "cert", "--data", filepath.Join(work, "hq"), "--host", "hq.example.com", "--host", "127.0.0.1")
	if !strings.Contains(certOut, "now covers hq.example.com, 127.0.0.1 (it covered hq.example.com)") {
		t.Errorf("tillhq cert said:\n%s", certOut)
	}
	h.proc.stop(t)
	h.start(t)
	out = run(t, bin("tilld"), "enroll", "--hq", hqURL, "--token", token, "--data", data)
	if !strings.Contains(out, "enrolled as terminal S1-T1 of store S1") {
		t.Fatalf("enroll after tillhq cert said:\n%s", out)
	}
	if out, code := exitOf(t, nil, "tillhq", "cert", "--data", filepath.Join(work, "nothing"), "--host", "x"); code == 0 || !strings.Contains(out, "tillhq init --data") {
		t.Errorf("tillhq cert without an initialised HQ: status %d:\n%s", code, out)
	}
}

// doctor runs `tillctl doctor` against the tilld at addr with config conf
// and returns its report, which must fail.
func doctor(t *testing.T, addr, dataDir, conf string) string {
	t.Helper()
	out, code := exitOf(t, []string{"TILLD_TOKEN_FILE=" + filepath.Join(dataDir, localapi.TokenFile)},
		"tillctl", "--addr", addr, "doctor", "--config", conf)
	if code == 0 {
		t.Errorf("tillctl doctor exited 0 for a till that cannot sell:\n%s", out)
	}
	return out
}

// line is the line of a doctor report or status that starts with prefix.
func line(out, prefix string) string {
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// A till without rules is told why, by `tillctl doctor` and by
// `tillctl status` (/v1/status hq_problem), for each of three causes with a
// fix of its own: HQ has published no rules yet; HQ's certificate does not
// cover the address the till uses; HQ cannot be reached. Then a ruleset
// published at HQ reaches the till and doctor's rules check passes.
func TestDoctorTellsWhyATillHasNoRules(t *testing.T) {
	work := t.TempDir()
	h := hqWithoutRules(t, work, "127.0.0.1")
	e := h.enrollTill(t, work, "S1", "S1-T1", "")
	data, apiAddr, conf, api := e.data, e.addr, e.conf, e.api
	tilld := start(t, "tilld", "run", "--config", conf)
	ctx := context.Background()
	problem := func(want string) string {
		t.Helper()
		var last string
		waitFor(t, 30*time.Second, "status hq_problem "+want, func() bool {
			st, err := api.Status(ctx)
			last = st.HQProblem
			return err == nil && strings.Contains(st.HQProblem, want)
		})
		return last
	}

	// 1. HQ answers, but nobody has published rules.
	problem("no rules published yet")
	st := ctl(t, apiAddr, "status")
	if l := line(st, "HQ "); !strings.Contains(l, "online") || !strings.Contains(l, "no rules published yet") || !strings.Contains(l, "tillhq rules publish") {
		t.Errorf("tillctl status, HQ line: %q", l)
	}
	rep := doctor(t, apiAddr, data, conf)
	t.Logf("doctor, no rules published:\n%s", rep)
	for _, want := range []string{"HQ is reachable but has published no rules yet", "FAIL rules: at HQ, publish a ruleset: `tillhq rules check FILE`, then `tillhq rules publish FILE`"} {
		if !strings.Contains(rep, want) {
			t.Errorf("doctor lacks %q", want)
		}
	}
	if l := line(rep, "hq "); !strings.Contains(l, "ok") {
		t.Errorf("doctor's hq line %q, want ok: HQ answers", l)
	}

	// 2. HQ goes away.
	h.proc.stop(t)
	problem("HQ unreachable")
	rep = doctor(t, apiAddr, data, conf)
	t.Logf("doctor, HQ down:\n%s", rep)
	for _, want := range []string{"until HQ answers; HQ unreachable: no answer from https://" + h.addr, "FAIL rules: check the network and the hq address",
		"FAIL hq: check the network and the hq setting"} {
		if !strings.Contains(rep, want) {
			t.Errorf("doctor lacks %q", want)
		}
	}
	if strings.Contains(rep, "publish a ruleset") || strings.Contains(rep, "re-issue") {
		t.Errorf("doctor blames rules or the certificate for an HQ that is down")
	}

	// 3. HQ is back, and the till reaches it by a name its certificate lacks.
	h.start(t)
	tilld.stop(t)
	byName := "https://localhost:" + strings.Split(h.addr, ":")[1]
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\nhq = %q\n", data, apiAddr, byName))
	tilld = start(t, "tilld", "run", "--config", conf)
	problem("certificate does not match")
	if l := line(ctl(t, apiAddr, "status"), "HQ "); !strings.Contains(l, "offline") || !strings.Contains(l, "certificate does not match: HQ's certificate covers 127.0.0.1, not localhost") {
		t.Errorf("tillctl status, HQ line: %q", l)
	}
	rep = doctor(t, apiAddr, data, conf)
	t.Logf("doctor, wrong name:\n%s", rep)
	for _, want := range []string{"certificate does not match: HQ's certificate covers 127.0.0.1, not localhost",
		"tillhq cert --data /var/lib/tillhq --host 127.0.0.1 --host localhost", "FAIL hq: set hq in tilld.toml (or enroll again) with an address HQ's certificate covers"} {
		if !strings.Contains(rep, want) {
			t.Errorf("doctor lacks %q", want)
		}
	}
	if strings.Contains(rep, "publish a ruleset") || strings.Contains(rep, "check the network") {
		t.Errorf("doctor blames rules or the network for a certificate that does not match")
	}

	// The fix: reach HQ by its name; publish rules; the till takes them.
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, apiAddr))
	rules := filepath.Join(work, "rules.toml")
	writeFile(t, rules, string(discount.Example))
	run(t, bin("tillhq"), "rules", "publish", "--admin", h.adminURL, rules)
	// tilld reads its configuration at start.
	tilld.stop(t)
	start(t, "tilld", "run", "--config", conf)
	waitFor(t, 30*time.Second, "the till to take HQ's rules", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion > 0 && st.Online && st.HQProblem == ""
	})
	rep, _ = exitOf(t, []string{"TILLD_TOKEN_FILE=" + filepath.Join(data, localapi.TokenFile)}, "tillctl", "--addr", apiAddr, "doctor", "--config", conf)
	for _, name := range []string{"rules ", "hq "} {
		if l := line(rep, name); !strings.Contains(l, " ok ") {
			t.Errorf("after the fix, doctor's %q line: %q\n%s", name, l, rep)
		}
	}
}
