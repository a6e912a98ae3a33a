package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
)

// A store written before the card index existed gets it filled from its
// events when it is opened.
func TestCardEventsIndexFilledOnOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hq.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := storetest.Sales("S1-T1", 1, "", storetest.SaleSpec{Card: "2000000000015", Total: 100_00}, storetest.SaleSpec{Total: 5_00},
		storetest.SaleSpec{Card: "2000000000015", Total: 200_00})
	if _, err := s.Append(ctx, "S1-T1", evs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("cardevents")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err = boltstore.Open(path, boltstore.Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.CardEvents(ctx, "2000000000015", 10)
	if err != nil || len(got) != 2 || got[0].Hash != evs[2].Hash || got[1].Hash != evs[0].Hash || got[0].Terminal != "S1-T1" {
		t.Fatalf("CardEvents after the index was rebuilt = %d events %v", len(got), err)
	}
}
