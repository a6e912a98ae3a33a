package localapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// TestProblems: each error a cashier can meet answers its stable code, its
// status and, beside the English message, what was wrong and where: the
// line and its sku, the field, the value and its bounds, money in minor
// units with the currency and as people read it. The POS app's failures
// also reach the cashier's page on the event stream ("problem").
func TestProblems(t *testing.T) {
	e := newEnv(t, tiersOnly)
	ctx := context.Background()
	if _, code := e.sale("s1", "2000000000015", 100_00); code != http.StatusCreated {
		t.Fatal("sale s1")
	}
	if _, _, err := e.client.Sale(ctx, till.SaleRequest{ID: "s2", Basket: pos.Basket{Card: "2000000000015",
		Lines: []pos.Line{{SKU: "tea", Qty: 2, UnitPrice: 300_00}}}}); err != nil {
		t.Fatal(err)
	}
	n := func(v int64) *int64 { return &v }
	line := func(l ...pos.Line) string {
		b, _ := json.Marshal(pos.Basket{Lines: append([]pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 50_00}}, l...)})
		return string(b)
	}
	tests := []struct {
		name, path, body string
		want             localapi.Problem
	}{
		{"qty out of range", "/v1/quote", line(pos.Line{SKU: "milk", Qty: 0, UnitPrice: 80_00}),
			localapi.Problem{Code: "bad_line", Op: "quote", Field: "lines[2].qty", Reason: "range", Line: 2, SKU: "milk", Got: n(0), Min: n(1), Max: n(pos.MaxQty)}},
		{"unit price out of range", "/v1/quote", line(pos.Line{SKU: "gold", Qty: 1, UnitPrice: 2 * pos.MaxUnitPrice}),
			localapi.Problem{Code: "bad_line", Op: "quote", Field: "lines[2].unit_price", Reason: "range", Line: 2, SKU: "gold",
				Amount: &localapi.Money{Minor: 2 * pos.MaxUnitPrice, Currency: "RUB", Display: "2000000000.00 RUB"},
				Limit:  &localapi.Money{Minor: pos.MaxUnitPrice, Currency: "RUB", Display: "1000000000.00 RUB"}}},
		{"line amount over the limit", "/v1/quote", line(pos.Line{SKU: "gold", Qty: 100, UnitPrice: pos.MaxUnitPrice}),
			localapi.Problem{Code: "bad_line", Op: "quote", Field: "lines[2].qty", Reason: "line_amount", Line: 2, SKU: "gold", Got: n(100),
				Amount: &localapi.Money{Minor: 100 * pos.MaxUnitPrice, Currency: "RUB", Display: "100000000000.00 RUB"},
				Limit:  &localapi.Money{Minor: pos.MaxLineAmount, Currency: "RUB", Display: "10000000000.00 RUB"}}},
		{"sku missing", "/v1/sales", `{"id":"s9","lines":[{"sku":"bread","qty":1,"unit_price":100},{"sku":"","qty":1,"unit_price":100}]}`,
			localapi.Problem{Code: "bad_line", Op: "sale", Field: "lines[2].sku", Reason: "missing", Line: 2}},
		{"no lines", "/v1/quote", `{"lines":[]}`,
			localapi.Problem{Code: "bad_request", Op: "quote", Field: "lines", Reason: "empty"}},
		{"card check digit", "/v1/quote", `{"card":"2000000000016","lines":[{"sku":"tea","qty":1,"unit_price":100}]}`,
			localapi.Problem{Code: "bad_card", Op: "quote", Field: "card", Reason: "check_digit", Card: "•••••••••0016"}},
		{"not a card of the program", "/v1/sales", `{"id":"s8","card":"4006381333931","lines":[{"sku":"tea","qty":1,"unit_price":100}]}`,
			localapi.Problem{Code: "unknown_card", Op: "sale", Field: "card", Reason: "product", Card: "•••••••••3931"}},
		{"redeem too many points", "/v1/quote", `{"card":"2000000000015","redeem_points":2000000000,"lines":[{"sku":"tea","qty":1,"unit_price":100}]}`,
			localapi.Problem{Code: "bad_redeem_points", Op: "quote", Field: "redeem_points", Reason: "range", Got: n(2_000_000_000), Min: n(0), Max: n(pos.MaxRedeemPoints)}},
		{"over return", "/v1/refunds", `{"id":"r1","sale":"s2","lines":[{"line":1,"qty":3}]}`,
			localapi.Problem{Code: "over_return", Op: "refund", Line: 1, SKU: "tea", Sold: n(2), Returned: n(0), Asked: n(3), Sale: "s2"}},
		{"unknown receipt", "/v1/refunds", `{"id":"r2","sale":"nope"}`,
			localapi.Problem{Code: "no_such_sale", Op: "refund", Sale: "nope"}},
		{"sale id reused", "/v1/sales", `{"id":"s1","lines":[{"sku":"tv","qty":2,"unit_price":100}]}`,
			localapi.Problem{Code: "sale_id_reused", Op: "sale"}},
		{"phone too short", "/v1/customers", `{"card":"2000000000022","name":"Мария","phone":"12","consent":true}`,
			localapi.Problem{Code: "bad_request", Op: "customer", Field: "phone", Reason: "range", Got: n(2), Min: n(5), Max: n(15)}},
		{"birthday in the future", "/v1/customers", `{"card":"2000000000022","name":"Мария","phone":"+7 900 111-22-33","birthday":"3000-01-01"}`,
			localapi.Problem{Code: "bad_request", Op: "customer", Field: "birthday", Reason: "future"}},
		{"name too long", "/v1/customers", `{"card":"2000000000022","name":"` + strings.Repeat("я", 60) + `","phone":"+7 900 111-22-33"}`,
			localapi.Problem{Code: "bad_request", Op: "customer", Field: "name", Reason: "too_long", Got: n(120), Max: n(pos.MaxNameLen)}},
		{"wrong type", "/v1/quote", `{"lines":[{"sku":"tea","qty":"two","unit_price":100}]}`,
			localapi.Problem{Code: "bad_request", Op: "quote", Field: "lines.qty", Reason: "json"}},
	}
	// The page's view of the stream gets each failure as a "problem" event.
	resp, err := http.Get(e.srv.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewScanner(resp.Body)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.do(http.MethodPost, tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			var got localapi.Problem
			err = json.NewDecoder(r.Body).Decode(&got)
			r.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != localapi.Codes[tt.want.Code] {
				t.Errorf("status %d, want %d", r.StatusCode, localapi.Codes[tt.want.Code])
			}
			if got.Message == "" {
				t.Error("no English message")
			}
			tt.want.Message = got.Message
			if !reflect.DeepEqual(got, tt.want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(tt.want)
				t.Errorf("problem\n got %s\nwant %s", gj, wj)
			}
			// The same problem on the stream, with the card masked.
			for events.Scan() {
				if strings.HasPrefix(events.Text(), "event: problem") {
					break
				}
			}
			events.Scan()
			var ev localapi.Problem
			if err := json.Unmarshal([]byte(strings.TrimPrefix(events.Text(), "data: ")), &ev); err != nil || !reflect.DeepEqual(ev, got) {
				t.Errorf("problem event %q (%v), want the answer", events.Text(), err)
			}
		})
	}
}

// TestProblemsWithoutRules: no rules is no_rules; rules that start later
// are rules_not_yet with their start.
func TestProblemsWithoutRules(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func(o *till.Options) { o.Now = func() time.Time { return now } }
	quote := func(e *env) localapi.Problem {
		t.Helper()
		r, err := e.do(http.MethodPost, "/v1/quote", `{"lines":[{"sku":"tea","qty":1,"unit_price":100}]}`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var p localapi.Problem
		json.NewDecoder(r.Body).Decode(&p)
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status %d", r.StatusCode)
		}
		return p
	}
	if p := quote(newEnvWith(t, "", clock)); p.Code != "no_rules" {
		t.Errorf("no rules: %+v", p)
	}
	later := strings.Replace(tiersOnly, "version = 1", "version = 1\neffective = 2026-06-15T12:00:00Z", 1)
	if p := quote(newEnvWith(t, later, clock)); p.Code != "rules_not_yet" || !strings.HasPrefix(p.Effective, "2026-06-15") {
		t.Errorf("rules starting later: %+v", p)
	}
}

// TestErrorCatalog: every code the API answers has a text in the cashier's
// page in ru and in en, and a row in docs/localapi.md.
func TestErrorCatalog(t *testing.T) {
	page, err := os.ReadFile("page/index.html")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/localapi.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile(`(?s)problems: \{(.*?)\},\n\s*other: `).FindAllSubmatch(page, -1)
	if len(blocks) != 2 {
		t.Fatalf("%d problems catalogs in the page, want 2 (ru, en)", len(blocks))
	}
	for code := range localapi.Codes {
		for i, lang := range []string{"ru", "en"} {
			if !regexp.MustCompile(`(^|[\s{,])` + code + `: `).Match(blocks[i][1]) {
				t.Errorf("the page has no %s text for %s", lang, code)
			}
		}
		if !strings.Contains(string(doc), "| `"+code+"` |") {
			t.Errorf("docs/localapi.md has no row for %s", code)
		}
	}
}
