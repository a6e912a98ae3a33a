// Package durable renames files so that the rename survives a power cut,
// makes a new file's name durable, and writes a file whole or not at all
// (WriteFile), on Unix and on Windows, whose file systems promise this in
// different ways.
//
// On Unix (ext4, xfs) a rename or a create is durable once the directory that
// holds the name is fsynced; the file's own fsync covers its data only.
//
// On Windows a directory cannot be flushed: FlushFileBuffers needs a handle
// with write access, which a directory handle does not get (Go's File.Sync on
// one fails with "Access is denied"). NTFS records every change to a
// directory (a create, a rename, a delete) in its metadata log ($LogFile), and
// FlushFileBuffers on any file of the volume forces that log to disk up to the
// file's changes, its name included; SQLite's Windows VFS relies on the same
// and never syncs a directory. A rename is made durable by asking for it:
// MoveFileEx with MOVEFILE_WRITE_THROUGH returns only once the move is on the
// disk, and MOVEFILE_REPLACE_EXISTING replaces the target in one step, as
// rename(2) does. docs/ledger.md ("Windows") has the whole argument.
package durable

import (
	"fmt"
	"path/filepath"
)

// Rename renames oldpath to newpath, replacing newpath if it exists, and
// returns once the rename is durable. oldpath's data must already be synced.
// On Windows newpath must not be open in any process (NTFS refuses to replace
// an open or memory-mapped file), so close it first.
func Rename(oldpath, newpath string) error {
	if err := rename(oldpath, newpath); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(newpath)); err != nil {
		return fmt.Errorf("sync directory of %s: %w", newpath, err)
	}
	return nil
}

// Created makes the name of a file just created in dir durable. On Windows
// that is the file's own FlushFileBuffers (see the package comment), so it
// does nothing there.
func Created(dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
