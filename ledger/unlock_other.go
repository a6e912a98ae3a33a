//go:build !unix

package ledger

import "os"

// unlock is a no-op off unix (bbolt uses flock only there): after a fault during
// Open the lock is left to the closing of the file, which is not verified here.
func unlock(*os.File) {}
