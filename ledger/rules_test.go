package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
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
