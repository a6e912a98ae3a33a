package discount

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func welcome(id string, percent money.BP, bonus int64, exclude ...string) Rule {
	return Rule{ID: id, Kind: KindWelcome, Percent: percent, BonusPoints: bonus, ExcludeCategories: exclude}
}

// TestWelcome: a new card's first purchase gets the welcome discount and
// bonus; a card with a purchase before, or no card, does not, and says why.
// (docs/rules.md, "welcome", quotes the first case.)
func TestWelcome(t *testing.T) {
	b := basket(line("bread", "bakery", 1, 300_00), line("milk", "dairy", 1, 700_00), line("cigarettes", "tobacco", 1, 500_00))
	newCard, regular := acct(0), acct(1200_00)
	regular.Sales = 3
	named := welcome("welcome", 1000, 100, "tobacco")
	named.Name = "Добро пожаловать"
	tests := []struct {
		name     string
		rs       *Ruleset
		acct     *pos.Account
		want     summary
		discount int64
		earned   int64
		reasons  []string
	}{
		{
			name: "first purchase: 10 % and 100 points, beside the club card and the points",
			rs:   ruleset(card("club", 300, "tobacco"), welcome("welcome", 1000, 100, "tobacco"), points("bonus", 1, 100_00, "tobacco")),
			acct: newCard,
			// 3 % of 1 000.00, then 10 % of the 970.00 left; 8 points on
			// the 873.00 paid, and the bonus.
			want:     summary{applied: []string{"club 30.00", "welcome 97.00", "bonus 0.00 +8pt", "welcome 0.00 +100pt"}},
			discount: 127_00, earned: 108,
			reasons: []string{"Скидка 3 % по клубной карте", "Первая покупка по карте: скидка 10 %",
				"1 балл за каждые 100,00 ₽", "Первая покупка по карте: 100 баллов в подарок"},
		},
		{
			name:     "a card with purchases before",
			rs:       ruleset(card("club", 300, "tobacco"), welcome("welcome", 1000, 100, "tobacco"), points("bonus", 1, 100_00, "tobacco")),
			acct:     regular,
			want:     summary{applied: []string{"club 30.00", "bonus 0.00 +9pt"}, dropped: []string{"welcome once"}},
			discount: 30_00, earned: 9,
		},
		{
			name: "no card",
			rs:   ruleset(welcome("welcome", 1000, 100)),
			want: summary{dropped: []string{"welcome no_card"}},
		},
		{
			name:   "points only, with its name",
			rs:     ruleset(Rule{ID: "welcome", Kind: KindWelcome, Name: "Добро пожаловать", BonusPoints: 500}),
			acct:   newCard,
			want:   summary{applied: []string{"welcome 0.00 +500pt"}},
			earned: 500, reasons: []string{"Добро пожаловать: 500 баллов в подарок"},
		},
		{
			name: "in the card group, the better of the two: the welcome on the first purchase",
			rs:   ruleset(inGroup(card("club", 300, "tobacco"), "card"), inGroup(welcome("welcome", 1000, 0, "tobacco"), "card")),
			acct: newCard,
			want: summary{applied: []string{"welcome 100.00"}, dropped: []string{"club group"}},
			// 10 % of 1 000.00 beats 3 %.
			discount: 100_00,
		},
		{
			name:     "in the card group, the club card afterwards",
			rs:       ruleset(inGroup(card("club", 300, "tobacco"), "card"), inGroup(welcome("welcome", 1000, 0, "tobacco"), "card")),
			acct:     regular,
			want:     summary{applied: []string{"club 30.00"}, dropped: []string{"welcome once"}},
			discount: 30_00,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := explainQuote(t, tt.rs, b, tt.acct, t0)
			if got := summarize(q); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if int64(q.Discount) != tt.discount || q.PointsEarned != tt.earned {
				t.Errorf("discount %d, earned %d; want %d, %d", q.Discount, q.PointsEarned, tt.discount, tt.earned)
			}
			if tt.reasons != nil {
				var reasons []string
				for _, a := range q.Applied {
					reasons = append(reasons, a.Reason)
				}
				if !reflect.DeepEqual(reasons, tt.reasons) {
					t.Errorf("reasons %q\nwant %q", reasons, tt.reasons)
				}
			}
			for _, d := range q.Dropped {
				if d.Code == "once" && d.Reason != "приветственное предложение: только на первую покупку по карте" {
					t.Errorf("dropped %+v", d)
				}
			}
		})
	}

	// Returning the whole first purchase takes the bonus back with the
	// points earned on it.
	rs := ruleset(card("club", 300, "tobacco"), welcome("welcome", 1000, 100, "tobacco"), points("bonus", 1, 100_00, "tobacco"))
	q := explainQuote(t, rs, b, newCard, t0)
	r, err := Refund(pos.Sale{ID: "first", Card: b.Card, At: t0, Quote: q},
		[]pos.ReturnLine{{Line: 1, Qty: 1}, {Line: 2, Qty: 1}, {Line: 3, Qty: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != q.Total || r.PointsReversed != 108 {
		t.Errorf("refund %d and %d points, want %d and 108", r.Amount, r.PointsReversed, q.Total)
	}
}

func TestValidateWelcome(t *testing.T) {
	tests := []struct {
		rule Rule
		want string // the one problem, or "" for none
	}{
		{welcome("w", 1000, 0), ""},
		{welcome("w", 0, 100), ""},
		{welcome("w", 0, 0), `rule "w" (#1): percent: a welcome rule gives a percent, bonus_points or both; it has neither`},
		{welcome("w", 10001, 100), `rule "w" (#1): percent: must be more than 0 % and at most 100 %, got 100.01%`},
		{welcome("w", 0, -5), `rule "w" (#1): bonus_points: must be between 1 and 1000000000, got -5`},
		{Rule{ID: "w", Kind: KindWelcome, BonusPoints: 1, Tickets: 2}, `rule "w" (#1): tickets: not used by welcome rules`},
	}
	for _, tt := range tests {
		err := ruleset(tt.rule).Validate()
		var ve *ValidationError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v, want none", tt.rule, err)
		case tt.want != "" && (!errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].String() != tt.want):
			t.Errorf("%+v: %v\nwant %s", tt.rule, err, tt.want)
		}
	}
}
