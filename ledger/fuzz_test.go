package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
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
	f.Add(encodeReturns(returnsRecord{Lines: []int64{3, 0, 1}}))
	f.Add(encodeReturns(returnsRecord{Lines: []int64{0, 2}}))
	f.Add([]byte(`{"id":"r1","card":"C","sale_seq":4,"sale_at":"2025-03-01T10:00:00Z","lines":[{"line":1,"qty":2}],"returned_lots":[{"points":5,"earned":"2025-01-01T00:00:00Z"}]}`))
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
		for _, n := range []int{0, 1, 3} {
			if r, err := decodeReturns(b, n); err == nil {
				if r2, err := decodeReturns(encodeReturns(r), n); err != nil || !slices.Equal(r2.Lines, r.Lines) {
					t.Errorf("returns round trip: %v → %v (%v)", r, r2, err)
				}
			}
		}
		if f, err := decodeRefundFacts(b); err == nil && f.SaleSeq == 0 {
			t.Errorf("refund facts of %q name no sale", b)
		}
		// The returns of another terminal's sale: padded to the sale's
		// lines, never beyond them; what a refund adds is counted.
		for _, n := range []int{1, 3} {
			if r, err := decodeForeignReturns(b, n); err == nil && len(r.Lines) != n {
				t.Errorf("foreign returns of %q for %d lines: %v", b, n, r.Lines)
			}
		}
		if v, err := addForeignReturns(b, []pos.ReturnLine{{Line: 2, Qty: 1}}); err == nil {
			var r returnsRecord
			if err := json.Unmarshal(v, &r); err != nil || len(r.Lines) < 2 || r.Lines[1] < 1 {
				t.Errorf("a foreign return added to %q: %q, %v", b, v, err)
			}
		}
		// What the account effects read of a body never panics, whatever it is.
		for _, typ := range []string{event.TypeSale, event.TypeRefund} {
			a := pos.Account{Card: "C", Points: 10, Lots: []pos.PointsLot{{Points: 10}}}
			_ = applyEffect(&a, effect{points: -3}, typ, b, time.Time{})
		}
	})
}

// FuzzCanonicalBody checks the promise the package documentation makes about
// stored bodies: json.Marshal of an event leaves the body byte for byte, and
// canonicalising twice changes nothing; and canonicalAsIs, the shortcut for a
// body already canonical, says so exactly when compacting and escaping would
// leave the body as it is.
func FuzzCanonicalBody(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, " { \"a\" : [1, 2.5e3, null, true] } ", `"<&>"`, "\"\u2028\u2029\"",
		`{"name":"Здравствуйте, Василий Петрович"}`, `[]`, `{"a":"\u003c"}`, `{`, "\"\xff\"", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var slow bytes.Buffer
		asIs := json.Compact(&slow, b) == nil && utf8.Valid(b) && bytes.Equal(slow.Bytes(), b) && !needsHTMLEscape(b)
		if canonicalAsIs(b) != asIs {
			t.Fatalf("canonicalAsIs(%q) = %v; compacted it is %q", b, !asIs, slow.Bytes())
		}
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

// FuzzOpen opens damaged ledger files: Open either fails with an error or
// returns a ledger whose Verify returns. Nothing may crash the process.
//
// Its input is not a whole file: one of 64 KiB and more ran about once a
// second and explored nothing. The input picks one of a few valid files
// (seedFiles) and patches it at offsets it chooses (patchFile), a few bytes of
// damage each, so that the fuzzer's mutations land in what Open and Verify
// read; with fixMeta the meta pages' checksums are made right again after the
// patch, as an edited file would have them, so that what a meta page says
// (root, freelist, page count) is believed and must be checked. The file is
// written without fsync, to a memory file system when there is one.
//
// It runs at a few hundred runs a second here, under the ~1 000 the other
// fuzzers pass, for what Open, Verify and Close cost, not for the fuzzer:
// measured on this 2-vCPU virtual machine, 1.1 ms of CPU a run (0.4 ms user,
// 0.7 ms system) for some 85 system calls (the file opened seven times and
// mapped twice, 19 preads of the page walkers, locks, the journal created),
// more with coverage instrumentation, and fewer runs still while other work
// shares the cores. FuzzPages explores the page walker that stands between a
// damaged file and bbolt in memory, at thousands a second.
func FuzzOpen(f *testing.F) {
	bases := seedFiles(f)
	dir := fuzzDir(f)
	for _, seed := range pageSeeds {
		f.Add(seed.which, seed.fixMeta, seed.patch)
	}
	path := filepath.Join(dir, "ledger.db")
	f.Fuzz(func(t *testing.T, which uint8, fixMeta bool, patch []byte) {
		b := patchFile(bases[int(which)%len(bases)], patch)
		if fixMeta {
			fixMetaChecksums(b)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		defer removeLedger(t, path)
		openDamaged(t, path)
	})
}

// FuzzPages runs the page walker of pages.go, which reads a damaged file with
// bounds checks before bbolt maps and trusts it, on patched copies of the
// seed files in memory (see FuzzOpen): for each valid meta page, readSnapshot
// and checkPages, partial and full, must return, with an error or not; never
// panic, loop or allocate beyond the file.
func FuzzPages(f *testing.F) {
	bases := seedFiles(f)
	for _, seed := range pageSeeds {
		f.Add(seed.which, seed.fixMeta, seed.patch)
	}
	f.Fuzz(func(t *testing.T, which uint8, fixMeta bool, patch []byte) {
		b := patchFile(bases[int(which)%len(bases)], patch)
		if fixMeta {
			fixMetaChecksums(b)
		}
		const pageSize = 4096 // the seed files'; another size fails the magic checks
		r := bytes.NewReader(b)
		for page := range 2 {
			if len(b) < (page+1)*pageSize {
				break
			}
			txid := ne.Uint64(b[page*pageSize+pageHeaderSize+48:])
			s, err := readSnapshot(r, pageSize, txid)
			if err != nil || s.hwm > uint64(len(b)/pageSize) {
				continue // Open's preflight refuses a file shorter than its pages
			}
			_ = checkPages(r, pageSize, s, false)
			_ = checkPages(r, pageSize, s, true)
		}
	})
}

// pageSeeds are FuzzOpen's and FuzzPages's seeds: the files intact, and
// damage of each kind a page can take.
var pageSeeds = []struct {
	which   uint8
	fixMeta bool
	patch   []byte
}{
	{0, false, nil},                   // intact
	{1, false, nil},                   // schema 1, migrated
	{2, false, nil},                   // schema 2, migrated
	{0, false, []byte{0x80, 0, 0, 0}}, // cut in half
	{0, false, []byte{0, 0, 0x10, 4, 0xde, 0xad, 0xbe, 0xef}},                    // the first meta page, its checksum wrong
	{0, true, []byte{0, 0, 0x38, 8, 0xff, 0xff, 0, 0, 0, 0, 0, 0}},               // a meta page's page count raised, checksum right
	{0, true, []byte{0, 0, 0x20, 8, 7, 0, 0, 0, 0, 0, 0, 0}},                     // a meta page's root moved
	{0, false, []byte{0, 0x20, 0x08, 2, 0xff, 0xff}},                             // a page's type
	{0, false, []byte{0, 0x30, 0x00, 8, 5, 0, 0, 0, 0, 0, 0, 0}},                 // a page's id
	{1, false, []byte{0, 0x30, 0x40, 8, 'n', 'o', 't', ' ', 'j', 's', 'o', 'n'}}, // bytes in a leaf
	{0, false, []byte{0, 0, 0x10, 1, 0, 0, 0x10, 0x10, 1, 0}},                    // both meta pages' magic
}

// patchFile returns a copy of base with patch applied. A patch is a list of
// edits, each an offset (three bytes, big-endian, taken modulo the length of
// the file so far), a count n (one byte), and n bytes written at the offset,
// growing the file when they run past its end; n = 0 cuts the file at the
// offset. A last edit shorter than its count writes what it has.
func patchFile(base, patch []byte) []byte {
	out := bytes.Clone(base)
	for len(patch) >= 4 && len(out) > 0 {
		off := (int(patch[0])<<16 | int(patch[1])<<8 | int(patch[2])) % len(out)
		if patch[3] == 0 {
			out = out[:off]
			patch = patch[4:]
			continue
		}
		data := patch[4:min(4+int(patch[3]), len(patch))]
		if end := off + len(data); end > len(out) {
			out = append(out, make([]byte, end-len(out))...)
		}
		copy(out[off:], data)
		patch = patch[4+len(data):]
	}
	return out
}

// fixMetaChecksums sets the checksum of both meta pages (of 4 KiB pages) to
// what bbolt computes, so that a patched meta page is believed.
func fixMetaChecksums(b []byte) {
	for page := range 2 {
		m := page*4096 + pageHeaderSize
		if len(b) < m+64 {
			return
		}
		h := fnv.New64a()
		h.Write(b[m : m+56])
		ne.PutUint64(b[m+56:], h.Sum64())
	}
}

// seedFiles are the files the fuzzers damage: a ledger with sales of two
// cards and one without, an HQ snapshot, a holder, a cached ruleset and an
// acknowledged event pruned (its journal moved into it), and the schema 1
// and 2 fixtures, which Open migrates.
func seedFiles(f *testing.F) [][]byte {
	path := filepath.Join(f.TempDir(), "seed.db")
	l, err := Open(path, Options{Terminal: "T1", Now: testClock(), NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	for i, card := range []string{"A", "", "B", "A"} {
		record(f, l, sale{id: string(rune('a' + i)), card: card, spend: 100, points: 1})
	}
	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	must(l.PutSnapshot("A", pos.Account{LifetimeSpend: 5000, Points: 70, Sales: 9,
		Lots: []pos.PointsLot{{Points: 70, Earned: testEpoch}}, BirthdayBonus: testEpoch}, 2, hashAt(f, l, 2)))
	must(l.PutHolder(pos.CardHolder{Card: "A", Name: "Анна", Birthday: "--03-01", Updated: testEpoch}))
	putActive(f, l, 3, "schema = 1\nversion = 3\ncurrency = \"RUB\"\n")
	must(l.Ack(1))
	_, err = l.Prune(testEpoch.Add(time.Hour))
	must(err)
	must(l.Close())
	out := make([][]byte, 4)
	for i, p := range []string{path, filepath.Join("testdata", "v1.db"), filepath.Join("testdata", "v2.db"), filepath.Join("testdata", "v3.db")} {
		if out[i], err = os.ReadFile(p); err != nil {
			f.Fatal(err)
		}
		mustOpenClean(f, out[i], nil)
	}
	return out
}

// mustOpenClean checks that a seed file (and journal, when not nil) opens
// and verifies without a problem: damage the fuzzer adds must be its own.
func mustOpenClean(f *testing.F, file, journal []byte) {
	path := filepath.Join(f.TempDir(), "clean.db")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		f.Fatal(err)
	}
	if journal != nil {
		if err := os.WriteFile(journalPath(path), journal, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	l, err := Open(path, Options{NoSync: true})
	if err != nil {
		f.Fatalf("a seed file does not open: %v", err)
	}
	defer l.Close()
	if rep, err := l.Verify(); err != nil || !rep.OK() {
		f.Fatalf("a seed file does not verify: %+v %v", rep, err)
	}
}

// fuzzDir is a directory for the files a fuzzer writes: in memory
// (/dev/shm) when the machine has it, else the test's temporary directory.
func fuzzDir(f *testing.F) string {
	if dir, err := os.MkdirTemp("/dev/shm", "tilld-fuzz-"); err == nil {
		f.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return f.TempDir()
}

// removeLedger removes a ledger file and its journal, for the next run.
func removeLedger(t *testing.T, path string) {
	for _, p := range []string{path, journalPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// openDamaged opens a damaged ledger: Open either fails with an error, without
// leaving the file locked, or returns a ledger whose Verify returns.
func openDamaged(t *testing.T, path string) {
	t.Helper()
	// No terminal: the file's own, whichever it is (the fixtures are S1-T1's).
	l, err := Open(path, Options{NoSync: true, Timeout: 50 * time.Millisecond})
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

// TestAccountCodec: for random accounts — lots, times in several zones (one
// of a minute west, one with seconds that RFC 3339 drops) and with
// nanoseconds, cards with characters JSON escapes — one without lots is
// stored as encoding/json's bytes (as in schema 3), and every account
// decodes to what encoding/json reads back from its JSON, the times' zones
// included; with Local in Moscow too, since a time whose offset is Local's
// reads back in Local.
func TestAccountCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 21))
	zones := []*time.Location{time.UTC, time.FixedZone("MSK", 3*3600), time.FixedZone("", -(9*3600 + 30*60)),
		time.FixedZone("", -61), time.FixedZone("", -3601), time.FixedZone("", 30), time.FixedZone("", 0)}
	when := func() time.Time {
		if r.IntN(5) == 0 {
			return time.Time{}
		}
		return time.Unix(r.Int64N(4e9), r.Int64N(2)*r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	}
	cards := []string{"2000000000015", "", "<&>\u2028\"\\", "карта", "\x7f\t"}
	check := func(t *testing.T) {
		withLots := 0
		for i := range 2000 {
			a := pos.Account{Card: cards[r.IntN(len(cards))], LifetimeSpend: money.Amount(r.Int64() >> r.IntN(64)),
				Points: r.Int64() >> r.IntN(64) * int64(1-2*r.IntN(2)), Sales: r.Int64N(1e6),
				LastSale: when(), BirthdayBonus: when(), LastFeedback: when()}
			for range r.IntN(4) * r.IntN(30) {
				a.Lots = append(a.Lots, pos.PointsLot{Points: r.Int64N(1e6) - 1000, Earned: when(), Expires: when()})
			}
			if r.IntN(3) == 0 {
				a.Lots = []pos.PointsLot{}
			}
			got, err := encodeAccount(a)
			if err != nil {
				t.Fatalf("account %d: %v", i, err)
			}
			a.Profile, a.Offline, a.OfflineRedeemedToday = nil, false, 0
			js, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Lots) == 0 && !bytes.Equal(got, js) {
				t.Fatalf("account %d: encodeAccount gives\n%s\nencoding/json\n%s", i, got, js)
			}
			if len(a.Lots) > 0 {
				withLots++
				if got[0] != accountLotsTag {
					t.Fatalf("account %d with lots: record starts %q", i, got[:1])
				}
			}
			back, err := decodeAccount(got)
			var want pos.Account
			if err != nil || json.Unmarshal(js, &want) != nil || !reflect.DeepEqual(back, want) {
				t.Fatalf("account %d: decodeAccount gives %+v (%v), encoding/json %+v", i, back, err, want)
			}
		}
		if withLots < 500 {
			t.Fatalf("only %d of the accounts had lots", withLots)
		}
	}
	t.Run("local="+time.Local.String(), check)
	t.Run("local=Moscow", func(t *testing.T) {
		defer func(l *time.Location) { time.Local = l }(time.Local)
		time.Local = time.FixedZone("MSK", 3*3600)
		check(t)
	})
	// What encoding/json refuses to write, encodeAccount refuses in a lot.
	for _, bad := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))} {
		a := pos.Account{Card: "C", Points: 1, Lots: []pos.PointsLot{{Points: 1, Earned: bad}}}
		if _, err := json.Marshal(a); err == nil {
			t.Fatalf("encoding/json writes %v", bad)
		}
		if b, err := encodeAccount(a); err == nil {
			t.Errorf("encodeAccount of a lot earned %v = %q, want an error as encoding/json's", bad, b)
		}
	}
}

// FuzzAccountCodec: whatever bytes an account record holds (a person can
// edit the file), decodeAccount accepts JSON that encoding/json accepts and
// reads it the same, and what it reads of a record with binary lots encodes
// to a record that reads the same.
func FuzzAccountCodec(f *testing.F) {
	f.Add([]byte(`{"card":"C","lifetime_spend":100,"points":5,"sales":1,"last_sale":"2025-03-01T10:00:00Z"}`))
	f.Add([]byte(`{"card":"C","points":3,"lots":[{"points":3,"earned":"2025-03-01T10:00:00+03:00","expires":"2026-03-01T00:00:00+03:00"}]}`))
	f.Add([]byte(`{"CARD":"c","Points":1,"card":"d","unknown":[1,{"x":null}],"lots":null}`))
	f.Add([]byte(`{"last_sale":"2025-13-01T10:00:00Z"}`))
	f.Add([]byte(`{"points":1e3}`))
	f.Add([]byte("{\"card\":\"\xff\"}"))
	msk := time.FixedZone("", 3*3600)
	rec, _ := encodeAccount(pos.Account{Card: "C", Points: 7, Lots: []pos.PointsLot{
		{Points: 5, Earned: time.Date(2025, 3, 1, 10, 0, 0, 1, msk), Expires: time.Date(2026, 3, 1, 0, 0, 0, 0, msk)},
		{Points: 2, Earned: time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)}}})
	f.Add(rec)
	f.Add(append([]byte{accountLotsTag, 1, 2, 0, 0}, `{"card":"C"}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeAccount(b)
		if len(b) > 0 && b[0] == accountLotsTag {
			if err != nil {
				return
			}
			enc, err := encodeAccount(got)
			if err != nil {
				return // a time JSON cannot write (a year past 9999) in the rest
			}
			again, err := decodeAccount(enc)
			if err != nil || accountDiff(again, got) != "" {
				t.Fatalf("%q → %+v → %q → %+v, %v", b, got, enc, again, err)
			}
			return
		}
		var want pos.Account
		stdErr := json.Unmarshal(b, &want)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("%q: decodeAccount error %v, encoding/json's %v", b, err, stdErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeAccount %+v, encoding/json %+v", b, got, want)
		}
	})
}
