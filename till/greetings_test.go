package till_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

const greetingRules = `
[[rule]]
id = "hello"
kind = "greeting"
text = { ru = "%s, {name}!" }
nameless = { ru = "%s!" }
`

// A POS app's retry of a sale is answered as the sale was, greeting included,
// without pricing the basket again: here the rules changed between the sale
// and its retry, and a new pricing would greet otherwise. Once the holder is
// forgotten, the retry no longer greets by name.
func TestReplayGreetsAsTheSaleDid(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, pub)
	s := signer{t: t, priv: priv, tl: tl}
	rules := func(version int64, hello string) {
		t.Helper()
		if err := s.apply(version, fmt.Sprintf(greetingRules, hello, hello)); err != nil {
			t.Fatal(err)
		}
	}
	rules(1, "Здравствуйте")
	card := "2000000000015"
	if _, _, err := tl.RegisterCustomer(pos.CardHolder{Card: card, Name: "Мария", Phone: "+7 900 123-45-67", Consent: true}); err != nil {
		t.Fatal(err)
	}
	req := till.SaleRequest{ID: "pos-1", Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Category: "tea", Qty: 1, UnitPrice: 100_00}}}}
	res, replayed, err := tl.Sale(req)
	if err != nil || replayed || res.Greeting != "Здравствуйте, Мария!" {
		t.Fatalf("sale = %q, replayed %t, %v", res.Greeting, replayed, err)
	}

	rules(2, "Добрый день")
	res, replayed, err = tl.Sale(req)
	if err != nil || !replayed || res.Greeting != "Здравствуйте, Мария!" {
		t.Errorf("retry = %q, replayed %t, %v; want the sale's greeting", res.Greeting, replayed, err)
	}

	if err := tl.ApplyAccount(wire.AccountAnswer{Card: card, Forgotten: true}); err != nil {
		t.Fatal(err)
	}
	res, replayed, err = tl.Sale(req)
	if err != nil || !replayed || res.Greeting != "Добрый день!" {
		t.Errorf("retry after the holder was forgotten = %q, replayed %t, %v; want no name", res.Greeting, replayed, err)
	}
}
