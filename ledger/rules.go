package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CachedRuleset is a ruleset as the ledger keeps it: HQ's bytes and signature,
// exactly as received.
type CachedRuleset struct {
	Version   int64
	Raw       []byte
	Signature []byte
	Hash      string // sha256 of Raw in hex
	// Active is set on the ruleset sales are priced with (see ActivateRuleset).
	Active bool
	// Err is why the record fails its check (ErrBadRuleset: its bytes do not
	// match the stored hash, or Options.CheckRuleset refused it); nil when it
	// passes. A ruleset with Err set must not be used.
	Err error
}

// MaxSignatureLen bounds a stored ruleset signature (an Ed25519 signature is 64
// bytes).
const MaxSignatureLen = 1024

// PutRuleset stores a ruleset HQ sent, with its signature, without making it
// active: a ruleset that starts in the future waits in the cache until
// ActivateRuleset. The ledger keeps the bytes as given; it checks them with
// Options.CheckRuleset (ErrBadRuleset when that refuses them), and parsing them
// is the caller's job.
//
// A version lower than the active one is ErrOldRuleset. A stored version sent
// again with the same bytes and signature does nothing; with others it is
// ErrConflict, except that a stored version that fails its check (its bytes
// were changed in the file, or schema 1 cached it without a signature) is
// replaced by the one that passes.
func (l *Ledger) PutRuleset(version int64, raw, signature []byte) error {
	switch {
	case version < 1:
		return fmt.Errorf("put ruleset %d: version must be positive", version)
	case len(raw) == 0:
		return fmt.Errorf("put ruleset %d: empty ruleset", version)
	case len(signature) > MaxSignatureLen:
		return fmt.Errorf("put ruleset %d: signature of %d bytes, at most %d allowed", version, len(signature), MaxSignatureLen)
	}
	if l.checkRuleset != nil {
		if err := l.checkRuleset(version, raw, signature); err != nil {
			return fmt.Errorf("put ruleset %d: %w: %w", version, ErrBadRuleset, err)
		}
	}
	var stored bool
	var replaced error
	err := l.update(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		if version < int64(m.activeRules) {
			return fmt.Errorf("%w (active: %d)", ErrOldRuleset, m.activeRules)
		}
		b := tx.Bucket(bucketRulesets)
		if v := b.Get(u64(uint64(version))); v != nil {
			old, err := l.checkedRuleset(uint64(version), v)
			switch {
			case err != nil:
				// The stored copy is not HQ's: the one that passes replaces it.
				replaced, stored = err, true
				return b.Put(u64(uint64(version)), encodeRuleset(raw, signature))
			case bytes.Equal(old.Raw, raw) && bytes.Equal(old.Signature, signature):
				return nil
			case bytes.Equal(old.Raw, raw) && len(old.Signature) == 0:
				// Cached without its signature (schema 1 kept none): take it now.
				stored = true
				return b.Put(u64(uint64(version)), encodeRuleset(raw, signature))
			}
			return fmt.Errorf("%w: version %d is stored with other bytes or another signature", ErrConflict, version)
		}
		stored = true
		return b.Put(u64(uint64(version)), encodeRuleset(raw, signature))
	})
	if err != nil {
		return fmt.Errorf("put ruleset %d: %w", version, err)
	}
	switch {
	case replaced != nil:
		l.log.Warn("ruleset stored in place of a cached copy that failed its check", logVersion, version, logErr, replaced)
	case stored:
		l.log.Info("ruleset stored", logVersion, version)
	}
	return nil
}

// checkedRuleset decodes the stored record v of version and checks it with
// Options.CheckRuleset. A record that fails is returned as far as it decodes,
// with an ErrBadRuleset error.
func (l *Ledger) checkedRuleset(version uint64, v []byte) (CachedRuleset, error) {
	r, err := decodeRuleset(v)
	if err == nil && l.checkRuleset != nil {
		err = l.checkRuleset(int64(version), r.Raw, r.Signature)
	}
	r.Version = int64(version)
	if err != nil {
		return r, fmt.Errorf("cached ruleset version %d: %w: %w", version, ErrBadRuleset, err)
	}
	return r, nil
}

// ActivateRuleset makes a stored version the one sales are priced with. The
// cache then keeps the active ruleset, the one active before it and any newer
// (future-dated) ones; older ones, and any that fail their check, are dropped. A
// version lower than the active one is ErrOldRuleset, a version that is not
// stored ErrNoRuleset, one whose stored copy fails its check ErrBadRuleset; the
// active version again does nothing.
func (l *Ledger) ActivateRuleset(version int64) error {
	var previous uint64
	var changed bool
	var dropped []error
	err := l.update(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		previous = m.activeRules
		switch {
		case version < 1:
			return fmt.Errorf("%w: version must be positive", ErrNoRuleset)
		case uint64(version) < previous:
			return fmt.Errorf("%w (active: %d)", ErrOldRuleset, previous)
		}
		rec := tx.Bucket(bucketRulesets).Get(u64(uint64(version)))
		if rec == nil {
			return fmt.Errorf("%w: version %d is not stored", ErrNoRuleset, version)
		}
		if _, err := l.checkedRuleset(uint64(version), rec); err != nil {
			return err
		}
		if uint64(version) == previous {
			return nil
		}
		changed = true
		// Keep the previous active one (or, when none was, nothing older).
		keep := uint64(version)
		if previous > 0 {
			keep = previous
		}
		c := tx.Bucket(bucketRulesets).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n, err := seqKey(k)
			if err != nil {
				return fmt.Errorf("rulesets: %w", err)
			}
			if n == keep || n >= uint64(version) {
				_, err := l.checkedRuleset(n, v)
				if err == nil {
					continue
				}
				dropped = append(dropped, err)
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyActiveRules, u64(uint64(version)))
	})
	if err != nil {
		return fmt.Errorf("activate ruleset %d: %w", version, err)
	}
	if changed {
		l.log.Info("ruleset activated", logVersion, version, logPrevious, previous)
	}
	for _, err := range dropped {
		l.log.Warn("cached ruleset that failed its check dropped", logErr, err)
	}
	return nil
}

// Ruleset returns the active ruleset: its version, its bytes and their sha256 in
// hex. It is ErrNoRuleset when none is active, ErrBadRuleset when it fails its
// check.
func (l *Ledger) Ruleset() (version int64, raw []byte, hash string, err error) {
	var r CachedRuleset
	err = l.viewCommitted(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		if m.activeRules == 0 {
			return ErrNoRuleset
		}
		v := tx.Bucket(bucketRulesets).Get(u64(m.activeRules))
		if v == nil {
			return fmt.Errorf("%w: the active version %d is missing from the cache", ErrCorrupt, m.activeRules)
		}
		r, err = l.checkedRuleset(m.activeRules, v)
		return err
	})
	if err != nil {
		return 0, nil, "", fmt.Errorf("read ruleset: %w", err)
	}
	return r.Version, r.Raw, r.Hash, nil
}

// Rulesets returns every cached ruleset, newest first: any future-dated ones,
// the active one and the one before it. One that fails its check is returned
// with Err set (and as much of it as decodes), so that the caller can fall
// back to another.
func (l *Ledger) Rulesets() ([]CachedRuleset, error) {
	var out []CachedRuleset
	err := l.viewCommitted(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketRulesets).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			n, err := seqKey(k)
			if err != nil {
				return fmt.Errorf("rulesets: %w", err)
			}
			r, err := l.checkedRuleset(n, v)
			r.Active, r.Err = n == m.activeRules, err
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rulesets: %w", err)
	}
	return out, nil
}

// A cached ruleset is stored as the sha256 of its bytes (32 bytes), the
// signature's length (big-endian uint16), the signature, then the bytes.
const rulesetHeader = sha256.Size + 2

func encodeRuleset(raw, signature []byte) []byte {
	sum := sha256.Sum256(raw)
	b := make([]byte, 0, rulesetHeader+len(signature)+len(raw))
	b = append(b, sum[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(signature)))
	return append(append(b, signature...), raw...)
}

// decodeRuleset decodes a stored ruleset, without its version. The result does
// not alias b. A hash that does not match the bytes is an error.
func decodeRuleset(b []byte) (CachedRuleset, error) {
	if len(b) < rulesetHeader {
		return CachedRuleset{}, fmt.Errorf("decode ruleset: want at least %d bytes, got %d", rulesetHeader, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[sha256.Size:]))
	if len(b) < rulesetHeader+n {
		return CachedRuleset{}, fmt.Errorf("decode ruleset: signature of %d bytes in a record of %d", n, len(b))
	}
	r := CachedRuleset{
		Signature: bytes.Clone(b[rulesetHeader : rulesetHeader+n]),
		Raw:       bytes.Clone(b[rulesetHeader+n:]),
	}
	if len(r.Signature) == 0 {
		r.Signature = nil
	}
	sum := sha256.Sum256(r.Raw)
	if !bytes.Equal(sum[:], b[:sha256.Size]) {
		return CachedRuleset{}, fmt.Errorf("decode ruleset: stored hash does not match its %d bytes", len(r.Raw))
	}
	r.Hash = hex.EncodeToString(sum[:])
	return r, nil
}
