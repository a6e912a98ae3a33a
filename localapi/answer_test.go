package localapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// TestSaleAnswerIsTheEncodedSale: a new sale's answer, spliced from the bytes
// the ledger recorded, says exactly what encoding the result says — the
// replay's answer, encoded from the stored sale — with no key given twice,
// the greeting and the NPS question included.
func TestSaleAnswerIsTheEncodedSale(t *testing.T) {
	e := newEnv(t, string(discount.Example)+`
[[rule]]
id = "nps"
kind = "nps"
every_days = 90
`)
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
