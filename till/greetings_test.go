package till_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tilld/tilld/discount"
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

// A new sale's answer is built from the sale as priced, not decoded from the
// bytes the ledger stored; its replay is decoded from those bytes. Both must
// say the same, byte for byte once encoded, on the example ruleset (tier,
// points, partner, catalog) with a registered holder.
func TestSaleAnswerEqualsItsReplay(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, pub)
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); err != nil {
		t.Fatal(err)
	}
	card := "2000000000015"
	if _, _, err := tl.RegisterCustomer(pos.CardHolder{Card: card, Name: "Мария", Phone: "+7 900 123-45-67", Consent: true}); err != nil {
		t.Fatal(err)
	}
	for i, basket := range []pos.Basket{
		{Card: card, Lines: []pos.Line{{SKU: "tea", Category: "tea", Qty: 2, UnitPrice: 100_00}, {SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 89_90}}},
		{Card: card, RedeemPoints: 5, Lines: []pos.Line{{SKU: "coffee", Category: "coffee", Qty: 3, UnitPrice: 450_00}}},
		{Lines: []pos.Line{{SKU: "bread", Category: "bakery", Qty: 1, UnitPrice: 45_00}}},
	} {
		req := till.SaleRequest{ID: fmt.Sprintf("pos-%d", i), Basket: basket}
		first, replayed, err := tl.Sale(req)
		if err != nil || replayed {
			t.Fatalf("sale %d: replayed %t, %v", i, replayed, err)
		}
		again, replayed, err := tl.Sale(req)
		if err != nil || !replayed {
			t.Fatalf("retry %d: replayed %t, %v", i, replayed, err)
		}
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Errorf("sale %d answered\n%s\nits replay\n%s", i, a, b)
		}
	}
}
