package till_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

func newTill(t *testing.T, key ed25519.PublicKey) (*till.Till, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(path, ledger.Options{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return tl, path
}

// TestRulesMustBeSignedByHQ: a forged signature, an unsigned ruleset and an
// older version are all refused, and the till keeps the rules it has.
func TestRulesMustBeSignedByHQ(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, pub)
	v1 := discount.Example
	v2 := []byte(strings.Replace(string(v1), "version = 1", "version = 2", 1))
	if string(v2) == string(v1) {
		t.Fatal("example rules do not say version = 1")
	}
	if err := tl.ApplyRules(2, "", wire.SignRules(priv, v2), v2); err != nil {
		t.Fatalf("genuine v2: %v", err)
	}
	for _, tc := range []struct {
		name    string
		version int64
		sig     []byte
		raw     []byte
		want    error
	}{
		{"forged", 2, wire.SignRules(other, v2), v2, wire.ErrBadSignature},
		{"unsigned", 2, nil, v2, wire.ErrUnsigned},
		{"tampered after signing", 2, wire.SignRules(priv, v2), append([]byte("# hi\n"), v2...), wire.ErrBadSignature},
		{"older version", 1, wire.SignRules(priv, v1), v1, ledger.ErrOldRuleset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tl.ApplyRules(tc.version, "", tc.sig, tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ApplyRules = %v; want %v", err, tc.want)
			}
			if v := tl.RulesVersion(); v != 2 {
				t.Fatalf("active version %d after a refused ruleset, want 2", v)
			}
		})
	}
}

func TestNoKeyRefusesRules(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, nil)
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); !errors.Is(err, till.ErrRulesKey) {
		t.Fatalf("ApplyRules without a key = %v; want ErrRulesKey", err)
	}
}

// signer publishes rulesets to a till the way HQ does.
type signer struct {
	t    *testing.T
	priv ed25519.PrivateKey
	tl   *till.Till
}

func (s signer) apply(version int64, body string) error {
	raw := []byte(fmt.Sprintf("schema = 1\nversion = %d\ncurrency = \"RUB\"\n%s", version, body))
	return s.tl.ApplyRules(version, "", wire.SignRules(s.priv, raw), raw)
}

const percentRule = `
[[rule]]
id = "club"
kind = "card_percent"
percent = "%d%%"
`

// A ruleset with a future start waits in the ledger and takes effect on time,
// with no message from HQ (the till may be offline), also after a restart.
func TestFutureRulesTakeEffectOnTime(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	open := func() (*till.Till, *ledger.Ledger) {
		l, err := ledger.Open(path, ledger.Options{Terminal: "T1", Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return tl, l
	}
	tl, l := open()
	s := signer{t, priv, tl}
	if err := s.apply(1, fmt.Sprintf(percentRule, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.apply(2, "effective = 2025-03-02T00:00:00Z\n"+fmt.Sprintf(percentRule, 20)); err != nil {
		t.Fatal(err)
	}
	b := pos.Basket{Card: "2000000000015", Lines: []pos.Line{{SKU: "a", Qty: 1, UnitPrice: 100_00}}}
	discountNow := func(tl *till.Till) money.Amount {
		t.Helper()
		q, err := tl.Quote(b, till.QuoteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return q.Discount
	}
	if d := discountNow(tl); d != 5_00 || tl.ActiveRulesVersion() != 1 || tl.RulesVersion() != 2 {
		t.Fatalf("before the start: discount %d, active %d, held %d; want 5.00 with 1 active and 2 held", d, tl.ActiveRulesVersion(), tl.RulesVersion())
	}
	st, _ := tl.Status()
	if st.RulesetVersion != 1 || st.NextRuleset == nil || st.NextRuleset.Version != 2 || st.RulesetEffective != "" || st.RulesetSince.IsZero() {
		t.Errorf("status %+v", st)
	}
	// HQ sending version 2 again changes nothing; version 1 is older than what the till has.
	if err := s.apply(2, "effective = 2025-03-02T00:00:00Z\n"+fmt.Sprintf(percentRule, 20)); err != nil {
		t.Errorf("version 2 again: %v", err)
	}
	if err := s.apply(1, fmt.Sprintf(percentRule, 5)); !errors.Is(err, ledger.ErrOldRuleset) {
		t.Errorf("version 1 again: %v, want ErrOldRuleset", err)
	}
	// A restart before the start keeps it waiting.
	l.Close()
	tl, l = open()
	if d := discountNow(tl); d != 5_00 {
		t.Errorf("after a restart: discount %d, want 5.00", d)
	}
	// At midnight it applies, to quotes and sales alike.
	now = now.Add(time.Minute)
	if d := discountNow(tl); d != 20_00 || tl.ActiveRulesVersion() != 2 {
		t.Errorf("at the start: discount %d, active %d; want 20.00 and 2", d, tl.ActiveRulesVersion())
	}
	res, _, err := tl.Sale(till.SaleRequest{ID: "s1", Basket: b})
	if err != nil || res.RulesetVersion != 2 || res.Discount != 20_00 {
		t.Errorf("sale = %+v, %v", res, err)
	}
	if v, _, _, err := l.Ruleset(); err != nil || v != 2 {
		t.Errorf("the ledger's active ruleset is %d, %v", v, err)
	}
	st, _ = tl.Status()
	if st.RulesetVersion != 2 || st.NextRuleset != nil || st.RulesetEffective != "2025-03-02T00:00:00Z" || !st.RulesetSince.Equal(now) {
		t.Errorf("status %+v; want version 2, effective 2025-03-02T00:00:00Z, active since %v", st, now)
	}
	l.Close()
}

// A ruleset in effect at once published over one still waiting for its start
// (HQ's rollback of a scheduled ruleset) applies at once, and the waiting one
// never does.
func TestNewerRulesCancelAWaitingOne(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s := signer{t, priv, tl}
	for _, r := range []struct {
		version int64
		body    string
	}{
		{1, fmt.Sprintf(percentRule, 5)},
		{2, "effective = 2025-03-02T00:00:00Z\n" + fmt.Sprintf(percentRule, 20)},
		{3, fmt.Sprintf(percentRule, 7)},
	} {
		if err := s.apply(r.version, r.body); err != nil {
			t.Fatal(err)
		}
	}
	b := pos.Basket{Card: "2000000000015", Lines: []pos.Line{{SKU: "a", Qty: 1, UnitPrice: 100_00}}}
	for _, at := range []time.Time{now, now.Add(24 * time.Hour)} {
		now = at
		q, err := tl.Quote(b, till.QuoteOptions{})
		if err != nil || q.Discount != 7_00 || q.RulesetVersion != 3 {
			t.Errorf("at %s: discount %d with version %d, %v; want 7.00 with version 3", at, q.Discount, q.RulesetVersion, err)
		}
	}
	if st, _ := tl.Status(); st.NextRuleset != nil {
		t.Errorf("version 2 still waits: %+v", st.NextRuleset)
	}
}

// While the till cannot reach HQ, a card redeems at most the ruleset's offline
// limit per day on it, counted over the sales HQ has not acknowledged; once HQ
// is reachable, the limit does not apply.
func TestOfflineRedemptionLimit(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	online := false
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub,
		Link: func() till.Link { return till.Link{Online: online} }})
	if err != nil {
		t.Fatal(err)
	}
	err = signer{t, priv, tl}.apply(1, `
[limits]
offline_points_per_day = 500

[[rule]]
id = "pay"
kind = "redeem"
point_value = "1.00"
max_share = "100%"
`)
	if err != nil {
		t.Fatal(err)
	}
	card := "2000000000015"
	if err := l.PutSnapshot(card, pos.Account{Points: 5000}, 0, ""); err != nil {
		t.Fatal(err)
	}
	b := pos.Basket{Card: card, RedeemPoints: 400, Lines: []pos.Line{{SKU: "a", Qty: 1, UnitPrice: 1000_00}}}
	for i, want := range []int64{400, 100, 0} {
		res, _, err := tl.Sale(till.SaleRequest{ID: fmt.Sprint("s", i), Basket: b})
		if err != nil || res.PointsRedeemed != want {
			t.Fatalf("offline sale %d redeemed %d (%v), want %d", i, res.PointsRedeemed, err, want)
		}
	}
	q, err := tl.Quote(b, till.QuoteOptions{Explain: true})
	if err != nil || q.PointsRedeemed != 0 || len(q.Dropped) != 1 || q.Dropped[0].Code != "offline_limit" {
		t.Errorf("offline quote after the limit: %+v %v", q.Quote, err)
	}
	a, _ := tl.Account(card)
	if a.Points != 5000-500 {
		t.Errorf("points %d, want 4500", a.Points)
	}
	online = true
	if res, _, err := tl.Sale(till.SaleRequest{ID: "online", Basket: b}); err != nil || res.PointsRedeemed != 400 {
		t.Errorf("online sale redeemed %d (%v), want 400", res.PointsRedeemed, err)
	}
}

// A card the till has no record of, typed into a basket rather than scanned,
// is looked up at HQ before it is priced while HQ is reachable: the quote
// and the sale see its account across every store (here: its tier from what
// it spent elsewhere). Once per card; never while offline.
func TestUnknownCardIsLookedUpBeforePricing(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	online := true
	var tl *till.Till
	var asked []string
	hqAccounts := map[string]pos.Account{
		"2000000000015": {LifetimeSpend: 12_000_00, Sales: 12, Points: 700}, // Gold elsewhere
		"2000000000022": {LifetimeSpend: 12_000_00, Sales: 12, Points: 700},
	}
	tl, err = till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub,
		Link: func() till.Link { return till.Link{Online: online} },
		Lookup: func(_ context.Context, card string) error {
			asked = append(asked, card)
			return tl.ApplyAccount(wire.AccountAnswer{Card: card, Account: hqAccounts[card]})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); err != nil {
		t.Fatal(err)
	}
	b := pos.Basket{Card: "2000000000015", Lines: []pos.Line{{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 1000_00}}}
	q, err := tl.Quote(b, till.QuoteOptions{})
	if err != nil || q.Tier != "Gold" {
		t.Fatalf("quote of a card new to this till: tier %q (%v), want Gold from HQ's account", q.Tier, err)
	}
	res, _, err := tl.Sale(till.SaleRequest{ID: "s1", Basket: b})
	if err != nil || res.Tier != "Gold" {
		t.Fatalf("sale: tier %q (%v), want Gold", res.Tier, err)
	}
	if _, _, err := tl.Sale(till.SaleRequest{ID: "s2", Basket: b}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 {
		t.Errorf("HQ asked %d times for one card (%v): want once, the till knows it after", len(asked), asked)
	}
	// Offline, a card new to the till is priced as the till knows it:
	// nobody is asked.
	online = false
	b.Card = "2000000000022"
	res, _, err = tl.Sale(till.SaleRequest{ID: "s3", Basket: b})
	if err != nil || res.Tier == "Gold" || len(asked) != 1 {
		t.Errorf("offline sale of a new card: tier %q (%v), HQ asked %d times; want no look-up", res.Tier, err, len(asked))
	}
}

// TestFeedPositionHeldAfterAnotherChain: the till keeps the change feed's
// position in its ledger until an account of the feed is of another chain
// of this terminal (HQ holds events this ledger does not: restored from a
// backup); from then on it keeps none, so that the next start reads that
// account again from the position kept before.
func TestFeedPositionHeldAfterAnotherChain(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, pub)
	if kept, err := tl.SetFeedPosition("feed-1", 5); err != nil || !kept {
		t.Fatalf("SetFeedPosition = %v %v; want it kept", kept, err)
	}
	if feed, after, err := tl.FeedPosition(); err != nil || feed != "feed-1" || after != 5 {
		t.Fatalf("position = %q %d %v; want feed-1 5", feed, after, err)
	}
	// HQ's account includes this terminal's event 3; the ledger has none.
	if err := tl.ApplyAccount(wire.AccountAnswer{Card: "2000000000015", Account: pos.Account{Points: 10}, AsOf: 3, AsOfHash: "abc"}); err != nil {
		t.Fatalf("an account of another chain: %v; want it kept aside without an error", err)
	}
	if kept, err := tl.SetFeedPosition("feed-1", 9); err != nil || kept {
		t.Fatalf("SetFeedPosition after another chain = %v %v; want it not kept, no error", kept, err)
	}
	if feed, after, err := tl.FeedPosition(); err != nil || feed != "feed-1" || after != 5 {
		t.Errorf("after an account of another chain: position %q %d %v; want feed-1 5 kept", feed, after, err)
	}
}

// TestFeedPositionHeldAfterAPrunedSnapshot: an account from HQ older than
// the events this ledger pruned (HQ's copy is behind what it acknowledged)
// is kept aside, and so is the change feed's position from then on.
func TestFeedPositionHeldAfterAPrunedSnapshot(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, pub)
	l := tl.Ledger()
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); err != nil {
		t.Fatal(err)
	}
	const card = "2000000000015"
	for _, id := range []string{"s1", "s2"} {
		if _, _, err := tl.Sale(till.SaleRequest{ID: id, Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 100_00}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Ack(2); err != nil {
		t.Fatal(err)
	}
	if res, err := l.Prune(time.Now().Add(time.Hour)); err != nil || res.Anchor != 2 {
		t.Fatalf("Prune = %+v, %v; want both sales pruned", res, err)
	}
	if kept, err := tl.SetFeedPosition("feed-1", 5); err != nil || !kept {
		t.Fatalf("SetFeedPosition = %v %v; want it kept", kept, err)
	}
	before, _, err := l.Account(card)
	if err != nil {
		t.Fatal(err)
	}
	// HQ's account as of seq 1: older than the pruned events.
	if err := tl.ApplyAccount(wire.AccountAnswer{Card: card, Account: pos.Account{Points: 999}, AsOf: 1, AsOfHash: "abc"}); err != nil {
		t.Fatalf("an account older than the pruned events: %v; want it kept aside without an error", err)
	}
	if got, _, _ := l.Account(card); got.Points != before.Points {
		t.Errorf("the view took the stale account: %d points, was %d", got.Points, before.Points)
	}
	if kept, err := tl.SetFeedPosition("feed-1", 9); err != nil || kept {
		t.Errorf("SetFeedPosition after a pruned account = %v %v; want it not kept", kept, err)
	}
	if feed, after, err := tl.FeedPosition(); err != nil || feed != "feed-1" || after != 5 {
		t.Errorf("position %q %d %v; want feed-1 5 kept", feed, after, err)
	}
}
