package doctor

import (
	"context"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

func TestDisk(t *testing.T) {
	dir := t.TempDir()
	fixed := func(avail, total uint64) func(string) (uint64, uint64, error) {
		return func(string) (uint64, uint64, error) { return avail, total, nil }
	}
	tests := []struct {
		name                string
		dir                 string
		opts                DiskOptions
		want                Status
		wantDetail, wantFix string
	}{
		{"real file system", dir, DiskOptions{WarnBelow: 1, FailBelow: 1}, OK, dir + ": ", ""},
		{"not created yet", filepath.Join(dir, "a", "b"), DiskOptions{WarnBelow: 1, FailBelow: 1}, OK,
			filepath.Join(dir, "a", "b") + " (not created yet; measured " + dir + "): ", ""},
		{"plenty", "/var/lib/tilld", DiskOptions{Statfs: fixed(3<<30, 16<<30)}, OK, "/var/lib/tilld: 3.0 GiB free of 16.0 GiB", ""},
		{"low", "/var/lib/tilld", DiskOptions{Statfs: fixed(600<<20, 16<<30)}, Warn, "600.0 MiB free of 16.0 GiB, below 1.0 GiB", "Never delete the ledger"},
		{"nearly full", "/var/lib/tilld", DiskOptions{Statfs: fixed(5<<20, 16<<30)}, Fail, "5.0 MiB free of 16.0 GiB, below 100.0 MiB: sales may soon fail to record", "journalctl --vacuum-size"},
		{"custom thresholds", "/var/lib/tilld", DiskOptions{Statfs: fixed(5<<20, 16<<30), WarnBelow: 10 << 20, FailBelow: 1 << 20}, Warn, "below 10.0 MiB", "free space"},
		{"statfs fails", "/var/lib/tilld", DiskOptions{Statfs: func(string) (uint64, uint64, error) { return 0, 0, syscall.EIO }}, Fail,
			"free space of /var/lib/tilld: input/output error", "df -h /var/lib/tilld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkResult(t, Disk(tt.dir, tt.opts).Run(context.Background()), tt.want, tt.wantDetail, tt.wantFix)
		})
	}
}

func TestDiskClimbsToAnExistingParent(t *testing.T) {
	var asked []string
	statfs := func(dir string) (uint64, uint64, error) {
		asked = append(asked, dir)
		if dir != "/var" {
			return 0, 0, &fs.PathError{Op: "statfs", Path: dir, Err: syscall.ENOENT}
		}
		return 8 << 30, 16 << 30, nil
	}
	res := Disk("/var/lib/tilld", DiskOptions{Statfs: statfs}).Run(context.Background())
	checkResult(t, res, OK, "/var/lib/tilld (not created yet; measured /var): 8.0 GiB free", "")
	if len(asked) != 3 {
		t.Errorf("asked %q", asked)
	}
	// A file system that vanished entirely ends at the root with an error.
	gone := func(dir string) (uint64, uint64, error) { return 0, 0, fs.ErrNotExist }
	res = Disk("/var/lib/tilld", DiskOptions{Statfs: gone}).Run(context.Background())
	checkResult(t, res, Fail, "free space of /var/lib/tilld: file does not exist", "df -h")
}

func TestBytesIEC(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 1 << 62: "4.0 EiB"} {
		if got := bytesIEC(n); got != want {
			t.Errorf("bytesIEC(%d) = %q, want %q", n, got, want)
		}
	}
}
