//go:build !unix

package ledger

import "os"

// unlock does nothing off unix: on Windows bbolt locks with LockFileEx, and
// the system drops a handle's locks when the handle is closed, which openBolt
// does right after.
func unlock(*os.File) {}
