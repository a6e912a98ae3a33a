package boltstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
)

func TestConformance(t *testing.T) { storetest.Run(t, openStore) }

// openStore opens a new store for a conformance suite, and checks its file
// once the suite has closed it.
func openStore(t *testing.T) hq.Store {
	path := filepath.Join(t.TempDir(), "hq.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkFile(t, path) }) // runs after the suite closes the store
	return s
}

// checkFile runs bbolt's own consistency check on a closed store file.
func checkFile(t *testing.T, path string) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Errorf("reopen %s: %v", path, err)
		return
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("bbolt check %s: %v", path, err)
	}
}

// A forgotten holder's personal data is gone from every byte of HQ's file, the
// older versions of the record included, while the card's account stays.
func TestForgetErasesBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hq.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	card := "2000000000015"
	if _, err := s.Append(ctx, "S1-T1", storetest.Sales("S1-T1", 1, "", storetest.SaleSpec{Card: card, Total: 100_00, Earned: 1})); err != nil {
		t.Fatal(err)
	}
	for i, phone := range []string{"+7 900 123-45-67", "+7 900 765-43-21"} {
		h := pos.CardHolder{Card: card, Name: "Василий", Patronymic: "Петрович", Surname: "Тёркин", Birthday: "1978-03-05",
			Phone: phone, Email: "vasily@example.ru", Updated: storetest.Epoch.Add(time.Duration(i) * time.Minute)}
		if n, err := s.PutHolders(ctx, "S1-T1", []pos.CardHolder{h}); err != nil || n != 1 {
			t.Fatalf("PutHolders = %d %v", n, err)
		}
	}
	other := pos.CardHolder{Card: "2000000000022", Name: "Мария", Phone: "+7 911 111-11-11", Updated: storetest.Epoch}
	if _, err := s.PutHolders(ctx, "S1-T1", []pos.CardHolder{other}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte("Тёркин")) {
		t.Fatal("the holder is not in the file: the test proves nothing")
	}
	if ok, err := s.ForgetHolder(ctx, card, storetest.Epoch.Add(time.Hour)); !ok || err != nil {
		t.Fatalf("ForgetHolder = %v %v", ok, err)
	}
	raw, _ = os.ReadFile(path)
	for _, b := range []string{"Василий", "Петрович", "Тёркин", "1978-03-05", "+7 900 123-45-67", "+7 900 765-43-21", "vasily@example.ru"} {
		if i := bytes.Index(raw, []byte(b)); i >= 0 {
			t.Errorf("%q is still in HQ's file at byte %d", b, i)
		}
	}
	if !bytes.Contains(raw, []byte("Мария")) {
		t.Error("another holder was erased too")
	}
	if a, err := s.Account(ctx, "", card); err != nil || a.Account.Sales != 1 || !a.Forgotten {
		t.Errorf("account after forgetting = %+v %v", a, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
}
