package discount

import (
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
)

// TestNPS: an nps rule marks a card holder's quote with the question and
// its period, and nothing else; no card, or a store out of its scope, gets
// none. Whether the till asks depends on the card's last answer
// (pos.NPSQuestion.Due). (docs/rules.md, "nps", quotes these cases.)
func TestNPS(t *testing.T) {
	now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
	b := basket(line("bread", "bakery", 1, 300_00))
	rule := Rule{ID: "nps", Kind: KindNPS, EveryDays: 90}
	scoped := rule
	scoped.Stores = []string{"S2"}
	noCard := b
	noCard.Card = ""
	inS1 := b
	inS1.Store = "S1"
	tests := []struct {
		name   string
		rs     *Ruleset
		basket pos.Basket
		acct   *pos.Account
		want   *pos.NPSQuestion
	}{
		{"a card holder", ruleset(card("club", 300), rule), b, acct(0), &pos.NPSQuestion{Rule: "nps", EveryDays: 90}},
		{"no card", ruleset(rule), noCard, nil, nil},
		{"another store", ruleset(scoped), inS1, acct(0), nil},
		{"no nps rule", ruleset(card("club", 300)), b, acct(0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Apply(tc.rs, tc.basket, tc.acct, now)
			if err != nil {
				t.Fatal(err)
			}
			if (q.NPS == nil) != (tc.want == nil) || q.NPS != nil && *q.NPS != *tc.want {
				t.Fatalf("NPS = %+v, want %+v", q.NPS, tc.want)
			}
			if tc.want != nil && q.Total != 291_00 {
				t.Errorf("total %d: the nps rule changes nothing of the price", q.Total)
			}
		})
	}
	q := &pos.NPSQuestion{Rule: "nps", EveryDays: 90}
	for _, c := range []struct {
		last time.Time
		due  bool
	}{
		{time.Time{}, true},
		{now.Add(-89 * 24 * time.Hour), false},
		{now.Add(-90 * 24 * time.Hour), true},
	} {
		if got := q.Due(c.last, now); got != c.due {
			t.Errorf("Due(last %v) = %v, want %v", c.last, got, c.due)
		}
	}
	if (*pos.NPSQuestion)(nil).Due(time.Time{}, now) {
		t.Error("no question is never due")
	}
}
