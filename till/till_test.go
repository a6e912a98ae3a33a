package till_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

func newTill(t *testing.T, key ed25519.PublicKey) (*till.Till, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(path, ledger.Options{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return tl, path
}

// TestRulesMustBeSignedByHQ: a forged signature, an unsigned ruleset and an
// older version are all refused, and the till keeps the rules it has.
func TestRulesMustBeSignedByHQ(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, pub)
	v1 := discount.Example
	v2 := []byte(strings.Replace(string(v1), "version = 1", "version = 2", 1))
	if string(v2) == string(v1) {
		t.Fatal("example rules do not say version = 1")
	}
	if err := tl.ApplyRules(2, "", wire.SignRules(priv, v2), v2); err != nil {
		t.Fatalf("genuine v2: %v", err)
	}
	for _, tc := range []struct {
		name    string
		version int64
		sig     []byte
		raw     []byte
		want    error
	}{
		{"forged", 2, wire.SignRules(other, v2), v2, wire.ErrBadSignature},
		{"unsigned", 2, nil, v2, wire.ErrUnsigned},
		{"tampered after signing", 2, wire.SignRules(priv, v2), append([]byte("# hi\n"), v2...), wire.ErrBadSignature},
		{"older version", 1, wire.SignRules(priv, v1), v1, ledger.ErrOldRuleset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tl.ApplyRules(tc.version, "", tc.sig, tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ApplyRules = %v; want %v", err, tc.want)
			}
			if v := tl.RulesVersion(); v != 2 {
				t.Fatalf("active version %d after a refused ruleset, want 2", v)
			}
		})
	}
}

func TestNoKeyRefusesRules(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	tl, _ := newTill(t, nil)
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, discount.Example), discount.Example); !errors.Is(err, till.ErrRulesKey) {
		t.Fatalf("ApplyRules without a key = %v; want ErrRulesKey", err)
	}
}
