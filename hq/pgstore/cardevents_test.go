package pgstore_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/internal/pgtest"
)

// Migration 0012 fills card_events from the events stored before it: its
// statement, run on a database whose index rows are gone, gives back what
// Append wrote.
func TestCardEventsBackfill(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s := open(t, url)
	evs := storetest.Sales("S1-T1", 1, "", storetest.SaleSpec{Card: "2000000000015", Total: 100_00}, storetest.SaleSpec{Total: 5_00},
		storetest.SaleSpec{Card: "2000000000022", Total: 200_00})
	evs = append(evs, storetest.Refunds("S1-T1", 4, evs[2].Hash, storetest.RefundSpec{Card: "2000000000015", Sale: 1, Spend: 100_00})...)
	if _, err := s.Append(ctx, "S1-T1", evs); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	rows := func() string {
		var got string
		err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(card || ' ' || at_unix_ns || ' ' || terminal || ' ' || epoch || ' ' || seq, ', '
			ORDER BY card, at_unix_ns, seq), '') FROM card_events`).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	written := rows()
	if strings.Count(written, ",") != 2 {
		t.Fatalf("Append wrote %q: want 3 rows, the sale without a card left out", written)
	}
	raw, err := os.ReadFile("migrations/0012_card_search.sql")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(raw), "INSERT INTO card_events")
	end := strings.Index(string(raw)[start:], ";")
	if start < 0 || end < 0 {
		t.Fatal("migration 0012 has no INSERT INTO card_events statement")
	}
	if _, err := conn.Exec(ctx, "DELETE FROM card_events"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, string(raw)[start:start+end]); err != nil {
		t.Fatalf("the backfill: %v", err)
	}
	if got := rows(); got != written {
		t.Errorf("the backfill wrote %q, Append %q", got, written)
	}
}
