package ledger

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/pos"
)

// bonusSale prices a sale of card whose quote paid the birthday bonus
// (pos.Quote.BirthdayBonus) or not.
func bonusSale(id, card string, bonus int64) (SaleRequest, PriceFunc) {
	s := sale{id: id, card: card, spend: 100, points: 1 + bonus}
	return s.request(), func(acct pos.Account, at time.Time) (Priced, error) {
		body, err := json.Marshal(pos.Sale{ID: id, Card: card, At: at, Quote: pos.Quote{
			Currency: "RUB", Subtotal: 100, Total: 100, PointsEarned: 1 + bonus, BirthdayBonus: bonus,
			Lines: []pos.PricedLine{{Line: pos.Line{SKU: "tea", Qty: 1, UnitPrice: 100}, Amount: 100, Total: 100, Points: 1 + bonus}},
		}})
		return Priced{Body: body, Spend: 100, PointsDelta: 1 + bonus, RulesetVersion: 7, RulesetHash: "abc"}, err
	}
}

// TestBirthdayBonusInAccount: the account view carries when the card last
// earned a birthday bonus, from the sale events, through an HQ snapshot, a
// prune and Verify's rebuild; the engine reads it to pay the bonus once.
func TestBirthdayBonusInAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openAt(t, path, Options{}, checkBolt) // the test damages an account at the end
	sell := func(id, card string, bonus int64) Receipt {
		t.Helper()
		req, price := bonusSale(id, card, bonus)
		r, err := l.RecordSale(req, price)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	bonusAt := func(card string) time.Time {
		t.Helper()
		a, _, err := l.Account(card)
		if err != nil {
			t.Fatal(err)
		}
		return a.BirthdayBonus
	}
	first := sell("s1", "C", 200) // seq 1
	sell("s2", "C", 0)            // seq 2: no bonus, the time stays
	if got := bonusAt("C"); !got.Equal(first.At) {
		t.Fatalf("after a bonus and a sale without: birthday_bonus %s, want %s", got, first.At)
	}
	sell("s3", "D", 0) // seq 3
	if got := bonusAt("D"); !got.IsZero() {
		t.Errorf("a card that never had the bonus: %s", got)
	}

	// HQ says another store paid the bonus later; this till's sales after
	// the snapshot keep the latest.
	other := first.At.Add(2500 * time.Millisecond) // between sales 3 and 5
	if err := l.PutSnapshot("C", pos.Account{LifetimeSpend: 300, Points: 400, Sales: 3, BirthdayBonus: other}, 2, hashAt(t, l, 2)); err != nil {
		t.Fatal(err)
	}
	if got := bonusAt("C"); !got.Equal(other) {
		t.Errorf("after HQ's snapshot: %s, want %s", got, other)
	}
	sell("s4", "C", 0) // seq 4
	if got := bonusAt("C"); !got.Equal(other) {
		t.Errorf("after a sale without a bonus: %s, want HQ's %s", got, other)
	}
	last := sell("s5", "C", 150) // seq 5: a bonus of a later birthday, after HQ's
	if got := bonusAt("C"); !got.Equal(last.At) {
		t.Errorf("after a later bonus: %s, want %s", got, last.At)
	}

	// Pruned events fold into the base with their bonus.
	if err := l.Ack(5); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(last.At.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := bonusAt("C"); !got.Equal(last.At) {
		t.Errorf("after the prune: %s, want %s", got, last.At)
	}
	rep, err := l.Verify()
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("Verify: %v %v", err, rep.Problems)
	}
	sell("s6", "D", 50) // kept: Verify rebuilds it from the event
	if rep, err := l.Verify(); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("Verify: %v %v", err, rep.Problems)
	}

	// A stored view whose bonus was wiped is caught by Verify.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		a, err := decodeAccount(b.Get([]byte("D")))
		if err != nil {
			return err
		}
		a.BirthdayBonus = time.Time{}
		v, _ := encodeAccount(a)
		return b.Put([]byte("D"), v)
	})
	l2 := openAt(t, path, Options{}, checkBolt)
	rep, err = l2.Verify()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || p.Card == "D" && strings.Contains(p.Err.Error(), "birthday_bonus 0001-01-01")
	}
	if !found {
		t.Errorf("Verify did not report the wiped birthday bonus: %v", rep.Problems)
	}
}
