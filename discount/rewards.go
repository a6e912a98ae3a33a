package discount

import (
	"fmt"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Rewards is what a card can get for its points now: the catalog items it
// can afford and what the others still need, and, for a basket, how many
// points it may pay that basket with. Every answer is the engine's own (a
// sale priced now would get the same), so windows, scopes, minimum
// balances, expired lots and offline limits all count.
type Rewards struct {
	// Points is the card's balance; Usable what it may spend now: its
	// unexpired lots, never more than the balance, never below zero.
	Points   int64  `json:"points"`
	Usable   int64  `json:"usable"`
	Currency string `json:"currency"`
	// Catalog lists every item of the ruleset's catalog rules.
	Catalog []CatalogReward `json:"catalog"`
	// Redeem is what the basket asked about may be paid with points, at
	// most (the customer may ask for less: pos.Basket.RedeemPoints); nil
	// without a basket.
	Redeem *RedeemReward `json:"redeem,omitempty"`
	// Next is the catalog item the card is nearest to, of those it lacks
	// only points for, and NextReason says so for the till:
	// "ещё 340 баллов до «Кружка»".
	Next       *CatalogReward `json:"next,omitempty"`
	NextReason string         `json:"next_reason,omitempty"`
}

// CatalogReward is one catalog item for one card.
type CatalogReward struct {
	Rule       string `json:"rule"`
	SKU        string `json:"sku"`
	Name       string `json:"name,omitempty"`
	Points     int64  `json:"points"`
	Affordable bool   `json:"affordable"`
	// Missing is the points the card still needs to earn for it, when
	// points are what it lacks (an overdraft is paid back first); Reason
	// why it is not available, when it is not.
	Missing int64  `json:"missing,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// RedeemReward is the most of a basket the card may pay with points.
type RedeemReward struct {
	Points int64        `json:"points"`
	Value  money.Amount `json:"value"`
	// Applied are the payment rules that would take them, with reasons.
	Applied []pos.Applied `json:"applied"`
}

// probePrice is the price of the one unit a catalog item is probed with:
// any price the catalog takes will do, the points are the item's.
const probePrice = money.Amount(1000_00)

// Usable is the points the account may spend at now: its unexpired lots,
// never more than its balance, never below zero.
func Usable(a pos.Account, now time.Time) int64 {
	if len(a.Lots) == 0 {
		return max(a.Points, 0)
	}
	var sum int64
	for _, l := range a.Lots {
		if l.Points > 0 && (l.Expires.IsZero() || now.Before(l.Expires)) {
			sum += l.Points
		}
	}
	return max(min(sum, a.Points), 0)
}

// RewardsFor tells what acct can get for its points at now. basket gives
// the place (its store, region and terminal scope the rules) and, when it
// has lines, the basket to pay with points; its RedeemPoints is ignored.
func RewardsFor(rs *Ruleset, basket pos.Basket, acct pos.Account, now time.Time) (Rewards, error) {
	out := Rewards{Points: acct.Points, Usable: Usable(acct, now), Currency: rs.Currency.Code, Catalog: []CatalogReward{}}
	basket.Card = acct.Card
	if len(basket.Lines) > 0 {
		b := basket
		b.RedeemPoints = pos.MaxRedeemPoints
		a := acct
		q, err := Apply(rs, b, &a, now)
		if err != nil {
			return Rewards{}, fmt.Errorf("rewards: %w", err)
		}
		out.Redeem = &RedeemReward{Points: q.PointsRedeemed, Value: q.PointsValue, Applied: []pos.Applied{}}
		for _, ap := range q.Applied {
			if ap.Redeemed > 0 {
				out.Redeem.Applied = append(out.Redeem.Applied, ap)
			}
		}
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Kind != KindCatalog {
			continue
		}
		for _, it := range r.Items {
			cr := CatalogReward{Rule: r.ID, SKU: it.SKU, Name: it.Name, Points: it.Points}
			probe := pos.Basket{Card: acct.Card, Store: basket.Store, Region: basket.Region, Terminal: basket.Terminal,
				RedeemPoints: it.Points, Lines: []pos.Line{{SKU: it.SKU, Qty: 1, UnitPrice: probePrice}}}
			a := acct
			q, err := ApplyWith(rs, probe, &a, now, Options{Explain: true})
			if err != nil {
				return Rewards{}, fmt.Errorf("rewards: catalog item %s: %w", it.SKU, err)
			}
			for _, ap := range q.Applied {
				cr.Affordable = cr.Affordable || ap.Rule == r.ID && ap.Redeemed >= it.Points
			}
			if !cr.Affordable {
				for _, d := range q.Dropped {
					if d.Rule != r.ID {
						continue
					}
					cr.Reason = d.Reason
					if d.Code == dropBalance.String() {
						// A card in overdraft first pays it back.
						cr.Missing = max(it.Points, r.MinBalance) - min(out.Usable, acct.Points)
					}
				}
				if cr.Reason == "" {
					cr.Reason = "каталог не взял этот товар сейчас"
				}
			}
			out.Catalog = append(out.Catalog, cr)
			if cr.Missing > 0 && (out.Next == nil || cr.Missing < out.Next.Missing) {
				next := cr
				out.Next = &next
			}
		}
	}
	if n := out.Next; n != nil {
		name := n.Name
		if name == "" {
			name = n.SKU
		}
		out.NextReason = fmt.Sprintf("ещё %s до «%s»", pointsCount(n.Missing), name)
	}
	return out, nil
}
