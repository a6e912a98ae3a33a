package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
)

// bucketFeedback keeps the NPS answers (hq.Feedback as JSON) under the
// terminal, a zero byte, the epoch, a zero byte and the big-endian seq of
// their event: stored with the event, in its transaction, so once.
var bucketFeedback = []byte("feedback")

// bucketLastFeedback keeps, per card, the time of its latest answer
// (big-endian Unix nanoseconds): hq.Store.LastFeedback without reading every
// answer. addFeedback keeps it; Open builds it for a store written before.
var bucketLastFeedback = []byte("feedback_last")

func feedbackKey(terminal, epoch string, seq uint64) []byte {
	return append([]byte(terminal+"\x00"+epoch+"\x00"), seqKey(seq)...)
}

// addFeedback stores the answers of the feedback events an upload stored
// and moves their cards in the change feed (hq.CardsChanged; addSales has
// moved the cards of the upload's sales).
func addFeedback(tx *bolt.Tx, terminal, epoch string, sales []hq.SaleFacts, fs []hq.Feedback) error {
	if len(fs) == 0 {
		return nil
	}
	_, sold := hq.SalesByCard(sales)
	for _, number := range hq.CardsChanged(sales, fs) {
		if _, done := slices.BinarySearch(sold, number); done {
			continue
		}
		c, err := getCard(tx, number)
		if err != nil {
			return err
		}
		if err := putCard(tx, number, c); err != nil {
			return err
		}
		if err := markSeen(tx, terminal, number); err != nil {
			return err
		}
	}
	b, err := tx.CreateBucketIfNotExists(bucketFeedback)
	if err != nil {
		return err
	}
	for _, f := range fs {
		f.Epoch = epoch
		v, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := b.Put(feedbackKey(f.Terminal, epoch, f.Seq), v); err != nil {
			return err
		}
		if err := noteLastFeedback(tx, f); err != nil {
			return err
		}
	}
	return nil
}

// noteLastFeedback moves f's card's latest answer to f's time when later.
func noteLastFeedback(tx *bolt.Tx, f hq.Feedback) error {
	if f.Card == "" {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketLastFeedback)
	if err != nil {
		return err
	}
	if v := b.Get([]byte(f.Card)); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= f.At.UnixNano() {
		return nil
	}
	return b.Put([]byte(f.Card), seqKey(uint64(f.At.UnixNano())))
}

// migrateLastFeedback builds bucketLastFeedback from the answers of a store
// written before it existed.
func migrateLastFeedback(tx *bolt.Tx) error {
	fb := tx.Bucket(bucketFeedback)
	if fb == nil || tx.Bucket(bucketLastFeedback) != nil {
		return nil
	}
	if _, err := tx.CreateBucket(bucketLastFeedback); err != nil {
		return err
	}
	return fb.ForEach(func(k, v []byte) error {
		var f hq.Feedback
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("feedback %q: %w", k, err)
		}
		return noteLastFeedback(tx, f)
	})
}

// LastFeedback implements hq.Store.
func (s *Store) LastFeedback(_ context.Context, cards []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLastFeedback)
		if b == nil {
			return nil
		}
		for _, c := range cards {
			if v := b.Get([]byte(c)); len(v) == 8 {
				out[c] = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("last feedback: %w", err)
	}
	return out, nil
}

// Feedback implements hq.Store.
func (s *Store) Feedback(_ context.Context, ff hq.FeedbackFilter) ([]hq.Feedback, error) {
	out := []hq.Feedback{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFeedback)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var f hq.Feedback
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("feedback %q: %w", k, err)
			}
			if ff.Match(f) {
				out = append(out, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: %w", err)
	}
	sortFeedback(out)
	return out, nil
}

func sortFeedback(fs []hq.Feedback) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Terminal != b.Terminal {
			return a.Terminal < b.Terminal
		}
		if a.Epoch != b.Epoch {
			return a.Epoch < b.Epoch
		}
		return a.Seq < b.Seq
	})
}
