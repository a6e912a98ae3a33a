package durable

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestRenameReplaces(t *testing.T) {
	dir := t.TempDir()
	old, target := filepath.Join(dir, "new.tmp"), filepath.Join(dir, "file")
	for p, s := range map[string]string{old: "new", target: "old"} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Rename(old, target); err != nil {
		t.Fatalf("Rename over an existing file: %v", err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "new" {
		t.Errorf("after Rename the target holds %q, %v; want \"new\"", b, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("after Rename the old name still exists: %v", err)
	}
	if err := Rename(old, target); err == nil {
		t.Error("Rename of a missing file succeeded")
	}
}

// On Windows a rename over a file that is open fails: ledger.Compact closes
// the ledger before it renames, and counts on the failure when another process
// opened it meanwhile.
func TestRenameOverOpenFile(t *testing.T) {
	dir := t.TempDir()
	old, target := filepath.Join(dir, "new.tmp"), filepath.Join(dir, "file")
	for _, p := range []string{old, target} {
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = Rename(old, target)
	if runtime.GOOS == "windows" && err == nil {
		t.Error("Rename over an open file succeeded on Windows")
	}
	if runtime.GOOS != "windows" && err != nil {
		t.Errorf("Rename over an open file: %v", err)
	}
}

func TestCreated(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Created(dir); err != nil {
		t.Errorf("Created: %v", err)
	}
	if err := Created(filepath.Join(dir, "missing")); runtime.GOOS != "windows" && err == nil {
		t.Error("Created on a missing directory succeeded")
	}
}
