// Package ledgertest changes a stopped till's ledger file behind the ledger's
// back, with bbolt directly, as anyone with write access to the file can: what
// the tamper tests of package till and of the e2e tests do to it. It follows
// the file layout of package ledger's documentation.
package ledgertest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RewriteRuleset replaces the bytes of the cached ruleset version in the
// closed ledger file at path with edit(bytes), and the SHA-256 stored in front
// of them with that of the new bytes, keeping HQ's signature as it was. It
// returns the new bytes.
func RewriteRuleset(path string, version int64, edit func([]byte) []byte) ([]byte, error) {
	var raw []byte
	err := editRuleset(path, version, func(head, old []byte) []byte {
		raw = edit(old)
		sum := sha256.Sum256(raw)
		return append(append(sum[:], head[sha256.Size:]...), raw...)
	})
	return raw, err
}

// DamageRuleset flips a bit in the bytes of the cached ruleset version in the
// closed ledger file at path, leaving the stored SHA-256 as it was: a record
// damaged on the disk.
func DamageRuleset(path string, version int64) error {
	return editRuleset(path, version, func(head, raw []byte) []byte {
		raw[len(raw)/2] ^= 1
		return append(append([]byte(nil), head...), raw...)
	})
}

// editRuleset replaces the record of ruleset version with edit(head, raw),
// head being the SHA-256, the signature's length (uint16) and the signature,
// raw the ruleset's bytes (a copy).
func editRuleset(path string, version int64, edit func(head, raw []byte) []byte) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("edit ruleset %d in %s: %w", version, path, err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("rulesets"))
		if b == nil {
			return errors.New("no rulesets bucket")
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(version))
		rec := b.Get(key)
		if len(rec) < sha256.Size+2 {
			return fmt.Errorf("version %d is not cached", version)
		}
		n := sha256.Size + 2 + int(binary.BigEndian.Uint16(rec[sha256.Size:]))
		if len(rec) <= n {
			return fmt.Errorf("version %d: record too short for its signature", version)
		}
		return b.Put(key, edit(append([]byte(nil), rec[:n]...), append([]byte(nil), rec[n:]...)))
	})
	if err != nil {
		return fmt.Errorf("edit ruleset %d in %s: %w", version, path, err)
	}
	return nil
}

// FileLastSeq reads the last seq recorded in the closed ledger file at path
// itself, without the sales its journal holds (those not yet checkpointed).
func FileLastSeq(path string) (uint64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var seq uint64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("meta"))
		if b == nil {
			return errors.New("no meta bucket")
		}
		v := b.Get([]byte("last_seq"))
		if len(v) != 8 {
			return fmt.Errorf("meta last_seq: %d bytes", len(v))
		}
		seq = binary.BigEndian.Uint64(v)
		return nil
	})
	return seq, err
}
