// Package ledgertest changes a stopped till's ledger file behind the ledger's
// back, with bbolt directly, as anyone with write access to the file can: what
// the tamper tests of package till and of the e2e tests do to it. It follows
// the file layout of package ledger's documentation.
package ledgertest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RewriteRuleset replaces the bytes of the cached ruleset version in the
// closed ledger file at path with edit(bytes), and the SHA-256 stored in front
// of them with that of the new bytes, keeping HQ's signature as it was. It
// returns the new bytes.
func RewriteRuleset(path string, version int64, edit func([]byte) []byte) ([]byte, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("rewrite ruleset %d in %s: %w", version, path, err)
	}
	defer db.Close()
	var raw []byte
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("rulesets"))
		if b == nil {
			return fmt.Errorf("no rulesets bucket")
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(version))
		// sha256 (32 bytes), signature length (uint16), signature, bytes.
		rec := b.Get(key)
		if len(rec) < sha256.Size+2 {
			return fmt.Errorf("version %d is not cached", version)
		}
		n := int(binary.BigEndian.Uint16(rec[sha256.Size:]))
		head := sha256.Size + 2 + n
		if len(rec) < head {
			return fmt.Errorf("version %d: record too short for its signature", version)
		}
		raw = edit(append([]byte(nil), rec[head:]...))
		sum := sha256.Sum256(raw)
		out := append(append(sum[:], rec[sha256.Size:head]...), raw...)
		return b.Put(key, out)
	})
	if err != nil {
		return nil, fmt.Errorf("rewrite ruleset %d in %s: %w", version, path, err)
	}
	return raw, nil
}
