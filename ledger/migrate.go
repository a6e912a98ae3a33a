package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/pos"
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
	{3, migrate2to3},
	{4, migrate3to4},
	{5, migrate4to5},
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

// Schema 2 kept an HQ snapshot's Profile (a customer's name and birthday) inside
// the accounts and bases records. Schema 3 keeps personal data only in the
// holders bucket, where forgetting a customer can erase it (ForgetHolders): the
// profiles move there, and Open then zeroes the pages that held them.
func migrate2to3(tx *bolt.Tx) error {
	holders, err := tx.CreateBucket(bucketHolders)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketHolders, err)
	}
	err = rewriteViews(tx, func(name []byte, card string, v []byte) ([]byte, error) {
		var a struct {
			Profile *pos.Profile `json:"profile"`
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("%w: %s of %s: %v", ErrCorrupt, name, pos.MaskCard(card), err)
		}
		if a.Profile == nil {
			return nil, nil
		}
		acct, err := decodeAccount(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s of %s: %v", ErrCorrupt, name, pos.MaskCard(card), err)
		}
		nv, err := encodeAccount(acct) // without the profile
		if err != nil {
			return nil, err
		}
		if holders.Get([]byte(card)) != nil {
			return nv, nil
		}
		h := pos.CardHolder{Card: card, Name: a.Profile.Name, Patronymic: a.Profile.Patronymic, Lang: a.Profile.Lang}
		if a.Profile.BirthMonth > 0 && a.Profile.BirthDay > 0 {
			h.Birthday = fmt.Sprintf("--%02d-%02d", a.Profile.BirthMonth, a.Profile.BirthDay)
		}
		hv, err := encodeHolder(holderRecord{CardHolder: h})
		if err != nil {
			return nil, err
		}
		return nv, holders.Put([]byte(card), hv)
	})
	if err != nil {
		return err
	}
	// Schema 2 left points lots as HQ sent them; schema 3 views take the
	// redemptions from them and add the points earned here as new lots.
	// Only a card whose base has lots can differ: rebuild those.
	var withLots []string
	err = tx.Bucket(bucketBases).ForEach(func(k, v []byte) error {
		b, err := decodeBase(v)
		if err != nil {
			return fmt.Errorf("%w: base of %s: %v", ErrCorrupt, pos.MaskCard(string(k)), err)
		}
		if len(b.acct.Lots) > 0 {
			withLots = append(withLots, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, card := range withLots {
		b, _ := decodeBase(tx.Bucket(bucketBases).Get([]byte(card)))
		view := b.acct
		err := forCardEffects(tx, b.through+1, card, func(seq uint64, f effect) error {
			e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(seq)))
			if err != nil {
				return fmt.Errorf("%w: event %d: %v", ErrCorrupt, seq, err)
			}
			return applyEffect(&view, f, e.Type, e.Body, e.At)
		})
		if err != nil {
			return err
		}
		av, err := encodeAccount(view)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketAccounts).Put([]byte(card), av); err != nil {
			return err
		}
	}
	return nil
}

// Schema 3 kept every account view and base as JSON. Schema 4 keeps the
// points lots of one that has them in binary, before the rest as JSON
// (encodeAccount): the records with lots are written again. A schema 3
// tilld cannot read them, and refuses the file by its schema instead.
// decodeAccount still reads a record with its lots in JSON: one this
// migration leaves (it does not decode: Verify reports it, as before) or
// one a schema 3 journal's replay writes after it, until the card's next
// sale writes it again.
func migrate3to4(tx *bolt.Tx) error {
	return rewriteViews(tx, func(_ []byte, _ string, v []byte) ([]byte, error) {
		if !bytes.Contains(v, []byte(`"lots"`)) {
			return nil, nil // no lots: the same JSON in both schemas
		}
		a, err := decodeAccount(v)
		if err != nil || len(a.Lots) == 0 {
			// Read as before: a record that does not decode is Verify's
			// to report, as in schema 3.
			return nil, nil
		}
		return encodeAccount(a)
	})
}

// rewriteViews calls fn with the account of every record of the accounts and
// bases buckets (a base's without its seq) and, once each bucket is walked,
// puts back the account fn returns in place of the old one (a base's after
// its seq); nil leaves the record as it is.
func rewriteViews(tx *bolt.Tx, fn func(bucket []byte, card string, acct []byte) ([]byte, error)) error {
	for _, name := range [][]byte{bucketAccounts, bucketBases} {
		b := tx.Bucket(name)
		type rewrite struct{ k, v []byte }
		var rewrites []rewrite
		err := b.ForEach(func(k, v []byte) error {
			var prefix []byte
			if name[0] == bucketBases[0] {
				if len(v) < 8 {
					return fmt.Errorf("%w: base of %s: %d bytes", ErrCorrupt, pos.MaskCard(string(k)), len(v))
				}
				prefix, v = v[:8], v[8:]
			}
			nv, err := fn(name, string(k), v)
			if err != nil || nv == nil {
				return err
			}
			rewrites = append(rewrites, rewrite{bytes.Clone(k), append(bytes.Clone(prefix), nv...)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range rewrites {
			if err := b.Put(r.k, r.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Schema 5 keeps a sale's returns count when the sale is pruned, so that a
// return of it through HQ's copy is bounded by this till's earlier ones; the
// counts schema 4 dropped are gone, so the sales pruned before the migration
// are marked as not counted (keyReturnsKept).
func migrate4to5(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	anchor, err := getU64(meta, keyAnchorSeq)
	if err != nil {
		return fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
	}
	return meta.Put(keyReturnsKept, u64(anchor))
}
