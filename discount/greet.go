package discount

import (
	"fmt"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Welcome is what the till shows the moment a card is presented, before
// any basket: the greeting the rules build (name and patronymic, birthday,
// the holder's language), the tier with its message and privileges (flags),
// the next tier and what is left to spend to reach it, and whether the
// customer is inside a birthday window.
type Welcome struct {
	Greeting    string       `json:"greeting,omitempty"`
	Tier        string       `json:"tier,omitempty"`
	TierMessage string       `json:"tier_message,omitempty"`
	Flags       []string     `json:"flags,omitempty"`
	Birthday    bool         `json:"birthday,omitempty"`
	NextTier    string       `json:"next_tier,omitempty"`
	ToNextTier  money.Amount `json:"to_next_tier,omitempty"`
	// TierFrom and NextFrom are the lifetime spend the tier and the next one
	// start at: with the account's spend, the progress bar.
	TierFrom money.Amount `json:"tier_from,omitempty"`
	NextFrom money.Amount `json:"next_from,omitempty"`
}

// Greet returns the Welcome of a card holder's account at a till (scope
// gives its Store, Region and Terminal and the card; its lines are
// ignored), at now. It runs the rules as Apply does on an empty basket
// and keeps only what does not depend on a basket. Pure, as Apply.
func Greet(rs *Ruleset, scope pos.Basket, acct *pos.Account, now time.Time) (Welcome, error) {
	if rs == nil {
		return Welcome{}, fmt.Errorf("greet: %w", rs.Validate())
	}
	p := rs.compiled()
	if p.err != nil {
		return Welcome{}, fmt.Errorf("greet: %w", p.err)
	}
	scope.Lines, scope.RedeemPoints, scope.Donate = nil, 0, false
	var q pos.Quote
	e := newEngine(rs, p, &scope, acct, now, Options{}, &q)
	defer e.release()
	if err := e.run(); err != nil {
		return Welcome{}, fmt.Errorf("greet: rules version %d: %w", rs.Version, err)
	}
	e.finish(&q)
	w := Welcome{Greeting: q.Greeting, Tier: q.Tier, TierMessage: q.TierMessage, Flags: q.Flags, Birthday: q.Birthday}
	if acct != nil {
		w.TierFrom, w.NextTier, w.NextFrom = rs.nextTier(acct.LifetimeSpend)
		if w.NextTier != "" {
			w.ToNextTier = w.NextFrom - acct.LifetimeSpend
		}
	}
	return w, nil
}

// nextTier returns where the tier of spend starts and the next tier above
// it, "" when there is none.
func (rs *Ruleset) nextTier(spend money.Amount) (from money.Amount, next string, nextFrom money.Amount) {
	for i := range rs.Rules {
		if rs.Rules[i].Kind != KindTiers {
			continue
		}
		for _, t := range rs.Rules[i].Tiers {
			if spend >= t.From {
				from = t.From
				continue
			}
			return from, t.Name, t.From
		}
		return from, "", 0
	}
	return 0, "", 0
}
