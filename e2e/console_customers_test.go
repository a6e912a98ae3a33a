package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// TestConsoleCustomerByPhone: a real till signs a customer up with a phone,
// sells to the card twice and takes part of the first sale back; at HQ on
// PostgreSQL, `tillhq customers find --phone` and a support operator in the
// console find the holder by the end of the phone number as a caller reads
// it out (name, card, the phone masked), and the card's page lists the two
// sales and the return, newest first, in roubles, with the store, the till
// and the receipt codes; the admin log says who searched.
func TestConsoleCustomerByPhone(t *testing.T) {
	h, admin, apiAddr, api := consoleTill(t, discount.Example)
	addOperator(t, h.adminURL, admin, "sveta", "support", consolePassword)
	const card, other = "2000000000015", "2000000000022"
	ctl(t, apiAddr, "customer", "add", "--card", card, "--name", "Василий", "--surname", "Тёркин", "--phone", "+7 900 123-45-67")
	ctl(t, apiAddr, "customer", "add", "--card", other, "--name", "Мария", "--phone", "8 (911) 765-45-67")
	sales := consoleSales(t, api, card, card)
	ctx := context.Background()
	ret, code, err := api.Refund(ctx, till.RefundRequest{ID: "r1", Sale: "console-0", Lines: []pos.ReturnLine{{Line: 2, Qty: 1}}})
	if err != nil || code != http.StatusCreated || ret.Back <= 0 {
		t.Fatalf("the return = %d %+v, %v", code, ret, err)
	}
	waitFor(t, 30*time.Second, "the return at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0
	})

	// The CLI: by the last digits, and the card's purchases.
	var out string
	waitFor(t, 30*time.Second, "both holders at HQ", func() bool {
		out, code = tillhqAs(t, admin, "customers", "find", "--admin", h.adminURL, "--phone", "4567")
		return code == 0 && strings.Contains(out, card) && strings.Contains(out, other)
	})
	if !strings.Contains(out, "Василий Тёркин") || !strings.Contains(out, "+• ••• •••-45-67") || strings.Contains(out, "123-45-67") {
		t.Errorf("find --phone 4567 (want the name and the phone masked):\n%s", out)
	}
	if out := mustTillhqAs(t, admin, "customers", "find", "--admin", h.adminURL, "--phone", "89001234567"); strings.Contains(out, card) {
		t.Errorf("find --phone 89001234567 names %s, whose number is +7 900…:\n%s", card, out)
	}
	purchases := mustTillhqAs(t, admin, "customers", "purchases", "--admin", h.adminURL, card)
	t.Logf("tillhq customers purchases:\n%s", purchases)
	for _, want := range []string{sales[0].ReceiptCode, sales[1].ReceiptCode, "return of " + sales[0].EventID,
		money.Display(sales[1].Total, "RUB"), money.Display(-ret.Back, "RUB")} {
		if !strings.Contains(purchases, want) {
			t.Errorf("tillhq customers purchases lacks %q", want)
		}
	}

	// The console: the end of the number as a caller reads it out.
	bctx := browser(t)
	consoleLogin(t, bctx, h.adminURL, "sveta", consolePassword)
	err = chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.ID("customers")),
		chromedp.SendKeys(chromedp.ID("cust-card"), "123-45-67"),
		chromedp.Click(chromedp.ID("cust-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#cust-match-rows tr[data-card="`+card+`"]`)),
	)
	if err != nil {
		t.Fatalf("search by phone: %v", err)
	}
	matches, _ := chromedp.Run(bctx, chromedp.Text(chromedp.ID("cust-match-rows")))
	screenshot(t, bctx, "console-customer-search.png")
	if want := card + "\tВасилий Тёркин\t+• ••• •••-45-67"; !strings.Contains(matches, want) || strings.Contains(matches, other) {
		t.Errorf("the matches %q: want only %q", matches, want)
	}
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#cust-match-rows tr[data-card="`+card+`"] button`)),
		chromedp.WaitVisible(chromedp.ID("cust-found")),
	)
	if err != nil {
		t.Fatalf("open the card: %v", err)
	}
	rows, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#cust-purchase-rows tr")].map(r => r.className + "|" + r.innerText)`))
	screenshot(t, bctx, "console-customer-purchases.png")
	t.Logf("purchase rows:\n%s", strings.Join(rows, "\n"))
	if len(rows) != 3 {
		t.Fatalf("%d purchase rows, want 2 sales and a return", len(rows))
	}
	cells := func(i int) []string {
		_, text, _ := strings.Cut(rows[i], "|")
		return strings.Split(text, "\t")
	}
	// Newest first: the return, then the second sale, then the first.
	want := []struct {
		class, kind, receipt, total string
		earned                      int64
	}{
		{"return", "Return of " + sales[0].EventID, "", money.Display(-ret.Back, "RUB"), -ret.PointsReversed},
		{"sale", "Sale", sales[1].ReceiptCode, money.Display(sales[1].Total, "RUB"), sales[1].PointsEarned},
		{"sale", "Sale", sales[0].ReceiptCode, money.Display(sales[0].Total, "RUB"), sales[0].PointsEarned},
	}
	for i, w := range want {
		c := cells(i)
		if !strings.HasPrefix(rows[i], w.class+"|") || len(c) != 9 || c[1] != w.kind || c[2] != "S1" || c[3] != "S1-T1" ||
			(w.receipt != "" && c[4] != w.receipt) || c[5] != w.total || c[7] != fmt.Sprint(w.earned) {
			t.Errorf("purchase row %d = %q: want %s %q at S1/S1-T1, receipt %q, %s, %d points", i, rows[i], w.class, w.kind, w.receipt, w.total, w.earned)
		}
	}
	if c := cells(1); c[6] != money.Display(sales[1].Discount, "RUB") {
		t.Errorf("the second sale's discount %q, want %s", c[6], money.Display(sales[1].Discount, "RUB"))
	}

	log := mustTillhqAs(t, admin, "report", "admin-log", "--admin", h.adminURL)
	var searched bool
	for _, l := range strings.Split(log, "\n") {
		searched = searched || strings.Contains(l, "sveta") && strings.Contains(l, "GET /v1/admin/customers") && strings.Contains(l, "1 found") && !strings.Contains(l, "1234567")
	}
	if !searched {
		t.Errorf("the admin log has no phone search by sveta (with the digits masked):\n%s", log)
	}
}
