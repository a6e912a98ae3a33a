package till

import (
	"fmt"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/pos"
)

// Rewards tells what a card can get for its points now, as the till would
// sell it (discount.RewardsFor): the catalog items it can afford and what
// the others still need, and, when b has lines, the most of that basket the
// card may pay with points (the customer may ask for less in
// Basket.RedeemPoints). Offline, the ruleset's offline limits count. b's
// card is ignored; cardType is as for Account.
func (t *Till) Rewards(card, cardType string, b pos.Basket) (discount.Rewards, error) {
	a, err := t.active()
	if err != nil {
		return discount.Rewards{}, err
	}
	if card, err = t.parseCard(card, cardType); err != nil {
		return discount.Rewards{}, err
	}
	if card == "" {
		return discount.Rewards{}, &pos.InputError{Field: "card", Problem: "missing"}
	}
	b.Card, b.CardType, b.RedeemPoints = card, "", 0
	if len(b.Lines) > 0 {
		if err := b.Validate(); err != nil {
			return discount.Rewards{}, err
		}
	}
	t.place(&b)
	now := t.opts.Now()
	acct, _, _, err := t.read(card)
	if err != nil {
		return discount.Rewards{}, fmt.Errorf("rewards: %w", err)
	}
	if since := t.offlineSince(now); !since.IsZero() {
		acct.Offline = true
		if acct.OfflineRedeemedToday, err = t.opts.Ledger.PendingRedeemed(card, since); err != nil {
			return discount.Rewards{}, fmt.Errorf("rewards: %w", err)
		}
	}
	return discount.RewardsFor(a.rs, b, acct, now)
}
