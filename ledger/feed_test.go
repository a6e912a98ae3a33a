package ledger

import (
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestFeedPosition: the change feed's position rides along with the next
// commit, after the snapshots put before it, so a power cut keeps both or
// neither; values that are not what SetFeedPosition writes are an error
// that names the key.
func TestFeedPosition(t *testing.T) {
	l, path := openTest(t, Options{})
	if feed, after, err := l.FeedPosition(); err != nil || feed != "" || after != 0 {
		t.Fatalf("a new ledger's position = %q %d %v; want none", feed, after, err)
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxFeedID+1), "\xff"} {
		if err := l.SetFeedPosition(bad, 1); err == nil {
			t.Errorf("SetFeedPosition(%q) = nil; want an error", bad)
		}
	}
	record(t, l, sale{id: "s1", card: "C", spend: 100, points: 1})
	own, _, err := l.Account("C")
	if err != nil {
		t.Fatal(err)
	}
	hq := own
	hq.Points += 40 // another store's sale
	if err := l.PutSnapshot("C", hq, 1, hashAt(t, l, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.SetFeedPosition("feed-1", 7); err != nil {
		t.Fatal(err)
	}
	if feed, after, err := l.FeedPosition(); err != nil || feed != "feed-1" || after != 7 {
		t.Errorf("position read at once = %q %d %v; want feed-1 7", feed, after, err)
	}
	// A power cut before the next commit loses the position with the
	// snapshot it covers.
	c := openAt(t, crashCopy(t, path), Options{}, checkFull)
	if feed, after, err := c.FeedPosition(); err != nil || feed != "" || after != 0 {
		t.Errorf("after a crash before any commit: %q %d %v; want none", feed, after, err)
	}
	if got, _, _ := c.Account("C"); got.Points != own.Points {
		t.Errorf("after a crash before any commit: %d points; want the till's own %d", got.Points, own.Points)
	}
	// The next sale takes both along.
	record(t, l, sale{id: "s2", card: "D", spend: 100, points: 1})
	c = openAt(t, crashCopy(t, path), Options{}, checkFull)
	if feed, after, err := c.FeedPosition(); err != nil || feed != "feed-1" || after != 7 {
		t.Errorf("after a crash after the next sale: %q %d %v; want feed-1 7", feed, after, err)
	}
	if got, _, _ := c.Account("C"); got.Points != hq.Points {
		t.Errorf("after a crash after the next sale: %d points; want HQ's %d", got.Points, hq.Points)
	}
	if err := l.SetFeedPosition("feed-2", 3); err != nil {
		t.Fatal(err)
	}
	if feed, after, err := l.FeedPosition(); err != nil || feed != "feed-2" || after != 3 {
		t.Errorf("another feed's position = %q %d %v; want feed-2 3", feed, after, err)
	}
}

// TestFeedPositionEdited: a file whose position was edited by hand reads as
// an error that says which key is wrong; the ledger opens and sells.
func TestFeedPositionEdited(t *testing.T) {
	for _, c := range []struct {
		name   string
		id, at []byte
		want   string
	}{
		{"position of 3 bytes", []byte("feed-1"), []byte{1, 2, 3}, "feed_after"},
		{"position missing", []byte("feed-1"), nil, "feed_after is missing"},
		{"identity not UTF-8", []byte{0xff, 0xfe}, u64(5), "feed_id"},
		{"identity empty", []byte{}, u64(5), "feed_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, path := openTest(t, Options{})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketMeta)
				if err := b.Put(keyFeedID, c.id); err != nil {
					return err
				}
				if c.at == nil {
					return b.Delete(keyFeedAfter)
				}
				return b.Put(keyFeedAfter, c.at)
			})
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			l = openAt(t, path, Options{}, checkFull)
			feed, after, err := l.FeedPosition()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || feed != "" || after != 0 {
				t.Errorf("FeedPosition = %q %d %v; want ErrCorrupt naming %s", feed, after, err, c.want)
			}
			record(t, l, sale{id: "s1", card: "C", spend: 100, points: 1})
			if err := l.SetFeedPosition("feed-1", 9); err != nil {
				t.Fatal(err)
			}
			if feed, after, err := l.FeedPosition(); err != nil || feed != "feed-1" || after != 9 {
				t.Errorf("after a new position: %q %d %v", feed, after, err)
			}
		})
	}
}

// TestFeedPositionHeldAfterDroppedRiders: once riders were dropped unwritten
// (snapshots among them), no later position is kept: it would pass them.
func TestFeedPositionHeldAfterDroppedRiders(t *testing.T) {
	l, _ := openTest(t, Options{})
	if err := l.SetFeedPosition("feed-1", 4); err != nil {
		t.Fatal(err)
	}
	l.txMu.Lock()
	l.feedHeld = true // as discard sets it when it cannot put the riders back
	l.txMu.Unlock()
	if err := l.SetFeedPosition("feed-1", 8); !errors.Is(err, ErrFeedHeld) {
		t.Errorf("SetFeedPosition after riders were dropped = %v; want ErrFeedHeld", err)
	}
	if feed, after, err := l.FeedPosition(); err != nil || feed != "feed-1" || after != 4 {
		t.Errorf("position = %q %d %v; want feed-1 4 as kept before", feed, after, err)
	}
}

// FuzzFeedPosition: whatever bytes an edited file holds under the feed's
// keys, FeedPosition returns what SetFeedPosition would have written, or
// ErrCorrupt and nothing; the ledger opens either way.
func FuzzFeedPosition(f *testing.F) {
	f.Add([]byte("feed-1"), u64(7))
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Add([]byte{0xff}, u64(1))
	f.Add([]byte(strings.Repeat("x", MaxFeedID+1)), u64(0))
	f.Fuzz(func(t *testing.T, id, at []byte) {
		l, path := openTest(t, Options{})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			if err := b.Put(keyFeedID, id); err != nil {
				return err
			}
			return b.Put(keyFeedAfter, at)
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Skip(err) // bbolt refused the put itself
		}
		l = openAt(t, path, Options{}, checkFull)
		feed, after, err := l.FeedPosition()
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || feed != "" || after != 0 {
				t.Fatalf("FeedPosition = %q %d %v; want ErrCorrupt and nothing", feed, after, err)
			}
			return
		}
		if feed != string(id) || string(u64(after)) != string(at) {
			t.Fatalf("FeedPosition = %q %d from %q %x", feed, after, id, at)
		}
	})
}
