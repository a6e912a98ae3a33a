package durable

import (
	"os"

	"golang.org/x/sys/windows"
)

// rename is MoveFileEx with MOVEFILE_WRITE_THROUGH, which Go's os.Rename does
// not ask for: the call returns once the move is on the disk.
func rename(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// syncDir does nothing: NTFS journals a directory's changes and flushes that
// journal with the files' own FlushFileBuffers, and a directory handle cannot
// be flushed (the package comment says more).
func syncDir(string) error { return nil }
