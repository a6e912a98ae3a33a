package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/pos"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a Store on url and closes it when t ends.
func open(t testing.TB, url string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, pgstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestConformance(t *testing.T) { storetest.Run(t, openStore) }

// openStore opens a store on a new database for a conformance suite, and
// checks the database once the suite has closed it.
func openStore(t *testing.T) hq.Store {
	url := pgtest.URL(t)
	s, err := pgstore.Open(context.Background(), url, pgstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { checkDatabase(t, url) }) // runs after the suite closes s
	return s
}

// checkDatabase reopens the database and checks what every Append must leave:
// each terminal's events 1..acked are all there, chain, and add up to its report.
func checkDatabase(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	s, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		t.Errorf("reopen: %v", err)
		return
	}
	defer s.Close()
	report, err := s.SalesReport(ctx)
	if err != nil {
		t.Errorf("check: %v", err)
		return
	}
	for _, r := range report {
		var sales, total int64
		for _, c := range r.Chains {
			_, evs, err := s.ChainEvents(ctx, r.Terminal, c.Epoch.ID, 0, 0)
			if err != nil {
				t.Errorf("check: %v", err)
				continue
			}
			var own, ownTotal int64
			for i := range evs {
				prevSeq, prevHash := evs[max(i, 1)-1].Seq, evs[max(i, 1)-1].Hash
				if evs[i].Seq == c.Epoch.BaseSeq+1 && !c.BaseVerified {
					prevSeq, prevHash = c.Epoch.BaseSeq, c.Epoch.BaseHash // HQ never held the base
				}
				if i > 0 || prevSeq == c.Epoch.BaseSeq {
					if err := event.Verify(prevSeq, prevHash, &evs[i]); err != nil {
						t.Errorf("check %s/%q: stored chain: %v", r.Terminal, c.Epoch.ID, err)
						break
					}
				}
				var sale struct{ Total int64 }
				if evs[i].Seq > c.Epoch.BaseSeq && evs[i].Type == event.TypeSale && json.Unmarshal(evs[i].Body, &sale) == nil {
					own++
					ownTotal += sale.Total
				}
			}
			if n := len(evs); n > 0 && evs[n-1].Seq != c.Acked {
				t.Errorf("check %s/%q: events stored up to %d, acked %d", r.Terminal, c.Epoch.ID, evs[n-1].Seq, c.Acked)
			}
			if own != c.Count || ownTotal != c.Total {
				t.Errorf("check %s/%q: events hold %d sales totalling %d, the chain says %d totalling %d", r.Terminal, c.Epoch.ID, own, ownTotal, c.Count, c.Total)
			}
			sales += own
			total += ownTotal
		}
		if sales != r.Count || total != r.Total {
			t.Errorf("check %s: chains hold %d sales totalling %d, report says %d totalling %d", r.Terminal, sales, total, r.Count, r.Total)
		}
	}
}

func TestMigratingTwiceIsANoop(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	type applied struct {
		Version   int
		Name      string
		AppliedAt time.Time
	}
	migrations := func() []applied {
		rows, _ := connect(t, url).Query(ctx, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
		out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
		if err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		return out
	}

	s := open(t, url)
	evs := storetest.Chain("T1", 1, 3, "", 700)
	if _, err := s.Append(ctx, "T1", evs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	first := migrations()
	if len(first) == 0 || first[0].Version != 1 {
		t.Fatalf("schema_migrations after first open = %+v, want versions from 1", first)
	}

	s = open(t, url)
	second := migrations()
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("schema_migrations changed by a second open:\n%+v\n%+v", first, second)
	}
	if acked, err := s.Acked(ctx, "T1"); err != nil || acked != 3 {
		t.Fatalf("acked after reopen = %d, %v; want 3", acked, err)
	}
}

func TestReplicasMigrateTogether(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 4
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for range replicas {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), url, pgstore.Options{})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("open beside other replicas: %v", err)
	}
}

// TestReplicasAppendExactlyOnce runs two Stores over one database, like two tillhq
// replicas behind a load balancer, with several uploaders of the same terminal
// retrying overlapping batches on both.
func TestReplicasAppendExactlyOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	replicas := []*pgstore.Store{open(t, url), open(t, url)}
	const n = 400
	evs := storetest.Chain("R1", 1, n, "", 3)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for u := range 8 {
		s := replicas[u%2]
		rng := rand.New(rand.NewPCG(uint64(u), 1))
		wg.Go(func() {
			acked := uint64(0)
			for acked < n {
				// Resend from somewhat before what this uploader last saw acked,
				// as a terminal does after a lost answer.
				from := int(acked) - rng.IntN(30)
				from = max(from, 0)
				to := min(from+1+rng.IntN(40), n)
				a, err := s.Append(ctx, "R1", evs[from:to])
				if err != nil {
					errs <- err
					return
				}
				// HQ acks what the upload carried and it holds, never more.
				if a != uint64(to) {
					errs <- fmt.Errorf("upload %d..%d acked %d, want %d", from+1, to, a, to)
					return
				}
				acked = max(acked, a)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("uploader: %v", err)
	}

	report, err := replicas[0].SalesReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 1 || report[0].Count != n || report[0].MaxSeq != n || report[0].Total != 3*n {
		t.Fatalf("report = %+v; want one line: count %d max %d total %d", report, n, n, 3*n)
	}
	var rows int
	if err := connect(t, url).QueryRow(ctx, "SELECT count(*) FROM events").Scan(&rows); err != nil || rows != n {
		t.Fatalf("events table holds %d rows (%v), want %d", rows, err, n)
	}
	checkDatabase(t, url)
}

// TestTerminalsDoNotWaitForEachOther holds one terminal's row lock, as a slow
// upload would, and checks that only that terminal's uploads wait.
func TestTerminalsDoNotWaitForEachOther(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s := open(t, url)
	t1 := storetest.Chain("T1", 1, 2, "", 100)
	t2 := storetest.Chain("T2", 1, 2, "", 100)
	for _, evs := range [][]event.Event{t1[:1], t2[:1]} {
		if _, err := s.Append(ctx, evs[0].Terminal, evs); err != nil {
			t.Fatal(err)
		}
	}

	holder, err := connect(t, url).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, "SELECT 1 FROM terminals WHERE terminal = 'T1' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	blocked := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "T1", t1)
		blocked <- err
	}()
	for _, c := range []struct {
		name string
		evs  []event.Event
	}{
		{"known terminal", t2},
		{"new terminal", storetest.Chain("T3", 1, 2, "", 100)},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if acked, err := s.Append(ctx, c.evs[0].Terminal, c.evs); err != nil || acked != 2 {
				t.Fatalf("append beside a locked terminal = %d, %v; want 2, nil", acked, err)
			}
		})
	}
	select {
	case err := <-blocked:
		t.Fatalf("append of the locked terminal did not wait (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if err != nil {
			t.Fatalf("append after the lock was released: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("append still waiting 10 s after the lock was released")
	}
	if acked, err := s.Acked(ctx, "T1"); err != nil || acked != 2 {
		t.Fatalf("T1 acked = %d, %v; want 2", acked, err)
	}
}

// TestEventsAreKeptByteForByte uploads bodies no encoder would produce and times
// with nanoseconds in another zone: the hash covers both, so they must come back
// exactly.
func TestEventsAreKeptByteForByte(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.URL(t))
	msk := time.FixedZone("MSK", 3*3600)
	bodies := []string{
		`{"total":1200,  "id":"s1" ,"currency":"RUB","z":[1, 2]}`,
		"{\n  \"id\": \"s2\",\n  \"total\": 5,\n  \"note\": \"\\u0417\\u0434\\u0440\\u0430\\u0432\\u0441\\u0442\\u0432\\u0443\\u0439\\u0442\\u0435\"\n}",
		`{"id":"s3","total":7,"card":"Василий"}`,
	}
	var evs []event.Event
	prev := ""
	for i, body := range bodies {
		e := event.Event{
			Terminal: "T1", Seq: uint64(i + 1), ID: fmt.Sprintf("e%d", i+1), Type: event.TypeSale,
			At:             time.Date(2026, 3, 8, 9, 30, 0, 123456789+i, msk),
			RulesetVersion: 4, RulesetHash: "abc", Prev: prev, Body: json.RawMessage(body),
		}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		evs = append(evs, e)
	}
	if acked, err := s.Append(ctx, "T1", evs); err != nil || acked != 3 {
		t.Fatalf("append = %d, %v; want 3, nil", acked, err)
	}
	got, err := s.Events(ctx, "T1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("got %d events, want %d", len(got), len(evs))
	}
	for i := range evs {
		w, g := evs[i], got[i]
		if string(g.Body) != string(w.Body) || !g.At.Equal(w.At) || g.ID != w.ID || g.Hash != w.Hash ||
			g.RulesetVersion != w.RulesetVersion || g.RulesetHash != w.RulesetHash || g.Prev != w.Prev {
			t.Errorf("event %d came back as\n%+v\nwant\n%+v", i+1, g, w)
		}
		if g.ComputeHash() != w.Hash {
			t.Errorf("event %d: hash of the stored event does not match", i+1)
		}
	}
	if tail, err := s.Events(ctx, "T1", 1, 1); err != nil || len(tail) != 1 || tail[0].Seq != 2 {
		t.Fatalf("Events(after 1, limit 1) = %v, %v; want event 2", tail, err)
	}
}

func TestReplicasPublishEachVersionOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	replicas := []*pgstore.Store{open(t, url), open(t, url)}
	for v := int64(1); v <= 10; v++ {
		errs := make([]error, len(replicas))
		var wg sync.WaitGroup
		for i, s := range replicas {
			wg.Go(func() {
				errs[i] = s.PublishRuleset(ctx, hq.Ruleset{Version: v, Hash: fmt.Sprint("h", i), Raw: []byte(fmt.Sprintf("version = %d\n", v))})
			})
		}
		wg.Wait()
		ok, old := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, hq.ErrOldRuleset):
				old++
			default:
				t.Fatalf("publish v%d: %v", v, err)
			}
		}
		if ok != 1 || old != 1 {
			t.Fatalf("publish v%d from two replicas: %d succeeded, %d refused as old; want 1 and 1", v, ok, old)
		}
		if cur, err := replicas[1].CurrentRuleset(ctx); err != nil || cur.Version != v {
			t.Fatalf("current = v%d, %v; want v%d", cur.Version, err, v)
		}
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{
		"postgres://tillhq:s3cret-pw@127.0.0.1:1/hq",
		"host=127.0.0.1 port=1 user=tillhq password=s3cret-pw dbname=hq",
		"postgres://tillhq:s3cret-pw@127.0.0.1:notaport/hq",
	} {
		s, err := pgstore.Open(ctx, url, pgstore.Options{})
		if err == nil {
			s.Close()
			t.Fatalf("open %s: no error", url)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("open error shows the password: %v", err)
		}
	}
}

// TestUploadsThatStoreNothingLeaveNoTrace: an upload that adds no event leaves no
// report line, as in the bbolt store, and a failed one commits nothing.
func TestUploadsThatStoreNothingLeaveNoTrace(t *testing.T) {
	s := open(t, pgtest.URL(t))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name    string
		ctx     context.Context
		evs     []event.Event
		wantErr func(error) bool
	}{
		{"empty batch", context.Background(), nil, func(err error) bool { return err == nil }},
		{"only a gap", context.Background(), storetest.Chain("T9", 2, 3, "x", 100)[1:], func(err error) bool { return err == nil }},
		{"another terminal's events", context.Background(), storetest.Chain("T8", 1, 2, "", 100), hq.IsBrokenChain},
		{"cancelled", cancelled, storetest.Chain("T9", 1, 2, "", 100), func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			acked, err := s.Append(c.ctx, "T9", c.evs)
			if acked != 0 || !c.wantErr(err) {
				t.Fatalf("append = %d, %v", acked, err)
			}
			report, err := s.SalesReport(context.Background())
			if err != nil || len(report) != 0 {
				t.Fatalf("report = %+v, %v; want no line", report, err)
			}
		})
	}
}

func TestReplicasSpendATokenOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	replicas := []*pgstore.Store{open(t, url), open(t, url)}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tok := hq.Token{Hash: hq.TokenHash("secret"), Terminal: "T1", Store: "S1", Expires: now.Add(time.Hour)}
	if err := replicas[0].AddToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := replicas[1].AddToken(ctx, tok); err == nil {
		t.Fatal("a second token with the same hash was accepted")
	}
	const uses = 10
	errs := make([]error, uses)
	var wg sync.WaitGroup
	for i := range uses {
		wg.Go(func() {
			got, err := replicas[i%2].UseToken(ctx, tok.Hash, now)
			if err == nil && (got.Terminal != "T1" || got.Store != "S1" || !got.UsedAt.Equal(now)) {
				err = fmt.Errorf("spent token came back as %+v", got)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	spent := 0
	for _, err := range errs {
		switch {
		case err == nil:
			spent++
		case !errors.Is(err, hq.ErrTokenUsed):
			t.Errorf("use: %v", err)
		}
	}
	if spent != 1 {
		t.Fatalf("token spent %d times by %d concurrent uses on two replicas, want once", spent, uses)
	}
}

// TestChangeFeedSkipsNothing runs two replicas over one database: terminals
// upload overlapping batches of sales to a few cards in random order while
// holders are stored and forgotten, and a terminal that has seen every card
// follows the change feed in small pages. When all is done, the last change it
// read of each card must be the card's current one: a position that became
// visible after the follower had moved past it would have been skipped.
// Deadlocks between the writers would fail the writes.
func TestChangeFeedSkipsNothing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	replicas := []*pgstore.Store{open(t, url), open(t, url)}
	cards := make([]string, 40)
	for i := range cards {
		cards[i] = fmt.Sprintf("20000000001%02d", i)
		if _, err := replicas[0].Account(ctx, "F1", cards[i]); err != nil {
			t.Fatal(err)
		}
	}

	const terminals, batches = 6, 25
	var mu sync.Mutex
	sales := map[string]int64{} // per card
	var writers sync.WaitGroup
	for i := range terminals {
		rng := rand.New(rand.NewPCG(uint64(i), 2))
		writers.Go(func() {
			term := fmt.Sprintf("S%d-T1", i)
			seq, prev := uint64(1), ""
			for b := range batches {
				specs := make([]storetest.SaleSpec, 1+rng.IntN(4))
				for j := range specs {
					specs[j] = storetest.SaleSpec{Card: cards[rng.IntN(len(cards))], Total: 1_00, Earned: 1}
				}
				evs := storetest.Sales(term, seq, prev, specs...)
				if _, err := replicas[b%2].Append(ctx, term, evs); err != nil {
					t.Errorf("append %s: %v", term, err)
					return
				}
				mu.Lock()
				for _, sp := range specs {
					sales[sp.Card]++
				}
				mu.Unlock()
				seq, prev = seq+uint64(len(evs)), evs[len(evs)-1].Hash
			}
		})
	}
	writers.Go(func() {
		rng := rand.New(rand.NewPCG(99, 2))
		for n := range 40 {
			card := cards[rng.IntN(len(cards))]
			at := storetest.Epoch.Add(time.Duration(n) * time.Minute)
			var err error
			if n%3 == 2 {
				_, err = replicas[n%2].ForgetHolder(ctx, card, at)
			} else {
				h := pos.CardHolder{Card: card, Name: "Анна", Phone: "+7 900 000-00-00", Updated: at.Add(time.Second)}
				_, err = replicas[n%2].PutHolders(ctx, "S9-T1", []pos.CardHolder{h, {Card: cards[0], Name: "Пётр", Phone: "+7 900 111-11-11", Updated: at}})
			}
			if err != nil {
				t.Errorf("holders: %v", err)
				return
			}
		}
	})
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()

	last := map[string]int64{}
	after := int64(0)
	follow := func() int {
		ch, err := replicas[1].Changes(ctx, "F1", "", after, 3)
		if err != nil {
			t.Fatalf("changes: %v", err)
		}
		for _, a := range ch.Accounts {
			if a.Change <= after {
				t.Fatalf("change %d of %s after %d", a.Change, a.Card, after)
			}
			last[a.Card] = a.Change
		}
		after = ch.Next
		return len(ch.Accounts)
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			follow()
		}
	}
	for follow() > 0 {
	}
	for _, card := range cards {
		a, err := replicas[0].Account(ctx, "", card)
		if err != nil {
			t.Fatal(err)
		}
		if a.Change != last[card] {
			t.Errorf("%s: the feed last showed change %d, the account is at %d", card, last[card], a.Change)
		}
		if a.Account.Sales != sales[card] || a.Account.Points != sales[card] {
			t.Errorf("%s: %d sales, %d points; want %d", card, a.Account.Sales, a.Account.Points, sales[card])
		}
	}
}
