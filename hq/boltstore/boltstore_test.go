package boltstore_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hq.Store {
		path := filepath.Join(t.TempDir(), "hq.db")
		s, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { checkFile(t, path) }) // runs after the suite closes the store
		return s
	})
}

// checkFile runs bbolt's own consistency check on a closed store file.
func checkFile(t *testing.T, path string) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Errorf("reopen %s: %v", path, err)
		return
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("bbolt check %s: %v", path, err)
	}
}
