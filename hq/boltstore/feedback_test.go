package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
)

// TestLastFeedbackBuiltAtOpen: a store written before it kept each card's
// latest answer (no bucket "feedback_last") gets it built from the answers
// it holds when it is opened.
func TestLastFeedbackBuiltAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hq.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const card = "2000000000015"
	sales := storetest.Sales("S1-T1", 1, "", storetest.SaleSpec{Card: card, Total: 100_00, Earned: 1})
	fb := storetest.Feedbacks("S1-T1", 2, sales[0].Hash, storetest.FeedbackSpec{Store: "S1", Card: card, Sale: 1, Score: 9, Asked: true})
	if _, err := s.Append(ctx, "S1-T1", append(append([]event.Event(nil), sales...), fb...)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("feedback_last")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last, err := s.LastFeedback(ctx, []string{card})
	if err != nil || !last[card].Equal(fb[0].At) {
		t.Errorf("last feedback after reopening: %v %v, want %s", last, err, fb[0].At)
	}
}
