package ledger

import (
	"os"
	"syscall"
)

// fdatasync makes a journal record durable, as bbolt makes its commits on Linux:
// the data and the file size, not the modification time.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
