package hq

import (
	"context"

	"github.com/tilld/tilld/pos"
)

// HolderLister is a Store that looks many card holders up at once: the
// overdue list of a chain names tens of thousands of cards, and one query
// per card would make the report wait on as many round trips. A Store
// without it is asked card by card.
type HolderLister interface {
	// Holders returns the holders of the cards that have one, by card;
	// cards without a holder (never registered, or forgotten) are absent.
	Holders(ctx context.Context, cards []string) (map[string]pos.CardHolder, error)
}

// holdersOf looks the cards' holders up through st, at once when it can.
func holdersOf(ctx context.Context, st Store, cards []string) (map[string]pos.CardHolder, error) {
	if hl, ok := st.(HolderLister); ok {
		return hl.Holders(ctx, cards)
	}
	out := map[string]pos.CardHolder{}
	for _, c := range cards {
		h, ok, err := st.Holder(ctx, c)
		if err != nil {
			return nil, err
		}
		if ok {
			out[c] = h
		}
	}
	return out, nil
}
