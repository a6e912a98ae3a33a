package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func vasily(card string) pos.CardHolder {
	return pos.CardHolder{Card: card, Name: "Василий", Patronymic: "Петрович", Surname: "Тёркин",
		Birthday: "1978-03-05", Phone: "+7 900 123-45-67", Email: "vasily@example.ru", Consent: true}
}

// personal is every piece of personal data of vasily, as it would sit in the file.
var personal = []string{"Василий", "Петрович", "Тёркин", "1978-03-05", "+7 900 123-45-67", "vasily@example.ru"}

func TestHolders(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	h, created, err := l.RegisterHolder(vasily("2000000000015"))
	if err != nil || !created || h.Registered.IsZero() || h.Terminal != "S1-T1" || !h.Updated.Equal(h.Registered) {
		t.Fatalf("RegisterHolder = %+v %v %v", h, created, err)
	}
	got, ok, err := l.Holder("2000000000015")
	if !ok || err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("Holder = %+v %v %v, want %+v", got, ok, err, h)
	}
	if _, ok, _ := l.Holder("2000000000022"); ok {
		t.Error("a holder for a card nobody registered")
	}

	// A correction keeps the first registration and is pending again.
	fix := vasily("2000000000015")
	fix.Phone = "+7 900 000-00-00"
	h2, created, err := l.RegisterHolder(fix)
	if err != nil || created || !h2.Registered.Equal(h.Registered) || !h2.Updated.After(h.Updated) {
		t.Fatalf("correction = %+v %v %v", h2, created, err)
	}
	pend, err := l.PendingHolders(10)
	if err != nil || len(pend) != 1 || pend[0].Phone != fix.Phone {
		t.Fatalf("PendingHolders = %+v %v", pend, err)
	}
	// HQ acknowledging the first version does not clear the correction.
	if err := l.HoldersSynced([]pos.CardHolder{h}); err != nil {
		t.Fatal(err)
	}
	if pend, _ := l.PendingHolders(10); len(pend) != 1 {
		t.Errorf("pending after an outdated acknowledgement: %+v", pend)
	}
	// An older record from HQ does not overwrite it either.
	old := h
	old.Name = "Вася"
	if err := l.PutHolder(old); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.Holder(h.Card); got.Name != "Василий" {
		t.Errorf("HQ's older record replaced the pending one: %+v", got)
	}
	if err := l.HoldersSynced(pend); err != nil {
		t.Fatal(err)
	}
	if pend, _ := l.PendingHolders(10); len(pend) != 0 {
		t.Errorf("pending after the acknowledgement: %+v", pend)
	}
	// Once synced, HQ's newer record wins.
	newer := h2
	newer.Name, newer.Updated = "Василий-HQ", h2.Updated.Add(time.Minute)
	if err := l.PutHolder(newer); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.Holder(h.Card); got.Name != "Василий-HQ" {
		t.Errorf("Holder after HQ's newer record = %+v", got)
	}
	var in *pos.InputError
	if _, _, err := l.RegisterHolder(pos.CardHolder{Name: "x"}); !errors.As(err, &in) || in.Field != "card" {
		t.Errorf("a holder without a card: %v", err)
	}
}

// A forgotten holder's personal data is gone from every byte of the file, while
// the sales, the account views and the chain stay as they were.
func TestForgetHoldersErasesBytes(t *testing.T) {
	l, path := openTest(t, Options{Terminal: "S1-T1"})
	card := "2000000000015"
	for i, s := range []sale{{id: "a", card: card, spend: 100, points: 1}, {id: "b", card: "2000000000022", spend: 200, points: 2}} {
		record(t, l, s)
		// Several versions of the record, each leaving a copy on a freed page.
		h := vasily(card)
		h.Phone = []string{"+7 900 123-45-67", "+7 900 123-45-68"}[i]
		if _, _, err := l.RegisterHolder(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := l.RegisterHolder(vasily(card)); err != nil {
		t.Fatal(err)
	}
	other := pos.CardHolder{Card: "2000000000022", Name: "Мария", Phone: "+7 911 765-43-21"}
	if _, _, err := l.RegisterHolder(other); err != nil {
		t.Fatal(err)
	}
	record(t, l, sale{id: "c", card: card, spend: 300, points: 3})
	before := allEvents(t, l)
	acct, _, _ := l.Account(card)

	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte("Тёркин")) {
		t.Fatal("the holder is not in the file before it is forgotten: the test proves nothing")
	}
	n, err := l.ForgetHolders(card, "2999999999999")
	if err != nil || n != 1 {
		t.Fatalf("ForgetHolders = %d, %v", n, err)
	}
	raw, _ = os.ReadFile(path)
	for _, s := range personal {
		if i := bytes.Index(raw, []byte(s)); i >= 0 {
			t.Errorf("%q is still in the file at byte %d", s, i)
		}
	}
	if !bytes.Contains(raw, []byte("Мария")) {
		t.Error("another card's holder was erased too")
	}
	if _, ok, _ := l.Holder(card); ok {
		t.Error("Holder still answers")
	}
	if got := allEvents(t, l); !reflect.DeepEqual(got, before) {
		t.Error("the events changed")
	}
	if a, _, _ := l.Account(card); !reflect.DeepEqual(a, acct) {
		t.Errorf("the account changed: %+v, was %+v", a, acct)
	}
	rep, err := l.Verify()
	if err != nil || !rep.OK() {
		t.Fatalf("Verify after forgetting = %+v %v", rep, err)
	}
	// Sales go on.
	record(t, l, sale{id: "d", card: card, spend: 1, points: 1})
}

// PendingHolders reads the holders only when one may be pending, and never
// misses one: a registration or a change after a read that found none is
// found by the next, also while reads and registrations race.
func TestPendingHoldersAfterNone(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1", NoSync: true})
	pending := func(want ...string) {
		t.Helper()
		hs, err := l.PendingHolders(100)
		var got []string
		for _, h := range hs {
			got = append(got, h.Card)
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("PendingHolders = %v, %v; want %v", got, err, want)
		}
	}
	synced := func() {
		t.Helper()
		hs, err := l.PendingHolders(100)
		if err == nil {
			err = l.HoldersSynced(hs)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pending()
	if _, _, err := l.RegisterHolder(vasily("2000000000015")); err != nil {
		t.Fatal(err)
	}
	pending("2000000000015")
	synced()
	pending()
	pending()
	if _, _, err := l.ChangeHolder("2000000000015", func(old *pos.CardHolder) (pos.CardHolder, error) {
		h := *old
		h.Phone = "+7 900 000-00-01"
		return h, nil
	}); err != nil {
		t.Fatal(err)
	}
	pending("2000000000015")
	synced()
	pending()

	// Registrations racing the uploader's reads.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, _, err := l.RegisterHolder(vasily(fmt.Sprintf("40000012%08d", i))); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := l.PendingHolders(100); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	hs, err := l.PendingHolders(100)
	if err != nil || len(hs) != 50 {
		t.Errorf("after 50 registrations racing reads: %d pending, %v", len(hs), err)
	}
}

// HQ names a forgotten card again at every lookup of it. When this till has
// no holder of the card, ForgetHolders does nothing: the sales journaled
// since the last checkpoint stay in the journal (no commit, no zeroing of the
// file under the exclusive gate).
func TestForgetHoldersWithoutHolder(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	if _, _, err := l.RegisterHolder(vasily("2000000000015")); err != nil {
		t.Fatal(err)
	}
	record(t, l, sale{id: "a", card: "2000000000022", spend: 100, points: 1})
	end := l.journal.end
	if end == 0 {
		t.Fatal("the sale is not in the journal: the test proves nothing")
	}
	if n, err := l.ForgetHolders("2000000000022", "2999999999999"); n != 0 || err != nil {
		t.Fatalf("ForgetHolders of cards without a holder = %d, %v", n, err)
	}
	if l.journal.end != end {
		t.Errorf("the journal went from %d to %d bytes: ForgetHolders committed", end, l.journal.end)
	}
	if _, ok, _ := l.Holder("2000000000015"); !ok {
		t.Error("another card's holder is gone")
	}
}

// A crash after holders were deleted and before the free pages were zeroed
// leaves the mark in the meta: the next Open zeroes them.
func TestForgetHoldersFinishedAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openAt(t, path, Options{Terminal: "S1-T1"}, checkNone)
	card := "2000000000015"
	if _, _, err := l.RegisterHolder(vasily(card)); err != nil {
		t.Fatal(err)
	}
	record(t, l, sale{id: "a", card: card, spend: 100, points: 1})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// What ForgetHolders commits before it zeroes, and then the crash.
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketHolders).Delete([]byte(card)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyScrubDue, []byte{1})
	})
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte("Тёркин")) {
		t.Fatal("the deleted holder is not on a free page: the test proves nothing")
	}
	l = openAt(t, path, Options{Terminal: "S1-T1"}, checkFull)
	raw, _ = os.ReadFile(path)
	for _, s := range personal {
		if i := bytes.Index(raw, []byte(s)); i >= 0 {
			t.Errorf("%q is still in the file at byte %d after Open", s, i)
		}
	}
	if due, err := l.forgetDue(nil); due || err != nil {
		t.Errorf("the mark is still set after Open (%v)", err)
	}
	record(t, l, sale{id: "b", card: card, spend: 1, points: 1})
}

// A mark left set (the zeroing failed at Open) is finished by the next
// ForgetHolders, of whatever card.
func TestForgetHoldersFinishesMark(t *testing.T) {
	l, path := openTest(t, Options{Terminal: "S1-T1"})
	card := "2000000000015"
	if _, _, err := l.RegisterHolder(vasily(card)); err != nil {
		t.Fatal(err)
	}
	// The state a crash after the deletion leaves, in the live ledger.
	if err := l.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketHolders).Delete([]byte(card)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyScrubDue, []byte{1})
	}); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); !bytes.Contains(raw, []byte("Тёркин")) {
		t.Fatal("the deleted holder is not on a free page: the test proves nothing")
	}
	if n, err := l.ForgetHolders("2999999999999"); n != 0 || err != nil {
		t.Fatalf("ForgetHolders = %d, %v", n, err)
	}
	raw, _ := os.ReadFile(path)
	for _, s := range personal {
		if i := bytes.Index(raw, []byte(s)); i >= 0 {
			t.Errorf("%q is still in the file at byte %d", s, i)
		}
	}
	if due, err := l.forgetDue(nil); due || err != nil {
		t.Errorf("the mark is still set (%v)", err)
	}
}

// Sales recorded while a holder is forgotten neither wait forever nor see the
// zeroing (the race detector and the cleanup's checks watch).
func TestForgetHoldersConcurrentSales(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			record(t, l, sale{id: "s" + string(rune('A'+i%26)) + string(rune('a'+i/26)), card: "2000000000015", spend: 10, points: 1})
		}
	}()
	for range 20 {
		if _, _, err := l.RegisterHolder(vasily("2000000000015")); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ForgetHolders("2000000000015"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Account("2000000000015"); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}

// lotSale prices a sale that redeems the given lot uses and earns points.
func lotSale(id, card string, spend money.Amount, earned, redeemed int64, uses []pos.LotUse, seen *pos.Account) (SaleRequest, PriceFunc) {
	req := SaleRequest{ID: id, Card: card}
	return req, func(acct pos.Account, at time.Time) (Priced, error) {
		if seen != nil {
			*seen = acct
		}
		body, err := json.Marshal(pos.Sale{ID: id, Card: card, At: at, Quote: pos.Quote{
			Currency: "RUB", Subtotal: spend, Total: spend, PointsEarned: earned, PointsRedeemed: redeemed, Lots: uses, Applied: []pos.Applied{}}})
		return Priced{Body: body, Spend: spend, PointsDelta: earned - redeemed}, err
	}
}

func TestLotsFollowSales(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	card := "2000000000015"
	record(t, l, sale{id: "first", card: card, spend: 100, points: 0})
	old := testEpoch.Add(-72 * time.Hour)
	mid := testEpoch.Add(-48 * time.Hour)
	hq := pos.Account{LifetimeSpend: 5000, Points: 500, Sales: 3, Lots: []pos.PointsLot{
		{Points: 200, Earned: old, Expires: testEpoch.Add(24 * time.Hour)},
		{Points: 300, Earned: mid},
	}}
	if err := l.PutSnapshot(card, hq, 1, hashAt(t, l, 1)); err != nil {
		t.Fatal(err)
	}
	// Redeem 250: all of the oldest lot, 50 of the next; earn 7 as a new lot.
	req, price := lotSale("redeem", card, 1000, 7, 250, []pos.LotUse{{Lot: 0, Points: 200}, {Lot: 1, Points: 50}}, nil)
	r, err := l.RecordSale(req, price)
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := l.Account(card)
	want := []pos.PointsLot{{Points: 250, Earned: mid}, {Points: 7, Earned: r.At}}
	if a.Points != 257 || !reflect.DeepEqual(a.Lots, want) {
		t.Errorf("account after redeeming = points %d lots %+v, want 257 %+v", a.Points, a.Lots, want)
	}
	// The next sale is priced against the lots as they are now.
	var seen pos.Account
	req, price = lotSale("next", card, 10, 0, 0, nil, &seen)
	if _, err := l.RecordSale(req, price); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen.Lots, want) {
		t.Errorf("the next sale saw lots %+v", seen.Lots)
	}
	// The cleanup's Verify rebuilds the lots from the snapshot and the events.
}

func TestOfflineRedeemedToday(t *testing.T) {
	clock := testClock()
	l, _ := openTest(t, Options{Terminal: "S1-T1", Now: clock})
	card := "2000000000015"
	day := testEpoch.Add(-time.Hour)
	for i, redeemed := range []int64{30, 0, 45} {
		req, price := lotSale(string(rune('a'+i)), card, 100, 1, redeemed, nil, nil)
		if _, err := l.RecordSale(req, price); err != nil {
			t.Fatal(err)
		}
	}
	req, price := lotSale("other-card", "2000000000022", 100, 0, 99, nil, nil)
	if _, err := l.RecordSale(req, price); err != nil {
		t.Fatal(err)
	}
	if n, err := l.PendingRedeemed(card, day); err != nil || n != 75 {
		t.Errorf("PendingRedeemed = %d %v, want 75", n, err)
	}
	// What HQ acknowledged no longer counts, nor does what came before since.
	if err := l.Ack(1); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.PendingRedeemed(card, day); n != 45 {
		t.Errorf("PendingRedeemed after the ack = %d, want 45", n)
	}
	if n, _ := l.PendingRedeemed(card, testEpoch.Add(3*time.Second)); n != 0 {
		t.Errorf("PendingRedeemed since after the sales = %d, want 0", n)
	}
	// A sale priced offline sees it in the account.
	var seen pos.Account
	req, price = lotSale("offline", card, 100, 0, 0, nil, &seen)
	req.OfflineSince = day
	if _, err := l.RecordSale(req, price); err != nil {
		t.Fatal(err)
	}
	if !seen.Offline || seen.OfflineRedeemedToday != 45 {
		t.Errorf("the offline sale saw %+v", seen)
	}
	if a, _, _ := l.Account(card); a.Offline || a.OfflineRedeemedToday != 0 {
		t.Errorf("the stored view keeps the offline fields: %+v", a)
	}
}

// What sales never write (holders, rulesets) is read from the file without
// waiting for a sale's commit in progress: on a till whose disk takes 20 ms
// to sync, a scan during a sale is greeted at once.
func TestReadsDoNotWaitForCommit(t *testing.T) {
	l, _ := openTest(t, Options{})
	card := "2000000000015"
	if _, _, err := l.RegisterHolder(vasily(card)); err != nil {
		t.Fatal(err)
	}
	putActive(t, l, 3, "rules v3")
	g := newGate(l)
	committed := goRecord(l, sale{id: "held", card: card, spend: 100}.request(), sale{id: "held", card: card, spend: 100}.price(nil))
	<-g.entered // the sale's commit holds the disk

	read := make(chan error, 1)
	go func() {
		h, ok, err := l.Holder(card)
		if err == nil && (!ok || h.Name != vasily(card).Name) {
			err = fmt.Errorf("Holder = %+v %v, want the registered holder", h, ok)
		}
		if err == nil {
			var v int64
			if v, _, _, err = l.Ruleset(); err == nil && v != 3 {
				err = fmt.Errorf("Ruleset version %d, want 3", v)
			}
		}
		if err == nil {
			_, err = l.Rulesets()
		}
		if err == nil {
			_, err = l.PendingHolders(10)
		}
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("reading a holder and the rules waited for the commit in progress")
	}
	g.release <- struct{}{}
	if res := <-committed; res.err != nil {
		t.Fatal(res.err)
	}
	l.beforeCommit = nil
	if a, _, _ := l.Account(card); a.Sales != 1 {
		t.Errorf("account %+v, want the sale in it", a)
	}
}

// TestChangeHolderMerges: corrections of different fields of one card, made at
// the same time, all survive; a refused change stores nothing.
func TestChangeHolderMerges(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S1-T1"})
	const card = "2000000000015"
	if _, _, err := l.RegisterHolder(vasily(card)); err != nil {
		t.Fatal(err)
	}
	set := func(f func(*pos.CardHolder)) func(*pos.CardHolder) (pos.CardHolder, error) {
		return func(old *pos.CardHolder) (pos.CardHolder, error) {
			h := *old
			f(&h)
			return h, nil
		}
	}
	changes := []func(*pos.CardHolder){
		func(h *pos.CardHolder) { h.Phone = "+7 900 000-00-01" },
		func(h *pos.CardHolder) { h.Email = "v2@example.ru" },
		func(h *pos.CardHolder) { h.Surname = "Тёркин-2" },
		func(h *pos.CardHolder) { h.Lang = "en" },
	}
	errc := make(chan error, len(changes))
	for _, c := range changes {
		go func() {
			_, created, err := l.ChangeHolder(card, set(c))
			if err == nil && created {
				err = errors.New("a correction created the holder")
			}
			errc <- err
		}()
	}
	for range changes {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	got, _, _ := l.Holder(card)
	if got.Phone != "+7 900 000-00-01" || got.Email != "v2@example.ru" || got.Surname != "Тёркин-2" || got.Lang != "en" || got.Birthday != "1978-03-05" {
		t.Fatalf("after four concurrent corrections: %+v", got)
	}
	refuse := errors.New("refused")
	if _, _, err := l.ChangeHolder(card, func(*pos.CardHolder) (pos.CardHolder, error) { return pos.CardHolder{}, refuse }); err != refuse {
		t.Fatalf("refused change = %v, want the refusal as it is", err)
	}
	if again, _, _ := l.Holder(card); !reflect.DeepEqual(again, got) {
		t.Fatalf("a refused change changed the holder: %+v", again)
	}
	if _, created, err := l.ChangeHolder("2000000000022", func(old *pos.CardHolder) (pos.CardHolder, error) {
		if old != nil {
			t.Errorf("new card's old holder = %+v", old)
		}
		return pos.CardHolder{Name: "Мария", Email: "m@example.ru"}, nil
	}); err != nil || !created {
		t.Fatalf("new holder: created %v, %v", created, err)
	}
}
