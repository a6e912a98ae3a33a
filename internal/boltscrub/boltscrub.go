// Package boltscrub overwrites with zeros the pages of a bbolt file that hold no
// live data, so that what a transaction deleted is gone from the file's bytes
// and not only from its tree. bbolt copies a page on write and puts the old copy
// on its free list, where the old bytes stay until the page is reused: a
// deleted customer's name would still be found by anyone reading the file.
//
// Zeroing a page that an open read transaction still sees would change that
// reader's data under it. The caller must therefore make sure no other
// transaction is open while Free runs (a lock around every use of the file):
// then bbolt, when it begins the write transaction Free runs in, releases every
// page freed by earlier commits, and what its free list holds is unreachable by
// anyone.
package boltscrub

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Free zeroes every free page of db, syncs the file, and returns how many pages
// it zeroed. It runs in its own write transaction, which commits nothing but
// bbolt's own bookkeeping. No other transaction may be open (see the package
// comment).
func Free(db *bolt.DB) (pages int, err error) {
	f, err := os.OpenFile(db.Path(), os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("scrub free pages: %w", err)
	}
	defer f.Close()
	size := db.Info().PageSize
	zeros := make([]byte, 64*size)
	err = db.Update(func(tx *bolt.Tx) error {
		// Runs of consecutive free pages are written at once.
		start, run := 0, 0
		flush := func() error {
			for run > 0 {
				n := min(run, len(zeros)/size)
				if _, err := f.WriteAt(zeros[:n*size], int64(start)*int64(size)); err != nil {
					return err
				}
				pages += n
				start, run = start+n, run-n
			}
			return nil
		}
		for id := 2; ; id++ { // pages 0 and 1 are the meta pages
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info == nil { // past the high water mark
				break
			}
			if info.Type != "free" {
				if err := flush(); err != nil {
					return err
				}
				continue
			}
			if run == 0 {
				start = id
			}
			run++
		}
		if err := flush(); err != nil {
			return err
		}
		return f.Sync()
	})
	if err != nil {
		return pages, fmt.Errorf("scrub free pages of %s: %w", db.Path(), err)
	}
	return pages, nil
}
