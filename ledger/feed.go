package ledger

import (
	"errors"
	"fmt"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Where the terminal stands in HQ's change feed, kept so that a restart
// reads on from there rather than the whole feed again: "feed_id" is the
// feed's identity as HQ names it, "feed_after" the position (8 bytes) whose
// changes, and every one before it, the views here hold.

var (
	keyFeedID    = []byte("feed_id")
	keyFeedAfter = []byte("feed_after")
)

// MaxFeedID is the longest feed identity SetFeedPosition keeps.
const MaxFeedID = 128

// ErrFeedHeld: snapshots of HQ's accounts were dropped before they were
// written (see alongNext), so no later position of the change feed is
// kept by this Ledger: the next start reads them again from the position
// kept before.
var ErrFeedHeld = errors.New("change feed position held: accounts from HQ were dropped before they were written")

// FeedPosition returns the position in HQ's change feed SetFeedPosition
// last kept, and the identity of that feed; "" and 0 when none was kept.
// A value that is not one SetFeedPosition writes (an edited file) is an
// error that says so: the caller reads the feed from its start.
func (l *Ledger) FeedPosition() (feed string, after uint64, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		id := b.Get(keyFeedID)
		if id == nil {
			return nil
		}
		if len(id) == 0 || len(id) > MaxFeedID || !utf8.Valid(id) {
			return fmt.Errorf("%w: meta: %s is not a feed identity of 1 to %d bytes of UTF-8", ErrCorrupt, keyFeedID, MaxFeedID)
		}
		n, err := getU64(b, keyFeedAfter)
		if err != nil {
			return fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
		}
		feed, after = string(id), n
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("change feed position: %w", err)
	}
	return feed, after, nil
}

// SetFeedPosition keeps after as the position in HQ's change feed of
// identity feed that the views here hold. It rides along with the next
// commit (alongNext), after the snapshots put before it: a crash keeps
// either both or neither, so the position is never ahead of what it
// covers, and losing it costs only a longer read of the feed.
func (l *Ledger) SetFeedPosition(feed string, after uint64) error {
	if feed == "" || len(feed) > MaxFeedID || !utf8.ValidString(feed) {
		return fmt.Errorf("set change feed position: feed identity %q is not 1 to %d bytes of UTF-8", feed, MaxFeedID)
	}
	return l.alongNext(func(tx *bolt.Tx) ([]put, error) {
		if l.feedHeld {
			return nil, ErrFeedHeld
		}
		b := tx.Bucket(bucketMeta)
		if string(b.Get(keyFeedID)) == feed && string(b.Get(keyFeedAfter)) == string(u64(after)) {
			return nil, nil
		}
		return []put{{bucketMeta, keyFeedID, []byte(feed)}, {bucketMeta, keyFeedAfter, u64(after)}}, nil
	})
}
