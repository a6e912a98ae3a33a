package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
)

func TestOperatorsConformance(t *testing.T) {
	storetest.RunOperators(t, func(t *testing.T) hq.Store {
		path := filepath.Join(t.TempDir(), "hq.db")
		s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { checkFile(t, path) })
		return s
	})
}
