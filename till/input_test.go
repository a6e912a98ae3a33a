package till_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// inputTill is a till with the example rules, the card ranges "2" and
// "4600-4609", and a clock at now.
func inputTill(t *testing.T, now time.Time) (*till.Till, *ledger.Ledger) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	clock := func() time.Time { return now }
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub, Now: clock,
		Cards: device.IdentifyOptions{CardPrefixes: []string{"2", "4600-4609"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); err != nil {
		t.Fatal(err)
	}
	return tl, l
}

// TestCardsParsedAsAScan: a card number the POS app sends is checked as a
// scan checks it; every bad one is refused naming the card (or card_type,
// for a type the till does not know), and nothing is recorded for it: no
// sale, no holder, no account.
func TestCardsParsedAsAScan(t *testing.T) {
	tl, l := inputTill(t, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	lines := []pos.Line{{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 99_90}}
	for _, tc := range []struct{ card, cardType, says string }{
		{"2000000010008", "", "check digit is 8, want 7"},
		{"20000000A0009", "", "not a card number"},
		{"4111111111111112", "", "check digit is 2, want 1"},
		{"4006381333931", "", "a product code"},
		{"2000000000015", "ean8", "want 8 digits"},
		{"2000000000015", "nfc", `unknown card type "nfc"`},
		{"2000\x000000015", "", "not a card number"},
		{strings.Repeat("2", 65), "", "at most 64"},
	} {
		check := func(op string, err error) {
			t.Helper()
			var in *pos.InputError
			field := "card"
			if tc.cardType == "nfc" {
				field = "card_type"
			}
			if !errors.As(err, &in) || in.Field != field || !strings.Contains(in.Problem, tc.says) {
				t.Errorf("%s with card %q (%s) = %v; want a card error saying %q", op, tc.card, tc.cardType, err, tc.says)
			}
		}
		b := pos.Basket{Card: tc.card, CardType: tc.cardType, Lines: lines}
		_, err := tl.Quote(b, till.QuoteOptions{})
		check("quote", err)
		_, _, err = tl.Sale(till.SaleRequest{ID: "bad-card-sale", Basket: b})
		check("sale", err)
		_, _, err = tl.ChangeCustomer(pos.HolderChange{Card: tc.card, Name: ptr("Мария"), Email: ptr("m@example.ru")}, tc.cardType)
		check("customer", err)
		_, err = tl.AccountOfType(tc.card, tc.cardType)
		check("account", err)
	}
	st, err := l.Stats()
	if err != nil || st.LastSeq != 0 {
		t.Fatalf("after refused cards the ledger has %d events (%v), want none", st.LastSeq, err)
	}
	if pend, _ := l.PendingHolders(10); len(pend) != 0 {
		t.Fatalf("holders recorded for refused cards: %+v", pend)
	}

	// The same numbers a scan accepts work, normalised as a scan normalises them.
	for _, tc := range []struct{ card, cardType, want string }{
		{"2000000000015", "", "2000000000015"},
		{" 4600000000008 ", "ean13", "4600000000008"},
		{"04:a1:b2:c3", "", "04A1B2C3"},
		{"12345678", "uid", "12345678"},
		{"79927398713", "pan", "79927398713"},
	} {
		res, _, err := tl.Sale(till.SaleRequest{ID: "ok-" + tc.card, Basket: pos.Basket{Card: tc.card, CardType: tc.cardType, Lines: lines}})
		if err != nil || res.Card != tc.want {
			t.Errorf("sale with card %q (%s) = card %q, %v; want %q", tc.card, tc.cardType, res.Card, err, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestBadInputRefused: issue 14's smaller holes are refused naming the field.
func TestBadInputRefused(t *testing.T) {
	tl, l := inputTill(t, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	line := pos.Line{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 99_90}
	withLine := func(f func(*pos.Line)) []pos.Line { l := line; f(&l); return []pos.Line{l} }
	for _, tc := range []struct {
		name  string
		req   till.SaleRequest
		field string
	}{
		{"NUL in sku", till.SaleRequest{ID: "a", Basket: pos.Basket{Lines: withLine(func(l *pos.Line) { l.SKU = "mi\x00lk" })}}, "lines[1].sku"},
		{"invalid UTF-8 in sku", till.SaleRequest{ID: "a", Basket: pos.Basket{Lines: withLine(func(l *pos.Line) { l.SKU = "mi\xfflk" })}}, "lines[1].sku"},
		{"sku of 129 bytes", till.SaleRequest{ID: "a", Basket: pos.Basket{Lines: withLine(func(l *pos.Line) { l.SKU = strings.Repeat("s", 129) })}}, "lines[1].sku"},
		{"control in category", till.SaleRequest{ID: "a", Basket: pos.Basket{Lines: withLine(func(l *pos.Line) { l.Category = "da\niry" })}}, "lines[1].category"},
		{"NUL in id", till.SaleRequest{ID: "s\x001", Basket: pos.Basket{Lines: []pos.Line{line}}}, "id"},
		{"invalid UTF-8 in id", till.SaleRequest{ID: "s\xc31", Basket: pos.Basket{Lines: []pos.Line{line}}}, "id"},
		{"negative redeem_points", till.SaleRequest{ID: "a", Basket: pos.Basket{Card: "2000000000015", RedeemPoints: -5, Lines: []pos.Line{line}}}, "redeem_points"},
		{"huge redeem_points", till.SaleRequest{ID: "a", Basket: pos.Basket{Card: "2000000000015", RedeemPoints: 1e15, Lines: []pos.Line{line}}}, "redeem_points"},
	} {
		var in *pos.InputError
		if _, _, err := tl.Sale(tc.req); !errors.As(err, &in) || in.Field != tc.field {
			t.Errorf("%s: sale = %v; want a refusal naming %s", tc.name, err, tc.field)
		}
		if _, err := tl.Quote(tc.req.Basket, till.QuoteOptions{}); tc.field != "id" && (!errors.As(err, &in) || in.Field != tc.field) {
			t.Errorf("%s: quote = %v; want a refusal naming %s", tc.name, err, tc.field)
		}
	}
	if st, _ := l.Stats(); st.LastSeq != 0 {
		t.Fatalf("%d events recorded from refused sales", st.LastSeq)
	}

	// A birthday after today is refused; today is not.
	const card = "2000000000015"
	var in *pos.InputError
	if _, _, err := tl.ChangeCustomer(pos.HolderChange{Card: card, Name: ptr("Мария"), Email: ptr("m@example.ru"), Birthday: ptr("3000-01-01")}, ""); !errors.As(err, &in) || in.Field != "birthday" || !strings.Contains(in.Problem, "in the future") {
		t.Errorf("birthday in 3000 = %v; want a refusal naming birthday", err)
	}
	if _, _, err := tl.ChangeCustomer(pos.HolderChange{Card: card, Name: ptr("Мария"), Email: ptr("m@example.ru"), Birthday: ptr("2026-06-02")}, ""); !errors.As(err, &in) || in.Field != "birthday" {
		t.Errorf("birthday tomorrow = %v; want a refusal naming birthday", err)
	}
	if _, _, err := tl.ChangeCustomer(pos.HolderChange{Card: card, Name: ptr("Мария"), Email: ptr("m@example.ru"), Birthday: ptr("2026-06-01")}, ""); err != nil {
		t.Errorf("born today: %v", err)
	}
}

// TestCustomerCorrectionChangesOnlyWhatIsSent: a correction that resends name,
// e-mail and lang keeps surname, birthday, phone and consent; "" clears a
// field; a correction that would leave the holder invalid is refused whole.
func TestCustomerCorrectionChangesOnlyWhatIsSent(t *testing.T) {
	tl, _ := inputTill(t, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	const card = "2000000000015"
	first := pos.CardHolder{Card: card, Name: "Василий", Patronymic: "Петрович", Surname: "Тёркин", Birthday: "1978-03-05",
		Phone: "+7 900 123-45-67", Email: "v@example.ru", Consent: true, Lang: "ru"}
	if _, created, err := tl.RegisterCustomer(first); err != nil || !created {
		t.Fatalf("register: %v %v", created, err)
	}
	got, created, err := tl.ChangeCustomer(pos.HolderChange{Card: card, Name: ptr("Вася"), Email: ptr("vasya@example.ru"), Lang: ptr("en")}, "")
	if err != nil || created {
		t.Fatalf("correction: %v %v", created, err)
	}
	want := first
	want.Name, want.Email, want.Lang = "Вася", "vasya@example.ru", "en"
	want.Registered, want.Terminal, want.Updated = got.Registered, got.Terminal, got.Updated
	if got != want {
		t.Fatalf("after the correction:\n got %+v\nwant %+v", got, want)
	}
	got, _, err = tl.ChangeCustomer(pos.HolderChange{Card: card, Surname: ptr(""), Consent: ptr(false)}, "")
	if err != nil || got.Surname != "" || got.Consent || got.Birthday != "1978-03-05" || got.Name != "Вася" {
		t.Fatalf("clearing surname and consent: %+v %v", got, err)
	}
	var in *pos.InputError
	if _, _, err := tl.ChangeCustomer(pos.HolderChange{Card: card, Phone: ptr(""), Email: ptr("")}, ""); !errors.As(err, &in) || in.Field != "phone" {
		t.Fatalf("removing both contacts = %v; want a refusal naming phone", err)
	}
	if a, _ := tl.Account(card); a.Holder == nil || a.Holder.Phone != "+7 900 123-45-67" {
		t.Fatalf("a refused correction changed the holder: %+v", a.Holder)
	}
}
