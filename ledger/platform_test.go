package ledger

import (
	"os"
	"runtime"
	"testing"
)

// What the tests expect differs here between Unix and Windows, where they also
// run (under wine: scripts/windows-test.sh).
var (
	// notFoundText is how the system words a missing directory in an error.
	// Windows words it in the user's language, so only errors.Is is checked.
	notFoundText = map[bool]string{false: "no such file or directory", true: ""}[runtime.GOOS == "windows"]
	// renameOverOpenFails: NTFS refuses to rename over a file another handle
	// holds open (Go opens files without FILE_SHARE_DELETE) or has mapped.
	renameOverOpenFails = runtime.GOOS == "windows"
)

// faultedDir is t.TempDir for a file bbolt faults on: the file's mapping stays
// until the process exits (openBolt), and Windows refuses to delete a mapped
// file, so there the directory is removed when it can be.
func faultedDir(t *testing.T) string {
	if runtime.GOOS != "windows" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "ledger-fault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
