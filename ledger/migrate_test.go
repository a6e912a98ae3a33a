package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// testdata/v1.db is a schema 1 ledger written by the schema 1 code (commit
// 44e5af0) with testClock, terminal S1-T1: six sales pos-001..pos-006 (see
// v1Sales), HQ's acknowledgement of seq 2, and ruleset version 3 (v1Rules).
var v1Sales = []sale{
	{id: "pos-001", card: "2000000000015", spend: 150000, points: 150},
	{id: "pos-002", card: "", spend: 9900},
	{id: "pos-003", card: "2000000000022", spend: 5000, points: 5},
	{id: "pos-004", card: "2000000000015", spend: 250000, points: 200},
	{id: "pos-005", card: "2000000000015", spend: 1000, points: -300},
	{id: "pos-006", card: "2000000000022", spend: 7000, points: 7},
}

const v1Rules = "version = 3\ncurrency = \"RUB\"\n"

// copyFixture copies a testdata file into a temporary directory: opening it
// migrates it in place, and the fixture must stay as it is.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMigrateFromV1(t *testing.T) {
	path := copyFixture(t, "v1.db")
	boltView(t, path, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, u64(1)) {
			t.Fatalf("the fixture has schema %x, want 1: was testdata/v1.db overwritten?", v)
		}
		return nil
	})
	l := openAt(t, path, Options{Terminal: "S1-T1", Now: func() time.Time { return testEpoch.Add(time.Hour) }}, checkFull)

	rep, err := l.Verify()
	if err != nil || !rep.OK() || rep.Events != 6 || rep.Accounts != 2 {
		t.Fatalf("Verify after the migration = %+v, %v", rep, err)
	}
	boltOf(l).View(func(tx *bolt.Tx) error {
		if m, _ := readMeta(tx); m.schema != SchemaVersion {
			t.Errorf("schema %d after the migration, want %d", m.schema, SchemaVersion)
		}
		if tx.Bucket(bucketRulesV1) != nil {
			t.Error("the schema 1 rules bucket is still there")
		}
		for seq, s := range v1Sales {
			f, err := decodeEffect(tx.Bucket(bucketEffects).Get(u64(uint64(seq + 1))))
			if err != nil || f.saleID != s.id || f.card != s.card || f.spend != s.spend || f.points != s.points {
				t.Errorf("effect %d = %+v, %v; want %+v", seq+1, f, err, s)
			}
		}
		return nil
	})

	// What schema 1 held is all there.
	if st := mustStats(t, l); st != (Stats{Terminal: "S1-T1", LastSeq: 6, Acked: 2, Outbox: 4, OldestPending: testEpoch.Add(2 * time.Second)}) {
		t.Errorf("Stats = %+v", st)
	}
	evs := allEvents(t, l)
	for i, e := range evs {
		if !strings.Contains(e.Body, `"id":"`+v1Sales[i].id+`"`) || !e.At.Equal(testEpoch.Add(time.Duration(i)*time.Second)) {
			t.Errorf("event %d = %+v, want sale %s", e.Seq, e, v1Sales[i].id)
		}
	}
	type want struct {
		spend  money.Amount
		points int64
		sales  int64
		last   time.Time
	}
	for card, w := range map[string]want{
		"2000000000015": {401000, 50, 3, testEpoch.Add(4 * time.Second)},
		"2000000000022": {12000, 12, 2, testEpoch.Add(5 * time.Second)},
	} {
		a, ok, err := l.Account(card)
		if !ok || err != nil || a.LifetimeSpend != w.spend || a.Points != w.points || a.Sales != w.sales || !a.LastSale.Equal(w.last) {
			t.Errorf("Account(%s) = %+v %v %v, want %+v", card, a, ok, err, w)
		}
	}
	v, raw, hash, err := l.Ruleset()
	sum := sha256.Sum256([]byte(v1Rules))
	if err != nil || v != 3 || string(raw) != v1Rules || hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Ruleset = %d %q %s %v, want version 3", v, raw, hash, err)
	}
	if rs, err := l.Rulesets(); err != nil || len(rs) != 1 || !rs[0].Active || rs[0].Signature != nil {
		t.Errorf("Rulesets = %+v %v, want version 3 active without a signature (schema 1 kept none)", rs, err)
	}

	// HQ sending the same version again, now with its signature, completes the cache.
	if err := l.PutRuleset(3, []byte(v1Rules), []byte("sig")); err != nil {
		t.Errorf("the migrated ruleset with its signature: %v", err)
	}
	if err := l.PutRuleset(3, []byte(v1Rules), []byte("other")); !errors.Is(err, ErrConflict) {
		t.Errorf("then another signature: %v, want ErrConflict", err)
	}
	if rs, err := l.Rulesets(); err != nil || len(rs) != 1 || string(rs[0].Signature) != "sig" {
		t.Errorf("Rulesets = %+v %v, want version 3 with its signature", rs, err)
	}

	// Sales go on: replays are recognised, new ones continue the chain.
	if r := record(t, l, v1Sales[0]); !r.Replayed || r.Seq != 1 {
		t.Errorf("retry of pos-001 = %+v, want the replay of seq 1", r)
	}
	if r := record(t, l, sale{id: "pos-007", card: "2000000000015", spend: 1, points: 1}); r.Seq != 7 || r.Replayed {
		t.Errorf("a new sale = %+v, want seq 7", r)
	}
	allEvents(t, l)

	// A migrated file opens again as it is.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openAt(t, path, Options{Terminal: "S1-T1"}, checkFull)
	if st := mustStats(t, l2); st.LastSeq != 7 {
		t.Errorf("last seq %d after reopening, want 7", st.LastSeq)
	}
}

// A migration that fails leaves the file exactly as it was.
func TestMigrateFailsCleanly(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		text   string
	}{
		{"ruleset bytes changed", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRulesV1).Put(keyRulesRaw, []byte("evil"))
		}, "do not match its hash"},
		{"sales index entry garbled", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSales).Put([]byte("pos-003"), []byte("x"))
		}, `sale "pos-003"`},
		{"effect too short", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEffects).Put(u64(2), []byte("short"))
		}, "effect 2"},
		{"schema 1 bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketRulesV1) }, `"rules" is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := copyFixture(t, "v1.db")
			boltUpdate(t, path, tt.tamper)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(path, Options{Terminal: "S1-T1"})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), "migrate") {
				t.Fatalf("Open = %v, want ErrCorrupt from the migration saying %q", err, tt.text)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("a failed migration changed the file")
			}
		})
	}
}

// Tools open files read-only; a file that needs a migration must be opened
// read-write first, and a read-only open never changes it.
func TestMigrateNotReadOnly(t *testing.T) {
	path := copyFixture(t, "v1.db")
	before, _ := os.ReadFile(path)
	_, err := Open(path, Options{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "schema 1") || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("read-only Open of a schema 1 file = %v, want an error asking for a migration", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a read-only Open changed the file")
	}
}

// boltView runs fn in a read transaction on a closed ledger file.
func boltView(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

// boltOf is the open ledger's bbolt database, for tests that look inside.
func boltOf(l *Ledger) *bolt.DB { return l.db }

// testdata/v2.db is a schema 2 ledger written by the schema 2 code (commit
// bfbb5c5) with testClock, terminal S1-T1: the sales of v1Sales, an HQ snapshot
// of 2000000000015 as of seq 1 with two points lots and the profile of Василий
// Петрович (born 5 March), HQ's acknowledgement of seq 2, ruleset 3 active and
// ruleset 4 cached for 2030.
func TestMigrateFromV2(t *testing.T) {
	path := copyFixture(t, "v2.db")
	raw, _ := os.ReadFile(path)
	if n := bytes.Count(raw, []byte("Петрович")); n < 2 {
		t.Fatalf("the fixture holds the patronymic %d times: was testdata/v2.db overwritten?", n)
	}
	l := openAt(t, path, Options{Terminal: "S1-T1", Now: func() time.Time { return testEpoch.Add(time.Hour) }}, checkFull)
	rep, err := l.Verify()
	if err != nil || !rep.OK() || rep.Events != 6 || rep.Accounts != 2 || rep.Holders != 1 {
		t.Fatalf("Verify after the migration = %+v, %v", rep, err)
	}
	h, ok, err := l.Holder("2000000000015")
	want := pos.CardHolder{Card: "2000000000015", Name: "Василий", Patronymic: "Петрович", Lang: "ru", Birthday: "--03-05"}
	if !ok || err != nil || !reflect.DeepEqual(h, want) {
		t.Errorf("Holder = %+v %v %v, want %+v", h, ok, err, want)
	}
	if p := h.Profile(); p.BirthMonth != 3 || p.BirthDay != 5 {
		t.Errorf("profile %+v", p)
	}
	a, _, _ := l.Account("2000000000015")
	// The snapshot (900000, 700 points in lots of 500 and 200, 9 sales) plus
	// sales 4 (+200 points, a new lot) and 5 (-300: the new lot, then 100 of
	// the newest of HQ's).
	if a.Profile != nil || a.LifetimeSpend != 900000+250000+1000 || a.Points != 700+200-300 || a.Sales != 11 ||
		len(a.Lots) != 2 || a.Lots[0].Points != 500 || a.Lots[1].Points != 100 {
		t.Errorf("Account = %+v", a)
	}
	if pend, _ := l.PendingHolders(10); len(pend) != 0 {
		t.Errorf("a holder from HQ is pending: %+v", pend)
	}
	if rs, _ := l.Rulesets(); len(rs) != 2 || rs[0].Version != 4 || rs[0].Active || !rs[1].Active {
		t.Errorf("Rulesets = %+v", rs)
	}
	// The profile is in the file once, in the holder record: the copies the
	// accounts and bases records had are gone from the bytes.
	raw, _ = os.ReadFile(path)
	if n := bytes.Count(raw, []byte("Петрович")); n != 1 {
		t.Errorf("the patronymic is in the file %d times after the migration, want once", n)
	}
}

// testdata/v3.db is a schema 3 ledger written by the schema 3 code (commit
// 107e6e2) with testClock, terminal S1-T1: the sales of v1Sales, an HQ
// snapshot of 2000000000015 as of seq 1 with lots of 500 points (expiring 1
// April 2025, Moscow time), 200 (1 June) and 300 (never), sale pos-007 of
// that card redeeming 100 from the first lot and earning 30 that expire on
// 1 March 2026, and HQ's acknowledgement of seq 2. Its accounts and bases
// are JSON; schema 4 writes those with lots again, with the lots in binary.
func TestMigrateFromV3(t *testing.T) {
	path := copyFixture(t, "v3.db")
	card := []byte("2000000000015")
	boltView(t, path, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, u64(3)) {
			t.Fatalf("the fixture has schema %x, want 3: was testdata/v3.db overwritten?", v)
		}
		if v := tx.Bucket(bucketAccounts).Get(card); !bytes.Contains(v, []byte(`"lots":[{"points":400`)) {
			t.Fatalf("the fixture's account is %q, want its lots in JSON", v)
		}
		return nil
	})
	l := openAt(t, path, Options{Terminal: "S1-T1", Now: func() time.Time { return testEpoch.Add(time.Hour) }}, checkFull)
	rep, err := l.Verify()
	if err != nil || !rep.OK() || rep.Events != 7 || rep.Accounts != 2 {
		t.Fatalf("Verify after the migration = %+v, %v", rep, err)
	}
	msk := time.FixedZone("", 3*3600)
	want := pos.Account{Card: string(card), LifetimeSpend: 1181000, Points: 830, Sales: 12, LastSale: testEpoch.Add(6 * time.Second),
		Lots: []pos.PointsLot{
			{Points: 400, Earned: testEpoch.Add(-72 * time.Hour), Expires: time.Date(2025, 4, 1, 0, 0, 0, 0, msk)},
			{Points: 200, Earned: testEpoch.Add(-48 * time.Hour), Expires: time.Date(2025, 6, 1, 0, 0, 0, 0, msk)},
			{Points: 200, Earned: testEpoch.Add(-24 * time.Hour)},
			{Points: 30, Earned: testEpoch.Add(6 * time.Second), Expires: time.Date(2026, 3, 1, 0, 0, 0, 0, msk)},
		}}
	a, _, err := l.Account(string(card))
	if err != nil || accountDiff(a, want) != "" {
		t.Fatalf("Account after the migration: %s (%v)", accountDiff(a, want), err)
	}
	boltOf(l).View(func(tx *bolt.Tx) error {
		if m, _ := readMeta(tx); m.schema != SchemaVersion {
			t.Errorf("schema %d after the migration, want %d", m.schema, SchemaVersion)
		}
		for _, name := range [][]byte{bucketAccounts, bucketBases} {
			v := tx.Bucket(name).Get(card)
			if name[0] == bucketBases[0] && len(v) > 8 {
				v = v[8:]
			}
			if len(v) == 0 || v[0] != accountLotsTag {
				t.Errorf("%s of the card after the migration: %q, want its lots in binary", name, v)
			}
		}
		if v := tx.Bucket(bucketAccounts).Get([]byte("2000000000022")); len(v) == 0 || v[0] != '{' {
			t.Errorf("an account without lots after the migration: %q, want JSON as it was", v)
		}
		return nil
	})
	// The card sells on, and its view still follows: redeem 50 of the
	// second lot, earn 12 more; the cleanup's Verify rebuilds it.
	uses := []pos.LotUse{{Lot: 1, Earned: want.Lots[1].Earned, Expires: want.Lots[1].Expires, Points: 50}}
	req, price := lotSale("pos-008", string(card), 5000, 12, 50, uses, nil)
	if _, err := l.RecordSale(req, price); err != nil {
		t.Fatal(err)
	}
	if a, _, _ := l.Account(string(card)); a.Points != 830-50+12 || len(a.Lots) != 5 || a.Lots[1].Points != 150 {
		t.Errorf("Account after a sale: %+v", a)
	}
}

// testdata/v4.db is a schema 4 ledger written by the schema 4 code (commit
// 6c7e813) with testClock, terminal S1-T1: sale s1 of three units to
// 2000000000015 and refund r1 of one (seqs 1, 2), sale s2 of two units and
// refund r2 of one (3, 4), HQ's acknowledgement of seq 2, and a prune of
// seqs 1 and 2, which dropped s1's returns count with it. Schema 5 keeps the
// counts of pruned sales: the migration marks s1 as pruned before that.
func TestMigrateFromV4(t *testing.T) {
	path := copyFixture(t, "v4.db")
	boltView(t, path, func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if v := m.Get(keySchema); !bytes.Equal(v, u64(4)) {
			t.Fatalf("the fixture has schema %x, want 4: was testdata/v4.db overwritten?", v)
		}
		if v := m.Get(keyAnchorSeq); !bytes.Equal(v, u64(2)) {
			t.Fatalf("the fixture's anchor is %x, want 2", v)
		}
		if v := tx.Bucket(bucketReturns).Get(u64(1)); v != nil {
			t.Fatalf("the fixture keeps the pruned sale's returns: %q", v)
		}
		return nil
	})
	l := openAt(t, path, Options{Terminal: "S1-T1", Now: func() time.Time { return testEpoch.Add(time.Hour) }}, checkFull)
	boltOf(l).View(func(tx *bolt.Tx) error {
		if m, _ := readMeta(tx); m.schema != SchemaVersion || m.returnsKept != 2 {
			t.Errorf("after the migration: schema %d, returns_kept %d; want %d and 2", m.schema, m.returnsKept, SchemaVersion)
		}
		return nil
	})
	if pruned, counted, err := l.PrunedSale(1); !pruned || counted || err != nil {
		t.Errorf("s1 after the migration: pruned %v, counted %v (%v); want pruned, not counted", pruned, counted, err)
	}
	// s2 is kept, its count with it: one of two returned, one left.
	if _, err := l.RecordRefund(refundReq("r3", "s2", pos.ReturnLine{Line: 1, Qty: 2}), refundPrice("r3")); !errors.Is(err, ErrOverReturn) {
		t.Errorf("two more of s2's two, one returned: %v", err)
	}
	if _, err := l.RecordRefund(refundReq("r3", "s2", pos.ReturnLine{Line: 1, Qty: 1}), refundPrice("r3")); err != nil {
		t.Errorf("the other of s2's two: %v", err)
	}
	// Pruned from now on, s2 keeps its count.
	if err := l.Ack(5); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(testEpoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if pruned, counted, err := l.PrunedSale(3); !pruned || !counted || err != nil {
		t.Errorf("s2 pruned after the migration: pruned %v, counted %v (%v); want both", pruned, counted, err)
	}
	boltOf(l).View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketReturns).Get(u64(3)); !bytes.HasPrefix(v, []byte(`{"lines":[2`)) {
			t.Errorf("s2's count after its prune: %q, want both units", v)
		}
		return nil
	})
}
