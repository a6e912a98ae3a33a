package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

var _ hq.HolderLister = (*Store)(nil)

// Holders implements hq.HolderLister in one read transaction.
func (s *Store) Holders(_ context.Context, cards []string) (map[string]pos.CardHolder, error) {
	out := map[string]pos.CardHolder{}
	err := s.view(func(tx *bolt.Tx) error {
		for _, c := range cards {
			h, err := getHolder(tx, c)
			if err != nil {
				return err
			}
			if h != nil {
				out[c] = *h
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("holders of %d cards: %w", len(cards), err)
	}
	return out, nil
}
