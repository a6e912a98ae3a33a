package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/sync/wire"
)

// BenchmarkFleet answers the console's fleet (GET /v1/admin/fleet) over
// 10 000 terminals' last contacts with their health (stores, readers, one
// in 17 with a reader down, clocks, certificates), 100 of them revoked, on
// PostgreSQL: one request per op, judging, sorting and JSON included.
//
//	go test -run '^$' -bench Fleet -benchtime 20x ./hq/pgstore
func BenchmarkFleet(b *testing.B) {
	const terminals = 10_000
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pgtest.URL(b), pgstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	cs := make([]hq.Contact, terminals)
	for i := range cs {
		c := hq.Contact{Terminal: fmt.Sprintf("S%03d-T%02d", i/10, i%10), Store: fmt.Sprintf("S%03d", i/10), At: at.Add(time.Duration(i) * time.Second),
			Remote: "10.0.0.1:4000", Ruleset: 7, Cert: at.AddDate(0, 0, 10+i%400),
			Health: wire.Health{Tilld: "1.0.0", Outbox: uint64(i % 13), Oldest: at, Readers: 2, ReadersUp: 2 - i%17/16,
				Clock: at.Add(time.Duration(i)*time.Second + time.Duration(i%90)*time.Second)}}
		if c.Health.ReadersUp < 2 {
			c.Health.ReaderError = "desk: open /dev/ttyUSB0: no such file or directory"
		}
		cs[i] = c
	}
	if err := s.PutContacts(ctx, cs); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < terminals; i += 100 {
		if err := s.RevokeTerminal(ctx, hq.Revocation{Terminal: cs[i].Terminal, At: at, By: "anna"}); err != nil {
			b.Fatal(err)
		}
	}
	h := hq.NewServer(hq.Options{Store: s}).AdminHandler()
	b.ResetTimer()
	for _, q := range []string{"", "?limit=200"} { // every terminal; the console's first page
		b.Run("query="+q, func(b *testing.B) {
			var w *httptest.ResponseRecorder
			for b.Loop() {
				w = httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, wire.PathAdminFleet+q, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("fleet%s: %d", q, w.Code)
				}
			}
			var f wire.Fleet
			if err := json.Unmarshal(w.Body.Bytes(), &f); err != nil || f.Total != terminals || f.Matching != terminals {
				b.Fatalf("fleet%s: %v, %d terminals, %d matching", q, err, f.Total, f.Matching)
			}
			b.ReportMetric(float64(w.Body.Len()), "bytes/answer")
		})
	}
}
