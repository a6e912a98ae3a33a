package forward_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

const storeRules = `
schema = 1
version = 1
currency = "RUB"

[limits]
offline_points_per_day = 1000

[[rule]]
id = "cumulative"
kind = "tiers"
  [[rule.tier]]
  name = "Gold"
  from = "10000.00"
  percent = "10%"

[[rule]]
id = "bonus"
kind = "points"
points = 10
per = "100.00"

[[rule]]
id = "pay"
kind = "redeem"
point_value = "1.00"
max_share = "100%"

[[rule]]
id = "hello"
kind = "greeting"
text = { ru = "Здравствуйте, {name} {patronymic}!" }
nameless = { ru = "Здравствуйте!" }
`

// store is one till of the test: its ledger file, its core and its forwarder.
type store struct {
	path   string
	ledger *ledger.Ledger
	till   *till.Till
	fwd    *forward.Forwarder
	cancel context.CancelFunc
	done   chan struct{} // closed when the forwarder's Run has returned
	online *bool
}

func newStore(t *testing.T, terminal, hqURL string, key ed25519.PrivateKey) *store {
	t.Helper()
	s := &store{path: filepath.Join(t.TempDir(), "ledger.db"), online: new(bool)}
	l, err := ledger.Open(s.path, ledger.Options{Terminal: terminal})
	if err != nil {
		t.Fatal(err)
	}
	s.ledger = l
	s.till, err = till.New(till.Options{Terminal: terminal, Ledger: l, RulesKey: key.Public().(ed25519.PublicKey),
		Link:   func() till.Link { return till.Link{Online: *s.online} },
		Lookup: func(ctx context.Context, card string) error { return s.fwd.Lookup(ctx, card) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.till.ApplyRules(1, "", wire.SignRules(key, []byte(storeRules)), []byte(storeRules)); err != nil {
		t.Fatal(err)
	}
	s.fwd = forward.New(forward.Options{HQ: hqclient.New(hqURL, hqclient.Options{}), Terminal: terminal, Outbox: l, Cards: s.till, LongPoll: 2 * time.Second,
		Poll: 20 * time.Millisecond, MinWait: 10 * time.Millisecond, MaxWait: 50 * time.Millisecond})
	t.Cleanup(func() {
		s.stop()
		rep, err := l.Verify()
		if err != nil || !rep.OK() {
			t.Errorf("%s: ledger verify: %+v %v", terminal, rep, err)
		}
		l.Close()
	})
	return s
}

// start connects the till to HQ.
func (s *store) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	*s.online = true
	go func() {
		defer close(s.done)
		s.fwd.Run(ctx)
	}()
}

// stop disconnects the till from HQ once its forwarder has stopped: a
// start after it runs the one forwarder again, never two at once.
func (s *store) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
	*s.online = false
}

func (s *store) sell(t *testing.T, id, card string, price int64, redeem int64) till.SaleResult {
	t.Helper()
	res, _, err := s.till.Sale(till.SaleRequest{ID: id, Basket: pos.Basket{Card: card, RedeemPoints: redeem,
		Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: money.Amount(price)}}}})
	if err != nil {
		t.Fatalf("sale %s: %v", id, err)
	}
	return res
}

// One customer across stores (seed 000): a holder signed up at one store,
// offline, is greeted by name at another; spend from every store counts for
// the tier; two stores redeeming the same points offline leave an overdraft HQ
// records and later earnings pay back; and a forgotten holder's personal data
// leaves HQ and every till's file while the ledgers still verify.
func TestOneCustomerAcrossStores(t *testing.T) {
	hqPath := filepath.Join(t.TempDir(), "hq.db")
	hqStore, err := boltstore.Open(hqPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hqStore.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	srv := hq.NewServer(hq.Options{Store: hqStore, SigningKey: key, MaxWait: 2 * time.Second})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx := context.Background()

	a := newStore(t, "S1-T1", ts.URL, key)
	b := newStore(t, "S2-T1", ts.URL, key)
	card := "2000000000015"

	// Store 1, offline: the cashier signs Василий up and sells him a TV.
	if _, _, err := a.till.RegisterCustomer(pos.CardHolder{Card: card, Name: "Василий", Patronymic: "Петрович",
		Birthday: "1978-03-05", Phone: "+7 900 123-45-67", Email: "vasily@example.ru", Consent: true, Lang: "ru"}); err != nil {
		t.Fatal(err)
	}
	a.sell(t, "a1", card, 12000_00, 0) // 1 200 points
	a.start()
	waitFor(t, "store 1's sale and holder at HQ", func() bool {
		acct, err := hqStore.Account(ctx, "", card)
		return err == nil && acct.Account.Sales == 1 && acct.Holder != nil
	})

	// Store 2 has never seen the card: the scan looks it up at HQ.
	b.start()
	b.till.HandleScan(device.Scan{Source: "scanner", Kind: device.KindBarcode, Data: card, At: time.Now()})
	q, err := b.till.Quote(pos.Basket{Card: card, Lines: []pos.Line{{SKU: "kettle", Qty: 1, UnitPrice: 100_00}}}, till.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Tier != "Gold" || q.Greeting != "Здравствуйте, Василий Петрович!" || q.Customer.Points != 1200 {
		t.Fatalf("store 2's quote: tier %q greeting %q points %d", q.Tier, q.Greeting, q.Customer.Points)
	}
	// Store 2 sells; store 1 hears of it through its change feed.
	b.sell(t, "b1", card, 1000_00, 0)
	waitFor(t, "store 2's sale in store 1's view", func() bool {
		acct, _, _ := a.ledger.Account(card)
		return acct.Sales == 2 && acct.LifetimeSpend == 12000_00+900_00 // 10 % off for Gold
	})

	// Both stores go offline and let the card redeem 1 000 of its 1 290 points
	// (the offline limit) on a 2 000 ₽ basket (1 800 ₽ for Gold).
	a.stop()
	b.stop()
	if r := a.sell(t, "a2", card, 2000_00, 1000); r.PointsRedeemed != 1000 || r.PointsEarned != 80 {
		t.Fatalf("store 1 redeemed %d, earned %d", r.PointsRedeemed, r.PointsEarned)
	}
	if r := b.sell(t, "b2", card, 2000_00, 1000); r.PointsRedeemed != 1000 {
		t.Fatalf("store 2 redeemed %d", r.PointsRedeemed)
	}
	// Offline, a till's own limit holds: no more redemption today at store 1.
	if q, _ := a.till.Quote(pos.Basket{Card: card, RedeemPoints: 100, Lines: []pos.Line{{SKU: "x", Qty: 1, UnitPrice: 100_00}}}, till.QuoteOptions{}); q.PointsRedeemed != 0 {
		t.Errorf("store 1 offline redeemed %d beyond its daily limit", q.PointsRedeemed)
	}
	a.start()
	b.start()
	// 1 290 + 80 + 80 - 2 000 = -550: HQ records 550 points overdrawn.
	waitFor(t, "the overdraft at HQ", func() bool {
		od, _ := hqStore.Overdrafts(ctx)
		return len(od) == 1 && od[0].Recorded == 550 && od[0].Owed == 550
	})
	waitFor(t, "the overdraft on both tills", func() bool {
		x, _, _ := a.ledger.Account(card)
		y, _, _ := b.ledger.Account(card)
		return x.Points == -550 && y.Points == -550
	})
	if q, _ := a.till.Quote(pos.Basket{Card: card, RedeemPoints: 100, Lines: []pos.Line{{SKU: "x", Qty: 1, UnitPrice: 100_00}}}, till.QuoteOptions{}); q.PointsRedeemed != 0 {
		t.Errorf("an overdrawn card redeemed %d", q.PointsRedeemed)
	}
	// Later earnings pay it back: 10 000 ₽ (9 000 ₽ for Gold) earn 900 points.
	a.sell(t, "a3", card, 10000_00, 0)
	waitFor(t, "the overdraft paid back", func() bool {
		acct, _ := hqStore.Account(ctx, "", card)
		od, _ := hqStore.Overdrafts(ctx)
		return acct.Account.Points == 350 && acct.Overdraft == 0 && len(od) == 1 && od[0].Owed == 0 && od[0].Recorded == 550
	})

	// HQ forgets the holder: gone from HQ's file and from both tills' files.
	resp := httptest.NewRecorder()
	srv.AdminHandler().ServeHTTP(resp, httptest.NewRequest("DELETE", wire.PathAdminCustomers+"/"+card, nil))
	if resp.Code != 200 {
		t.Fatalf("forget: %d %s", resp.Code, resp.Body)
	}
	personal := []string{"Василий", "Петрович", "1978-03-05", "+7 900 123-45-67", "vasily@example.ru"}
	gone := func(path string) bool {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range personal {
			if bytes.Contains(raw, []byte(p)) {
				return false
			}
		}
		return true
	}
	waitFor(t, "the holder gone from both tills' files", func() bool { return gone(a.path) && gone(b.path) })
	if !gone(hqPath) {
		t.Error("the holder is still in HQ's file")
	}
	if c, _ := a.till.Account(card); c.Holder != nil || c.Sales != 5 {
		t.Errorf("store 1's view after the forget: %+v", c)
	}
	// The sales stay: HQ still has all five.
	if acct, _ := hqStore.Account(ctx, "", card); acct.Account.Sales != 5 {
		t.Errorf("HQ's account after the forget: %+v", acct.Account)
	}
	// The cleanup verifies both ledgers.
}
