package discount

import (
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
)

// TestGreet: a presented card gets the greeting in the holder's language,
// the birthday flag, the tier with its privileges, and the spend left to
// the next tier, without a basket.
func TestGreet(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	tiers := Rule{ID: "cumulative", Kind: KindTiers, Tiers: []Tier{
		{Name: "Silver", From: 5000_00, Percent: 500},
		{Name: "Gold", From: 10000_00, Percent: 1000, Message: "Золотой клиент", Flags: []string{"free_delivery"}},
		{Name: "Platinum", From: 15000_00, Percent: 1500},
	}}
	hello := Rule{ID: "hello", Kind: KindGreeting, Text: map[string]string{"ru": "Здравствуйте, {name} {patronymic}!", "en": "Hello, {name}!"}, Lang: "ru"}
	rs := ruleset(tiers, hello)
	profile := func(lang string, month, day int) *pos.Profile {
		return &pos.Profile{Name: "Василий", Patronymic: "Петрович", Lang: lang, BirthMonth: month, BirthDay: day}
	}
	tests := []struct {
		name string
		acct *pos.Account
		want Welcome
	}{
		{"ru, Gold", &pos.Account{Card: "2000000000008", LifetimeSpend: 11640_00, Profile: profile("ru", 0, 0)},
			Welcome{Greeting: "Здравствуйте, Василий Петрович!", Tier: "Gold", TierMessage: "Золотой клиент", Flags: []string{"free_delivery"},
				TierFrom: 10000_00, NextTier: "Platinum", NextFrom: 15000_00, ToNextTier: 3360_00}},
		{"en, no tier yet", &pos.Account{Card: "2000000000008", LifetimeSpend: 1000_00, Profile: &pos.Profile{Name: "John", Lang: "en"}},
			Welcome{Greeting: "Hello, John!", NextTier: "Silver", NextFrom: 5000_00, ToNextTier: 4000_00}},
		{"the top tier", &pos.Account{Card: "2000000000008", LifetimeSpend: 20000_00},
			Welcome{Tier: "Platinum", TierFrom: 15000_00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Greet(rs, pos.Basket{Card: tc.acct.Card}, tc.acct, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w, tc.want) {
				t.Errorf("Greet:\n got %+v\nwant %+v", w, tc.want)
			}
		})
	}
	// A birthday rule's greeting goes first, and flags the birthday.
	bday := Rule{ID: "bday", Kind: KindBirthday, DaysBefore: 3, DaysAfter: 3, Percent: 1000, Text: map[string]string{"ru": "С днём рождения, {name}!"}}
	w, err := Greet(ruleset(tiers, hello, bday), pos.Basket{}, &pos.Account{Card: "2000000000008", Profile: profile("ru", 3, 5)}, now)
	if err != nil || w.Greeting != "С днём рождения, Василий!" || !w.Birthday {
		t.Errorf("birthday: %+v %v", w, err)
	}
}
