package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// bucketReturns counts what refunds returned of each sale (hq.Returns): key
// sale terminal, NUL, sale seq (8 bytes, big-endian), NUL, the terminal
// that recorded the refunds; value the units of each line returned, JSON
// (index 0 is line 1). Made by the first refund stored.
var bucketReturns = []byte("sale_returns")

func returnsPrefix(saleTerminal string, saleSeq uint64) []byte {
	return append(binary.BigEndian.AppendUint64(append([]byte(saleTerminal), 0), saleSeq), 0)
}

// addReturns adds the refunds among a terminal's newly stored events to
// the count of their sales' returns.
func addReturns(tx *bolt.Tx, terminal string, facts []hq.SaleFacts) error {
	counts := hq.ReturnCounts(terminal, facts)
	if len(counts) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketReturns)
	if err != nil {
		return err
	}
	for _, c := range counts {
		k := append(returnsPrefix(c.SaleTerminal, c.SaleSeq), terminal...)
		var lines []int64
		if v := b.Get(k); v != nil {
			if err := json.Unmarshal(v, &lines); err != nil {
				return fmt.Errorf("returns of %s/%d: %w", c.SaleTerminal, c.SaleSeq, err)
			}
		}
		for len(lines) < c.Line {
			lines = append(lines, 0)
		}
		lines[c.Line-1] += c.Qty
		v, err := json.Marshal(lines)
		if err != nil {
			return err
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Returned implements hq.Returns.
func (s *Store) Returned(_ context.Context, saleTerminal string, saleSeq uint64, except string) ([]int64, error) {
	var out []int64
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = returned(tx, saleTerminal, saleSeq, except)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("returns of sale %s/%d: %w", saleTerminal, saleSeq, err)
	}
	return out, nil
}

// returned is Returned inside tx.
func returned(tx *bolt.Tx, saleTerminal string, saleSeq uint64, except string) ([]int64, error) {
	var out []int64
	err := func() error {
		b := tx.Bucket(bucketReturns)
		if b == nil {
			return nil
		}
		p := returnsPrefix(saleTerminal, saleSeq)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && len(k) >= len(p) && string(k[:len(p)]) == string(p); k, v = c.Next() {
			if string(k[len(p):]) == except {
				continue
			}
			var lines []int64
			if err := json.Unmarshal(v, &lines); err != nil {
				return fmt.Errorf("returns of %s/%d by %s: %w", saleTerminal, saleSeq, k[len(p):], err)
			}
			for len(out) < len(lines) {
				out = append(out, 0)
			}
			for i, n := range lines {
				out[i] += n
			}
		}
		return nil
	}()
	return out, err
}

// bucketExcess keeps hq.ReconcileClaims' reports (wire.ReturnExcess, JSON)
// under the bucket's next sequence, 8 bytes big-endian: in the order
// stored. Made by the first one.
var bucketExcess = []byte("return_excess")

// reconcileClaims reconciles the refunds a terminal took on a receipt's
// word among facts (hq.ReconcileClaims) inside tx, stores the excess
// reports, and returns the facts the accounts and the returns count take.
func reconcileClaims(tx *bolt.Tx, terminal string, facts []hq.SaleFacts) ([]hq.SaleFacts, error) {
	out, excess, err := hq.ReconcileClaims(terminal, facts, func(saleTerminal string, saleSeq uint64) (event.Event, bool, []int64, error) {
		e, ok, err := headEvent(tx, saleTerminal, saleSeq)
		if err != nil || !ok {
			return e, ok, nil, err
		}
		r, err := returned(tx, saleTerminal, saleSeq, "")
		return e, true, r, err
	})
	if err != nil || len(excess) == 0 {
		return out, err
	}
	if err := putExcess(tx, excess); err != nil {
		return nil, err
	}
	pending := hq.Pending(terminal, facts, excess)
	if len(pending) == 0 {
		return out, nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketPending)
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		v, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		if err := b.Put(pendingKey(p), v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// putExcess stores excess reports after those stored.
func putExcess(tx *bolt.Tx, excess []wire.ReturnExcess) error {
	b, err := tx.CreateBucketIfNotExists(bucketExcess)
	if err != nil {
		return err
	}
	for _, x := range excess {
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(x)
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(n), v); err != nil {
			return err
		}
	}
	return nil
}

// bucketPending keeps the refunds on a receipt's word whose sale the store
// did not hold (hq.PendingClaim, JSON): key the sale's returnsPrefix, the
// terminal that took the refund, NUL, its seq (8 bytes, big-endian).
var bucketPending = []byte("pending_claims")

func pendingKey(p hq.PendingClaim) []byte {
	k := append(returnsPrefix(p.Facts.SaleTerminal, p.Facts.SaleSeq), p.Terminal...)
	return append(append(k, 0), seqKey(p.Facts.Seq)...)
}

// resolvePending reconciles the pending refunds on a receipt's word of the
// sales among x, the events of terminal being stored in tx
// (hq.ResolvePending): it replaces their no_sale reports, forgets them, and
// returns what each adds to the accounts and to its terminal's returns.
func resolvePending(tx *bolt.Tx, terminal string, x hq.Extension) ([]hq.Resolved, error) {
	b := tx.Bucket(bucketPending)
	if b == nil {
		return nil, nil
	}
	var pending []hq.PendingClaim
	var keys [][]byte
	for _, f := range x.Sales {
		if f.Refund {
			continue
		}
		p := returnsPrefix(terminal, f.Seq)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			var pc hq.PendingClaim
			if err := json.Unmarshal(v, &pc); err != nil {
				return nil, fmt.Errorf("pending claim %q: %w", k, err)
			}
			pending, keys = append(pending, pc), append(keys, slices.Clone(k))
		}
	}
	if len(pending) == 0 {
		return nil, nil
	}
	resolved, err := hq.ResolvePending(pending, func(saleTerminal string, saleSeq uint64) (event.Event, bool, []int64, error) {
		i := slices.IndexFunc(x.Events, func(e event.Event) bool { return e.Seq == saleSeq })
		if saleTerminal != terminal || i < 0 {
			return event.Event{}, false, nil, nil
		}
		r, err := returned(tx, saleTerminal, saleSeq, "")
		return x.Events[i], true, r, err
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	var excess []wire.ReturnExcess
	eb := tx.Bucket(bucketExcess)
	for _, r := range resolved {
		if eb != nil {
			c := eb.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				var old wire.ReturnExcess
				if json.Unmarshal(v, &old) == nil && old.Terminal == r.Terminal && old.Seq == r.Seq && slices.Equal(old.Reasons, []string{wire.ExcessNoSale}) {
					if err := c.Delete(); err != nil {
						return nil, err
					}
				}
			}
		}
		if r.Excess != nil {
			excess = append(excess, *r.Excess)
		}
	}
	return resolved, putExcess(tx, excess)
}

// headEvent returns the event at seq of the terminal's head chain (or the
// chains it continues), inside tx; ok is false when the store holds none.
func headEvent(tx *bolt.Tx, terminal string, seq uint64) (e event.Event, ok bool, err error) {
	st, err := getState(tx, terminal)
	if err != nil || seq == 0 {
		return e, false, err
	}
	ctx := chainTx{tx, terminal}
	c, found, err := ctx.Chain(st.Epoch)
	if err != nil || !found || seq > c.Seq {
		return e, false, err
	}
	err = hq.Lineage(ctx, c, seq, seq, func(epoch string, _, _ uint64) error {
		eb := tx.Bucket(bucketEvents).Bucket(chainKey(terminal, epoch))
		if eb == nil {
			return nil
		}
		v := eb.Get(seqKey(seq))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &e)
	})
	return e, ok, err
}

// ReturnExcesses implements hq.Returns.
func (s *Store) ReturnExcesses(context.Context) ([]wire.ReturnExcess, error) {
	out := []wire.ReturnExcess{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExcess)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var x wire.ReturnExcess
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("excess %x: %w", k, err)
			}
			out = append(out, x)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("return excess report: %w", err)
	}
	return out, nil
}
