//go:build !linux

package ledger

import "os"

// fdatasync makes a journal record durable; elsewhere than Linux, with fsync.
func fdatasync(f *os.File) error { return f.Sync() }
