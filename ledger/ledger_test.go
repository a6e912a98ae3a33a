package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/durable"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

func TestRecordSale(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "T042"})
	sales := []sale{
		{id: "s1", card: "4000001234567899", spend: 150000, points: 150},
		{id: "s2", card: "", spend: 9900},
		{id: "s3", card: "4000001234567899", spend: 250000, points: 200},
		{id: "s4", card: "2900000000017", spend: 5000, points: 5},
		{id: "s5", card: "4000001234567899", spend: 1000, points: -300}, // redeemed more than earned
	}
	type want struct {
		spend  money.Amount
		points int64
		sales  int64
		last   time.Time
	}
	wantAcct := map[string]*want{}
	for i, s := range sales {
		seq := uint64(i + 1)
		t.Run(s.id, func(t *testing.T) {
			var seen pos.Account
			r, err := l.RecordSale(s.request(), s.price(&seen))
			if err != nil {
				t.Fatalf("RecordSale: %v", err)
			}
			at := testEpoch.Add(time.Duration(i) * time.Second)
			if r.Seq != seq || r.EventID != fmt.Sprintf("T042-%d", seq) || !r.At.Equal(at) || r.Replayed {
				t.Errorf("receipt = {Seq %d, EventID %q, At %s, Replayed %t}, want {%d, T042-%d, %s, false}", r.Seq, r.EventID, r.At, r.Replayed, seq, seq, at)
			}
			// The pricing saw the account as it was before this sale.
			w := wantAcct[s.card]
			if w == nil {
				w = &want{}
				if s.card != "" {
					wantAcct[s.card] = w
				}
			}
			if seen.Card != s.card || seen.LifetimeSpend != w.spend || seen.Points != w.points || seen.Sales != w.sales {
				t.Errorf("price saw %+v, want card %q spend %d points %d sales %d", seen, s.card, w.spend, w.points, w.sales)
			}
			w.spend += s.spend
			w.points += s.points
			w.sales++
			w.last = at
		})
	}

	for card, w := range wantAcct {
		a, ok, err := l.Account(card)
		if err != nil || !ok {
			t.Fatalf("Account(%s) = %v, %v", card, ok, err)
		}
		if a.Card != card || a.LifetimeSpend != w.spend || a.Points != w.points || a.Sales != w.sales || !a.LastSale.Equal(w.last) {
			t.Errorf("Account(%s) = %+v, want spend %d points %d sales %d last %s", card, a, w.spend, w.points, w.sales, w.last)
		}
	}
	if _, ok, err := l.Account("no-such-card"); ok || err != nil {
		t.Errorf("Account(unknown) = %v, %v; want false, nil", ok, err)
	}
	if _, ok, err := l.Account(""); ok || err != nil {
		t.Errorf("Account(\"\") = %v, %v; want false, nil (a sale without a card keeps no account)", ok, err)
	}

	evs := allEvents(t, l) // checks the chain
	if len(evs) != len(sales) {
		t.Fatalf("%d events, want %d", len(evs), len(sales))
	}
	for i, e := range evs {
		var body pos.Sale
		if err := json.Unmarshal([]byte(e.Body), &body); err != nil {
			t.Fatalf("event %d body: %v", e.Seq, err)
		}
		if e.Seq != uint64(i+1) || body.ID != sales[i].id || body.Total != sales[i].spend {
			t.Errorf("event %d = seq %d sale %q total %d, want seq %d sale %q total %d", i, e.Seq, body.ID, body.Total, i+1, sales[i].id, sales[i].spend)
		}
	}
	st := mustStats(t, l)
	if len(st.Epoch.ID) != 16 || st.Epoch.BaseSeq != 0 || st.Epoch.Parent != "" {
		t.Errorf("a new ledger's epoch = %+v; want its own, based on nothing", st.Epoch)
	}
	st.Epoch = event.Epoch{}
	if st != (Stats{Terminal: "T042", LastSeq: 5, Acked: 0, Outbox: 5, OldestPending: testEpoch}) {
		t.Errorf("Stats = %+v", st)
	}
	pend, err := l.Pending(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 5 || pend[0].Seq != 1 || pend[4].Seq != 5 || pend[0].RulesetVersion != 7 || pend[0].RulesetHash != "abc" || pend[0].Type != event.TypeSale || pend[0].Terminal != "T042" {
		t.Errorf("Pending(100) = %d events, first %+v", len(pend), pend[0])
	}
}

func TestRecordSaleReplay(t *testing.T) {
	l, _ := openTest(t, Options{})
	s := sale{id: "replay-1", card: "1111222233334444", spend: 4999, points: 49}
	first := record(t, l, s)
	record(t, l, sale{id: "other", card: s.card, spend: 1, points: 0})
	acctBefore, _, _ := l.Account(s.card)

	for i := range 3 {
		t.Run(fmt.Sprint("again-", i), func(t *testing.T) {
			called := false
			r, err := l.RecordSale(s.request(), func(pos.Account, time.Time) (Priced, error) {
				called = true
				return Priced{}, errTest
			})
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if called {
				t.Error("a replay priced the sale again")
			}
			if !r.Replayed || r.Seq != first.Seq || r.EventID != first.EventID || !r.At.Equal(first.At) || string(r.Body) != string(first.Body) {
				t.Errorf("replay receipt = %+v\nwant the first one %+v with Replayed", r, first)
			}
		})
	}
	if st := mustStats(t, l); st.LastSeq != 2 {
		t.Errorf("LastSeq = %d after replays, want 2", st.LastSeq)
	}
	if acct, _, _ := l.Account(s.card); !reflect.DeepEqual(acct, acctBefore) {
		t.Errorf("account changed by replays: %+v, was %+v", acct, acctBefore)
	}
}

func TestRecordSaleConflict(t *testing.T) {
	l, _ := openTest(t, Options{})
	s := sale{id: "dup", card: "5555", spend: 100, points: 1}
	record(t, l, s)
	req := s.request()
	req.Digest[0] ^= 1
	_, err := l.RecordSale(req, s.price(nil))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("same id, other digest: err = %v, want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), "dup") {
		t.Errorf("error %q does not name the sale id", err)
	}
	if st := mustStats(t, l); st.LastSeq != 1 {
		t.Errorf("LastSeq = %d after a conflict, want 1", st.LastSeq)
	}
	if a, _, _ := l.Account("5555"); a.Sales != 1 || a.LifetimeSpend != 100 {
		t.Errorf("account after a conflict = %+v, want one sale of 100", a)
	}
}

func TestRecordSaleNothingStoredOnError(t *testing.T) {
	good := sale{id: "s", card: "777788889999", spend: 1000, points: 10}
	tests := []struct {
		name  string
		price PriceFunc
		want  error  // errors.Is target, or nil to match text
		text  string // substring of the error
	}{
		{"price fails", func(pos.Account, time.Time) (Priced, error) { return Priced{}, errTest }, errTest, "price"},
		{"empty body", func(pos.Account, time.Time) (Priced, error) { return Priced{Spend: 1}, nil }, nil, "empty body"},
		{"body not JSON", func(pos.Account, time.Time) (Priced, error) { return Priced{Body: []byte(`{"id":`)}, nil }, nil, "not valid JSON"},
		{"body not UTF-8", func(pos.Account, time.Time) (Priced, error) { return Priced{Body: []byte("\"\xff\"")}, nil }, nil, "UTF-8"},
		{"spend overflows", func(a pos.Account, at time.Time) (Priced, error) {
			p, err := good.price(nil)(a, at)
			p.Spend = math.MaxInt64
			return p, err
		}, nil, "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := openTest(t, Options{})
			record(t, l, sale{id: "first", card: good.card, spend: 5, points: 0})
			_, err := l.RecordSale(good.request(), tt.price)
			if err == nil {
				t.Fatal("RecordSale succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), "record sale s") {
				t.Errorf("err = %q, want it to name the sale and say %q", err, tt.text)
			}
			if st := mustStats(t, l); st.LastSeq != 1 || st.Outbox != 1 {
				t.Errorf("Stats after a failed sale = %+v, want LastSeq 1", st)
			}
			if a, _, _ := l.Account(good.card); a.Sales != 1 || a.LifetimeSpend != 5 {
				t.Errorf("account after a failed sale = %+v", a)
			}
			// The id was not taken: the same sale now goes through as seq 2.
			if r := record(t, l, good); r.Seq != 2 || r.Replayed {
				t.Errorf("retry = %+v, want a fresh seq 2", r)
			}
		})
	}
}

func TestRecordSaleBadRequest(t *testing.T) {
	l, _ := openTest(t, Options{})
	tests := []struct {
		name  string
		req   SaleRequest
		field string
	}{
		{"no id", SaleRequest{}, "id"},
		{"long id", SaleRequest{ID: strings.Repeat("x", MaxSaleIDLen+1)}, "id"},
		{"id not UTF-8", SaleRequest{ID: "a\xffb"}, "id"},
		{"long card", SaleRequest{ID: "ok", Card: strings.Repeat("4", MaxCardLen+1)}, "card"},
		{"card not UTF-8", SaleRequest{ID: "ok", Card: "\xc3"}, "card"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.RecordSale(tt.req, sale{id: "x", spend: 1}.price(nil))
			var in *pos.InputError
			if !errors.As(err, &in) || in.Field != tt.field {
				t.Fatalf("err = %v, want a pos.InputError on %q", err, tt.field)
			}
		})
	}
	if r := record(t, l, sale{id: strings.Repeat("x", MaxSaleIDLen), spend: 1}); r.Seq != 1 {
		t.Errorf("a sale id of exactly %d bytes got seq %d, want 1", MaxSaleIDLen, r.Seq)
	}
}

// A body is stored so that encoding/json can carry the event anywhere without
// changing the bytes its hash covers.
func TestBodyCanonical(t *testing.T) {
	l, _ := openTest(t, Options{})
	tests := []struct {
		name, body, want string
	}{
		{"compact already", `{"a":1}`, `{"a":1}`},
		{"whitespace", "{\n  \"a\" : [ 1, 2 ],\t\"b\": \"x y\"\n}", `{"a":[1,2],"b":"x y"}`},
		{"html characters", `{"name":"Tom & Jerry <b>"}`, `{"name":"Tom \u0026 Jerry \u003cb\u003e"}`},
		{"line separators", "{\"s\":\"a\u2028b\u2029c\"}", `{"s":"a\u2028b\u2029c"}`},
		{"cyrillic", `{"greeting":"Здравствуйте"}`, `{"greeting":"Здравствуйте"}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := l.RecordSale(SaleRequest{ID: fmt.Sprint("b", i)}, func(pos.Account, time.Time) (Priced, error) {
				return Priced{Body: json.RawMessage(tt.body)}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Body) != tt.want {
				t.Errorf("stored body %s, want %s", r.Body, tt.want)
			}
			pend, err := l.Pending(100)
			if err != nil {
				t.Fatal(err)
			}
			e := pend[len(pend)-1]
			// Through json.Marshal and back, as the forwarder and HQ will do.
			wire, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var back event.Event
			if err := json.Unmarshal(wire, &back); err != nil {
				t.Fatal(err)
			}
			if string(back.Body) != tt.want || back.ComputeHash() != e.Hash {
				t.Errorf("after a JSON round trip body = %s, hash ok = %t", back.Body, back.ComputeHash() == e.Hash)
			}
		})
	}
}

func TestPendingAck(t *testing.T) {
	l, _ := openTest(t, Options{})
	for i := 1; i <= 5; i++ {
		record(t, l, sale{id: fmt.Sprint("s", i), card: "C1", spend: money.Amount(i), points: 1})
	}
	seqs := func(evs []event.Event) []uint64 {
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	// Steps run in order on the same ledger.
	steps := []struct {
		name        string
		ack         uint64 // 0: no ack in this step
		ackErr      error
		pendingMax  int
		wantPending []uint64
		wantOutbox  uint64
		wantOldest  time.Time
	}{
		{name: "nothing acked", pendingMax: 2, wantPending: []uint64{1, 2}, wantOutbox: 5, wantOldest: testEpoch},
		{name: "ack 2", ack: 2, pendingMax: 10, wantPending: []uint64{3, 4, 5}, wantOutbox: 3, wantOldest: testEpoch.Add(2 * time.Second)},
		{name: "older ack ignored", ack: 1, pendingMax: 1, wantPending: []uint64{3}, wantOutbox: 3, wantOldest: testEpoch.Add(2 * time.Second)},
		{name: "same ack ignored", ack: 2, pendingMax: 1, wantPending: []uint64{3}, wantOutbox: 3, wantOldest: testEpoch.Add(2 * time.Second)},
		{name: "ack beyond the end", ack: 6, ackErr: ErrAckAhead, pendingMax: 10, wantPending: []uint64{3, 4, 5}, wantOutbox: 3, wantOldest: testEpoch.Add(2 * time.Second)},
		{name: "ack all", ack: 5, pendingMax: 10, wantPending: nil, wantOutbox: 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.ack > 0 {
				if err := l.Ack(s.ack); !errors.Is(err, s.ackErr) || (err == nil) != (s.ackErr == nil) {
					t.Fatalf("Ack(%d) = %v, want %v", s.ack, err, s.ackErr)
				}
			}
			pend, err := l.Pending(s.pendingMax)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(pend); fmt.Sprint(got) != fmt.Sprint(s.wantPending) {
				t.Errorf("Pending(%d) = %v, want %v", s.pendingMax, got, s.wantPending)
			}
			n, err := l.OutboxLen()
			if err != nil || n != s.wantOutbox {
				t.Errorf("OutboxLen = %d, %v; want %d", n, err, s.wantOutbox)
			}
			st := mustStats(t, l)
			if st.Outbox != s.wantOutbox || st.LastSeq != 5 || st.Acked != 5-s.wantOutbox || !st.OldestPending.Equal(s.wantOldest) {
				t.Errorf("Stats = %+v, want outbox %d oldest %s", st, s.wantOutbox, s.wantOldest)
			}
		})
	}
	if _, err := l.Pending(0); err == nil {
		t.Error("Pending(0) succeeded, want an error")
	}
	// New sales after a full ack are pending again.
	record(t, l, sale{id: "s6", card: "C1", spend: 6, points: 1})
	if pend, err := l.Pending(10); err != nil || len(pend) != 1 || pend[0].Seq != 6 {
		t.Errorf("Pending after a new sale = %v, %v", seqs(pend), err)
	}
}

func TestEvents(t *testing.T) {
	l, _ := openTest(t, Options{NoSync: true})
	n := eventsPage*2 + 7 // crosses read pages
	for i := 1; i <= n; i++ {
		record(t, l, sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%3), spend: 10, points: 1})
	}
	tests := []struct {
		from      uint64
		stopAt    uint64 // fn fails at this seq; 0: never
		wantFirst uint64
		wantCount int
	}{
		{from: 0, wantFirst: 1, wantCount: n},
		{from: 1, wantFirst: 1, wantCount: n},
		{from: 300, wantFirst: 300, wantCount: n - 299},
		{from: uint64(n), wantFirst: uint64(n), wantCount: 1},
		{from: uint64(n) + 1, wantCount: 0},
		{from: 10, stopAt: 270, wantFirst: 10, wantCount: 260},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("from %d stop %d", tt.from, tt.stopAt), func(t *testing.T) {
			var got []uint64
			err := l.Events(tt.from, func(e event.Event) error {
				if e.Seq == tt.stopAt {
					return errTest
				}
				got = append(got, e.Seq)
				return nil
			})
			if tt.stopAt > 0 {
				if !errors.Is(err, errTest) {
					t.Errorf("err = %v, want the callback's error", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantCount {
				t.Fatalf("visited %d events, want %d", len(got), tt.wantCount)
			}
			for i, seq := range got {
				if seq != tt.wantFirst+uint64(i) {
					t.Fatalf("event %d has seq %d, want %d", i, seq, tt.wantFirst+uint64(i))
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func TestReopen(t *testing.T) {
	l, path := openTest(t, Options{Terminal: "T7"})
	for i := 1; i <= 4; i++ {
		record(t, l, sale{id: fmt.Sprint("s", i), card: "C", spend: 100, points: 2})
	}
	if err := l.Ack(3); err != nil {
		t.Fatal(err)
	}
	putActive(t, l, 9, "rules")
	before := allEvents(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2 := openAt(t, path, Options{Terminal: "T7", Now: func() time.Time { return testEpoch.Add(time.Hour) }}, checkFull)
	if got := allEvents(t, l2); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("events after reopen differ:\n%v\n%v", got, before)
	}
	if st := mustStats(t, l2); st.LastSeq != 4 || st.Acked != 3 || st.Outbox != 1 {
		t.Errorf("Stats after reopen = %+v", st)
	}
	if a, ok, _ := l2.Account("C"); !ok || a.Sales != 4 || a.LifetimeSpend != 400 || a.Points != 8 {
		t.Errorf("account after reopen = %+v", a)
	}
	if v, raw, _, err := l2.Ruleset(); err != nil || v != 9 || string(raw) != "rules" {
		t.Errorf("ruleset after reopen = %d %q %v", v, raw, err)
	}
	// Replays still work and new sales continue the chain.
	if r := record(t, l2, sale{id: "s2", card: "C", spend: 100, points: 2}); !r.Replayed || r.Seq != 2 {
		t.Errorf("replay after reopen = %+v", r)
	}
	if r := record(t, l2, sale{id: "s5", card: "C", spend: 1, points: 0}); r.Seq != 5 || r.Replayed {
		t.Errorf("sale after reopen = %+v", r)
	}
	allEvents(t, l2)
}

func TestOpenTerminal(t *testing.T) {
	dir := t.TempDir()
	l := openAt(t, dir+"/t.db", Options{Terminal: "store-12.till_3"}, checkFull)
	l.Close()

	tests := []struct {
		name     string
		path     string
		terminal string
		err      error  // errors.Is target, or errAny
		text     string // substring of the error
		wantTerm string // when Open succeeds
	}{
		{"new file needs a terminal", dir + "/new.db", "", errAny, "no terminal id", ""},
		{"bad terminal id", dir + "/bad.db", "till 3", errAny, "is not a letter", ""},
		{"terminal id too long", dir + "/bad.db", strings.Repeat("t", 65), errAny, "1 to 64", ""},
		{"mismatch", dir + "/t.db", "store-12.till_4", ErrTerminalMismatch, `belongs to terminal "store-12.till_3"`, ""},
		{"same terminal", dir + "/t.db", "store-12.till_3", nil, "", "store-12.till_3"},
		{"empty means the stored one", dir + "/t.db", "", nil, "", "store-12.till_3"},
		{"directory missing", dir + "/no/such/dir/t.db", "T1", fs.ErrNotExist, notFoundText, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(tt.path, Options{Terminal: tt.terminal})
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer l.Close()
				if l.Terminal() != tt.wantTerm {
					t.Errorf("Terminal() = %q, want %q", l.Terminal(), tt.wantTerm)
				}
				return
			}
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			if tt.err != errAny && !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("err = %q, want it to name %s and say %q", err, tt.path, tt.text)
			}
		})
	}
	for _, name := range []string{"new.db", "bad.db"} {
		if _, err := os.Stat(dir + "/" + name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a refused Open left %s behind (stat: %v)", name, err)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	l, path := openTest(t, Options{})
	record(t, l, sale{id: "s1", spend: 1})
	start := time.Now()
	l2, err := Open(path, Options{Terminal: "T1", Timeout: 200 * time.Millisecond})
	if err == nil {
		l2.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another tilld") {
		t.Errorf("err = %v, want ErrLocked naming the file", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("gave up after %s, want about the 200ms timeout", d)
	}
	// The first one is unaffected.
	if r := record(t, l, sale{id: "s2", spend: 1}); r.Seq != 2 {
		t.Errorf("seq after the refused Open = %d", r.Seq)
	}
}

func TestClosed(t *testing.T) {
	l, _ := openTest(t, Options{})
	record(t, l, sale{id: "s1", card: "C", spend: 1})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{}
	_, calls["RecordSale"] = l.RecordSale(sale{id: "s2"}.request(), sale{id: "s2"}.price(nil))
	_, _, calls["Account"] = l.Account("C")
	_, calls["Pending"] = l.Pending(1)
	calls["Ack"] = l.Ack(1)
	_, calls["Stats"] = l.Stats()
	_, calls["OutboxLen"] = l.OutboxLen()
	calls["PutRuleset"] = l.PutRuleset(1, []byte("x"), nil)
	calls["ActivateRuleset"] = l.ActivateRuleset(1)
	_, calls["Rulesets"] = l.Rulesets()
	calls["PutSnapshot"] = l.PutSnapshot("C", pos.Account{}, 0, "")
	_, calls["Prune"] = l.Prune(time.Now())
	_, _, _, calls["Ruleset"] = l.Ruleset()
	_, calls["Verify"] = l.Verify()
	calls["Events"] = l.Events(1, func(event.Event) error { return nil })
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Sixteen tills' worth of goroutines record at once (with replays mixed in):
// seqs stay gap-free and every account is exact.
func TestRecordSaleConcurrent(t *testing.T) {
	l, _ := openTest(t, Options{})
	const workers, perWorker = 16, 25
	cards := []string{"", "C0", "C1", "C2", "C3", "C4"}
	type total struct {
		spend  money.Amount
		points int64
		sales  int64
	}
	var mu sync.Mutex
	want := map[string]*total{}
	seqs := make(chan uint64, workers*perWorker)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var prev sale
			for i := range perWorker {
				s := sale{
					id:     fmt.Sprintf("w%d-%d", w, i),
					card:   cards[rng.IntN(len(cards))],
					spend:  money.Amount(rng.IntN(100000)),
					points: int64(rng.IntN(200) - 50),
				}
				r, err := l.RecordSale(s.request(), s.price(nil))
				if err != nil || r.Replayed {
					t.Errorf("RecordSale %s: %+v %v", s.id, r, err)
					return
				}
				seqs <- r.Seq
				if s.card != "" {
					mu.Lock()
					if want[s.card] == nil {
						want[s.card] = &total{}
					}
					want[s.card].spend += s.spend
					want[s.card].points += s.points
					want[s.card].sales++
					mu.Unlock()
				}
				if i%5 == 4 { // a POS app retrying after a lost response
					if r, err := l.RecordSale(prev.request(), prev.price(nil)); err != nil || !r.Replayed {
						t.Errorf("replay %s: %+v %v", prev.id, r, err)
					}
				}
				prev = s
			}
		}()
	}
	wg.Wait()
	close(seqs)
	seen := map[uint64]bool{}
	for seq := range seqs {
		if seen[seq] {
			t.Errorf("seq %d handed out twice", seq)
		}
		seen[seq] = true
	}
	n := workers * perWorker
	for seq := uint64(1); seq <= uint64(n); seq++ {
		if !seen[seq] {
			t.Errorf("seq %d never handed out", seq)
		}
	}
	if evs := allEvents(t, l); len(evs) != n {
		t.Errorf("%d events, want %d", len(evs), n)
	}
	for card, w := range want {
		a, _, err := l.Account(card)
		if err != nil || a.LifetimeSpend != w.spend || a.Points != w.points || a.Sales != w.sales {
			t.Errorf("Account(%s) = %+v %v, want %+v", card, a, err, *w)
		}
	}
}

// A compaction renames a new file over the ledger while holding the old one's
// lock: an Open that got the old file must notice it no longer is the ledger.
func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	path, other := dir+"/ledger.db", dir+"/ledger.db.compact"
	for _, p := range []string{path, other} {
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := sameFile(path, f); err != nil {
		t.Errorf("sameFile on the file itself: %v", err)
	}
	if renameOverOpenFails {
		// Windows: nothing can be renamed over an open file, so the case
		// sameFile guards against cannot arise (Compact closes first).
		if err := durable.Rename(other, path); err == nil {
			t.Fatal("a rename over an open file succeeded")
		}
		return
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if err := sameFile(path, f); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("sameFile after a rename over it: %v, want an error", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := sameFile(path, f); err == nil {
		t.Error("sameFile after the path was removed: no error")
	}
}
