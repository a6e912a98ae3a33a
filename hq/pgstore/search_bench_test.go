package pgstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/sync/wire"
)

// holderStore opens a store on a new database with n card holders in it
// (fillHolders), closed when tb ends.
func holderStore(tb testing.TB, n int) *Store {
	tb.Helper()
	s := emptyStore(tb)
	fillHolders(tb, s, n)
	return s
}

// emptyStore opens a store on a new database, closed when tb ends.
func emptyStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(context.Background(), pgtest.URL(tb), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// fillHolders puts n card holders with distinct phones straight into the
// holders table, as imports leave them, and analyzes it.
func fillHolders(tb testing.TB, s *Store, n int) {
	tb.Helper()
	ctx := context.Background()
	_, err := s.pool.Exec(ctx, `INSERT INTO holders (card, holder, updated_unix_ns)
		SELECT c, jsonb_build_object('card', c, 'name', 'N' || i, 'phone',
			'+7 9' || substr(p, 1, 2) || ' ' || substr(p, 3, 3) || '-' || substr(p, 6, 2) || '-' || substr(p, 8, 2), 'consent', false), 0
		FROM generate_series(1, $1) AS i,
			LATERAL (SELECT 'C' || lpad(i::text, 9, '0') AS c, lpad(((i::bigint * 7919) % 1000000000)::text, 9, '0') AS p) x`, n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE holders"); err != nil {
		tb.Fatal(err)
	}
}

// The phone search reads the index of migration 0012, not the table.
func TestHoldersByPhoneUsesTheIndex(t *testing.T) {
	ctx := context.Background()
	s := holderStore(t, 50_000)
	rows, _ := s.pool.Query(ctx, `EXPLAIN SELECT holder FROM holders
		WHERE (reverse(regexp_replace(holder ->> 'phone', '[^0-9]', '', 'g')) COLLATE "C") >= $1
		  AND (reverse(regexp_replace(holder ->> 'phone', '[^0-9]', '', 'g')) COLLATE "C") < $2
		ORDER BY card LIMIT $3`, "7654321", "7654321:", 51)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "holders_phone_reversed") {
		t.Errorf("the phone search's plan does not use holders_phone_reversed: %s", plan)
	}
	var phone string
	if err := s.pool.QueryRow(ctx, "SELECT holder ->> 'phone' FROM holders WHERE card = 'C000012345'").Scan(&phone); err != nil {
		t.Fatal(err)
	}
	d := hq.PhoneDigits(phone)
	if hs, err := s.HoldersByPhone(ctx, d[len(d)-7:], 10); err != nil || len(hs) == 0 || hs[0].Card != "C000012345" && (len(hs) < 2 || hs[1].Card != "C000012345") {
		t.Errorf("HoldersByPhone(%s) = %v %v, want C000012345 among them", d[len(d)-7:], hs, err)
	}
}

// BenchmarkHoldersByPhone finds holders by the last 7 digits of a phone (one
// holder: number 123 457's, +7 9977655983) and by the last 4 (the first 51 by
// card of about a hundred) among 1 000 000 holders.
//
//	go test -run '^$' -bench HoldersByPhone ./hq/pgstore
func BenchmarkHoldersByPhone(b *testing.B) {
	ctx := context.Background()
	s := holderStore(b, 1_000_000)
	for _, digits := range []string{"7655983", "5983"} {
		b.Run(digits, func(b *testing.B) {
			n := 0
			for b.Loop() {
				hs, err := s.HoldersByPhone(ctx, digits, 51)
				if err != nil {
					b.Fatal(err)
				}
				n = len(hs)
			}
			b.ReportMetric(float64(n), "found")
		})
	}
}

// BenchmarkConsoleCustomers answers what the console's customer page asks,
// through tillhq's admin handler (HTTP routing, the admin log entry each
// search appends, JSON) among 1 000 000 holders: a search by the last 7
// digits of a phone, and the card found.
//
//	go test -run '^$' -bench ConsoleCustomers -benchtime 200x ./hq/pgstore
func BenchmarkConsoleCustomers(b *testing.B) {
	s := holderStore(b, 1_000_000)
	h := hq.NewServer(hq.Options{Store: s}).AdminHandler()
	for _, c := range []struct{ name, path, want string }{
		{"search", wire.PathAdminCustomers + "?phone=7655983", `"card":"C000123457"`},
		{"card", wire.PathAdminCustomers + "/C000123457", `"C000123457"`},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, c.path, nil))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), c.want) {
					b.Fatalf("GET %s: %d %s", c.path, w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkChangesQuietTerminal is the change-feed poll of a till that has
// seen 50 000 cards, all changed long ago, while 500 000 other cards changed
// since, as the long poll makes it: each poll from the position the last one
// answered.
//
//	go test -run '^$' -bench ChangesQuietTerminal ./hq/pgstore
func BenchmarkChangesQuietTerminal(b *testing.B) {
	ctx := context.Background()
	s := emptyStore(b)
	fill(b, s,
		`INSERT INTO cards (card, change) SELECT 'C' || lpad(i::text, 9, '0'), i FROM generate_series(1, 550000) AS i`,
		`UPDATE change_feed SET head = 550000`,
		`INSERT INTO seen (terminal, card) SELECT 'S1-T1', 'C' || lpad(i::text, 9, '0') FROM generate_series(1, 50000) AS i`,
		`ANALYZE cards`, `ANALYZE seen`,
	)
	after := int64(50000) // the till has read its own cards' changes
	for b.Loop() {
		ch, err := s.Changes(ctx, "S1-T1", "", after, 100)
		if err != nil || len(ch.Accounts) != 0 {
			b.Fatalf("Changes = %d accounts, %v", len(ch.Accounts), err)
		}
		after = ch.Next
	}
	b.ReportMetric(float64(after), "next")
}

// BenchmarkChangesAfterRestart is what a till's start costs HQ's database:
// a till that has seen 10 000 cards (every 50th of 500 000), and had read
// the feed up to its head before it stopped, reads the change feed as its
// forwarder does, in pages of 500 until a page comes back short. from=start is a till that keeps its position in
// memory only (before stop 31): every account it has seen comes down again;
// from=kept asks from the position and feed identity its ledger kept.
//
//	go test -run '^$' -bench ChangesAfterRestart -benchtime 20x ./hq/pgstore
func BenchmarkChangesAfterRestart(b *testing.B) {
	ctx := context.Background()
	s := emptyStore(b)
	fill(b, s,
		`INSERT INTO cards (card, change) SELECT 'C' || lpad(i::text, 9, '0'), i FROM generate_series(1, 500000) AS i`,
		`UPDATE change_feed SET head = 500000`,
		`INSERT INTO seen (terminal, card) SELECT 'S1-T1', 'C' || lpad(i::text, 9, '0') FROM generate_series(50, 500000, 50) AS i`,
		`ANALYZE cards`, `ANALYZE seen`,
	)
	head, err := s.Changes(ctx, "S1-T1", "", 500000, 500)
	if err != nil || head.Feed == "" {
		b.Fatalf("the feed's identity: %q %v", head.Feed, err)
	}
	for _, c := range []struct {
		name  string
		feed  string
		after int64
		want  int
	}{{"from=start", "", 0, 10000}, {"from=kept", head.Feed, 500000, 0}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				n, after := 0, c.after
				for {
					ch, err := s.Changes(ctx, "S1-T1", c.feed, after, 500)
					if err != nil {
						b.Fatal(err)
					}
					n += len(ch.Accounts)
					after = ch.Next
					if len(ch.Accounts) < 500 {
						break
					}
				}
				if n != c.want {
					b.Fatalf("%d accounts; want %d", n, c.want)
				}
			}
		})
	}
}

// BenchmarkWatching is the long poll's sweep after an upload: which of 5 000
// parked terminals have seen one of the 30 cards changed since the last
// sweep, among 2 000 000 cards each seen by three or five terminals
// (8 000 000 rows of seen).
//
//	go test -run '^$' -bench Watching ./hq/pgstore
func BenchmarkWatching(b *testing.B) {
	ctx := context.Background()
	s := emptyStore(b)
	const cards, terminals = 2_000_000, 5_000
	fill(b, s,
		`INSERT INTO cards (card, change) SELECT 'C' || lpad(i::text, 9, '0'), i FROM generate_series(1, 2000000) AS i`,
		`UPDATE change_feed SET head = 2000000`,
		// Card i is seen by the terminals i, i+1000 and i+2000 (mod 5 000) and,
		// for every other card, i+3000 and i+4000.
		`INSERT INTO seen (terminal, card) SELECT 'T' || lpad(((i + k * 1000) % 5000)::text, 4, '0'), 'C' || lpad(i::text, 9, '0')
			FROM generate_series(1, 2000000) AS i, generate_series(0, 4) AS k WHERE k < 3 OR i % 2 = 0`,
		`ANALYZE cards`, `ANALYZE seen`,
	)
	parked := make([]string, terminals)
	for i := range parked {
		parked[i] = fmt.Sprintf("T%04d", i)
	}
	for b.Loop() {
		w, last, err := s.Watching(ctx, cards-30, parked)
		if err != nil || last != cards || len(w) == 0 {
			b.Fatalf("Watching = %d terminals, %d, %v", len(w), last, err)
		}
	}
}

// fill runs the statements that fill a benchmark's database, in order.
func fill(b *testing.B, s *Store, statements ...string) {
	b.Helper()
	for _, q := range statements {
		if _, err := s.pool.Exec(context.Background(), q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
}
