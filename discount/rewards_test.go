package discount_test

import (
	"os"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/pos"
)

// TestRewards: what a card can get for its points, as a sale would give it:
// the catalog items it can afford, what the others still need (counting
// only unexpired points and the minimum balance), and how much of a
// basket it may pay with points.
func TestRewards(t *testing.T) {
	raw, err := os.ReadFile("testdata/rules/returns.toml")
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, []byte(`
[[rule]]
id = "posters"
kind = "catalog"
min_balance = 1000
  [[rule.item]]
  sku = "poster"
  points = 800
  name = "Плакат"

[[rule]]
id = "pay"
kind = "redeem"
point_value = "1.00"
max_share = "50%"
`)...)
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// 700 points, 100 of them expired.
	acct := pos.Account{Card: "2000000000015", Points: 700, Lots: []pos.PointsLot{
		{Points: 100, Earned: now.AddDate(-1, 0, 0), Expires: now.AddDate(0, -1, 0)},
		{Points: 600, Earned: now.AddDate(0, -1, 0)},
	}}
	r, err := discount.RewardsFor(rs, pos.Basket{}, acct, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Points != 700 || r.Usable != 600 || r.Redeem != nil || len(r.Catalog) != 2 {
		t.Fatalf("rewards: %+v", r)
	}
	mug, poster := r.Catalog[0], r.Catalog[1]
	if !mug.Affordable || mug.Missing != 0 || mug.Reason != "" {
		t.Errorf("the mug (500 of 600 usable): %+v", mug)
	}
	// The poster costs 800, and its rule needs a balance of 1 000: 400 more.
	if poster.Affordable || poster.Missing != 400 || poster.Reason == "" {
		t.Errorf("the poster: %+v", poster)
	}
	if r.Next == nil || r.Next.SKU != "poster" || r.NextReason != "ещё 400 баллов до «Плакат»" {
		t.Errorf("next: %+v %q", r.Next, r.NextReason)
	}

	// A basket of 1 000.00 at Gold? No: this card has no spend. Half of it
	// may be paid with points, 500 of the 600 usable.
	r, err = discount.RewardsFor(rs, pos.Basket{Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 1000_00}}}, acct, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Redeem == nil || r.Redeem.Points != 500 || r.Redeem.Value != 500_00 || len(r.Redeem.Applied) != 1 || r.Redeem.Applied[0].Rule != "pay" {
		t.Errorf("redeem on the basket: %+v", r.Redeem)
	}

	// Points below zero (a return took back points already spent): nothing.
	r, err = discount.RewardsFor(rs, pos.Basket{}, pos.Account{Card: "2000000000015", Points: -30}, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Usable != 0 || r.Catalog[0].Affordable || r.Catalog[0].Missing != 530 || r.NextReason != "ещё 530 баллов до «Кружка»" {
		t.Errorf("an overdrawn card: %+v", r)
	}
}
