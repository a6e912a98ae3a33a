package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		log, status          string
		code                 int
		elapsed              time.Duration
		execs, perSec, fresh int64
		findings             string
	}{
		{"ok", "ok", 0, time.Minute, 61000, 1016, 13, ""},
		{"found", "FAIL", 1, 3 * time.Second, 62390, 20796, 3, "testdata/fuzz/FuzzX/4c7cc18493597f8c"},
		{"race", "ok (go.dev/issue/75804)", 1, 25 * time.Second, 15284, 611, 64, ""},
		{"build", "FAIL", 1, 0, 0, 0, 0, "ledger/fuzz_test.go:12:2: undefined: nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.log, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tt.log+".log"))
			if err != nil {
				t.Fatal(err)
			}
			var r result
			r.parse(out, tt.code)
			if r.Status != tt.status || r.Elapsed != tt.elapsed || r.Execs != tt.execs || r.PerSecond() != tt.perSec ||
				r.Interesting != tt.fresh || strings.Join(r.Findings, " ") != tt.findings {
				t.Errorf("parse = %+v (%d/s), want %s %s %d execs %d/s %d new, findings %q", r, r.PerSecond(), tt.status, tt.elapsed,
					tt.execs, tt.perSec, tt.fresh, tt.findings)
			}
		})
	}
}

// TestRun writes the table into a page between its markers, keeping the
// rest, and fails when a target did.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ok, _ := os.ReadFile("testdata/ok.log")
	write("targets", "github.com/tilld/tilld/ledger FuzzOpen\n")
	write("github.com_tilld_tilld_ledger.FuzzOpen.log", string(ok))
	write("github.com_tilld_tilld_ledger.FuzzOpen.rc", "0\n")
	doc := filepath.Join(dir, "fuzzing.md")
	write("fuzzing.md", "# Fuzzing\n\nprose\n\n"+beginMarker+"\nold table\n"+endMarker+"\n\nmore prose\n")
	var out strings.Builder
	if err := run([]string{"-logs", dir, "-fuzztime", "1m", "-jobs", "2", "-doc", doc}, &out); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(doc)
	want := "| FuzzOpen | ledger | ok | 1m0s | 61 000 | 1 016 | 13 (22) | none |"
	if !strings.Contains(string(page), want) || strings.Contains(string(page), "old table") ||
		!strings.HasPrefix(string(page), "# Fuzzing\n\nprose\n\n"+beginMarker) || !strings.HasSuffix(string(page), endMarker+"\n\nmore prose\n") {
		t.Errorf("page:\n%s", page)
	}
	if !strings.Contains(out.String(), want) {
		t.Errorf("stdout:\n%s", out.String())
	}

	found, _ := os.ReadFile("testdata/found.log")
	write("github.com_tilld_tilld_ledger.FuzzOpen.log", string(found))
	write("github.com_tilld_tilld_ledger.FuzzOpen.rc", "1\n")
	if err := run([]string{"-logs", dir, "-doc", "-"}, &out); err == nil || !strings.Contains(err.Error(), "1 of 1 targets failed: FuzzOpen") {
		t.Errorf("a finding: err %v", err)
	}
}

// FuzzParse: any output parses without a panic, into numbers that are not
// negative.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"ok", "found", "race", "build"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".log"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, 0)
		f.Add(b, 1)
	}
	f.Fuzz(func(t *testing.T, out []byte, code int) {
		var r result
		r.parse(out, code)
		if r.Status == "" || r.PerSecond() < 0 || r.Execs < 0 {
			t.Fatalf("%+v", r)
		}
		_ = markdown([]result{r})
	})
}
