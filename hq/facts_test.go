package hq

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeSaleFacts holds decodeSaleFacts to json.Unmarshal's answer on
// every valid JSON body: the same fields, and an error exactly when it errs.
func FuzzDecodeSaleFacts(f *testing.F) {
	for _, seed := range []string{
		`{"card":"2000000000015","currency":"RUB","total":89262,"points_earned":44,"points_redeemed":0,"lines":[{"sku":"milk","qty":1,"price":9990}],"applied":[{"rule":"gold","reason":"tier \"Gold\""}]}`,
		`{"CARD":"x","card":"y","total":"12"}`,
		`{"card":null,"total":1.5}`,
		`{"c\u0061rd":"escaped key"}`,
		` { } `,
		`[1,2]`,
		`"just a string"`,
		`{"lines":[[[{}]]],"total":-3,"points_redeemed":7}`,
		`{"card":"a\"b\\","total":100}`,
		`{"card":"2000000000015","total":100,"points_earned":201,"birthday_bonus":200,"applied":[{"rule":"bday","kind":"birthday","points":200}]}`,
		`{"card":"2000000000015","total":100,"points_earned":3,"points_redeemed":20,"lots":[{"lot":1,"earned":"2026-01-15T11:00:00Z","expires":"2026-07-15T00:00:00+03:00","points":20}],"points_expire":"2026-07-15T00:00:00+03:00"}`,
		`{"points_expire":"yesterday"}`, `{"lots":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		var want SaleFacts
		wantErr := json.Unmarshal(body, &want)
		got, err := decodeSaleFacts(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, json.Unmarshal's %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, json.Unmarshal gives %+v", body, got, want)
		}
	})
}

func BenchmarkDecodeSaleFacts(b *testing.B) {
	body := []byte(`{"id":"s-1","card":"2000000000015","currency":"RUB","lines":[{"sku":"milk-1l","name":"Молоко 3,2 %","category":"dairy","qty":2,"price":9990,"total":19980},{"sku":"bread","name":"Хлеб","category":"bakery","qty":1,"price":5490,"total":5490},{"sku":"apples","name":"Яблоки","category":"fruit","qty":1,"price":12990,"total":12990}],"applied":[{"rule":"gold","kind":"percent","amount":1923,"reason":"tier Gold"},{"rule":"happy-hour","kind":"percent","amount":500,"reason":"17:00-19:00"},{"rule":"partner","kind":"points","amount":0,"reason":"partner card"}],"subtotal":38460,"discount":2423,"total":36037,"points_earned":36,"points_redeemed":0}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeSaleFacts(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var s SaleFacts
			if err := json.Unmarshal(body, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzDecodeRefundFacts: a refund body never panics HQ's reading of it, and
// what it reads is the negative of what the body says, with no negative
// amounts accepted.
func FuzzDecodeRefundFacts(f *testing.F) {
	for _, seed := range []string{
		`{"id":"r1","card":"2000000000015","currency":"RUB","sale_seq":3,"amount":27000,"back":28421,"spend":27000,"points_reversed":3,"points_returned":0}`,
		`{"spend":-1}`, `{"points_returned":"x"}`, `[]`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeRefundFacts(body)
		if err != nil {
			return
		}
		var r refundFacts
		if json.Unmarshal(body, &r) != nil {
			t.Fatalf("%q: decoded, json.Unmarshal fails", body)
		}
		if !s.Refund || s.Total != -r.Spend || s.Earned != -r.Reversed || s.Redeemed != -r.Returned || s.Back != r.Back || s.Total > 0 || s.Back < 0 {
			t.Fatalf("%q: %+v", body, s)
		}
	})
}
