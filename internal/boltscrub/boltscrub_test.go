package boltscrub

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestFreeErasesDeletedValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scrub.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret := []byte("Василий Петрович, +7 900 123-45-67")
	big := bytes.Repeat([]byte("Иванов "), 3000) // an overflow value, several pages
	// Many versions of the same records, so old copies pile up on the free list.
	for i := range 20 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("holders"))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("card-1"), fmt.Appendf(nil, "%s #%d", secret, i)); err != nil {
				return err
			}
			if err := b.Put([]byte("card-2"), big); err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "other-%03d", i), bytes.Repeat([]byte{'x'}, 500))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("holders"))
		if err := b.Delete([]byte("card-1")); err != nil {
			return err
		}
		return b.Delete([]byte("card-2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, secret) {
		t.Fatal("the deleted value is not in the file before the scrub: the test proves nothing")
	}
	n, err := Free(db)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no page zeroed")
	}
	raw, _ = os.ReadFile(path)
	for _, s := range [][]byte{secret, []byte("Иванов Иванов")} {
		if i := bytes.Index(raw, s); i >= 0 {
			t.Errorf("%q still at byte %d (page %d) after the scrub", s, i, i/db.Info().PageSize)
		}
	}
	// What is live is untouched, and the file is sound for bbolt.
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Error(err)
		}
		b := tx.Bucket([]byte("holders"))
		for i := range 20 {
			if v := b.Get(fmt.Appendf(nil, "other-%03d", i)); !bytes.Equal(v, bytes.Repeat([]byte{'x'}, 500)) {
				t.Errorf("other-%03d = %q", i, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writes go on and reuse the zeroed pages.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("holders")).Put([]byte("card-3"), big) }); err != nil {
		t.Fatal(err)
	}
}
