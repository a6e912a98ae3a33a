package pgstore_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/hqtest"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/sync/wire"
)

// BenchmarkFleet answers the console's fleet (GET /v1/admin/fleet) over
// 10 000 terminals' last contacts with their health (hqtest.PutFleet), 100
// of them revoked, on PostgreSQL: one request per op, judging, sorting and JSON included.
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
	hqtest.PutFleet(b, s, terminals, time.Now().UTC())
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
