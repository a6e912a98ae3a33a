package doctor

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// fileOwner returns the uid and gid that own the file fi describes.
func fileOwner(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// openTTY opens a serial port the way a reader does (read-write) but without
// making it the controlling terminal or waiting for carrier.
func openTTY(path string) (io.Closer, error) {
	return os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
}
