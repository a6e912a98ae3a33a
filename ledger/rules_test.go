package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestRulesetCache(t *testing.T) {
	l, _ := openTest(t, Options{})
	if _, _, _, err := l.Ruleset(); !errors.Is(err, ErrNoRuleset) {
		t.Fatalf("Ruleset on a new ledger: %v, want ErrNoRuleset", err)
	}
	raw := func(v int64) []byte { return fmt.Appendf(nil, "version = %d", v) }
	sig := func(v int64) []byte { return fmt.Appendf(nil, "sig-%d", v) }
	// Steps run in order on the same ledger.
	steps := []struct {
		name     string
		put      int64 // version to put, 0: none
		putRaw   []byte
		putSig   []byte
		activate int64 // version to activate, 0: none
		err      error // errors.Is target of the step's call; errAny for an untyped error
		active   int64 // active version afterwards, 0: none
		cached   []int64
	}{
		{name: "store 3", put: 3, putRaw: raw(3), putSig: sig(3), cached: []int64{3}},
		{name: "stored is not active", activate: 0, cached: []int64{3}},
		{name: "activate 3", activate: 3, active: 3, cached: []int64{3}},
		{name: "same again", put: 3, putRaw: raw(3), putSig: sig(3), active: 3, cached: []int64{3}},
		{name: "same version other bytes", put: 3, putRaw: raw(4), putSig: sig(3), err: ErrConflict, active: 3, cached: []int64{3}},
		{name: "same version other signature", put: 3, putRaw: raw(3), putSig: sig(9), err: ErrConflict, active: 3, cached: []int64{3}},
		{name: "older than active", put: 2, putRaw: raw(2), putSig: sig(2), err: ErrOldRuleset, active: 3, cached: []int64{3}},
		{name: "future 5 waits", put: 5, putRaw: raw(5), putSig: sig(5), active: 3, cached: []int64{5, 3}},
		{name: "and 4", put: 4, putRaw: raw(4), putSig: sig(4), active: 3, cached: []int64{5, 4, 3}},
		{name: "4 begins", activate: 4, active: 4, cached: []int64{5, 4, 3}},
		{name: "5 begins: 3 is neither active nor previous", activate: 5, active: 5, cached: []int64{5, 4}},
		{name: "activate older", activate: 4, err: ErrOldRuleset, active: 5, cached: []int64{5, 4}},
		{name: "activate unknown", activate: 9, err: ErrNoRuleset, active: 5, cached: []int64{5, 4}},
		{name: "7 stored, 8 stored, 8 begins: 7 never was active", put: 7, putRaw: raw(7), putSig: sig(7), active: 5, cached: []int64{7, 5, 4}},
		{name: "store 8", put: 8, putRaw: raw(8), putSig: sig(8), active: 5, cached: []int64{8, 7, 5, 4}},
		{name: "8 begins", activate: 8, active: 8, cached: []int64{8, 5}},
		{name: "zero version", put: -1, putRaw: raw(1), err: errAny, active: 8, cached: []int64{8, 5}},
		{name: "empty bytes", put: 9, err: errAny, active: 8, cached: []int64{8, 5}},
		{name: "signature too long", put: 9, putRaw: raw(9), putSig: make([]byte, MaxSignatureLen+1), err: errAny, active: 8, cached: []int64{8, 5}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var err error
			switch {
			case s.put != 0:
				err = l.PutRuleset(s.put, s.putRaw, s.putSig)
			case s.activate != 0:
				err = l.ActivateRuleset(s.activate)
			}
			switch {
			case s.err == errAny && err == nil, s.err == nil && err != nil, s.err != nil && s.err != errAny && !errors.Is(err, s.err):
				t.Fatalf("err = %v, want %v", err, s.err)
			}
			v, r, hash, err := l.Ruleset()
			switch {
			case s.active == 0 && !errors.Is(err, ErrNoRuleset):
				t.Errorf("Ruleset = %d, %v; want ErrNoRuleset", v, err)
			case s.active != 0:
				sum := sha256.Sum256(raw(s.active))
				if err != nil || v != s.active || string(r) != string(raw(s.active)) || hash != hex.EncodeToString(sum[:]) {
					t.Errorf("Ruleset = %d %q %s %v, want version %d", v, r, hash, err, s.active)
				}
			}
			all, err := l.Rulesets()
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range all {
				got = append(got, c.Version)
				if c.Active != (c.Version == s.active) || string(c.Raw) != string(raw(c.Version)) || string(c.Signature) != string(sig(c.Version)) {
					t.Errorf("cached %+v: want active %t with its bytes and signature", c, c.Version == s.active)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(s.cached) {
				t.Errorf("cached versions %v, want %v", got, s.cached)
			}
		})
	}
}

// signedBy is a stand-in for HQ's signature in these tests: a ruleset's
// signature is "signed:" and its bytes.
func signedBy(raw []byte) []byte { return append([]byte("signed:"), raw...) }

func checkSigned(_ int64, raw, sig []byte) error {
	if !bytes.Equal(sig, signedBy(raw)) {
		return errBadSig
	}
	return nil
}

var errBadSig = errors.New("signature does not verify")

// tamperRuleset rewrites a cached ruleset's bytes in the closed file at path
// and the SHA-256 in front of them, keeping HQ's signature: what someone with
// write access to the file can do.
func tamperRuleset(t *testing.T, path string, version int64, raw []byte) {
	t.Helper()
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRulesets)
		old, err := decodeRuleset(b.Get(u64(uint64(version))))
		if err != nil {
			return err
		}
		return b.Put(u64(uint64(version)), encodeRuleset(raw, old.Signature))
	})
}

// With Options.CheckRuleset, a cached ruleset whose bytes were changed in the
// file (and its SHA-256 rewritten to match) is never handed out as good: it is
// reported by Rulesets, Ruleset and Verify, cannot be activated, is replaced
// when HQ's copy comes again and is dropped when another is activated.
func TestRulesetCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	opts := Options{Terminal: "T1", CheckRuleset: checkSigned}
	raw := func(v int64) []byte { return fmt.Appendf(nil, "version = %d", v) }
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutRuleset(1, raw(1), []byte("forged")); !errors.Is(err, ErrBadRuleset) || !errors.Is(err, errBadSig) {
		t.Fatalf("PutRuleset with a bad signature: %v, want ErrBadRuleset", err)
	}
	if rs, err := l.Rulesets(); err != nil || len(rs) != 0 {
		t.Fatalf("a refused ruleset was stored: %+v %v", rs, err)
	}
	for v := int64(1); v <= 3; v++ {
		if err := l.PutRuleset(v, raw(v), signedBy(raw(v))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.ActivateRuleset(1); err != nil {
		t.Fatal(err)
	}
	l.Close()

	tamperRuleset(t, path, 1, []byte("version = 1 # 99 % off"))
	tamperRuleset(t, path, 3, []byte("version = 3 # 99 % off"))
	l = openAt(t, path, opts, checkFull)
	rs, err := l.Rulesets()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[int64]bool{}
	for _, r := range rs {
		if r.Err != nil {
			if !errors.Is(r.Err, ErrBadRuleset) || !errors.Is(r.Err, errBadSig) {
				t.Errorf("version %d: Err = %v, want ErrBadRuleset from the check", r.Version, r.Err)
			}
			bad[r.Version] = true
		}
	}
	if len(rs) != 3 || !bad[1] || bad[2] || !bad[3] {
		t.Errorf("Rulesets = %+v, want 3 cached with 1 and 3 failing their check", rs)
	}
	if _, _, _, err := l.Ruleset(); !errors.Is(err, ErrBadRuleset) {
		t.Errorf("Ruleset of the tampered active version: %v, want ErrBadRuleset", err)
	}
	if err := l.ActivateRuleset(1); !errors.Is(err, ErrBadRuleset) {
		t.Errorf("ActivateRuleset of the tampered version: %v, want ErrBadRuleset", err)
	}
	rep, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0].String(), "version 1") || !errors.Is(rep.Problems[0].Err, errBadSig) ||
		!strings.Contains(rep.Problems[1].String(), "version 3") {
		t.Errorf("Verify of tampered rulesets: %v, want versions 1 and 3 reported", rep.Problems)
	}

	// HQ's copy of version 1 comes again: it replaces the tampered one.
	if err := l.PutRuleset(1, raw(1), signedBy(raw(1))); err != nil {
		t.Fatalf("PutRuleset of HQ's copy over a tampered one: %v", err)
	}
	if v, r, _, err := l.Ruleset(); err != nil || v != 1 || !bytes.Equal(r, raw(1)) {
		t.Errorf("Ruleset after the replacement: %d %q %v", v, r, err)
	}
	// A good copy is still never replaced.
	if err := l.PutRuleset(1, []byte("version = 1 "), signedBy([]byte("version = 1 "))); !errors.Is(err, ErrConflict) {
		t.Errorf("PutRuleset of other signed bytes over a good copy: %v, want ErrConflict", err)
	}
	// Activating 2 drops 3, which fails its check, and keeps 1 as the previous.
	if err := l.ActivateRuleset(2); err != nil {
		t.Fatal(err)
	}
	rs, _ = l.Rulesets()
	if len(rs) != 2 || rs[0].Version != 2 || !rs[0].Active || rs[1].Version != 1 || rs[0].Err != nil || rs[1].Err != nil {
		t.Errorf("Rulesets after activating 2: %+v, want 2 (active) and 1", rs)
	}
}
