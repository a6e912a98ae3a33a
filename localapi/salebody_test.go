package localapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// FuzzDecodeSale: a sale request the one-pass decoder reads is the request
// encoding/json reads (unknown fields refused), field for field; and any
// body, read or not, gets from decodeBody the answer encoding/json gives
// after checkBody: the same request, or an error for the same bodies.
func FuzzDecodeSale(f *testing.F) {
	line := seedLine
	for _, s := range []string{
		`{"id":"pos-1","card":"2000000000022","lines":[` + line + `,{"sku":"tv","qty":1,"unit_price":100000}]}`,
		`{"id":"pos-1","card":"2000000000022","card_type":"ean13","redeem_points":100,"donate":true,"lines":[` + line + `]}`,
		`{"id":"a","lines":[],"donate":false,"store":"S1","region":"R","terminal":"T"}`,
		`{}`, `{"lines":[{}]}`, `{"id":"é <&> ₽","lines":[` + line + `]}`,
		`{"id":"a\"b","lines":[]}`, `{"id":null}`, `{"lines":null}`, `{"lines":[null]}`,
		`{"id":"x","lines":[{"sku":"a","qty":1.5,"unit_price":1}]}`, `{"lines":[{"qty":1e3}]}`,
		`{"lines":[{"qty":-0}]}`, `{"lines":[{"qty":9223372036854775808}]}`, `{"redeem_points":"5"}`,
		`{"donate":1}`, `{"id":1}`, `{"extra":1}`, `{"lines":[{"price":1}]}`, `[]`, `"s"`, `{"id":"a"} `,
		`{"lines":{"sku":"a"}}`, `{"lines":[[]]}`, `{"id":"a","id":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want till.SaleRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		errWant := dec.Decode(&want)
		whole, errCheck := checkBody(body)
		var fast till.SaleRequest
		if errCheck == nil && whole && decodeSale(body, &fast) {
			if errWant != nil {
				t.Fatalf("%q: read as %+v; encoding/json refuses it: %v", body, fast, errWant)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("%q: read as\n%+v\nencoding/json reads\n%+v", body, fast, want)
			}
		} else if !reflect.DeepEqual(fast, till.SaleRequest{}) {
			t.Fatalf("%q: not read, yet the request holds %+v", body, fast)
		}
		var got till.SaleRequest
		errGot := decodeBody(body, &got)
		if errCheck == nil && (errGot == nil) != (errWant == nil) && errGot != errTrailing {
			t.Fatalf("%q: decodeBody %v, encoding/json %v", body, errGot, errWant)
		}
		if errGot == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeBody read\n%+v\nencoding/json reads\n%+v", body, got, want)
		}
	})
}

// TestDecodeSaleReadsWhatPOSAppsSend: the request a POS app sends, the
// till's client's included, is read in one pass, not left to encoding/json
// (a string with an escape, such as Go's \u003c for '<', is).
func TestDecodeSaleReadsWhatPOSAppsSend(t *testing.T) {
	req := till.SaleRequest{ID: "pos-1 №7", Basket: pos.Basket{Card: "2000000000015", CardType: "ean13", RedeemPoints: 300, Donate: true,
		Lines: []pos.Line{
			{SKU: "milk", Category: "молочное", Qty: 2, UnitPrice: 89_90},
			{SKU: "tv", Qty: 1, UnitPrice: 99_999_00},
		}}}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var got till.SaleRequest
	if whole, err := checkBody(body); err != nil || !whole || !decodeSale(body, &got) {
		t.Fatalf("%s: not read in one pass (checkBody %v, %v)", body, whole, err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Errorf("read %+v, sent %+v", got, req)
	}
}
