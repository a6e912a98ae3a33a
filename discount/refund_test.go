package discount

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// sell prices b for a and returns the sale.
func sell(t *testing.T, rs *Ruleset, b pos.Basket, a *pos.Account) pos.Sale {
	t.Helper()
	q, err := Apply(rs, b, a, t0)
	if err != nil {
		t.Fatal(err)
	}
	checkQuote(t, b, q)
	return pos.Sale{ID: "s1", Card: b.Card, At: t0, Quote: q}
}

// ledger is the few account fields a refund moves, kept the way the ledger
// would: a sale takes the points paid with and adds the points earned; a
// refund does the opposite for what it returns.
type ledger struct {
	points int64
	spend  money.Amount
}

func (l *ledger) sale(q pos.Quote) {
	l.points += q.PointsEarned - q.PointsRedeemed
	l.spend += q.Total
}

func (l *ledger) refund(r pos.RefundQuote) {
	l.points += r.PointsReturned - r.PointsReversed
	l.spend -= r.Amount
}

func TestRefund(t *testing.T) {
	rs := ruleset(card("club", 300), redeemRule(1_00, 5000, 0), points("bonus", 1, 10_00))
	b := asking(basket(line("tea", "x", 3, 100_00), line("coffee", "y", 1, 333_33), line("gum", "z", 7, 1_01)), 200)
	a := holder(1000)
	sale := sell(t, rs, b, a)
	if sale.PointsRedeemed != 200 || sale.PointsEarned == 0 {
		t.Fatalf("the sale should redeem 200 and earn points: %+v", sale.Quote)
	}

	t.Run("everything at once gives back what was paid", func(t *testing.T) {
		r, err := Refund(sale, []pos.ReturnLine{{Line: 1, Qty: 3}, {Line: 2, Qty: 1}, {Line: 3, Qty: 7}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Amount != sale.Total || r.PointsReversed != sale.PointsEarned || r.PointsReturned != sale.PointsRedeemed {
			t.Errorf("refund %+v for sale total %d, earned %d, redeemed %d", r, sale.Total, sale.PointsEarned, sale.PointsRedeemed)
		}
	})

	t.Run("unit by unit gives back exactly the same", func(t *testing.T) {
		var got pos.RefundQuote
		for i, l := range sale.Lines {
			for u := range l.Qty {
				r, err := Refund(sale, []pos.ReturnLine{{Line: i + 1, Qty: 1, Before: u}})
				if err != nil {
					t.Fatal(err)
				}
				got.Amount += r.Amount
				got.PointsReversed += r.PointsReversed
				got.PointsReturned += r.PointsReturned
			}
		}
		if got.Amount != sale.Total || got.PointsReversed != sale.PointsEarned || got.PointsReturned != sale.PointsRedeemed {
			t.Errorf("pieces add up to %+v; sale total %d, earned %d, redeemed %d", got, sale.Total, sale.PointsEarned, sale.PointsRedeemed)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name     string
			returned []pos.ReturnLine
			field    string // of the *pos.InputError; "" for ErrOverRefund
		}{
			{"nothing", nil, "returned"},
			{"no such line", []pos.ReturnLine{{Line: 4, Qty: 1}}, "returned[1].line"},
			{"line 0", []pos.ReturnLine{{Line: 0, Qty: 1}}, "returned[1].line"},
			{"no units", []pos.ReturnLine{{Line: 1, Qty: 0}}, "returned[1].qty"},
			{"negative before", []pos.ReturnLine{{Line: 1, Qty: 1, Before: -1}}, "returned[1].before"},
			{"the same line twice", []pos.ReturnLine{{Line: 1, Qty: 1}, {Line: 1, Qty: 1, Before: 1}}, "returned[2].line"},
			{"more than sold", []pos.ReturnLine{{Line: 1, Qty: 4}}, ""},
			{"more than is left after earlier refunds", []pos.ReturnLine{{Line: 1, Qty: 2, Before: 2}}, ""},
			{"a line refunded in full before", []pos.ReturnLine{{Line: 2, Qty: 1, Before: 1}}, ""},
			{"before beyond the quantity", []pos.ReturnLine{{Line: 2, Qty: 1, Before: 5}}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := Refund(sale, tt.returned)
				var ie *pos.InputError
				switch {
				case tt.field == "" && !errors.Is(err, ErrOverRefund):
					t.Errorf("err = %v, want ErrOverRefund", err)
				case tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field):
					t.Errorf("err = %v, want an input error on %s", err, tt.field)
				}
			})
		}
		bad := sale
		bad.Lines = append([]pos.PricedLine(nil), sale.Lines...)
		bad.Lines[0].Total = bad.Lines[0].Amount + 1
		if _, err := Refund(bad, []pos.ReturnLine{{Line: 1, Qty: 1}}); err == nil {
			t.Error("a sale whose line total exceeds its amount was refunded")
		}
	})
}

// TestRefundSharesMatchAllocate: a line's amount is split over its units as
// money.Allocate splits it over equal weights.
func TestRefundSharesMatchAllocate(t *testing.T) {
	for _, total := range []money.Amount{0, 1, 7, 100, 99_99, 100_01} {
		for qty := int64(1); qty <= 9; qty++ {
			w := make([]money.Amount, qty)
			for i := range w {
				w[i] = 1
			}
			parts, err := money.Allocate(total, w)
			if err != nil {
				t.Fatal(err)
			}
			for from := range qty {
				var want money.Amount
				for to := from + 1; to <= qty; to++ {
					want += parts[to-1]
					if got := unitsShare(total, qty, from, to); got != want {
						t.Fatalf("%d over %d, units %d..%d: %d, want %d", total, qty, from+1, to, got, want)
					}
				}
			}
		}
	}
}

// TestRefundExploits replays the loyalty exploits fixed in Odoo: points
// kept after a refund (odoo/odoo#257854), points paid with charged again on a
// refund (odoo/odoo#212922, and its partial form #221928), and refunding more
// than was sold or the same units twice.
func TestRefundExploits(t *testing.T) {
	rs := ruleset(redeemRule(1_00, 0, 0), points("bonus", 5, 100_00))
	b := basket(line("phone", "electronics", 1, 20000_00), line("case", "accessories", 2, 1000_00))

	t.Run("buy, earn, refund, repeat: no points left over", func(t *testing.T) {
		l := ledger{points: 0}
		for range 5 {
			sale := sell(t, rs, b, &pos.Account{Card: "c", Points: l.points})
			l.sale(sale.Quote)
			r, err := Refund(sale, []pos.ReturnLine{{Line: 1, Qty: 1}, {Line: 2, Qty: 2}})
			if err != nil {
				t.Fatal(err)
			}
			l.refund(r)
		}
		if l.points != 0 || l.spend != 0 {
			t.Errorf("after five buy-and-refund cycles: %d points, %d spend; want 0, 0", l.points, l.spend)
		}
	})

	t.Run("a refund of a sale paid with points gives them back once", func(t *testing.T) {
		l := ledger{points: 3000}
		sale := sell(t, rs, asking(b, 3000), &pos.Account{Card: "c", Points: l.points})
		l.sale(sale.Quote)
		if sale.PointsRedeemed != 3000 {
			t.Fatalf("redeemed %d", sale.PointsRedeemed)
		}
		r, err := Refund(sale, []pos.ReturnLine{{Line: 1, Qty: 1}, {Line: 2, Qty: 2}})
		if err != nil {
			t.Fatal(err)
		}
		l.refund(r)
		if l.points != 3000 || r.PointsReturned != 3000 || r.Amount != sale.Total {
			t.Errorf("balance %d after the refund, returned %d, money %d of %d; want 3000, 3000, all",
				l.points, r.PointsReturned, r.Amount, sale.Total)
		}
	})

	t.Run("a partial refund returns the points paid in proportion, never charges them", func(t *testing.T) {
		l := ledger{points: 2200}
		sale := sell(t, rs, asking(b, 2200), &pos.Account{Card: "c", Points: l.points})
		l.sale(sale.Quote)
		// The two cases, one at a time.
		for i := range int64(2) {
			r, err := Refund(sale, []pos.ReturnLine{{Line: 2, Qty: 1, Before: i}})
			if err != nil {
				t.Fatal(err)
			}
			if r.PointsReturned < 0 || r.PointsReversed < 0 || r.Amount <= 0 {
				t.Fatalf("refund %+v", r)
			}
			l.refund(r)
		}
		r, err := Refund(sale, []pos.ReturnLine{{Line: 1, Qty: 1}})
		if err != nil {
			t.Fatal(err)
		}
		l.refund(r)
		if l.points != 2200 || l.spend != 0 {
			t.Errorf("after refunding everything in three goes: %d points, %d spend; want 2200, 0", l.points, l.spend)
		}
	})

	t.Run("refunding the same units twice", func(t *testing.T) {
		sale := sell(t, rs, b, &pos.Account{Card: "c"})
		if _, err := Refund(sale, []pos.ReturnLine{{Line: 2, Qty: 2}}); err != nil {
			t.Fatal(err)
		}
		// The ledger says two were refunded: nothing is left.
		if _, err := Refund(sale, []pos.ReturnLine{{Line: 2, Qty: 1, Before: 2}}); !errors.Is(err, ErrOverRefund) {
			t.Errorf("second refund: %v, want ErrOverRefund", err)
		}
	})
}

// TestRefundProperties: random sales refunded in random pieces give back
// exactly what was paid, earned and redeemed, never more.
func TestRefundProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for run := range 500 {
		rs := randomRuleset(r)
		b := randomBasket(r)
		a := randomAccount(r)
		if a != nil {
			b.RedeemPoints = r.Int64N(5000)
		}
		q, err := Apply(rs, b, a, t0)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		sale := pos.Sale{ID: "s", Quote: q}
		var paid money.Amount
		var reversed, returned, partner int64
		for i, l := range q.Lines {
			for before := int64(0); before < l.Qty; {
				n := 1 + r.Int64N(l.Qty-before)
				rq, err := Refund(sale, []pos.ReturnLine{{Line: i + 1, Qty: n, Before: before}})
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				paid += rq.Amount
				reversed += rq.PointsReversed
				returned += rq.PointsReturned
				partner += rq.PartnerPoints
				before += n
			}
		}
		if paid != q.Total || reversed != q.PointsEarned || returned != q.PointsRedeemed || partner != q.PartnerPoints {
			t.Fatalf("run %d: pieces give %d money, %d/%d/%d points; sale %d, %d/%d/%d", run,
				paid, reversed, returned, partner, q.Total, q.PointsEarned, q.PointsRedeemed, q.PartnerPoints)
		}
	}
}

// TestRefundKeepsAGiftItsBasketNoLongerEarns is the documented choice
// (docs/rules.md, "Refunds"): a return is never priced again, so returning
// most of a basket that earned a free gift gives back what the returned
// lines were paid and charges nothing for the gift the customer keeps;
// returning the gift itself gives back what it was paid: nothing.
func TestRefundKeepsAGiftItsBasketNoLongerEarns(t *testing.T) {
	rs := ruleset(Rule{ID: "umbrella", Kind: KindGift, GiftSKU: "umbrella", GiftName: "Зонт", MinBasket: 3000_00})
	b := basket(line("tv", "electronics", 1, 3000_00), line("tea", "food", 1, 500_00), line("umbrella", "gifts", 1, 500_00))
	sale := sell(t, rs, b, nil)
	if sale.Lines[2].Total != 0 || sale.Total != 3500_00 {
		t.Fatalf("the umbrella should be free above 3 000.00: %+v", sale.Lines)
	}
	r, err := RefundAfter(sale, []pos.ReturnLine{{Line: 1, Qty: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != 3000_00 || r.Back != 3000_00 || r.Full {
		t.Errorf("returning the tv: %+v; want 3 000.00 back and the umbrella kept", r)
	}
	r, err = RefundAfter(sale, []pos.ReturnLine{{Line: 3, Qty: 1}}, []int64{1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != 0 {
		t.Errorf("returning the free umbrella gave back %d", r.Amount)
	}
}
