// Package ledgertest does to a till's files, from outside, what the tests of
// packages ledger and till and the e2e tests need: it changes a stopped till's
// ledger file behind the ledger's back, with bbolt directly, as anyone with
// write access to the file can (following the file layout of package ledger's
// documentation), and it fills the disk under it.
package ledgertest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
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

// FillDisk takes every free byte of the file system of dir with a file named
// filler in dir, and returns its path: removing it frees the space again.
func FillDisk(dir string) (string, error) {
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		return "", err
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		_, err := f.Write(chunk)
		switch {
		case errors.Is(err, syscall.ENOSPC):
			return filler, nil
		case err != nil:
			return "", err
		}
	}
}
