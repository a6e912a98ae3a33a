package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// runLedger runs `tillctl ledger ARGS` as the root command would, without a
// tilld: only the --file forms and argument errors.
func runLedger(t *testing.T, args ...string) (string, error) {
	t.Helper()
	// Nothing listens: the --file forms must not call it.
	client := func() *localapi.Client { return localapi.NewClient("127.0.0.1:1") }
	var out bytes.Buffer
	cmd := ledgerCmd(client, &out)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestLedgerFileCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(path, ledger.Options{Terminal: "S1-T1", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		id := fmt.Sprint("s", i)
		_, err := l.RecordSale(ledger.SaleRequest{ID: id, Digest: sha256.Sum256([]byte(id)), Card: "2000000000015"},
			func(pos.Account, time.Time) (ledger.Priced, error) {
				return ledger.Priced{Body: []byte(`{"id":"` + id + `","card":"2000000000015"}`), Spend: 100, PointsDelta: 1}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		wantErr string // substring of the error, "" for success
		want    []string
	}{
		{"verify", []string{"verify", "--file", path}, "", []string{"S1-T1: OK", "5 events (seqs 1..5)", "1 account"}},
		{"export", []string{"export", "--file", path, "--from", "4"}, "", []string{`"seq":4`, `"seq":5`}},
		{"prune keeps what HQ has not acknowledged", []string{"prune", "--file", path, "--older-than", "1ms"}, "", []string{"pruned 0 events"}},
		{"compact", []string{"compact", "--file", path}, "", []string{"compacted", "5 events"}},
		{"verify after compaction", []string{"verify", "--file", path}, "", []string{"OK"}},
		{"compact needs a file", []string{"compact"}, "--file is required", nil},
		{"prune needs an age", []string{"prune", "--file", path}, "--older-than are required", nil},
		{"prune with a bad age", []string{"prune", "--file", path, "--older-than", "soon"}, `"soon"`, nil},
		{"verify a missing file", []string{"verify", "--file", path + ".none"}, "does not exist", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runLedger(t, tt.args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v\n%s", err, out)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
			if tt.name == "export" && strings.Count(out, "\n") != 2 {
				t.Errorf("export from 4 of 5 wrote %d lines:\n%s", strings.Count(out, "\n"), out)
			}
		})
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * 24 * time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"2160h", 2160 * time.Hour, true},
		{"720h30m", 720*time.Hour + 30*time.Minute, true},
		{"0s", 0, false},
		{"-5h", 0, false},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAge(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseAge(%q) = %s, %v; want %s (ok %t)", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestPrintVerify(t *testing.T) {
	var out bytes.Buffer
	printVerify(&out, reportWithProblems())
	for _, w := range []string{"2 PROBLEMS in 9 events (seqs 4..12, pruned through 3)", "  seq 7: hash does not match", "  card ****0015: points 5, want 6"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output does not say %q:\n%s", w, out.String())
		}
	}
}

func reportWithProblems() localapi.VerifyReport {
	return localapi.VerifyReport{Terminal: "S1-T1", Events: 9, Anchor: 3, LastSeq: 12, Accounts: 2, Problems: []localapi.VerifyProblem{
		{Seq: 7, Problem: "hash does not match content"},
		{Card: "****0015", Problem: "points 5, want 6"},
	}}
}

// verify --file checks the cached rulesets' signatures with HQ's key, found
// from --hq-key or the hq_key of --config, and reports them unchecked when it
// has no key.
func TestLedgerVerifyRulesKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	pub, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	l, err := ledger.Open(path, ledger.Options{Terminal: "S1-T1", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutRuleset(1, discount.Example, wire.SignRules(priv, discount.Example)); err != nil {
		t.Fatal(err)
	}
	if err := l.ActivateRuleset(1); err != nil {
		t.Fatal(err)
	}
	l.Close()
	key := wire.FormatPublicKey(pub)
	conf := filepath.Join(dir, "tilld.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "terminal = \"S1-T1\"\ndata_dir = %q\nhq_key = %q\n", dir, key), 0o644); err != nil {
		t.Fatal(err)
	}
	noConf := filepath.Join(dir, "none.toml")
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    string
	}{
		{"--hq-key", []string{"--hq-key", key}, "", "OK"},
		{"--config", []string{"--config", conf}, "", "OK"},
		{"another key", []string{"--hq-key", wire.FormatPublicKey(other)}, "1 problems", "cached ruleset version 1: ruleset fails its check: ruleset signature does not verify with HQ's key"},
		{"no key", []string{"--config", noConf}, "--config", ""},
		{"no key anywhere", nil, "1 problems", "no HQ rules key"},
		{"bad --hq-key", []string{"--hq-key", "c2hvcnQ="}, "--hq-key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runLedger(t, append([]string{"verify", "--file", path}, tt.args...)...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v\n%s", err, out)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one saying %q\n%s", err, tt.wantErr, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, out)
			}
		})
	}
}
