package till_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/internal/ledgertest"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// rulesRig is a till whose ledger file the test can reopen and edit between
// runs, with the ledger's ruleset check wired as tilld wires it.
type rulesRig struct {
	t    *testing.T
	path string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	now  time.Time
	// failCheck, when set, makes the ledger's check refuse every ruleset: a
	// file changed under a running till.
	failCheck atomic.Bool
	l         *ledger.Ledger
	tl        *till.Till
}

func newRulesRig(t *testing.T) *rulesRig {
	pub, priv, _ := ed25519.GenerateKey(nil)
	r := &rulesRig{t: t, path: filepath.Join(t.TempDir(), "ledger.db"), pub: pub, priv: priv,
		now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	r.open(pub)
	return r
}

func (r *rulesRig) open(key ed25519.PublicKey) {
	r.t.Helper()
	check := till.RulesCheck(key)
	var err error
	r.l, err = ledger.Open(r.path, ledger.Options{Terminal: "T1", CheckRuleset: func(v int64, raw, sig []byte) error {
		if r.failCheck.Load() {
			return wire.ErrBadSignature
		}
		return check(v, raw, sig)
	}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { r.l.Close() })
	r.tl, err = till.New(till.Options{Terminal: "T1", Ledger: r.l, RulesKey: key, Now: func() time.Time { return r.now }})
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *rulesRig) restart(key ed25519.PublicKey) {
	r.t.Helper()
	if err := r.l.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.open(key)
}

func rulesBytes(version int64, percent int, extra string) []byte {
	return fmt.Appendf(nil, "schema = 1\nversion = %d\ncurrency = \"RUB\"\n%s"+percentRule, version, extra, percent)
}

// publish sends a ruleset of version giving percent off to card holders, as HQ does.
func (r *rulesRig) publish(version int64, percent int, extra string) error {
	raw := rulesBytes(version, percent, extra)
	return r.tl.ApplyRules(version, "", wire.SignRules(r.priv, raw), raw)
}

// tamper rewrites version's bytes in the stopped till's file, and the SHA-256
// stored in front of them, keeping HQ's signature: the attack of issue 14.
func (r *rulesRig) tamper(version int64, percent int) {
	r.t.Helper()
	if err := r.l.Close(); err != nil {
		r.t.Fatal(err)
	}
	if _, err := ledgertest.RewriteRuleset(r.path, version, func([]byte) []byte { return rulesBytes(version, percent, "") }); err != nil {
		r.t.Fatal(err)
	}
	r.open(r.pub)
}

func (r *rulesRig) discount() (money.Amount, error) {
	q, err := r.tl.Quote(pos.Basket{Card: "2000000000015", Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 100_000_00}}}, till.QuoteOptions{})
	return q.Discount, err
}

// A cached ruleset whose bytes were changed in the file, with its SHA-256
// rewritten to match, is refused at load: the till prices with the older one
// that passes, says why, asks HQ for the refused version (RulesVersion drops
// below it) and takes HQ's copy back.
func TestTamperedRulesFallBack(t *testing.T) {
	r := newRulesRig(t)
	if err := r.publish(1, 5, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.publish(2, 10, ""); err != nil {
		t.Fatal(err)
	}
	r.tamper(2, 99)
	if v := r.tl.RulesVersion(); v != 1 {
		t.Errorf("RulesVersion with version 2 refused = %d, want 1 (so HQ sends 2 again)", v)
	}
	if d, err := r.discount(); err != nil || d != 5_000_00 {
		t.Errorf("discount with version 2 tampered: %d %v, want 5 000.00 of version 1", d, err)
	}
	st, _ := r.tl.Status()
	t.Logf("rules_error: %s", st.RulesError)
	if st.RulesetVersion != 1 || !strings.Contains(st.RulesError, "version 2") || !strings.Contains(st.RulesError, "signature") ||
		!strings.Contains(st.RulesError, "pricing with version 1") {
		t.Errorf("status with version 2 refused: version %d, rules_error %q", st.RulesetVersion, st.RulesError)
	}
	if rep, err := r.l.Verify(); err != nil || rep.OK() || !strings.Contains(rep.Problems[0].String(), "version 2") {
		t.Errorf("ledger verify with version 2 tampered: %v %v", rep.Problems, err)
	}
	// HQ sends version 2 again: its copy replaces the tampered one.
	if err := r.publish(2, 10, ""); err != nil {
		t.Fatalf("HQ's version 2 after the tampered one: %v", err)
	}
	if d, err := r.discount(); err != nil || d != 10_000_00 || r.tl.RulesVersion() != 2 {
		t.Errorf("after HQ's copy: discount %d %v, version %d; want 10 000.00 with version 2", d, err, r.tl.RulesVersion())
	}
	if st, _ := r.tl.Status(); st.RulesError != "" {
		t.Errorf("rules_error after HQ's copy came: %q", st.RulesError)
	}
	if rep, err := r.l.Verify(); err != nil || !rep.OK() {
		t.Errorf("ledger verify after HQ's copy: %v %v", rep.Problems, err)
	}
	r.restart(r.pub)
	if d, err := r.discount(); err != nil || d != 10_000_00 {
		t.Errorf("after a restart: %d %v", d, err)
	}
}

// With every cached ruleset refused, or no HQ key to check them with, the till
// prices nothing and says why.
func TestTamperedRulesRefuseToPrice(t *testing.T) {
	r := newRulesRig(t)
	if err := r.publish(1, 5, ""); err != nil {
		t.Fatal(err)
	}
	r.tamper(1, 99)
	_, err := r.discount()
	if !errors.Is(err, till.ErrRulesRefused) || !errors.Is(err, till.ErrNoRules) || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("quote with the only ruleset tampered: %v, want ErrRulesRefused naming version 1", err)
	}
	if _, _, err := r.tl.Sale(till.SaleRequest{ID: "s1", Basket: pos.Basket{Lines: []pos.Line{{SKU: "a", Qty: 1, UnitPrice: 1}}}}); !errors.Is(err, till.ErrRulesRefused) {
		t.Errorf("sale with the only ruleset tampered: %v", err)
	}
	if v := r.tl.RulesVersion(); v != 0 {
		t.Errorf("RulesVersion = %d, want 0", v)
	}
	st, _ := r.tl.Status()
	if st.RulesetVersion != 0 || !strings.Contains(st.RulesError, "nothing is priced") {
		t.Errorf("status: %+v", st)
	}
	if err := r.publish(1, 5, ""); err != nil {
		t.Fatal(err)
	}
	if d, err := r.discount(); err != nil || d != 5_000_00 {
		t.Errorf("after HQ's copy: %d %v", d, err)
	}

	// No key: nothing cached is trusted.
	r.restart(nil)
	if _, err := r.discount(); !errors.Is(err, till.ErrRulesRefused) || !strings.Contains(err.Error(), till.ErrRulesKey.Error()) {
		t.Errorf("quote without an HQ key: %v, want ErrRulesRefused saying there is no key", err)
	}
}

// A waiting ruleset whose cached copy fails its check when its start comes
// (the file changed under the running till) is not activated: the till keeps
// pricing with the one before, says why, and asks HQ again.
func TestTamperedRulesAtActivation(t *testing.T) {
	r := newRulesRig(t)
	if err := r.publish(1, 5, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.publish(2, 20, "effective = 2025-03-02T00:00:00Z\n"); err != nil {
		t.Fatal(err)
	}
	if v := r.tl.RulesVersion(); v != 2 {
		t.Fatalf("RulesVersion = %d, want 2 waiting", v)
	}
	r.failCheck.Store(true)
	r.now = r.now.Add(24 * time.Hour)
	if d, err := r.discount(); err != nil || d != 5_000_00 || r.tl.ActiveRulesVersion() != 1 {
		t.Errorf("at the start of a refused version 2: discount %d %v, active %d; want 5 000.00 of version 1", d, err, r.tl.ActiveRulesVersion())
	}
	if v := r.tl.RulesVersion(); v != 1 {
		t.Errorf("RulesVersion = %d, want 1 (so HQ sends 2 again)", v)
	}
	if st, _ := r.tl.Status(); !strings.Contains(st.RulesError, "version 2") {
		t.Errorf("rules_error = %q", st.RulesError)
	}
}
