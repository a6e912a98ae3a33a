package localapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// TestProblemsStaySmall: a problem quotes the request only in part, so a
// body built to make its path or an unknown name huge gets a short answer,
// and a short event on the screens' stream (the till keeps the last 512).
func TestProblemsStaySmall(t *testing.T) {
	e := newEnv(t, tiersOnly)
	var cookie string
	for _, c := range e.serve(http.MethodGet, "/", "", "127.0.0.1:5000", nil).Result().Cookies() {
		if c.Name == "tilld_page" {
			cookie = c.Name + "=" + c.Value
		}
	}
	form := map[string]string{"Cookie": cookie, "Content-Type": "application/json"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := follow(t, ctx, e.srv.URL, "")
	key := strings.Repeat("a", 64)
	for name, body := range map[string]string{
		"nested a million bytes deep": strings.Repeat(`{"`+key+`":`, 1<<20/(len(key)+4)),
		"a name of a megabyte":        `{"` + strings.Repeat("Я", 1<<18) + `":1}`,
	} {
		w := e.serve(http.MethodPost, "/v1/feedback", body, "127.0.0.1:5000", form)
		if w.Code != http.StatusBadRequest || w.Body.Len() > 2048 {
			t.Errorf("%s: %d, an answer of %d bytes (%.200s), want 400 of at most 2 KiB", name, w.Code, w.Body.Len(), w.Body)
		}
		if ev := next(); ev.name != "problem" || len(ev.data) > 2048 {
			t.Errorf("%s: event %q of %d bytes, want a problem of at most 2 KiB", name, ev.name, len(ev.data))
		}
	}
}

// TestProblemsCarryNoPersonalData: what the POS app sent wrong about a card
// holder is named by its field, never quoted, since the screens' stream,
// which needs no token, carries every problem.
func TestProblemsCarryNoPersonalData(t *testing.T) {
	e := newEnv(t, tiersOnly)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := follow(t, ctx, e.srv.URL, "")
	for _, tc := range []struct{ body, field, secret string }{
		{`{"card":"2000000000015","name":"Мария","email":"maria.ivanova@mail ru"}`, "email", "maria.ivanova"},
		{`{"card":"2000000000015","name":"Мария","email":"m@example.ru","birthday":"2031-07-14"}`, "birthday", "2031-07-14"},
		{`{"card":"2000000000015","name":"Мария","email":"m@example.ru","birthday":"1990-14-07"}`, "birthday", "1990-14-07"},
		{`{"card":"2000000000015","name":"Мария","email":"m@example.ru","lang":"Мария Ивановна"}`, "lang", "Ивановна"},
	} {
		code, msg := e.post(t, "/v1/customers", tc.body)
		ev := next()
		if code != http.StatusBadRequest || !strings.HasPrefix(msg, tc.field+":") || ev.name != "problem" || !strings.Contains(ev.data, `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, event %s; want 400 naming %s", tc.body, code, msg, ev.name, tc.field)
		}
		if strings.Contains(msg, tc.secret) || strings.Contains(ev.data, tc.secret) {
			t.Errorf("%s: the answer %s or the event %s quotes %q", tc.body, msg, ev.data, tc.secret)
		}
	}
}

// TestProblemsNameTheirField: a card's problem names the field that sent
// it: card_type for a type the till does not know, claim.card for the card
// on a receipt, with that card masked.
func TestProblemsNameTheirField(t *testing.T) {
	rules := tiersOnly + "\n[limits]\noffline_return = \"1000.00\"\noffline_returns_per_day = \"1500.00\"\n"
	e := newEnvWith(t, rules, func(o *till.Options) {
		o.FetchSale = func(context.Context, string) (wire.SaleAnswer, error) {
			return wire.SaleAnswer{}, errors.New("HQ down")
		}
	})
	for _, tc := range []struct{ path, body, field, card string }{
		{"/v1/quote", `{"card":"2000000000015","card_type":"ean31","lines":[{"sku":"a","qty":1,"unit_price":100}]}`, "card_type", ""},
		{"/v1/refunds", `{"id":"r1","receipt":"T9-5-abcdef","claim":{"card":"2000000000016","lines":[{"line":1,"sku":"tea","qty":1,"paid":100}]}}`, "claim.card", pos.MaskCard("2000000000016")},
	} {
		resp, err := e.do(http.MethodPost, tc.path, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		var p localapi.Problem
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusBadRequest || p.Field != tc.field || p.Card != tc.card {
			t.Errorf("%s %s: %d %+v %v, want 400 naming %s (card %q)", tc.path, tc.body, resp.StatusCode, p, err, tc.field, tc.card)
		}
	}
}
