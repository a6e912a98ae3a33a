package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// FuzzDecode feeds arbitrary bytes, as a damaged file would, to every decoder
// of stored records: none may panic, and what decodes re-encodes to a record that
// decodes the same.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"terminal":"T1","seq":1,"id":"T1-1","type":"sale","at":"2025-03-01T10:00:00Z","ruleset_version":1,"hash":"ab","body":{"id":"s"}}`))
	f.Add(encodeEffect(effect{card: "4000001234567899", saleID: "pos-1", spend: 150000, points: -30}))
	f.Add(encodeRuleset([]byte("version = 3"), []byte("signature")))
	b, _ := encodeBase(base{through: 9, acct: pos.Account{Card: "C", Points: 5}})
	f.Add(b)
	f.Add(encodeSaleRef(saleRef{seq: 7, digest: [32]byte{1, 2, 3}}))
	f.Add([]byte(`{"card":"C","lifetime_spend":100,"points":5,"sales":1,"last_sale":"2025-03-01T10:00:00Z"}`))
	f.Add(u64(42))
	f.Add([]byte{})
	f.Add([]byte(`{"seq":-1,"at":"yesterday"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := seqKey(b); err == nil && !bytes.Equal(u64(n), b) {
			t.Errorf("seqKey(%x) = %d, re-encodes to %x", b, n, u64(n))
		}
		// The ledger writes only canonical, non-empty bodies; for those a round
		// trip through encoding/json must keep the hash.
		if e, err := decodeEvent(b); err == nil && len(e.Body) > 0 && isCanonical(e.Body) {
			enc, err := encodeEvent(&e)
			if err != nil {
				t.Fatalf("encode a decoded event: %v", err)
			}
			e2, err := decodeEvent(enc)
			if err != nil || e2.ComputeHash() != e.ComputeHash() {
				t.Errorf("event round trip changed it: %v", err)
			}
		}
		if f, err := decodeEffect(b); err == nil {
			if got := encodeEffect(f); !bytes.Equal(got, b) {
				t.Errorf("effect %x re-encodes to %x", b, got)
			}
		}
		if f, err := decodeEffectV1(b); err == nil && len(f.card) != len(b)-16 {
			t.Errorf("v1 effect %x: card of %d bytes", b, len(f.card))
		}
		if r, err := decodeRuleset(b); err == nil {
			if got := encodeRuleset(r.Raw, r.Signature); !bytes.Equal(got, b) {
				t.Errorf("ruleset %x re-encodes to %x", b, got)
			}
		}
		if bs, err := decodeBase(b); err == nil {
			if enc, err := encodeBase(bs); err == nil {
				if bs2, err := decodeBase(enc); err != nil || bs2.through != bs.through || bs2.acct.Points != bs.acct.Points || bs2.acct.Card != bs.acct.Card {
					t.Errorf("base round trip: %+v → %+v (%v)", bs, bs2, err)
				}
			}
		}
		if r, err := decodeSaleRef(b); err == nil {
			if got := encodeSaleRef(r); !bytes.Equal(got, b) {
				t.Errorf("sale ref %x re-encodes to %x", b, got)
			}
		}
		if a, err := decodeAccount(b); err == nil {
			if enc, err := encodeAccount(a); err == nil {
				a2, err := decodeAccount(enc)
				if err != nil || a2.Card != a.Card || a2.Points != a.Points || a2.LifetimeSpend != a.LifetimeSpend || a2.Sales != a.Sales || !a2.LastSale.Equal(a.LastSale) {
					t.Errorf("account round trip: %+v → %+v (%v)", a, a2, err)
				}
			}
		}
		bodyCard(b)
	})
}

// FuzzCanonicalBody checks the promise the package documentation makes about
// stored bodies: json.Marshal of an event leaves the body byte for byte, and
// canonicalising twice changes nothing.
func FuzzCanonicalBody(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, " { \"a\" : [1, 2.5e3, null, true] } ", `"<&>"`, "\"\u2028\u2029\"",
		`{"name":"Здравствуйте, Василий Петрович"}`, `[]`, `{"a":"\u003c"}`, `{`, "\"\xff\"", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := canonicalBody(b)
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical body %q is not valid JSON", c)
		}
		again, err := canonicalBody(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Errorf("canonicalBody is not idempotent: %q → %q (%v)", c, again, err)
		}
		wire, err := json.Marshal(struct {
			Body json.RawMessage `json:"body"`
		}{c})
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if want := `{"body":` + string(c) + `}`; string(wire) != want {
			t.Errorf("json.Marshal changed the body:\n got %s\nwant %s", wire, want)
		}
	})
}

// FuzzOpen writes arbitrary bytes (seeded with a real ledger and the schema 1
// fixture, which Open migrates) as the file and opens it: Open either fails with an error or returns a ledger whose Verify
// returns. Nothing may crash the process.
func FuzzOpen(f *testing.F) {
	l, seed := seedLedger(f)
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte("not a database"))
	v1, err := os.ReadFile(filepath.Join("testdata", "v1.db")) // through the migration
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "ledger.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		openDamaged(t, path)
	})
}

// openDamaged opens a damaged ledger: Open either fails with an error, without
// leaving the file locked, or returns a ledger whose Verify returns.
func openDamaged(t *testing.T, path string) {
	t.Helper()
	l, err := Open(path, Options{Terminal: "T1", NoSync: true, Timeout: 50 * time.Millisecond})
	if err != nil {
		if errors.Is(err, ErrLocked) {
			t.Fatalf("a damaged file left its lock held: %v", err)
		}
		return
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil && !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify: %v", err)
	}
}

// FuzzEncodeEvent holds encodeEvent's direct encoding of an event with a
// canonical body to json.Marshal's, byte for byte.
func FuzzEncodeEvent(f *testing.F) {
	f.Add("T1", uint64(1), "T1-1", "sale", int64(1740823200123456789), int64(3), "9f2c", "", "ab12", []byte(`{"id":"pos-1","total":100}`))
	f.Add("Т<1>", uint64(1<<63), "a\"b", "", int64(-62135596800000000), int64(-1), "", "p", "", []byte(`"\u003c"`))
	f.Add("T", uint64(0), "\x7f", "\u2028", int64(0), int64(0), "&", "\n", "h", []byte(`[]`))
	f.Fuzz(func(t *testing.T, terminal string, seq uint64, id, typ string, at, version int64, rulesHash, prev, hash string, body []byte) {
		if !isCanonical(body) {
			return
		}
		e := event.Event{Terminal: terminal, Seq: seq, ID: id, Type: typ, At: time.Unix(0, at).UTC(),
			RulesetVersion: version, RulesetHash: rulesHash, Prev: prev, Hash: hash, Body: body}
		got, err := encodeEvent(&e)
		want, werr := json.Marshal(&e)
		if (err == nil) != (werr == nil) {
			t.Fatalf("encodeEvent err %v, json.Marshal err %v", err, werr)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encodeEvent differs from json.Marshal:\n got %s\nwant %s", got, want)
		}
	})
}

// seedLedger is the fuzzers' seed: a real ledger of three sales, open.
func seedLedger(f *testing.F) (*Ledger, string) {
	seed := filepath.Join(f.TempDir(), "seed.db")
	l, err := Open(seed, Options{Terminal: "T1", Now: testClock(), NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	for i, card := range []string{"A", "", "B"} {
		record(f, l, sale{id: string(rune('a' + i)), card: card, spend: 100, points: 1})
	}
	return l, seed
}

func isCanonical(body []byte) bool {
	c, err := canonicalBody(body)
	return err == nil && bytes.Equal(c, body)
}
