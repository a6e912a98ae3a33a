//go:build !linux

package ledgerbench

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
