package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
)

func TestLoyaltyConformance(t *testing.T) {
	storetest.RunLoyalty(t, func(t *testing.T) hq.Store {
		path := filepath.Join(t.TempDir(), "hq.db")
		s, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { checkFile(t, path) }) // runs after the suite closes the store
		return s
	})
}
