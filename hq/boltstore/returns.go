package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
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
	err := s.view(func(tx *bolt.Tx) error {
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
	})
	if err != nil {
		return nil, fmt.Errorf("returns of sale %s/%d: %w", saleTerminal, saleSeq, err)
	}
	return out, nil
}
