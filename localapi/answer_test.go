package localapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// exampleWithNPS is the example ruleset with the NPS question every 90 days,
// so that answers carry ask_nps.
var exampleWithNPS = string(discount.Example) + `
[[rule]]
id = "nps"
kind = "nps"
every_days = 90
`

// TestSaleAnswerIsTheEncodedSale: a new sale's answer, spliced from the bytes
// the ledger recorded, says exactly what encoding the result says — the
// replay's answer, encoded from the stored sale — with no key given twice,
// the greeting and the NPS question included.
func TestSaleAnswerIsTheEncodedSale(t *testing.T) {
	e := newEnv(t, exampleWithNPS)
	req := till.SaleRequest{ID: "s-<1>", Basket: pos.Basket{Card: "2000000000015", Lines: []pos.Line{
		{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 89_90},
		{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 1000_00}}}}
	var first, replay json.RawMessage
	if code, err := e.client.Do(context.Background(), http.MethodPost, "/v1/sales", req, &first); err != nil || code != http.StatusCreated {
		t.Fatalf("sale: %d %v", code, err)
	}
	if code, err := e.client.Do(context.Background(), http.MethodPost, "/v1/sales", req, &replay); err != nil || code != http.StatusOK {
		t.Fatalf("replay: %d %v", code, err)
	}
	a, b := topLevel(t, first), topLevel(t, replay)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the answer and its replay differ:\n%s\n%s", first, replay)
	}
	if a["greeting"] == nil || a["ask_nps"] != true || a["id"] != "s-<1>" || a["seq"] == nil || a["inputs"] == nil {
		t.Errorf("answer without its greeting, NPS question, id, seq or inputs: %s", first)
	}
}

// topLevel decodes a JSON object, failing on a key given twice.
func topLevel(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object (%v)", raw, err)
	}
	m := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := tok.(string)
		if _, dup := m[key]; dup {
			t.Fatalf("%q given twice in %s", key, raw)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		m[key] = v
	}
	return m
}

// TestClientDecodesAsEncodingJSON: the client decodes tilld's answers with
// go-json-experiment's v1 package (docs/dependencies.md); what it makes of
// a sale, a replay, a refund, a quote and an account is what encoding/json
// makes of the same bytes.
func TestClientDecodesAsEncodingJSON(t *testing.T) {
	e := newEnv(t, exampleWithNPS)
	ctx := context.Background()
	const card = "2000000000015"
	basket := pos.Basket{Card: card, Lines: []pos.Line{
		{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 89_90},
		{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 1000_00}}}
	// same asks for an answer twice, through the client's decoding and as
	// bytes for encoding/json, and compares; ask must answer alike twice.
	same := func(name string, ask func(out any) error, typed, std any) {
		t.Helper()
		var raw json.RawMessage
		if err := ask(typed); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := ask(&raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := json.Unmarshal(raw, std); err != nil {
			t.Fatalf("%s: encoding/json: %v", name, err)
		}
		if !reflect.DeepEqual(typed, std) {
			t.Errorf("%s: the client decoded\n%+v\nencoding/json\n%+v\nfrom %s", name, typed, std, raw)
		}
	}
	post := func(path string, body any) func(out any) error {
		return func(out any) error {
			code, err := e.client.Do(ctx, http.MethodPost, path, body, out)
			if err == nil && code >= 300 {
				err = fmt.Errorf("status %d", code)
			}
			return err
		}
	}
	get := func(path string) func(out any) error {
		return func(out any) error { _, err := e.client.Do(ctx, http.MethodGet, path, nil, out); return err }
	}
	sale := till.SaleRequest{ID: "s-«1»", Basket: basket}
	same("sale", post("/v1/sales", sale), &till.SaleResult{}, &till.SaleResult{})
	same("sale without a card", post("/v1/sales", till.SaleRequest{ID: "s-2", Basket: pos.Basket{Lines: basket.Lines}}), &till.SaleResult{}, &till.SaleResult{})
	var sold till.SaleResult
	if _, err := e.client.Do(ctx, http.MethodPost, "/v1/sales", sale, &sold); err != nil {
		t.Fatal(err)
	}
	same("refund", post("/v1/refunds", till.RefundRequest{ID: "r-1", Receipt: sold.ReceiptCode, Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}), &till.RefundResult{}, &till.RefundResult{})
	same("quote", post("/v1/quote", basket), &till.QuoteResult{}, &till.QuoteResult{})
	same("account", get("/v1/accounts/"+card), &till.Customer{}, &till.Customer{})
}
