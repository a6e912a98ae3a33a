//go:build !windows

package durable

import "os"

func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// syncDir fsyncs the directory: on Unix that is what makes the names in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
