package till_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// Every sale a till records carries what HQ needs to price it again and get
// the till's totals: the till's store and region, its clock's offset (the
// happy hour is 16:00-18:00 Moscow time), the card's account as priced
// against (its tier, lots, offline state), what the customer asked for; and
// none of the holder's personal data.
func TestAuditOfTillSales(t *testing.T) {
	raw, err := os.ReadFile("../discount/testdata/rules/chain.toml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	published := map[int64]*hq.AuditRules{rs.Version: {Hash: hex.EncodeToString(sum[:]), Rules: rs}}

	msk := time.FixedZone("MSK", 3*3600)
	now := time.Date(2025, 3, 4, 17, 15, 0, 0, msk) // a Tuesday, two days before the birthday
	online := true
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "msk-012-01", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	pub, priv, _ := ed25519.GenerateKey(nil)
	tl, err := till.New(till.Options{Terminal: "msk-012-01", Store: "msk-012", Region: "msk", Ledger: l, RulesKey: pub,
		Now: func() time.Time { return now }, Link: func() till.Link { return till.Link{Online: online} }})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.ApplyRules(rs.Version, "", wire.SignRules(priv, raw), raw); err != nil {
		t.Fatal(err)
	}
	const card = "2000000000008"
	lots := []pos.PointsLot{
		{Points: 300, Earned: time.Date(2024, 1, 15, 10, 0, 0, 0, msk), Expires: time.Date(2025, 1, 15, 10, 0, 0, 0, msk)},
		{Points: 600, Earned: time.Date(2024, 6, 1, 10, 0, 0, 0, msk), Expires: time.Date(2025, 6, 1, 10, 0, 0, 0, msk)},
		{Points: 800, Earned: time.Date(2024, 3, 1, 10, 0, 0, 0, msk)},
	}
	if err := l.PutSnapshot(card, pos.Account{Card: card, LifetimeSpend: 12_500_00, Points: 1700, Sales: 31, Lots: lots}, 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tl.RegisterCustomer(pos.CardHolder{Card: card, Name: "Василий", Patronymic: "Петрович", Birthday: "1978-03-06", Phone: "+7 900 123-45-67"}); err != nil {
		t.Fatal(err)
	}
	lines := []pos.Line{
		{SKU: "4600000000062", Category: "coffee", Qty: 2, UnitPrice: 350_00},
		{SKU: "4600000000109", Category: "dairy", Qty: 1, UnitPrice: 899_00},
		{SKU: "4600000000086", Category: "tobacco", Qty: 1, UnitPrice: 250_00},
	}
	sales := []struct {
		id     string
		basket pos.Basket
		online bool
		at     time.Time
	}{
		{"gold-birthday-happy-hour", pos.Basket{Card: card, Lines: lines}, true, now},
		{"redeem-from-lots", pos.Basket{Card: card, Lines: lines, RedeemPoints: 900, Donate: true}, true, now.Add(time.Hour)},
		{"offline-redeem", pos.Basket{Card: card, Lines: lines, RedeemPoints: 700}, false, now.Add(2 * time.Hour)},
		{"no-card", pos.Basket{Lines: lines, Donate: true}, true, now.Add(3 * time.Hour)},
	}
	for _, s := range sales {
		now, online = s.at, s.online
		if _, _, err := tl.Sale(till.SaleRequest{ID: s.id, Basket: s.basket}); err != nil {
			t.Fatalf("sale %s: %v", s.id, err)
		}
	}
	var evs []event.Event
	if err := l.Events(1, func(e event.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	var sold []pos.Sale
	for _, e := range evs {
		if e.Type != event.TypeSale {
			continue
		}
		for _, pd := range []string{"Василий", "Петрович", "1978", "123-45-67", `"profile"`} {
			if bytes.Contains(e.Body, []byte(pd)) {
				t.Errorf("sale event %d holds %q: personal data", e.Seq, pd)
			}
		}
		a := hq.AuditEvent("", e, published)
		if !a.Sale || a.Unpriceable || a.Flag != nil {
			t.Errorf("HQ's audit of sale event %d = %+v %+v; want clean", e.Seq, a, a.Flag)
		}
		sold = append(sold, saleOf(t, e))
	}
	if len(sold) != len(sales) {
		t.Fatalf("%d sales recorded, want %d", len(sold), len(sales))
	}
	// The sales exercised what the inputs carry.
	first, lotsSale, offline, noCard := sold[0], sold[1], sold[2], sold[3]
	switch {
	case !first.Birthday || first.Tier != "Gold" || first.Inputs.UTCOffset != 3*3600 || first.Inputs.Store != "msk-012" || first.Inputs.Region != "msk":
		t.Errorf("first sale: birthday %v tier %q inputs %+v", first.Birthday, first.Tier, first.Inputs)
	case first.Inputs.Account == nil || first.Inputs.Account.Lots != nil:
		t.Errorf("a sale that redeems nothing keeps lots: %+v", first.Inputs.Account)
	case lotsSale.PointsRedeemed == 0 || len(lotsSale.Lots) == 0 || len(lotsSale.Inputs.Account.Lots) < 3 || !lotsSale.Inputs.Donate:
		t.Errorf("redeeming sale: %d points from lots %+v, inputs %+v", lotsSale.PointsRedeemed, lotsSale.Lots, lotsSale.Inputs)
	case !offline.Inputs.Account.Offline || offline.Inputs.RedeemPoints != 700:
		t.Errorf("offline sale: inputs %+v", offline.Inputs)
	case noCard.Inputs.Account != nil:
		t.Errorf("a sale without a card carries an account: %+v", noCard.Inputs.Account)
	}
}

func saleOf(t *testing.T, e event.Event) pos.Sale {
	t.Helper()
	var s pos.Sale
	if err := json.Unmarshal(e.Body, &s); err != nil {
		t.Fatalf("event %d: %v", e.Seq, err)
	}
	if s.Inputs == nil {
		t.Fatalf("event %d: a sale without inputs", e.Seq)
	}
	return s
}
