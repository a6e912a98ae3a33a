package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

var _ hq.HolderLister = (*Store)(nil)

// holdersPage is how many cards one query asks for.
const holdersPage = 10_000

// Holders implements hq.HolderLister: one query per 10 000 cards.
func (s *Store) Holders(ctx context.Context, cards []string) (map[string]pos.CardHolder, error) {
	out := map[string]pos.CardHolder{}
	for start := 0; start < len(cards); start += holdersPage {
		page := cards[start:min(start+holdersPage, len(cards))]
		rows, _ := s.pool.Query(ctx, "SELECT card, holder FROM holders WHERE card = ANY($1)", page)
		var card string
		var h pos.CardHolder
		_, err := pgx.ForEachRow(rows, []any{&card, &h}, func() error {
			out[card] = h
			h = pos.CardHolder{}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("holders of %d cards: %w", len(page), err)
		}
	}
	return out, nil
}
