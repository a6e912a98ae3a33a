// Package boltstore is HQ's embedded store on one bbolt file: the default for a
// small chain and for the demo. Layout: bucket "terminals" maps a terminal id to
// its state (its head chain's epoch and watermark, report totals); "chains" maps
// terminal+NUL+epoch to that chain's state (hq.ChainState); bucket "events" holds
// one nested bucket per chain, named by the terminal id for its first chain and
// terminal+NUL+epoch for the others, mapping big-endian seq to the event as
// JSON; bucket "rules" maps a big-endian version to the published ruleset;
// "tokens" holds enrollment tokens.
// Cards (customers.go): "cards" maps a card to its account across stores,
// "holders" a card to its holder's personal data, "forgotten" a card to when its
// holder was forgotten, "seen" terminal+NUL+card to nothing, and "changes" a
// big-endian change position to the card that changed there.
// The audit (audit.go): "audit" maps a chain's key to its audit cursor and
// counts, "audit_flags" terminal+NUL+epoch+NUL+seq to a flagged sale.
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
	bucketChains    = []byte("chains")
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
	// auditMu lets one auditor at a time work (audit.go); auditAfter is the
	// key of the chain it audited last.
	auditMu    sync.Mutex
	auditAfter []byte
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

// terminalState is a terminal's line: Acked and Hash are its head chain's
// (Epoch), the totals every chain's.
type terminalState struct {
	Epoch    string `json:"epoch,omitempty"`
	Acked    uint64 `json:"acked"`
	Hash     string `json:"hash"`
	Count    int64  `json:"count"`
	Total    int64  `json:"total"`
	Refunds  int64  `json:"refunds,omitempty"`
	Refunded int64  `json:"refunded,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// chainState is hq.ChainState as stored.
type chainState struct {
	Epoch        event.Epoch `json:"epoch"`
	BaseVerified bool        `json:"base_verified"`
	Acked        uint64      `json:"acked"`
	Hash         string      `json:"hash"`
	Count        int64       `json:"count"`
	Total        int64       `json:"total"`
	Refunds      int64       `json:"refunds,omitempty"`
	Refunded     int64       `json:"refunded,omitempty"`
	Currency     string      `json:"currency,omitempty"`
	Created      time.Time   `json:"created,omitzero"`
	Last         time.Time   `json:"last,omitzero"`
}

func chainKey(terminal, epoch string) []byte {
	if epoch == "" {
		return []byte(terminal)
	}
	return []byte(terminal + "\x00" + epoch)
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
		for _, b := range [][]byte{bucketTerminals, bucketChains, bucketEvents, bucketRules, bucketTokens, bucketCards, bucketHolders, bucketForgotten, bucketSeen, bucketChanges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := ensureFeedID(tx); err != nil {
			return err
		}
		if err := migrateChains(tx); err != nil {
			return err
		}
		if err := migrateCardEvents(tx); err != nil {
			return err
		}
		return migrateLastFeedback(tx)
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

// migrateChains gives the terminals of a store written before chains had
// epochs their first chain's record.
func migrateChains(tx *bolt.Tx) error {
	chains := tx.Bucket(bucketChains)
	return tx.Bucket(bucketTerminals).ForEach(func(k, v []byte) error {
		if chains.Get(k) != nil {
			return nil
		}
		var st terminalState
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("terminal %s state: %w", k, err)
		}
		if st.Epoch != "" {
			return nil
		}
		return putChain(tx, string(k), hq.ChainState{BaseVerified: true, Watermark: hq.Watermark{Seq: st.Acked, Hash: st.Hash},
			Count: st.Count, Total: st.Total, Currency: st.Currency})
	})
}

func putChain(tx *bolt.Tx, terminal string, c hq.ChainState) error {
	v, err := json.Marshal(chainState{Epoch: c.Epoch, BaseVerified: c.BaseVerified, Acked: c.Seq, Hash: c.Hash,
		Count: c.Count, Total: c.Total, Refunds: c.Refunds, Refunded: c.Refunded, Currency: c.Currency, Created: c.Created, Last: c.Last})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketChains).Put(chainKey(terminal, c.Epoch.ID), v)
}

func decodeChain(v []byte) (hq.ChainState, error) {
	var cs chainState
	if err := json.Unmarshal(v, &cs); err != nil {
		return hq.ChainState{}, err
	}
	return hq.ChainState{Epoch: cs.Epoch, BaseVerified: cs.BaseVerified, Watermark: hq.Watermark{Seq: cs.Acked, Hash: cs.Hash},
		Count: cs.Count, Total: cs.Total, Refunds: cs.Refunds, Refunded: cs.Refunded, Currency: cs.Currency, Created: cs.Created, Last: cs.Last}, nil
}

// chainTx is hq.ChainTx for one terminal in a bbolt transaction.
type chainTx struct {
	tx       *bolt.Tx
	terminal string
}

func (c chainTx) Chain(epoch string) (hq.ChainState, bool, error) {
	v := c.tx.Bucket(bucketChains).Get(chainKey(c.terminal, epoch))
	if v == nil {
		return hq.ChainState{}, false, nil
	}
	cs, err := decodeChain(v)
	if err != nil {
		return cs, false, fmt.Errorf("chain %s/%q: %w", c.terminal, epoch, err)
	}
	return cs, true, nil
}

func (c chainTx) Hashes(epoch string, from, to uint64) ([]string, error) {
	out := make([]string, 0, to-from+1)
	eb := c.tx.Bucket(bucketEvents).Bucket(chainKey(c.terminal, epoch))
	if eb == nil {
		return make([]string, to-from+1), nil
	}
	cur := eb.Cursor()
	next := from
	for k, v := cur.Seek(seqKey(from)); k != nil && binary.BigEndian.Uint64(k) <= to; k, v = cur.Next() {
		seq := binary.BigEndian.Uint64(k)
		for ; next < seq; next++ {
			out = append(out, "")
		}
		var e struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("event %s/%q/%d: %w", c.terminal, epoch, seq, err)
		}
		out = append(out, e.Hash)
		next++
	}
	for ; next <= to; next++ {
		out = append(out, "")
	}
	return out, nil
}

// Append implements hq.Store.
func (s *Store) Append(ctx context.Context, terminal string, events []event.Event) (uint64, error) {
	return s.AppendEpoch(ctx, terminal, event.Epoch{}, events)
}

// AppendEpoch implements hq.Store.
func (s *Store) AppendEpoch(_ context.Context, terminal string, epoch event.Epoch, events []event.Event) (uint64, error) {
	var acked uint64
	var chainErr error
	err := s.update(func(tx *bolt.Tx) error {
		now := time.Now().UTC()
		ctx := chainTx{tx, terminal}
		c, _, err := hq.OpenChain(ctx, epoch, now)
		if err != nil {
			return err
		}
		x, xerr := hq.Extend(terminal, c.Watermark, hq.Held(ctx, c), events)
		if f, ok := xerr.(*hq.ForkError); ok {
			f.Epoch = epoch.ID
		}
		chainErr = xerr
		acked = x.Acked
		if len(x.Events) == 0 {
			return nil
		}
		st, err := getState(tx, terminal)
		if err != nil {
			return err
		}
		eb, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists(chainKey(terminal, epoch.ID))
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
		before := c
		c.Appended(x, now)
		if err := putChain(tx, terminal, c); err != nil {
			return err
		}
		st.Count += c.Count - before.Count
		st.Total += c.Total - before.Total
		st.Refunds += c.Refunds - before.Refunds
		st.Refunded += c.Refunded - before.Refunded
		if st.Currency == "" {
			st.Currency = c.Currency
		}
		if err := indexCardEvents(tx, terminal, epoch.ID, x.Sales); err != nil {
			return err
		}
		sales, err := reconcileClaims(tx, terminal, x.Sales)
		if err != nil {
			return err
		}
		if err := addReturns(tx, terminal, sales); err != nil {
			return err
		}
		resolved, err := resolvePending(tx, terminal, x)
		if err != nil {
			return err
		}
		for _, r := range resolved {
			sales = append(sales, r.Facts) // after the sale they return
			if err := addReturns(tx, r.Terminal, []hq.SaleFacts{r.Facts}); err != nil {
				return err
			}
		}
		if err := addSales(tx, terminal, sales); err != nil {
			return err
		}
		if err := addFeedback(tx, terminal, epoch.ID, sales, x.Feedback); err != nil {
			return err
		}
		st.Epoch, st.Acked, st.Hash = epoch.ID, x.Next.Seq, x.Next.Hash
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

// chains returns the terminal's chains, oldest first, the head marked.
func chains(tx *bolt.Tx, terminal string) ([]wire.Chain, error) {
	st, err := getState(tx, terminal)
	if err != nil {
		return nil, err
	}
	var out []wire.Chain
	c := tx.Bucket(bucketChains).Cursor()
	prefix := []byte(terminal)
	for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == terminal; k, v = c.Next() {
		if len(k) > len(prefix) && k[len(prefix)] != 0 {
			continue // another terminal whose id starts with this one
		}
		cs, err := decodeChain(v)
		if err != nil {
			return nil, fmt.Errorf("chain %q: %w", k, err)
		}
		out = append(out, cs.Wire(cs.Epoch.ID == st.Epoch))
	}
	hq.SortChains(out)
	return out, nil
}

// Chains implements hq.Store.
func (s *Store) Chains(_ context.Context, terminal string) (out []wire.Chain, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		out, err = chains(tx, terminal)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chains of %s: %w", terminal, err)
	}
	return out, nil
}

// ChainEvents implements hq.Store.
func (s *Store) ChainEvents(_ context.Context, terminal, epoch string, after uint64, limit int) (wire.Chain, []event.Event, error) {
	var wc wire.Chain
	var out []event.Event
	err := s.view(func(tx *bolt.Tx) error {
		ctx := chainTx{tx, terminal}
		c, ok, err := ctx.Chain(epoch)
		switch {
		case err != nil:
			return err
		case !ok:
			return hq.ErrNoChain
		}
		st, err := getState(tx, terminal)
		if err != nil {
			return err
		}
		wc = c.Wire(st.Epoch == epoch)
		if after >= c.Seq {
			return nil
		}
		to := c.Seq
		if limit > 0 {
			to = min(to, after+uint64(limit))
		}
		return hq.Lineage(ctx, c, after+1, to, func(epoch string, from, to uint64) error {
			eb := tx.Bucket(bucketEvents).Bucket(chainKey(terminal, epoch))
			if eb == nil {
				return nil
			}
			cur := eb.Cursor()
			for k, v := cur.Seek(seqKey(from)); k != nil && binary.BigEndian.Uint64(k) <= to; k, v = cur.Next() {
				var e event.Event
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
				}
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return wire.Chain{}, nil, fmt.Errorf("chain %s/%q after %d: %w", terminal, epoch, after, err)
	}
	return wc, out, nil
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
			cs, err := chains(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, wire.TerminalSales{Terminal: string(k), Count: st.Count, MaxSeq: st.Acked, Total: st.Total,
				Refunds: st.Refunds, Refunded: st.Refunded, Net: st.Total - st.Refunded, Currency: st.Currency, Chains: cs})
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
	return s.ruleset(func(b *bolt.Bucket) []byte { _, v := b.Cursor().Last(); return v })
}

// Ruleset implements hq.Store.
func (s *Store) Ruleset(_ context.Context, version int64) (hq.Ruleset, error) {
	rs, err := s.ruleset(func(b *bolt.Bucket) []byte { return b.Get(seqKey(uint64(version))) })
	if err != nil {
		return rs, fmt.Errorf("ruleset version %d: %w", version, err)
	}
	return rs, nil
}

// Rulesets implements hq.Store.
func (s *Store) Rulesets(_ context.Context, before int64, limit int) ([]hq.Ruleset, error) {
	var out []hq.Ruleset
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRules).Cursor()
		var k, v []byte
		if before > 0 {
			k, _ = c.Seek(seqKey(uint64(before)))
		}
		if k != nil {
			k, v = c.Prev() // the first below before
		} else {
			k, v = c.Last()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			if before > 0 && int64(binary.BigEndian.Uint64(k)) >= before {
				continue
			}
			var st storedRuleset
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("stored ruleset %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, hq.Ruleset(st))
		}
		return nil
	})
	return out, err
}

// ruleset decodes the published ruleset get finds, ErrNoRuleset when none.
func (s *Store) ruleset(get func(*bolt.Bucket) []byte) (hq.Ruleset, error) {
	var rs hq.Ruleset
	err := s.view(func(tx *bolt.Tx) error {
		v := get(tx.Bucket(bucketRules))
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
