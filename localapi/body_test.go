package localapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tilld/tilld/pos"
)

// TestBodiesNameWhatIsWrong: issue 14's smaller holes, sent as raw bytes over
// HTTP: each is refused with 400 naming the field, and nothing is recorded.
func TestBodiesNameWhatIsWrong(t *testing.T) {
	e := newEnv(t, tiersOnly)
	line := `{"sku":"milk","category":"dairy","qty":1,"unit_price":9990}`
	for _, tc := range []struct {
		path, body, want string
	}{
		{"/v1/sales", `{"id":"s\u00001","lines":[` + line + `]}`, "id: contains control characters"},
		{"/v1/sales", "{\"id\":\"s\xff1\",\"lines\":[" + line + "]}", "id: not valid UTF-8"},
		{"/v1/sales", "{\"id\":\"s1\",\"lines\":[{\"sku\":\"mi\xc3lk\",\"qty\":1,\"unit_price\":1}]}", "lines[1].sku: not valid UTF-8"},
		{"/v1/sales", "{\"id\":\"s1\",\"lines\":[{\"sku\":\"mi\x00lk\",\"qty\":1,\"unit_price\":1}]}", "lines[1].sku: not valid JSON"},
		{"/v1/quote", `{"lines":[` + line + `,{"sku":"b\u0007","qty":1,"unit_price":1}]}`, "lines[2].sku: contains control characters"},
		{"/v1/quote", `{"lines":[{"sku":"a","category":"da\u0000iry","qty":1,"unit_price":1}]}`, "lines[1].category: contains control characters"},
		{"/v1/quote", `{"card":"2000000000015","Card":"2000000000022","lines":[` + line + `]}`, `"Card" is not a field of this API`},
		{"/v1/quote", `{"card":"2000000000015","card":"2000000000022","lines":[` + line + `]}`, "card: given twice"},
		{"/v1/quote", `{"card":"2000000000015","redeem_points":-5,"lines":[` + line + `]}`, "redeem_points: must be between 0 and"},
		{"/v1/sales", `{"id":"s1","card":"2000000000015","redeem_points":1000000000000000,"lines":[` + line + `]}`, "redeem_points: must be between 0 and"},
		{"/v1/sales", `{"id":"s1","card":"2000000010008","lines":[` + line + `]}`, "card: EAN-13 •••••••••0008: check digit is 8, want 7"},
		{"/v1/sales", `{"id":"s1","card":"20000000A0009","lines":[` + line + `]}`, "card: card •••••••••0009: not a card number"},
		{"/v1/sales", `{"id":"s1","card":"4111111111111112","lines":[` + line + `]}`, "card: PAN ••••••••••••1112: check digit is 2, want 1"},
		{"/v1/sales", `{"id":"s1","card":"4006381333931","lines":[` + line + `]}`, "card: EAN-13 •••••••••3931: a product code"},
		{"/v1/customers", `{"card":"2000000000015","name":"Мария","email":"m@example.ru","birthday":"3000-01-01"}`, "birthday: a date in the future"},
		{"/v1/customers", `{"card":"2000000000015","name":"Ма\u0000рия","email":"m@example.ru"}`, "name: contains control characters"},
		{"/v1/customers", `{"card":"4006381333931","name":"Мария","email":"m@example.ru"}`, "card: EAN-13 •••••••••3931: a product code"},
		{"/v1/customers", `{"card":"2000000000015","name":"Мария","email":"m@example.ru","card_type":"uid"}`, "card: UID: odd number of hex digits (13)"},
	} {
		if code, msg := e.post(t, tc.path, tc.body); code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("POST %s %q: %d %q; want 400 saying %q", tc.path, tc.body, code, msg, tc.want)
		}
	}
	if st, _ := e.till.Status(); st.LastSeq != 0 {
		t.Fatalf("%d events recorded from refused requests", st.LastSeq)
	}
	if a, _ := e.till.Account("2000000000015"); a.Holder != nil {
		t.Fatalf("a holder recorded from refused requests: %+v", a.Holder)
	}
}

// TestCustomerCorrectionOverHTTP is issue 14's correction: resending name,
// e-mail and lang keeps surname, birthday and consent.
func TestCustomerCorrectionOverHTTP(t *testing.T) {
	e := newEnv(t, tiersOnly)
	post := func(body string) (int, pos.CardHolder) {
		t.Helper()
		resp, err := e.do(http.MethodPost, "/v1/customers", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h pos.CardHolder
		json.NewDecoder(resp.Body).Decode(&h)
		return resp.StatusCode, h
	}
	code, _ := post(`{"card":"2000000000015","name":"Василий","surname":"Тёркин","birthday":"1978-03-05","email":"v@example.ru","consent":true,"lang":"ru"}`)
	if code != http.StatusCreated {
		t.Fatalf("register: %d", code)
	}
	code, h := post(`{"card":"2000000000015","name":"Вася","email":"vasya@example.ru","lang":"en"}`)
	if code != http.StatusOK || h.Name != "Вася" || h.Email != "vasya@example.ru" || h.Lang != "en" ||
		h.Surname != "Тёркин" || h.Birthday != "1978-03-05" || !h.Consent {
		t.Fatalf("correction: %d %+v; want surname, birthday and consent kept", code, h)
	}
	// A record read back and sent again (with its stored times) is accepted.
	a, err := e.client.Account(t.Context(), "2000000000015")
	if err != nil {
		t.Fatal(err)
	}
	back, _ := json.Marshal(a.Holder)
	if code, h := post(string(back)); code != http.StatusOK || h.Surname != "Тёркин" {
		t.Fatalf("the stored record sent back: %d %+v", code, h)
	}
	if code, h := post(`{"card":"2000000000015","consent":false,"surname":""}`); code != http.StatusOK || h.Consent || h.Surname != "" || h.Name != "Вася" {
		t.Fatalf("withdrawing consent and clearing the surname: %d %+v", code, h)
	}
}
