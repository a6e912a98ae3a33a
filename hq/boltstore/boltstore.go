// Package boltstore is HQ's embedded store on one bbolt file: the default for a
// small chain and for the demo. Layout: bucket "terminals" maps a terminal id to
// its state (watermark and report totals); bucket "events" holds one nested bucket
// per terminal mapping big-endian seq to the event as JSON; bucket "rules" maps a
// big-endian version to the published ruleset; "tokens" holds enrollment tokens.
// Cards (customers.go): "cards" maps a card to its account across stores,
// "holders" a card to its holder's personal data, "forgotten" a card to when its
// holder was forgotten, "seen" terminal+NUL+card to nothing, and "changes" a
// big-endian change position to the card that changed there.
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

var (
	bucketTerminals = []byte("terminals")
	bucketEvents    = []byte("events")
	bucketRules     = []byte("rules")
)

// Options tune the store. The zero value is safe for production.
type Options struct {
	// NoSync skips fsync on commit. Only for tests and benchmarks: a power cut
	// can lose acknowledged uploads.
	NoSync bool
}

// Store is an hq.Store on a bbolt file.
type Store struct {
	db *bolt.DB
	// gate is held shared by every transaction and exclusively while the
	// pages a forgotten holder left are zeroed (see ForgetHolder).
	gate sync.RWMutex
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.gate.RLock()
	defer s.gate.RUnlock()
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.gate.RLock()
	defer s.gate.RUnlock()
	return s.db.Update(fn)
}

var _ hq.Store = (*Store)(nil)

type terminalState struct {
	Acked    uint64 `json:"acked"`
	Hash     string `json:"hash"`
	Count    int64  `json:"count"`
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
}

type storedRuleset struct {
	Version   int64  `json:"version"`
	Hash      string `json:"hash"`
	Raw       []byte `json:"raw"`
	Signature []byte `json:"signature"`
}

// Open opens or creates the store file at path.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("open hq store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTerminals, bucketEvents, bucketRules, bucketTokens, bucketCards, bucketHolders, bucketForgotten, bucketSeen, bucketChanges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open hq store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func getState(tx *bolt.Tx, terminal string) (terminalState, error) {
	var st terminalState
	if v := tx.Bucket(bucketTerminals).Get([]byte(terminal)); v != nil {
		if err := json.Unmarshal(v, &st); err != nil {
			return st, fmt.Errorf("terminal %s state: %w", terminal, err)
		}
	}
	return st, nil
}

// Append implements hq.Store.
func (s *Store) Append(_ context.Context, terminal string, events []event.Event) (uint64, error) {
	var acked uint64
	var chainErr error
	err := s.update(func(tx *bolt.Tx) error {
		st, err := getState(tx, terminal)
		if err != nil {
			return err
		}
		x, xerr := hq.Extend(terminal, hq.Watermark{Seq: st.Acked, Hash: st.Hash}, events)
		chainErr = xerr
		acked = x.Next.Seq
		if len(x.Events) == 0 {
			return nil
		}
		eb, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists([]byte(terminal))
		if err != nil {
			return err
		}
		for _, e := range x.Events {
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := eb.Put(seqKey(e.Seq), v); err != nil {
				return err
			}
		}
		for _, sale := range x.Sales {
			st.Count++
			st.Total += int64(sale.Total)
			if st.Currency == "" {
				st.Currency = sale.Currency
			}
		}
		if err := addSales(tx, terminal, x.Sales); err != nil {
			return err
		}
		st.Acked, st.Hash = x.Next.Seq, x.Next.Hash
		v, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketTerminals).Put([]byte(terminal), v)
	})
	if err != nil {
		return 0, fmt.Errorf("append events of %s: %w", terminal, err)
	}
	return acked, chainErr
}

// Acked implements hq.Store.
func (s *Store) Acked(_ context.Context, terminal string) (uint64, error) {
	var st terminalState
	err := s.view(func(tx *bolt.Tx) (err error) {
		st, err = getState(tx, terminal)
		return err
	})
	return st.Acked, err
}

// SalesReport implements hq.Store.
func (s *Store) SalesReport(context.Context) ([]wire.TerminalSales, error) {
	var out []wire.TerminalSales
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTerminals).ForEach(func(k, v []byte) error {
			var st terminalState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("terminal %s state: %w", k, err)
			}
			out = append(out, wire.TerminalSales{Terminal: string(k), Count: st.Count, MaxSeq: st.Acked, Total: st.Total, Currency: st.Currency})
			return nil
		})
	})
	return out, err
}

// PublishRuleset implements hq.Store.
func (s *Store) PublishRuleset(_ context.Context, rs hq.Ruleset) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRules)
		if k, _ := b.Cursor().Last(); k != nil && int64(binary.BigEndian.Uint64(k)) >= rs.Version {
			return fmt.Errorf("publish ruleset version %d (current %d): %w", rs.Version, binary.BigEndian.Uint64(k), hq.ErrOldRuleset)
		}
		v, err := json.Marshal(storedRuleset(rs))
		if err != nil {
			return err
		}
		return b.Put(seqKey(uint64(rs.Version)), v)
	})
}

// CurrentRuleset implements hq.Store.
func (s *Store) CurrentRuleset(context.Context) (hq.Ruleset, error) {
	var rs hq.Ruleset
	err := s.view(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketRules).Cursor().Last()
		if v == nil {
			return hq.ErrNoRuleset
		}
		var st storedRuleset
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("stored ruleset: %w", err)
		}
		rs = hq.Ruleset(st)
		return nil
	})
	return rs, err
}

var bucketTokens = []byte("tokens")

var _ hq.TokenStore = (*Store)(nil)

// AddToken implements hq.TokenStore.
func (s *Store) AddToken(_ context.Context, t hq.Token) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		return b.Put([]byte(t.Hash), v)
	})
}

// UseToken implements hq.TokenStore.
func (s *Store) UseToken(_ context.Context, hash string, now time.Time) (hq.Token, error) {
	var t hq.Token
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var v []byte
		if b != nil {
			v = b.Get([]byte(hash))
		}
		if v == nil {
			return hq.ErrTokenUnknown
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("stored token: %w", err)
		}
		switch {
		case !t.UsedAt.IsZero():
			return hq.ErrTokenUsed
		case !now.Before(t.Expires):
			return hq.ErrTokenExpired
		}
		t.UsedAt = now
		v, err := json.Marshal(t)
		if err != nil {
			return err
		}
		return b.Put([]byte(hash), v)
	})
	return t, err
}
