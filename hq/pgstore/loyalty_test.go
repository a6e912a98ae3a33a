package pgstore_test

import (
	"context"
	"testing"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/internal/pgtest"
)

func TestLoyaltyConformance(t *testing.T) {
	storetest.RunLoyalty(t, func(t *testing.T) hq.Store {
		url := pgtest.URL(t)
		s, err := pgstore.Open(context.Background(), url, pgstore.Options{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { checkDatabase(t, url) }) // runs after the suite closes s
		return s
	})
}
