package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutRuleset stores raw as the active ruleset with its version. The ledger keeps
// the bytes as given and does not parse them; checking the signature and content
// is the caller's job. A version lower than the stored one is ErrOldRuleset; the
// stored version again with the same bytes does nothing; with other bytes it is
// ErrConflict.
func (l *Ledger) PutRuleset(version int64, raw []byte) error {
	if version < 1 {
		return fmt.Errorf("put ruleset %d: version must be positive", version)
	}
	if len(raw) == 0 {
		return fmt.Errorf("put ruleset %d: empty ruleset", version)
	}
	var stored int64
	var changed bool
	err := l.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRules)
		if v := b.Get(keyRulesVersion); v != nil {
			n, err := seqKey(v)
			if err != nil {
				return fmt.Errorf("stored version: %w", err)
			}
			stored = int64(n)
			switch {
			case version < stored:
				return fmt.Errorf("%w (stored: %d)", ErrOldRuleset, stored)
			case version == stored && bytes.Equal(b.Get(keyRulesRaw), raw):
				return nil
			case version == stored:
				return fmt.Errorf("%w: version %d is stored with other bytes", ErrConflict, stored)
			}
		}
		changed = true
		sum := sha256.Sum256(raw)
		for _, kv := range []struct{ k, v []byte }{
			{keyRulesVersion, u64(uint64(version))},
			{keyRulesRaw, raw},
			{keyRulesHash, []byte(hex.EncodeToString(sum[:]))},
		} {
			if err := b.Put(kv.k, kv.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put ruleset %d: %w", version, err)
	}
	if changed {
		l.log.Info("ruleset stored", logVersion, version, logPrevious, stored)
	}
	return nil
}

// Ruleset returns the active ruleset: its version, its bytes and their sha256 in
// hex. It is ErrNoRuleset when none was ever stored.
func (l *Ledger) Ruleset() (version int64, raw []byte, hash string, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRules)
		v := b.Get(keyRulesVersion)
		if v == nil {
			return ErrNoRuleset
		}
		n, err := seqKey(v)
		if err != nil {
			return fmt.Errorf("stored version: %w", err)
		}
		version = int64(n)
		raw = bytes.Clone(b.Get(keyRulesRaw))
		hash = string(b.Get(keyRulesHash))
		return nil
	})
	if err != nil {
		return 0, nil, "", fmt.Errorf("read ruleset: %w", err)
	}
	return version, raw, hash, nil
}
