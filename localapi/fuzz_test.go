package localapi_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// fuzzRoutes are the request bodies FuzzRequestBody sends, by route.
var fuzzRoutes = []string{"/v1/quote", "/v1/sales", "/v1/customers", "/v1/refunds"}

// FuzzRequestBody sends arbitrary bodies to quote, sale, customers and refunds through
// the API's real handler (guard, decoding, the till's validation, the ledger):
// it never panics or fails inside (no 5xx), refuses with 400 and a message
// every body that is not valid UTF-8, and whatever it accepts — a priced
// basket, a recorded sale, a stored holder — has only strings a person could
// type and a card a scan could read.
func FuzzRequestBody(f *testing.F) {
	line := `{"sku":"milk","category":"dairy","qty":2,"unit_price":9990}`
	for _, s := range []struct {
		route int
		body  string
	}{
		{0, `{"card":"2000000000015","lines":[` + line + `]}`},
		{0, `{"lines":[` + line + `],"redeem_points":5,"donate":true}`},
		{0, `{"card":"04:a1:b2:c3","card_type":"uid","lines":[` + line + `]}`},
		{1, `{"id":"pos-1","card":"2000000000022","lines":[` + line + `]}`},
		{1, `{"id":"pos-2","card":"2000000010008","lines":[` + line + `]}`},
		{1, "{\"id\":\"s\xff\",\"lines\":[" + line + "]}"},
		{1, `{"id":"s\u0000","lines":[` + line + `]}`},
		{1, `{"id":"pos-3","redeem_points":-5,"lines":[` + line + `]}`},
		{2, `{"card":"2000000000015","name":"Василий","surname":"Тёркин","birthday":"1978-03-05","phone":"+7 900 123-45-67","consent":true,"lang":"ru"}`},
		{2, `{"card":"2000000000015","name":"Вася","email":"v@example.ru"}`},
		{2, `{"card":"2000000000039","name":"A","email":"a@b.c","birthday":"3000-01-01"}`},
		{2, `{"card":"2000000000015","card":"x"}`},
		{3, `{"id":"r-1","sale":"pos-1","lines":[{"line":1,"qty":1}],"reason":"брак"}`},
		{3, `{"id":"r-2","seq":1}`},
		{3, `{"id":"r-3","receipt":"T1-1-abcdef"}`},
		{3, `{"id":"r-4","sale":"pos-1","lines":[{"line":1,"qty":1},{"line":1,"qty":1}]}`},
		{3, `{"id":"r-5","sale":"pos-1","seq":1}`},
		{0, `[]`}, {0, `null`}, {1, `{"lines":[{}]}`}, {2, `{}`}, {0, ``}, {1, `{"a":{"b":[1,{"c":"\u0001"}]}}`},
	} {
		f.Add(uint8(s.route), []byte(s.body))
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	l, err := ledger.Open(filepath.Join(f.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if rep, err := l.Verify(); err != nil || !rep.OK() {
			f.Errorf("ledger verify after fuzzing: %v %+v", err, rep)
		}
		l.Close()
	})
	pub, priv, _ := ed25519.GenerateKey(nil)
	cards := device.IdentifyOptions{CardPrefixes: []string{"2", "4600-4609"}}
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub, Cards: cards, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); err != nil {
		f.Fatal(err)
	}
	h := localapi.Handler(localapi.Options{Till: tl, Heartbeat: time.Hour, Token: testToken})
	typed := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) }
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:7450"+path, bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:1"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch code := w.Code; {
		case code >= 500:
			t.Fatalf("POST %s %q: %d %s", path, body, code, w.Body)
		case code >= 300:
			var we wire.Error
			if err := json.Unmarshal(w.Body.Bytes(), &we); err != nil || we.Code == "" || we.Message == "" {
				t.Fatalf("POST %s %q: %d with body %q: not an error that says what is wrong", path, body, code, w.Body)
			}
			return
		case !utf8.Valid(body):
			t.Fatalf("POST %s %q: %d accepted a body that is not UTF-8", path, body, code)
		}
		checkCard := func(card string) {
			if card == "" {
				return
			}
			for _, kind := range []device.CardKind{device.CardEAN13, device.CardEAN8, device.CardUPCA, device.CardPAN, device.CardUID, device.CardCode} {
				if c, err := device.ParseCard(card, kind, cards); err == nil && c.Number == card {
					return
				}
			}
			t.Fatalf("POST %s %q recorded card %q, which no scan reads as it is", path, body, card)
		}
		switch path {
		case "/v1/quote":
			var q till.QuoteResult
			if err := json.Unmarshal(w.Body.Bytes(), &q); err != nil {
				t.Fatal(err)
			}
			for _, l := range q.Lines {
				if !typed(l.SKU) || !typed(l.Category) {
					t.Fatalf("quote of %q has line %+v", body, l)
				}
			}
			if q.Customer != nil {
				checkCard(q.Customer.Card)
			}
		case "/v1/sales":
			var s till.SaleResult
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if !typed(s.ID) || s.ID == "" {
				t.Fatalf("sale of %q recorded id %q", body, s.ID)
			}
			for _, l := range s.Lines {
				if !typed(l.SKU) || !typed(l.Category) {
					t.Fatalf("sale of %q recorded line %+v", body, l)
				}
			}
			checkCard(s.Card)
		case "/v1/refunds":
			var r till.RefundResult
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if !typed(r.ID) || r.ID == "" || !typed(r.Reason) || r.SaleSeq == 0 || r.Back != r.Amount+r.Donated {
				t.Fatalf("refund of %q recorded %+v", body, r)
			}
			checkCard(r.Card)
		case "/v1/customers":
			var hd pos.CardHolder
			if err := json.Unmarshal(w.Body.Bytes(), &hd); err != nil {
				t.Fatal(err)
			}
			checkCard(hd.Card)
			stored := hd
			if err := stored.ValidateAt(now); err != nil || stored != hd {
				t.Fatalf("customer %q stored %+v, which is not valid: %v", body, hd, err)
			}
		}
	})
}
