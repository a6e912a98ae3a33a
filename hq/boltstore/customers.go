package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/internal/boltscrub"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

var (
	bucketCards     = []byte("cards")
	bucketHolders   = []byte("holders")
	bucketForgotten = []byte("forgotten")
	bucketSeen      = []byte("seen")
	bucketChanges   = []byte("changes")
	// bucketFeed holds keyFeedID, the change feed's identity: random,
	// made when the file is, so that a terminal can tell another store's
	// positions from this one's (wire.ChangesAnswer.Feed).
	bucketFeed = []byte("feed")
	keyFeedID  = []byte("id")
)

// ensureFeedID gives the change feed its identity if the file has none yet.
func ensureFeedID(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketFeed)
	if err != nil || b.Get(keyFeedID) != nil {
		return err
	}
	_, err = putFeedID(b)
	return err
}

// putFeedID stores a new random identity of the change feed in b.
func putFeedID(b *bolt.Bucket) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	v := hex.EncodeToString(id[:])
	return v, b.Put(keyFeedID, []byte(v))
}

// RenewFeed implements hq.Store.
func (s *Store) RenewFeed(context.Context) (id string, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		id, err = putFeedID(tx.Bucket(bucketFeed))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("renew the change feed's identity: %w", err)
	}
	return id, nil
}

// card is a "cards" value: the card's account across every store.
type card struct {
	Spend    money.Amount `json:"spend"`
	Points   int64        `json:"points"`
	Sales    int64        `json:"sales"`
	LastSale time.Time    `json:"last_sale,omitzero"`
	// Overdrawn is every point ever redeemed beyond the balance; First and
	// Last when it happened.
	Overdrawn int64     `json:"overdrawn,omitempty"`
	First     time.Time `json:"first,omitzero"`
	Last      time.Time `json:"last,omitzero"`
	// BirthdayBonus is the time of the latest sale that paid the card's
	// birthday bonus (pos.Account.BirthdayBonus).
	BirthdayBonus time.Time `json:"birthday_bonus,omitzero"`
	// Lots are the card's points by when they expire (pos.Account.Lots).
	Lots []pos.PointsLot `json:"lots,omitempty"`
	// Change is the card's position in the change feed.
	Change int64 `json:"change"`
}

// A card's record is its JSON, written and read with go-json-experiment's v1
// package: encoding/json's rules and bytes (TestCardCodec) in half the time,
// which a card with thousands of points lots pays at every upload batch that
// sells to it (docs/benchmarks.md, "Lots").
func getCard(tx *bolt.Tx, number string) (card, error) {
	var c card
	if v := tx.Bucket(bucketCards).Get([]byte(number)); v != nil {
		if err := jsonv1.Unmarshal(v, &c); err != nil {
			return card{}, fmt.Errorf("card %s: %w", number, err)
		}
	}
	return c, nil
}

// putCard stores c at the next position of the change feed.
func putCard(tx *bolt.Tx, number string, c card) error {
	changes := tx.Bucket(bucketChanges)
	if c.Change > 0 {
		if err := changes.Delete(seqKey(uint64(c.Change))); err != nil {
			return err
		}
	}
	next, err := changes.NextSequence()
	if err != nil {
		return err
	}
	c.Change = int64(next)
	v, err := jsonv1.Marshal(c)
	if err != nil {
		return err
	}
	if err := changes.Put(seqKey(next), []byte(number)); err != nil {
		return err
	}
	return tx.Bucket(bucketCards).Put([]byte(number), v)
}

func seenKey(terminal, number string) []byte {
	return append(append([]byte(terminal), 0), number...)
}

func markSeen(tx *bolt.Tx, terminal, number string) error {
	if terminal == "" {
		return nil
	}
	return tx.Bucket(bucketSeen).Put(seenKey(terminal, number), nil)
}

// addSales adds a terminal's newly stored sales to their cards' accounts.
func addSales(tx *bolt.Tx, terminal string, sales []hq.SaleFacts) error {
	byCard, cards := hq.SalesByCard(sales)
	for _, number := range cards {
		c, err := getCard(tx, number)
		if err != nil {
			return err
		}
		for _, s := range byCard[number] {
			before := c.Points
			c.Spend += s.Total
			c.Points += s.Points()
			if !s.Refund {
				c.Sales++
				if s.At.After(c.LastSale) {
					c.LastSale = s.At
				}
			}
			if s.BirthdayBonus > 0 && s.At.After(c.BirthdayBonus) {
				c.BirthdayBonus = s.At
			}
			if over := s.Overdrawn(before, c.Points); over > 0 {
				c.Overdrawn += over
				if c.First.IsZero() {
					c.First = s.At
				}
				c.Last = s.At
			}
			a := pos.Account{Points: c.Points, Lots: c.Lots}
			s.ApplyLots(&a)
			c.Points, c.Lots = a.Points, a.Lots
		}
		if err := putCard(tx, number, c); err != nil {
			return err
		}
		if err := markSeen(tx, terminal, number); err != nil {
			return err
		}
	}
	return nil
}

// PutHolders implements hq.Customers.
func (s *Store) PutHolders(_ context.Context, terminal string, holders []pos.CardHolder) (stored int, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		stored = 0
		hb := tx.Bucket(bucketHolders)
		for _, h := range holders {
			if h.Card == "" {
				return fmt.Errorf("a holder without a card")
			}
			// A terminal's refused holder moves its card on in the feed, so the
			// terminal learns HQ's version: newer, or forgotten.
			refuse := func() error {
				if terminal == "" {
					return nil
				}
				if err := touch(tx, h.Card); err != nil {
					return err
				}
				return markSeen(tx, terminal, h.Card)
			}
			if v := tx.Bucket(bucketForgotten).Get([]byte(h.Card)); v != nil && !h.Updated.After(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) {
				if err := refuse(); err != nil { // a copy from before the forget
					return err
				}
				continue
			}
			if v := hb.Get([]byte(h.Card)); v != nil {
				var old pos.CardHolder
				if err := json.Unmarshal(v, &old); err != nil {
					return fmt.Errorf("holder of %s: %w", h.Card, err)
				}
				if !h.Updated.After(old.Updated) {
					if err := refuse(); err != nil {
						return err
					}
					continue
				}
			}
			v, err := json.Marshal(h)
			if err != nil {
				return err
			}
			if err := hb.Put([]byte(h.Card), v); err != nil {
				return err
			}
			if err := touch(tx, h.Card); err != nil {
				return err
			}
			if err := markSeen(tx, terminal, h.Card); err != nil {
				return err
			}
			stored++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("put holders: %w", err)
	}
	return stored, nil
}

// touch moves a card to the end of the change feed.
func touch(tx *bolt.Tx, number string) error {
	c, err := getCard(tx, number)
	if err != nil {
		return err
	}
	return putCard(tx, number, c)
}

func getHolder(tx *bolt.Tx, number string) (*pos.CardHolder, error) {
	v := tx.Bucket(bucketHolders).Get([]byte(number))
	if v == nil {
		return nil, nil
	}
	var h pos.CardHolder
	if err := json.Unmarshal(v, &h); err != nil {
		return nil, fmt.Errorf("holder of %s: %w", number, err)
	}
	return &h, nil
}

// Holder implements hq.Customers.
func (s *Store) Holder(_ context.Context, number string) (h pos.CardHolder, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		p, err := getHolder(tx, number)
		if p != nil {
			h, ok = *p, true
		}
		return err
	})
	return h, ok, err
}

// ForgetHolder implements hq.Customers. Once the record is deleted it zeroes
// every free page of the file, so that no copy of the holder stays in its
// bytes; transactions wait meanwhile.
func (s *Store) ForgetHolder(_ context.Context, number string, at time.Time) (bool, error) {
	s.gate.Lock()
	defer s.gate.Unlock()
	var had bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		had = tx.Bucket(bucketHolders).Get([]byte(number)) != nil
		if err := tx.Bucket(bucketHolders).Delete([]byte(number)); err != nil {
			return err
		}
		// A later forget wins: it refuses more stale copies (PutHolders).
		f := tx.Bucket(bucketForgotten)
		if v := f.Get([]byte(number)); v == nil || at.UnixNano() > int64(binary.BigEndian.Uint64(v)) {
			if err := f.Put([]byte(number), seqKey(uint64(at.UnixNano()))); err != nil {
				return err
			}
		}
		return touch(tx, number)
	})
	if err != nil {
		return false, fmt.Errorf("forget holder of %s: %w", number, err)
	}
	if _, err := boltscrub.Free(s.db); err != nil {
		return had, fmt.Errorf("forget holder of %s: %w", number, err)
	}
	return had, nil
}

// answer builds the AccountAnswer of a card for terminal inside tx.
func answer(tx *bolt.Tx, terminal, number string) (wire.AccountAnswer, error) {
	c, err := getCard(tx, number)
	if err != nil {
		return wire.AccountAnswer{}, err
	}
	h, err := getHolder(tx, number)
	if err != nil {
		return wire.AccountAnswer{}, err
	}
	a := wire.AccountAnswer{
		Card: number,
		Account: pos.Account{Card: number, LifetimeSpend: c.Spend, Points: c.Points, Sales: c.Sales, LastSale: c.LastSale,
			BirthdayBonus: c.BirthdayBonus, Lots: c.Lots},
		Holder:    h,
		Forgotten: h == nil && tx.Bucket(bucketForgotten).Get([]byte(number)) != nil,
		Overdraft: max(0, -c.Points),
		Change:    c.Change,
	}
	if terminal != "" {
		st, err := getState(tx, terminal)
		if err != nil {
			return wire.AccountAnswer{}, err
		}
		a.AsOf, a.AsOfHash = st.Acked, st.Hash
	}
	return a, nil
}

// Account implements hq.Customers.
func (s *Store) Account(_ context.Context, terminal, number string) (a wire.AccountAnswer, err error) {
	fn := func(tx *bolt.Tx) error {
		if tx.Writable() {
			if err := markSeen(tx, terminal, number); err != nil {
				return err
			}
		}
		a, err = answer(tx, terminal, number)
		return err
	}
	if terminal != "" && !s.seen(terminal, number) {
		err = s.update(fn)
	} else {
		err = s.view(fn)
	}
	if err != nil {
		return wire.AccountAnswer{}, fmt.Errorf("account %s: %w", number, err)
	}
	return a, nil
}

func (s *Store) seen(terminal, number string) (ok bool) {
	_ = s.view(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketSeen).Get(seenKey(terminal, number)) != nil
		return nil
	})
	return ok
}

// Changes implements hq.Customers. It walks the feed from after, skipping the
// cards the terminal has not seen.
func (s *Store) Changes(_ context.Context, terminal, feed string, after int64, limit int) (wire.ChangesAnswer, error) {
	out := wire.ChangesAnswer{Next: after, Accounts: []wire.AccountAnswer{}}
	err := s.view(func(tx *bolt.Tx) error {
		out.Feed = string(tx.Bucket(bucketFeed).Get(keyFeedID))
		changes := tx.Bucket(bucketChanges)
		if hq.FromStart(feed, out.Feed, after, int64(changes.Sequence())) {
			after, out.Next = 0, 0 // another feed's position: from the start
		}
		seen := tx.Bucket(bucketSeen)
		c := changes.Cursor()
		for k, v := c.Seek(seqKey(uint64(after) + 1)); k != nil && len(out.Accounts) < limit; k, v = c.Next() {
			out.Next = int64(binary.BigEndian.Uint64(k))
			if seen.Get(seenKey(terminal, string(v))) == nil {
				continue
			}
			a, err := answer(tx, terminal, string(v))
			if err != nil {
				return err
			}
			out.Accounts = append(out.Accounts, a)
		}
		return nil
	})
	if err != nil {
		return wire.ChangesAnswer{}, fmt.Errorf("changes for %s: %w", terminal, err)
	}
	return out, nil
}

// Watching implements hq.Store: the cards changed after after, then a
// look-up of each terminal and card in one read.
func (s *Store) Watching(_ context.Context, after int64, terminals []string) ([]string, int64, error) {
	var watching []string
	last := after
	err := s.view(func(tx *bolt.Tx) error {
		var cards []string
		c := tx.Bucket(bucketChanges).Cursor()
		if len(terminals) == 0 {
			if k, _ := c.Last(); k != nil {
				last = max(after, int64(binary.BigEndian.Uint64(k)))
			}
			return nil
		}
		for k, v := c.Seek(seqKey(uint64(after) + 1)); k != nil; k, v = c.Next() {
			last = int64(binary.BigEndian.Uint64(k))
			cards = append(cards, string(v))
		}
		if len(cards) == 0 {
			return nil
		}
		seen := tx.Bucket(bucketSeen)
		for _, t := range terminals {
			for _, card := range cards {
				if seen.Get(seenKey(t, card)) != nil {
					watching = append(watching, t)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("terminals watching changes after %d: %w", after, err)
	}
	return watching, last, nil
}

// Overdrafts implements hq.Customers.
func (s *Store) Overdrafts(context.Context) ([]wire.Overdraft, error) {
	out := []wire.Overdraft{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCards).ForEach(func(k, v []byte) error {
			if !bytes.Contains(v, []byte(`"overdrawn"`)) {
				return nil
			}
			var c card
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("card %s: %w", k, err)
			}
			out = append(out, wire.Overdraft{Card: string(k), Owed: max(0, -c.Points), Recorded: c.Overdrawn, First: c.First, Last: c.Last})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("overdrafts: %w", err)
	}
	return out, nil
}
