package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// testEpoch is the first tick of testClock.
var testEpoch = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)

// testClock returns a clock that advances one second per call, safe for
// concurrent use, so every event has its own time.
func testClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time {
		return testEpoch.Add(time.Duration(n.Add(1)-1) * time.Second)
	}
}

// endCheck says what openAt checks when the test ends.
type endCheck int

const (
	checkFull endCheck = iota // bbolt's page check and the ledger's Verify
	checkBolt                 // bbolt's page check only: the test damaged the ledger's records
	checkNone                 // nothing: the test damaged bbolt's pages on purpose
)

// openTest opens a ledger in a new file of t.TempDir(). At cleanup it closes the
// ledger and checks the file with bbolt's page check and a full Verify.
func openTest(t testing.TB, opts Options) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	return openAt(t, path, opts, checkFull), path
}

func openAt(t testing.TB, path string, opts Options, check endCheck) *Ledger {
	t.Helper()
	if opts.Terminal == "" {
		opts.Terminal = "T1"
	}
	if opts.Now == nil {
		opts.Now = testClock()
	}
	l, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if check != checkNone {
			checkFile(t, path, opts.Terminal, check == checkFull)
		}
	})
	return l
}

// checkFile runs bbolt's consistency check on the file and, when full is set,
// the ledger's own Verify.
func checkFile(t testing.TB, path, terminal string, full bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("integrity check: open %s: %v", path, err)
		return
	}
	_ = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("integrity check: bbolt: %v", err)
		}
		return nil
	})
	if err := db.Close(); err != nil {
		t.Errorf("integrity check: close: %v", err)
	}
	if !full {
		return
	}
	l, err := Open(path, Options{Terminal: terminal})
	if err != nil {
		t.Errorf("integrity check: reopen: %v", err)
		return
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil {
		t.Errorf("integrity check: Verify: %v", err)
		return
	}
	for _, p := range rep.Problems {
		t.Errorf("integrity check: %s", p)
	}
}

// sale is one test sale: what the pricing returns for it.
type sale struct {
	id     string
	card   string
	spend  money.Amount
	points int64
}

func (s sale) request() SaleRequest {
	return SaleRequest{ID: s.id, Digest: sha256.Sum256([]byte(s.id + "|" + s.card)), Card: s.card}
}

// price returns a PriceFunc that prices s as a pos.Sale body and records the
// account it was given in *seen (when seen is not nil).
func (s sale) price(seen *pos.Account) PriceFunc {
	return func(acct pos.Account, at time.Time) (Priced, error) {
		if seen != nil {
			*seen = acct
		}
		body, err := json.Marshal(pos.Sale{
			ID:   s.id,
			Card: s.card,
			At:   at,
			Quote: pos.Quote{
				Currency:     "RUB",
				Lines:        []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: 1, UnitPrice: s.spend}, Amount: s.spend, Total: s.spend}},
				Subtotal:     s.spend,
				Total:        s.spend,
				PointsEarned: s.points,
				Applied:      []pos.Applied{},
			},
		})
		if err != nil {
			return Priced{}, err
		}
		return Priced{Body: body, Spend: s.spend, PointsDelta: s.points, RulesetVersion: 7, RulesetHash: "abc"}, nil
	}
}

func record(t testing.TB, l *Ledger, s sale) Receipt {
	t.Helper()
	r, err := l.RecordSale(s.request(), s.price(nil))
	if err != nil {
		t.Fatalf("RecordSale %s: %v", s.id, err)
	}
	return r
}

// mustStats returns l's stats or fails the test.
func mustStats(t testing.TB, l *Ledger) Stats {
	t.Helper()
	s, err := l.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

// allEvents collects every event through Events and checks the chain as it goes.
func allEvents(t testing.TB, l *Ledger) []eventSummary {
	t.Helper()
	var out []eventSummary
	st := mustStats(t, l)
	prevSeq, prevHash := st.Anchor, st.AnchorHash
	err := l.Events(0, func(e event.Event) error {
		if err := event.Verify(prevSeq, prevHash, &e); err != nil {
			return err
		}
		prevSeq, prevHash = e.Seq, e.Hash
		out = append(out, eventSummary{Seq: e.Seq, ID: e.ID, At: e.At, Body: string(e.Body)})
		return nil
	})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return out
}

type eventSummary struct {
	Seq  uint64
	ID   string
	At   time.Time
	Body string
}

// boltUpdate opens the closed ledger file with bbolt directly and runs fn in a
// write transaction: how the tamper tests damage a file.
func boltUpdate(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt open: %v", err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("bolt update: %v", err)
	}
}

var errTest = errors.New("test error")

// putActive stores raw as ruleset version and activates it.
func putActive(t testing.TB, l *Ledger, version int64, raw string) {
	t.Helper()
	if err := l.PutRuleset(version, []byte(raw), []byte("sig")); err != nil {
		t.Fatalf("PutRuleset %d: %v", version, err)
	}
	if err := l.ActivateRuleset(version); err != nil {
		t.Fatalf("ActivateRuleset %d: %v", version, err)
	}
}

// hashAt returns the hash of the ledger's event seq: what HQ names with a
// snapshot as of that seq (PutSnapshot's asOfHash).
func hashAt(t testing.TB, l *Ledger, seq uint64) string {
	t.Helper()
	var h string
	err := l.Events(seq, func(e event.Event) error {
		h = e.Hash
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		t.Fatalf("event %d: %v", seq, err)
	}
	return h
}

// checkpointNow moves what is journaled or riding along into the file, as a
// background checkpoint would.
func checkpointNow(t testing.TB, l *Ledger) {
	t.Helper()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	if err := l.checkpoint(); err != nil {
		t.Fatal(err)
	}
}
