package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Each migration takes a file from the schema before it to its own; Open runs
// those the file needs, in order, in one write transaction with the check of the
// result, so a file is either fully migrated or left as it was. Every migration
// has a fixture of the older file in testdata/ (see migrate_test.go).
var migrations = []struct {
	to uint64
	fn func(*bolt.Tx) error
}{
	{2, migrate1to2},
}

func migrate(tx *bolt.Tx, schema uint64) error {
	if schema == 0 {
		return fmt.Errorf("%w: meta: schema 0", ErrCorrupt)
	}
	for _, m := range migrations {
		if m.to <= schema {
			continue
		}
		if err := m.fn(tx); err != nil {
			return fmt.Errorf("migrate the ledger from schema %d to %d: %w", schema, m.to, err)
		}
		schema = m.to
	}
	return tx.Bucket(bucketMeta).Put(keySchema, u64(schema))
}

// Schema 1 had no pruning, no snapshots and one cached ruleset without its
// signature. Schema 2 adds the sale id to each effect (pruning removes the sale
// from the idempotency index with its event), the chain's anchor, the bases of
// the account views, and a cache of rulesets by version with signatures.
var (
	bucketRulesV1   = []byte("rules")
	keyRulesVersion = []byte("version")
	keyRulesRaw     = []byte("raw")
	keyRulesHash    = []byte("hash")
)

func migrate1to2(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketEvents, bucketEffects, bucketSales, bucketAccounts, bucketRulesV1} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: schema 1 bucket %q is missing", ErrCorrupt, name)
		}
	}
	// The sale id of each event, from the idempotency index.
	ids := make(map[uint64]string)
	err := tx.Bucket(bucketSales).ForEach(func(id, v []byte) error {
		ref, err := decodeSaleRef(v)
		if err != nil {
			return fmt.Errorf("%w: sale %q: %v", ErrCorrupt, id, err)
		}
		ids[ref.seq] = string(id)
		return nil
	})
	if err != nil {
		return err
	}
	effects := tx.Bucket(bucketEffects)
	type rewrite struct{ k, v []byte }
	var rewrites []rewrite // a bucket must not change under ForEach
	err = effects.ForEach(func(k, v []byte) error {
		seq, err := seqKey(k)
		if err != nil {
			return fmt.Errorf("%w: effects: %v", ErrCorrupt, err)
		}
		f, err := decodeEffectV1(v)
		if err != nil {
			return fmt.Errorf("%w: effect %d: %v", ErrCorrupt, seq, err)
		}
		if len(f.card) > MaxCardLen {
			return fmt.Errorf("%w: effect %d: card of %d bytes", ErrCorrupt, seq, len(f.card))
		}
		f.saleID = ids[seq] // Verify reports an event without one
		rewrites = append(rewrites, rewrite{bytes.Clone(k), encodeEffect(f)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rewrites {
		if err := effects.Put(r.k, r.v); err != nil {
			return err
		}
	}

	for _, name := range [][]byte{bucketBases, bucketRulesets} {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	old := tx.Bucket(bucketRulesV1)
	if v := old.Get(keyRulesVersion); v != nil {
		version, err := seqKey(v)
		if err != nil || version == 0 {
			return fmt.Errorf("%w: ruleset version %x", ErrCorrupt, v)
		}
		raw := old.Get(keyRulesRaw)
		sum := sha256.Sum256(raw)
		if string(old.Get(keyRulesHash)) != hex.EncodeToString(sum[:]) {
			return fmt.Errorf("%w: the cached ruleset's bytes do not match its hash", ErrCorrupt)
		}
		// Schema 1 kept no signature: the ruleset was verified when it arrived.
		if err := tx.Bucket(bucketRulesets).Put(u64(version), encodeRuleset(raw, nil)); err != nil {
			return err
		}
		if err := meta.Put(keyActiveRules, u64(version)); err != nil {
			return err
		}
	}
	if err := tx.DeleteBucket(bucketRulesV1); err != nil {
		return err
	}
	if err := meta.Put(keyAnchorSeq, u64(0)); err != nil {
		return err
	}
	return meta.Put(keyAnchorHash, nil)
}
