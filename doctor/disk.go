package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// Defaults of [DiskOptions].
const (
	DefaultDiskWarn = 1 << 30   // 1 GiB
	DefaultDiskFail = 100 << 20 // 100 MiB
)

// DiskOptions configure [Disk]. The zero value means the defaults.
type DiskOptions struct {
	// WarnBelow and FailBelow are free-space thresholds in bytes (available to
	// unprivileged users, as tilld is); defaults DefaultDiskWarn and
	// DefaultDiskFail.
	WarnBelow, FailBelow uint64
	// Statfs returns the bytes available and the size of the file system
	// holding dir. Default: statfs(2). Tests inject faults here.
	Statfs func(dir string) (avail, total uint64, err error)
}

// Disk checks the free space of the file system holding dir (the data
// directory, where the ledger grows). When dir does not exist yet (tilld never
// ran), it measures its nearest existing parent.
func Disk(dir string, opts DiskOptions) Check {
	if opts.WarnBelow == 0 {
		opts.WarnBelow = DefaultDiskWarn
	}
	if opts.FailBelow == 0 {
		opts.FailBelow = DefaultDiskFail
	}
	if opts.Statfs == nil {
		opts.Statfs = statfs
	}
	return Check{Name: "disk", Run: func(context.Context) Result {
		at := dir
		avail, total, err := opts.Statfs(at)
		for errors.Is(err, fs.ErrNotExist) && filepath.Dir(at) != at {
			at = filepath.Dir(at)
			avail, total, err = opts.Statfs(at)
		}
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("free space of %s: %v", dir, err), Fix: "check that the data directory's file system is mounted: `df -h " + dir + "`"}
		}
		where := dir
		if at != dir {
			where = fmt.Sprintf("%s (not created yet; measured %s)", dir, at)
		}
		detail := fmt.Sprintf("%s: %s free of %s", where, bytesIEC(avail), bytesIEC(total))
		fix := fmt.Sprintf("free space on the file system of %s: `du -xsh /var/log /var/cache/apt /tmp` finds the usual suspects; `apt-get clean` and `journalctl --vacuum-size=100M` help. Never delete the ledger (ledger.db).", dir)
		switch {
		case avail < opts.FailBelow:
			return Result{Status: Fail, Detail: detail + fmt.Sprintf(", below %s: sales may soon fail to record", bytesIEC(opts.FailBelow)), Fix: fix}
		case avail < opts.WarnBelow:
			return Result{Status: Warn, Detail: detail + fmt.Sprintf(", below %s", bytesIEC(opts.WarnBelow)), Fix: fix}
		}
		return Result{Status: OK, Detail: detail}
	}}
}

// bytesIEC is n in the largest binary unit that keeps it at least 1.
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
