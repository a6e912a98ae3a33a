package pos

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// What a till keeps of a sale's inputs, and what HQ rebuilds from them: the
// same basket, account and wall clock, without the holder's profile.
func TestAuditInputsRoundTrip(t *testing.T) {
	vladivostok := time.FixedZone("VLAT", 10*3600)
	at := time.Date(2026, 3, 8, 23, 30, 0, 0, vladivostok) // 13:30 UTC: the wall clock, not UTC, says 23:30
	lots := []PointsLot{{Points: 50, Earned: at.AddDate(0, -1, 0)}}
	acct := &Account{Card: "2000000000015", LifetimeSpend: 12_000_00, Points: 50, Sales: 4, Lots: lots,
		Offline: true, OfflineRedeemedToday: 20, Profile: &Profile{Name: "Анна", BirthMonth: 3, BirthDay: 8}}
	lines := []Line{{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 99_90}}
	for _, tc := range []struct {
		name     string
		basket   Basket
		acct     *Account
		wantLots bool
	}{
		{"card, no points asked", Basket{Card: acct.Card, Lines: lines, Store: "S1", Region: "east", Terminal: "S1-T1"}, acct, false},
		{"card, points asked", Basket{Card: acct.Card, Lines: lines, RedeemPoints: 30, Donate: true, Store: "S1", Terminal: "S1-T1"}, acct, true},
		{"no card", Basket{Lines: lines, Store: "S1", Terminal: "S1-T1"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := NewSaleInputs(tc.basket, tc.acct, at)
			if in.UTCOffset != 10*3600 || in.Store != tc.basket.Store || in.Region != tc.basket.Region ||
				in.RedeemPoints != tc.basket.RedeemPoints || in.Donate != tc.basket.Donate {
				t.Fatalf("inputs = %+v", in)
			}
			if tc.acct != nil && (in.Account.Profile != nil || (in.Account.Lots != nil) != tc.wantLots) || tc.acct == nil && in.Account != nil {
				t.Fatalf("inputs' account = %+v", in.Account)
			}
			if tc.acct != nil && tc.acct.Profile == nil {
				t.Fatal("NewSaleInputs changed the till's account")
			}
			priced := make([]PricedLine, len(lines))
			for i, l := range lines {
				priced[i] = PricedLine{Line: l, Amount: l.Amount(), Total: l.Amount()}
			}
			s := Sale{ID: "s1", Card: tc.basket.Card, At: at.UTC(), Quote: Quote{Lines: priced}, Inputs: in}
			b, a, wall, err := ReplayInputs(s, "S1-T1", at.UTC())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b, tc.basket) {
				t.Errorf("basket = %+v\nwant     %+v", b, tc.basket)
			}
			if y, m, d := wall.Date(); wall.Hour() != 23 || y != 2026 || m != 3 || d != 8 || !wall.Equal(at) {
				t.Errorf("wall clock = %v, want %v", wall, at)
			}
			if tc.acct == nil {
				if a != nil {
					t.Errorf("account without a card = %+v", a)
				}
				return
			}
			want := *tc.acct
			want.Profile = nil
			if !tc.wantLots {
				want.Lots = nil
			}
			if !reflect.DeepEqual(*a, want) {
				t.Errorf("account = %+v\nwant      %+v", *a, want)
			}
		})
	}
	if _, _, _, err := ReplayInputs(Sale{ID: "old"}, "S1-T1", at); !errors.Is(err, ErrNoInputs) {
		t.Errorf("a sale without inputs = %v, want ErrNoInputs", err)
	}
}
