package localapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// returnsRules has what a return must take back: a tier discount, points,
// the bonus catalog, a partner's points (the test card is in its range), a
// round-up to charity and a raffle.
var returnsRules = func() string {
	b, err := os.ReadFile("../discount/testdata/rules/returns.toml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

const returnsCard = "2000000000015"

// TestRefundWorkedExample is the worked example of docs/rules.md ("Returns"):
// a Gold card (12 000.00 spent, 1 000 points) buys 3 teas at 300.00, a
// coffee at 1 000.00 and a mug from the catalog for 500 points, then
// returns one tea, the mug, and the rest; every step's figures are worked
// out by hand.
func TestRefundWorkedExample(t *testing.T) {
	e := newEnv(t, returnsRules)
	ctx := context.Background()
	if err := e.till.Ledger().PutSnapshot(returnsCard, pos.Account{LifetimeSpend: 12000_00, Points: 1000, Sales: 9}, 0, ""); err != nil {
		t.Fatal(err)
	}
	sale, code, err := e.client.Sale(ctx, till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: returnsCard, RedeemPoints: 500, Lines: []pos.Line{
		{SKU: "tea", Qty: 3, UnitPrice: 300_00}, {SKU: "coffee", Qty: 1, UnitPrice: 1000_00}, {SKU: "mug", Qty: 1, UnitPrice: 300_00},
	}}})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("sale: %d %v", code, err)
	}
	// Gold, 10 %: 810.00 + 900.00 + 270.00; the mug's 270.00 paid with 500
	// points; 1 710.00 paid: 17 points (8 on the teas, 9 on the coffee),
	// 34 miles (16 and 18), 90.00 rounded up to 1 800.00 for the cause.
	want := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %d, want %d", what, got, want)
		}
	}
	want("sale total", int64(sale.Total), 1710_00)
	want("points earned", sale.PointsEarned, 17)
	want("points redeemed", sale.PointsRedeemed, 500)
	want("partner points", sale.PartnerPoints, 34)
	if len(sale.Donations) != 1 || sale.Donations[0].Amount != 90_00 || len(sale.Raffles) != 1 {
		t.Fatalf("donations %+v raffles %+v", sale.Donations, sale.Raffles)
	}
	want("tea points", sale.Lines[0].Points, 8)
	want("coffee points", sale.Lines[1].Points, 9)
	want("tea miles", sale.Lines[0].PartnerPoints, 16)
	account := func(wantPoints int64, wantSpend money.Amount) {
		t.Helper()
		a, err := e.client.Account(ctx, returnsCard)
		if err != nil {
			t.Fatal(err)
		}
		if a.Points != wantPoints || a.LifetimeSpend != int64(wantSpend) || a.Sales != 10 {
			t.Errorf("account: %d points, %s spent, %d sales; want %d, %s, 10", a.Points, money.Display(money.Amount(a.LifetimeSpend), "RUB"), a.Sales, wantPoints, money.Display(wantSpend, "RUB"))
		}
	}
	account(1000-500+17, 13710_00)

	// One tea: 270.00 and its 14.21 of the round-up (4 263 kopecks over three
	// teas), 3 points and 6 miles taken back.
	r1, code, err := e.client.Refund(ctx, till.RefundRequest{ID: "r1", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}, Reason: "не подошёл"})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("refund 1: %d %v", code, err)
	}
	want("r1 amount", int64(r1.Amount), 270_00)
	want("r1 donated", int64(r1.Donated), 14_21)
	want("r1 back", int64(r1.Back), 284_21)
	want("r1 points", r1.PointsReversed, 3)
	want("r1 miles", r1.PartnerPoints, 6)
	if r1.Full || r1.SaleEvent != sale.EventID || r1.Reason != "не подошёл" {
		t.Errorf("refund 1: %+v", r1)
	}
	account(514, 13440_00)

	// The mug, by the receipt code: its 500 points come back, no money.
	r2, _, err := e.client.Refund(ctx, till.RefundRequest{ID: "r2", Receipt: sale.ReceiptCode, Lines: []pos.ReturnLine{{Line: 3, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	want("r2 amount", int64(r2.Amount), 0)
	want("r2 points returned", r2.PointsReturned, 500)
	account(1014, 13440_00)

	// The rest, by seq: 540.00 + 900.00, 28.42 + 47.37 of the round-up,
	// 5 + 9 points and 10 + 18 miles; the raffle ticket is void.
	r3, _, err := e.client.Refund(ctx, till.RefundRequest{ID: "r3", Seq: sale.Seq})
	if err != nil {
		t.Fatal(err)
	}
	want("r3 amount", int64(r3.Amount), 1440_00)
	want("r3 back", int64(r3.Back), 1515_79)
	want("r3 points", r3.PointsReversed, 14)
	want("r3 miles", r3.PartnerPoints, 28)
	if !r3.Full || len(r3.RafflesVoid) != 1 || r3.RafflesVoid[0].Code != sale.Raffles[0].Code {
		t.Errorf("refund 3: full %v, raffles void %+v", r3.Full, r3.RafflesVoid)
	}
	// Everything back where it was before the sale; the sale still counts.
	account(1000, 12000_00)
	want("money back in all", int64(r1.Back+r2.Back+r3.Back), int64(sale.Total+sale.Donations[0].Amount))

	// Replays, conflicts, over-returns.
	if again, code, err := e.client.Refund(ctx, till.RefundRequest{ID: "r1", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}, Reason: "не подошёл"}); err != nil || code != http.StatusOK || again.Seq != r1.Seq {
		t.Errorf("replay of r1: %d %v %+v", code, err, again)
	}
	for _, tc := range []struct {
		req  till.RefundRequest
		code string
	}{
		{till.RefundRequest{ID: "r1", Sale: "s1", Lines: []pos.ReturnLine{{Line: 1, Qty: 2}}}, "refund_id_reused"},
		{till.RefundRequest{ID: "r4", Sale: "s1", Lines: []pos.ReturnLine{{Line: 2, Qty: 1}}}, "over_return"},
		{till.RefundRequest{ID: "r4", Sale: "s1"}, "over_return"},
		{till.RefundRequest{ID: "r4", Sale: "nope"}, "no_such_sale"},
		{till.RefundRequest{ID: "r4", Receipt: sale.ReceiptCode[:len(sale.ReceiptCode)-1] + "x"}, "bad_request"},
		{till.RefundRequest{ID: "r4", Receipt: "T9-1-abcdef"}, "other_terminal"},
		{till.RefundRequest{ID: "r4", Sale: "s1", Seq: 1}, "bad_request"},
		{till.RefundRequest{ID: "", Sale: "s1"}, "bad_request"},
		{till.RefundRequest{ID: "r4", Sale: "s1", Lines: []pos.ReturnLine{{Line: 4, Qty: 1}}}, "bad_request"},
	} {
		_, _, err := e.client.Refund(ctx, tc.req)
		var ae *localapi.APIError
		if !errors.As(err, &ae) || ae.Code != tc.code {
			t.Errorf("%+v: %v, want %s", tc.req, err, tc.code)
		}
	}
	if code, msg := e.post(t, "/v1/refunds", `{"id":"r5","sale":"s1","lines":[{"line":1,"qty":1,"extra":1}]}`); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s", code, msg)
	}
	w := e.serve("GET", "/metrics", "", "127.0.0.1:1", nil)
	for _, want := range []string{`tilld_refunds_total{outcome="recorded"} 3`, `tilld_refunds_total{outcome="replayed"} 1`,
		`tilld_refunds_total{outcome="over_return"} 2`, `tilld_refunds_total{outcome="no_sale"} 1`, `tilld_refunds_total{outcome="conflict"} 1`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics: no %s", want)
		}
	}
}

// TestRefundCyclesLeaveNothing: buying and returning the same basket a
// hundred times leaves the card with no extra points or spend, and the
// tier the spend before gave.
func TestRefundCyclesLeaveNothing(t *testing.T) {
	e := newEnv(t, returnsRules)
	ctx := context.Background()
	if err := e.till.Ledger().PutSnapshot(returnsCard, pos.Account{LifetimeSpend: 4999_99, Points: 10, Sales: 1}, 0, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		s, _, err := e.client.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("s%d", i), Basket: pos.Basket{Card: returnsCard, Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 1234_56}}}})
		if err != nil {
			t.Fatal(err)
		}
		if s.Tier != "" || s.PointsEarned != 12 {
			t.Fatalf("cycle %d: tier %q, %d points: a return left something behind", i, s.Tier, s.PointsEarned)
		}
		if _, _, err := e.client.Refund(ctx, till.RefundRequest{ID: fmt.Sprintf("r%d", i), Sale: s.ID}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := e.client.Account(ctx, returnsCard)
	if err != nil {
		t.Fatal(err)
	}
	if a.Points != 10 || a.LifetimeSpend != 4999_99 || a.Tier != "" || a.Sales != 101 {
		t.Errorf("after 100 cycles: %+v", a)
	}
}

// TestConcurrentPartialRefunds: 20 refunds of one unit each of a sale of
// ten race; ten are recorded, ten refused, and what went back is the sale.
func TestConcurrentPartialRefunds(t *testing.T) {
	e := newEnv(t, returnsRules)
	ctx := context.Background()
	s, _, err := e.client.Sale(ctx, till.SaleRequest{ID: "s", Basket: pos.Basket{Card: returnsCard, Lines: []pos.Line{{SKU: "pen", Qty: 10, UnitPrice: 33_33}}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var back money.Amount
	var points int64
	refused := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := e.client.Refund(ctx, till.RefundRequest{ID: fmt.Sprintf("r%d", i), Sale: "s", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}})
			mu.Lock()
			defer mu.Unlock()
			var ae *localapi.APIError
			switch {
			case err == nil:
				back += r.Back
				points += r.PointsReversed
			case errors.As(err, &ae) && ae.Code == "over_return":
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if refused != 10 || back != s.Total+s.Donations[0].Amount || points != s.PointsEarned {
		t.Errorf("%d refused, %d back, %d points taken back; sale: %d + %d donated, %d points", refused, back, points, s.Total, s.Donations[0].Amount, s.PointsEarned)
	}
}

// TestRefundAfterPointsSpent: a return takes back points the customer
// already spent: the balance goes below zero, and the next purchase's
// points pay it back before any can be spent.
func TestRefundAfterPointsSpent(t *testing.T) {
	e := newEnv(t, returnsRules+`
[[rule]]
id = "pay"
kind = "redeem"
point_value = "1.00"
`)
	ctx := context.Background()
	buy := func(id string, price money.Amount, redeem int64) till.SaleResult {
		t.Helper()
		s, _, err := e.client.Sale(ctx, till.SaleRequest{ID: id, Basket: pos.Basket{Card: returnsCard, RedeemPoints: redeem, Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: price}}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := buy("s1", 3000_00, 0) // 30 points
	if s1.PointsEarned != 30 {
		t.Fatalf("s1 earned %d", s1.PointsEarned)
	}
	s2 := buy("s2", 100_00, 30) // pays 30.00 with them
	if s2.PointsRedeemed != 30 {
		t.Fatalf("s2 redeemed %d", s2.PointsRedeemed)
	}
	if _, _, err := e.client.Refund(ctx, till.RefundRequest{ID: "r1", Sale: "s1"}); err != nil {
		t.Fatal(err)
	}
	a, _ := e.client.Account(ctx, returnsCard)
	if a.Points != -30+s2.PointsEarned {
		t.Fatalf("after the return: %d points, want %d (30 spent, taken back)", a.Points, -30+s2.PointsEarned)
	}
	s3 := buy("s3", 1000_00, 100) // earns 10, can pay with none
	if s3.PointsRedeemed != 0 {
		t.Errorf("a card in overdraft paid with %d points", s3.PointsRedeemed)
	}
	a, _ = e.client.Account(ctx, returnsCard)
	if a.Points != -30+s2.PointsEarned+s3.PointsEarned {
		t.Errorf("after the next purchase: %d points", a.Points)
	}
}

// TestRefundsAreGuarded: a refund is a write like a sale: it needs the
// token, JSON, and a same-origin caller; refused requests record nothing.
func TestRefundsAreGuarded(t *testing.T) {
	e := newEnv(t, returnsRules)
	s, _ := e.sale("s1", returnsCard, 100_00)
	body := `{"id":"r1","sale":"s1"}`
	plain := map[string]string{"Content-Type": "application/json"}
	withToken := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testToken}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"without the token", plain, http.StatusUnauthorized},
		{"as text/plain", map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + testToken}, http.StatusUnsupportedMediaType},
		{"cross-site with the token", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testToken, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"from another site's page", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testToken, "Origin": "http://evil.example"}, http.StatusForbidden},
	} {
		if w := e.serve("POST", "/v1/refunds", body, "127.0.0.1:1", tc.hdr); w.Code != tc.want {
			t.Errorf("refund %s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
	}
	if st, _ := e.till.Status(); st.LastSeq != s.Seq {
		t.Fatalf("a refused refund was recorded: last seq %d", st.LastSeq)
	}
	if w := e.serve("POST", "/v1/refunds", body, "127.0.0.1:1", withToken); w.Code != http.StatusCreated {
		t.Errorf("refund with the token: %d %s", w.Code, w.Body)
	}
}

// TestRewardsThroughTheAPI: GET /v1/accounts/{card}/rewards lists what the
// card can get now; POSTed a basket, how much of it points may pay, and a
// sale asking for part of that pays with exactly that part.
func TestRewardsThroughTheAPI(t *testing.T) {
	e := newEnv(t, returnsRules+`
[[rule]]
id = "pay"
kind = "redeem"
point_value = "1.00"
max_share = "50%"
`)
	ctx := context.Background()
	if err := e.till.Ledger().PutSnapshot(returnsCard, pos.Account{Points: 460, Sales: 3}, 0, ""); err != nil {
		t.Fatal(err)
	}
	r, err := e.client.Rewards(ctx, returnsCard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Usable != 460 || len(r.Catalog) != 1 || r.Catalog[0].Affordable || r.NextReason != "ещё 40 баллов до «Кружка»" {
		t.Errorf("rewards: %+v", r)
	}
	basket := pos.Basket{Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 600_00}}}
	r, err = e.client.Rewards(ctx, returnsCard, &basket)
	if err != nil {
		t.Fatal(err)
	}
	if r.Redeem == nil || r.Redeem.Points != 300 || r.Redeem.Value != 300_00 {
		t.Errorf("rewards on a basket of 600.00: %+v", r.Redeem)
	}
	// The customer pays 120 of the 300 points they may.
	basket.Card, basket.RedeemPoints = returnsCard, 120
	s, _, err := e.client.Sale(ctx, till.SaleRequest{ID: "s1", Basket: basket})
	if err != nil || s.PointsRedeemed != 120 || s.Total != 480_00 {
		t.Fatalf("a sale paying 120 points: %v %+v", err, s.Quote)
	}
	var ae *localapi.APIError
	if _, err := e.client.Rewards(ctx, "12", nil); !errors.As(err, &ae) || ae.Code != "bad_card" {
		t.Errorf("rewards of a bad card: %v", err)
	}
}
