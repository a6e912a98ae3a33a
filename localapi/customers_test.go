package localapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// birthdayRules are the rules of discount's TestBirthdayGoldPartnerHappyHour as
// HQ writes them, and one rule for another store only.
const birthdayRules = `
schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "happy-hour"
kind = "percent_off"
name = "Счастливые часы"
priority = 10
categories = ["coffee"]
percent = "20%"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = ["16:00-18:00"]

[[rule]]
id = "cumulative"
kind = "tiers"
priority = 20
  [[rule.tier]]
  name = "Silver"
  from = "5000.00"
  percent = "5%"
  [[rule.tier]]
  name = "Gold"
  from = "10000.00"
  percent = "10%"
  [[rule.tier]]
  name = "Platinum"
  from = "15000.00"
  percent = "15%"

[[rule]]
id = "aero"
kind = "partner"
priority = 30
partner = "aeroflot"
prefixes = ["2771"]
percent = "5%"
points = 1
per = "100.00"

[[rule]]
id = "bday"
kind = "birthday"
priority = 40
days_before = 3
days_after = 3
percent = "10%"
text = { ru = "С днём рождения, {name}!", en = "Happy birthday, {name}!" }

[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"

[[rule]]
id = "hello"
kind = "greeting"
text = { ru = "Здравствуйте, {name} {patronymic}!", en = "Hello, {name}!" }
nameless = { ru = "Здравствуйте!", en = "Hello!" }

[[rule]]
id = "s99-opening"
kind = "card_percent"
name = "Открытие магазина 99"
percent = "30%"
stores = ["S99"]
`

// The quote: through the local API, a birthday customer (registered at
// this till) in the 10 % tier with a partner card during a happy hour; every
// applied rule comes with its reason, and explain mode says why the rule of
// another store did not apply.
func TestBirthdayGoldPartnerHappyHour(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	now := time.Date(2025, 3, 4, 17, 15, 0, 0, msk) // a Tuesday, happy hour, a day before the birthday
	e := newEnvWith(t, birthdayRules, func(o *till.Options) {
		o.Store, o.Region = "S12", "moscow"
		o.Now = func() time.Time { return now }
	})
	ctx := context.Background()
	card := "2771000000007"
	// HQ knows the card's 12 000 ₽ of purchases in other stores.
	if err := e.till.Ledger().PutSnapshot(card, pos.Account{LifetimeSpend: 12000_00, Sales: 9}, 0, ""); err != nil {
		t.Fatal(err)
	}
	h, code, err := e.client.RegisterCustomer(ctx, pos.CardHolder{Card: card, Name: "Василий", Patronymic: "Петрович",
		Birthday: "1980-03-05", Phone: "+7 900 123-45-67", Consent: true, Lang: "ru"})
	if err != nil || code != http.StatusCreated || h.Registered.IsZero() || h.Terminal != "T1" {
		t.Fatalf("register = %+v %d %v", h, code, err)
	}

	b := pos.Basket{Card: card, Lines: []pos.Line{
		{SKU: "coffee", Category: "coffee", Qty: 2, UnitPrice: 350_00},
		{SKU: "cake", Category: "bakery", Qty: 1, UnitPrice: 600_00},
	}}
	q, err := e.client.QuoteWith(ctx, b, till.QuoteOptions{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []pos.Applied{
		{Rule: "happy-hour", Kind: "percent_off", Amount: 140_00, Reason: "Счастливые часы: скидка 20 %"},
		{Rule: "cumulative", Kind: "tiers", Amount: 116_00, Reason: "Накопительная скидка 10 % (Gold): сумма покупок 12 000,00 ₽ ≥ 10 000,00 ₽"},
		{Rule: "aero", Kind: "partner", Amount: 52_20, Reason: "Карта партнёра «aeroflot»: скидка 5 %", Partner: "aeroflot"},
		{Rule: "bday", Kind: "birthday", Amount: 99_18, Reason: "С днём рождения: скидка 10 %"},
		{Rule: "bonus", Kind: "points", Points: 8, Reason: "1 балл за каждые 100,00 ₽"},
		{Rule: "aero", Kind: "partner", Points: 8, Reason: "Карта партнёра «aeroflot»: 1 балл за каждые 100,00 ₽", Partner: "aeroflot"},
	}
	if !reflect.DeepEqual(q.Applied, want) {
		t.Errorf("applied:\n%+v\nwant\n%+v", q.Applied, want)
	}
	if q.Total != 892_62 || q.Tier != "Gold" || !q.Birthday || q.Greeting != "С днём рождения, Василий!" ||
		q.Partner != "aeroflot" || q.PartnerPoints != 8 || q.PointsEarned != 8 {
		t.Errorf("quote %+v", q.Quote)
	}
	// Explain: the other store's rule and the greeting the birthday's text replaced.
	var scoped *pos.Dropped
	for i, d := range q.Dropped {
		if d.Rule == "s99-opening" {
			scoped = &q.Dropped[i]
		}
	}
	if scoped == nil || scoped.Code != "scope" || scoped.Reason == "" {
		t.Errorf("dropped %+v: want s99-opening dropped for its scope", q.Dropped)
	}
	if q.Customer == nil || q.Customer.Tier != "Gold" || q.Customer.Holder == nil || q.Customer.Holder.Name != "Василий" {
		t.Errorf("customer %+v", q.Customer)
	}
	// Without explain, no dropped rules.
	if plain, err := e.client.Quote(ctx, b); err != nil || len(plain.Dropped) != 0 || plain.Total != q.Total {
		t.Errorf("plain quote: %v, dropped %+v", err, plain.Dropped)
	}

	// The sale is priced the same and its chained event carries no personal data.
	res, code, err := e.client.Sale(ctx, till.SaleRequest{ID: "pos-1", Basket: b})
	if err != nil || code != http.StatusCreated || res.Total != 892_62 || res.Greeting != "С днём рождения, Василий!" {
		t.Fatalf("sale = %+v %d %v", res, code, err)
	}
	var events int
	err = e.till.Ledger().Events(0, func(ev event.Event) error {
		events++
		for _, s := range []string{"Василий", "Петрович", "1980-03-05", "+7 900 123-45-67"} {
			if strings.Contains(string(ev.Body), s) {
				t.Errorf("event %d carries %q: %s", ev.Seq, s, ev.Body)
			}
		}
		return nil
	})
	if err != nil || events != 1 {
		t.Errorf("events: %d, %v", events, err)
	}
}

func TestRegisterCustomer(t *testing.T) {
	e := newEnv(t, tiersOnly)
	ctx := context.Background()
	bad := []struct {
		h     pos.CardHolder
		field string
	}{
		{pos.CardHolder{Name: "Мария", Phone: "+7 900 1234567"}, "card"},
		{pos.CardHolder{Card: "2000000000015", Phone: "+7 900 1234567"}, "name"},
		{pos.CardHolder{Card: "2000000000015", Name: "Мария"}, "phone"},
		{pos.CardHolder{Card: "2000000000015", Name: "Мария", Phone: "call me"}, "phone"},
		{pos.CardHolder{Card: "2000000000015", Name: "Мария", Email: "maria@"}, "email"},
		{pos.CardHolder{Card: "2000000000015", Name: "Мария", Email: "m@example.ru", Birthday: "1990-02-30"}, "birthday"},
		{pos.CardHolder{Card: "2000000000015", Name: "Мария", Email: "m@example.ru", Lang: "de"}, "lang"},
	}
	for _, tc := range bad {
		_, code, err := e.client.RegisterCustomer(ctx, tc.h)
		var ae *localapi.APIError
		if code != http.StatusBadRequest || !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, tc.field+":") {
			t.Errorf("register %+v = %d %v; want 400 naming %s", tc.h, code, err, tc.field)
		}
	}
	if a, err := e.client.Account(ctx, "2000000000015"); err != nil || a.Known || a.Holder != nil {
		t.Errorf("a refused registration left %+v %v", a, err)
	}

	h := pos.CardHolder{Card: " 2000000000015 ", Name: " Мария ", Email: "m@example.ru", Birthday: "--07-14"}
	first, code, err := e.client.RegisterCustomer(ctx, h)
	if err != nil || code != http.StatusCreated || first.Card != "2000000000015" || first.Name != "Мария" {
		t.Fatalf("register = %+v %d %v", first, code, err)
	}
	h.Phone = "+7 900 765-43-21"
	second, code, err := e.client.RegisterCustomer(ctx, h)
	if err != nil || code != http.StatusOK || !second.Registered.Equal(first.Registered) || second.Phone != h.Phone {
		t.Fatalf("correction = %+v %d %v", second, code, err)
	}
	a, err := e.client.Account(ctx, "2000000000015")
	if err != nil || !a.Known || a.Holder == nil || a.Holder.Phone != h.Phone || a.Holder.Birthday != "--07-14" {
		t.Errorf("account = %+v %v", a, err)
	}
	// Unknown fields are refused, so a typo never drops data silently.
	var raw json.RawMessage = []byte(`{"card":"2000000000022","name":"Пётр","phone":"+7 900 1234567","birth_day":"1990-01-01"}`)
	if code, err := e.client.Do(ctx, http.MethodPost, "/v1/customers", raw, nil); code != http.StatusBadRequest || err == nil {
		t.Errorf("unknown field: %d %v", code, err)
	}
}

// TestSignUpFormCreatesOnly: the customers' sign-up form (the page's
// cookie, which any program on the till can get) creates a holder and
// answers with no more than the card's mask; it never changes a holder the
// card has, whichever card type names the card, and two sign-ups of one
// card at once make one holder.
func TestSignUpFormCreatesOnly(t *testing.T) {
	e := newEnv(t, tiersOnly)
	ctx := context.Background()
	const local = "127.0.0.1:5555"
	var cookie string
	for _, c := range e.serve(http.MethodGet, "/", "", local, nil).Result().Cookies() {
		if c.Name == "tilld_page" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("the page set no cookie")
	}
	form := map[string]string{"Cookie": cookie, "Content-Type": "application/json"}

	// A card read by its chip's UID: an all-digit number that is no EAN-13.
	maria := pos.CardHolder{Card: "12345678", Name: "Мария", Surname: "Иванова", Phone: "+7 900 1234567", Email: "m@example.ru", Birthday: "1990-07-14"}
	if _, code, err := e.client.ChangeCustomer(ctx, localapi.CustomerRequest{HolderChange: maria.Change(), CardType: "uid"}); err != nil || code != http.StatusCreated {
		t.Fatalf("the POS app's registration: %d %v", code, err)
	}
	for _, body := range []string{
		`{"card":"12345678","card_type":"uid","name":"Злоумышленник","consent":true}`,
		`{"card":" 12345678 ","card_type":"uid","phone":"+7 999 0000000"}`,
	} {
		w := e.serve(http.MethodPost, "/v1/customers", body, local, form)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `"holder_exists"`) {
			t.Errorf("sign-up over a holder %s: %d %s, want 409 holder_exists", body, w.Code, w.Body)
		}
		for _, leak := range []string{"Мария", "Иванова", "1234567", "m@example.ru", "1990"} {
			if strings.Contains(w.Body.String(), leak) {
				t.Errorf("sign-up over a holder %s: the answer %s holds %q", body, w.Body, leak)
			}
		}
	}
	a, err := e.client.AccountOfType(ctx, "12345678", "uid")
	if err != nil || a.Holder == nil || a.Holder.Name != "Мария" || a.Holder.Phone != maria.Phone {
		t.Errorf("the holder after the refused sign-ups: %+v %v", a.Holder, err)
	}

	// A new card: created, and the answer is the mask.
	w := e.serve(http.MethodPost, "/v1/customers", `{"card":"2000000000022","name":"Пётр","phone":"+7 900 7654321","consent":true}`, local, form)
	if w.Code != http.StatusCreated || w.Body.String() != `{"card":"`+pos.MaskCard("2000000000022")+`","created":true}`+"\n" {
		t.Errorf("a sign-up: %d %q", w.Code, w.Body)
	}

	// Two at once: one holder, the other refused.
	codes := make(chan int, 2)
	for _, name := range []string{"Анна", "Ольга"} {
		go func() {
			codes <- e.serve(http.MethodPost, "/v1/customers", `{"card":"2000000000039","name":"`+name+`","phone":"+7 900 1112233","consent":true}`, local, form).Code
		}()
	}
	got := []int{<-codes, <-codes}
	if !(got[0] == http.StatusCreated && got[1] == http.StatusConflict) && !(got[1] == http.StatusCreated && got[0] == http.StatusConflict) {
		t.Errorf("two sign-ups of one card at once: %v, want one 201 and one 409", got)
	}
}
