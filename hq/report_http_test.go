package hq_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/sync/wire"
)

// reportServer is an HQ on a bbolt store in a temporary directory whose
// clock reads now, with sales uploaded by terminal T1: one a store, stores
// S000 to S(stores-1), each a card's, daysAgo days before now.
func reportServer(t *testing.T, now time.Time, stores, daysAgo int) (*hq.Server, *boltstore.Store) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	specs := make([]storetest.LoyaltySpec, stores)
	for i := range specs {
		specs[i] = storetest.LoyaltySpec{Card: fmt.Sprintf("2%012d", i), DaysAgo: daysAgo, Store: fmt.Sprintf("S%03d", i), Total: 100_00, Earned: 1}
	}
	if len(specs) > 0 {
		if _, err := st.Append(context.Background(), "T1", storetest.LoyaltySales("T1", 1, "", now, specs...)); err != nil {
			t.Fatal(err)
		}
	}
	return hq.NewServer(hq.Options{Store: st, Now: func() time.Time { return now }}), st
}

// reportGet answers GET target on srv's admin API.
func reportGet(srv *hq.Server, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// TestKPIReportMemory: a terminal's sales name 100 stores and an analyst
// asks for the daily KPIs since 1999 (9 831 periods): the request allocates
// a few tens of MiB (runtime.MemStats' TotalAlloc, every allocation, so at
// least the request's peak), not the 420 MiB it took when every store had
// a row in every period.
func TestKPIReportMemory(t *testing.T) {
	now := time.Date(2026, 4, 30, 9, 0, 0, 0, time.UTC)
	srv, _ := reportServer(t, now, 100, 15)
	if rec := reportGet(srv, hq.PathReportKPI); rec.Code != http.StatusOK { // the book is read
		t.Fatalf("GET %s: %d %s", hq.PathReportKPI, rec.Code, rec.Body)
	}
	target := hq.PathReportKPI + "?period=day&from=1999-06-01"
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rec := reportGet(srv, target)
	runtime.ReadMemStats(&after)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("GET %s, 100 stores: %.1f MiB allocated, %d bytes answered", target, alloc, rec.Body.Len())
	if alloc > 96 {
		t.Errorf("GET %s, 100 stores: %.1f MiB allocated; want at most 96 MiB", target, alloc)
	}
}

// TestReportParameters: the reports refuse a bad parameter with a 400 that
// names it, a range backwards the same way in each, and read a range given
// only its end as the year up to it.
func TestReportParameters(t *testing.T) {
	now := time.Date(2026, 4, 30, 9, 0, 0, 0, time.UTC)
	srv, _ := reportServer(t, now, 3, 15)
	for _, c := range []struct {
		target string
		code   int
		want   string // in the body
	}{
		{hq.PathReportNPS + "?from=2026-05-01&to=2026-01-01", 400, `to 2026-01-01 is before from 2026-05-01`},
		{hq.PathReportKPI + "?from=2026-05-01&to=2026-01-01", 400, `to 2026-01-01 is before from 2026-05-01`},
		{hq.PathReportDiscounts + "?from=2026-05-01&to=2026-01-01", 400, `to 2026-01-01 is before from 2026-05-01`},
		{hq.PathReportNPS + "?from=May", 400, `from \"May\": want a date YYYY-MM-DD`},
		{hq.PathReportKPI + "?to=2026-13-01", 400, `to \"2026-13-01\": want a date YYYY-MM-DD`},
		{hq.PathReportDiscounts + "?to=yesterday", 400, `to \"yesterday\": want a date YYYY-MM-DD`},
		{hq.PathReportNPS + "?from=2026-01-01&to=2026-01-01", 200, `"groups":[]`},
		{hq.PathReportNPS + "?from=2026-04-01", 200, `"groups":[]`},
		{hq.PathReportKPI + "?to=2024-01-31", 200, `"from":"2023-02-01","to":"2024-01-31"`},
		{hq.PathReportKPI + "?from=2026-04-01&period=day", 200, `"from":"2026-04-01","to":"2026-04-30"`},
		{hq.PathReportKPI, 200, `"from":"2025-05-01","to":"2026-04-30"`},
		{hq.PathReportDiscounts + "?to=2024-01-31", 200, `"from":"2023-02-01","to":"2024-01-31"`},
		{hq.PathReportDiscounts, 200, `"from":"2025-05-01","to":"2026-04-30"`},
		{hq.PathReportOverdue + "?format=xml", 400, `format \"xml\": want json or csv`},
		{hq.PathReportOverdue + "?format=json", 200, `"rows":`},
		{hq.PathReportOverdue + "?format=csv", 200, `card`},
		{hq.PathReportCadence + "?limit=ten", 400, `limit \"ten\"`},
	} {
		rec := reportGet(srv, c.target)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("GET %s: %d %s; want %d with %s", c.target, rec.Code, rec.Body, c.code, c.want)
		}
	}
}

// hangUpStore is a store whose first ChainEvents call cancels the scan's
// context (the client hangs up), counting the calls; bbolt itself does not
// look at the context.
type hangUpStore struct {
	hq.Store
	cancel context.CancelFunc
	pages  int
}

func (s *hangUpStore) ChainEvents(ctx context.Context, terminal, epoch string, after uint64, limit int) (wire.Chain, []event.Event, error) {
	if s.pages++; s.pages == 1 {
		s.cancel()
	}
	return s.Store.ChainEvents(ctx, terminal, epoch, after, limit)
}

// TestReportScansStopWhenClientGone: a client that hangs up while the
// discounts report or the loyalty book reads 2 500 sales (three pages of
// events) stops the scan after the page being read; the book keeps what it
// read and reads the rest next time.
func TestReportScansStopWhenClientGone(t *testing.T) {
	now := time.Date(2026, 4, 30, 9, 0, 0, 0, time.UTC)
	_, st := reportServer(t, now, 2500, 15)
	t.Run("discounts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hs := &hangUpStore{Store: st, cancel: cancel}
		q := hq.SimQuery{From: now.AddDate(-1, 0, 0), To: now, Store: ""}
		if _, err := hq.DiscountsByRule(ctx, hs, q, "month"); !errors.Is(err, context.Canceled) || hs.pages != 1 {
			t.Errorf("discounts with the client gone: %v after %d pages; want context.Canceled after 1", err, hs.pages)
		}
		if rep, err := hq.DiscountsByRule(context.Background(), st, q, "month"); err != nil || len(rep.Rows) != 0 {
			t.Errorf("discounts: %d rows, %v; want none (no rule applied), no error", len(rep.Rows), err)
		}
	})
	t.Run("loyalty book", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hs := &hangUpStore{Store: st, cancel: cancel}
		l := hq.NewLoyalty(hq.LoyaltyOptions{Store: hs})
		if n, err := l.Refresh(ctx); !errors.Is(err, context.Canceled) || hs.pages != 1 || n != 1000 {
			t.Errorf("refresh with the client gone: %d sales, %v after %d pages; want 1000, context.Canceled after 1", n, err, hs.pages)
		}
		if n, err := l.Refresh(context.Background()); err != nil || n != 1500 {
			t.Errorf("refresh after: %d sales, %v; want the other 1500", n, err)
		}
	})
	t.Run("simulate", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hs := &hangUpStore{Store: st, cancel: cancel}
		rs, err := rulesfile.Parse(discount.Example)
		if err != nil {
			t.Fatal(err)
		}
		q := hq.SimQuery{From: now.AddDate(-1, 0, 0), To: now}
		if _, err := hq.Simulate(ctx, hs, rs, q); !errors.Is(err, context.Canceled) || hs.pages != 1 {
			t.Errorf("a simulation with the client gone: %v after %d pages; want context.Canceled after 1", err, hs.pages)
		}
	})
	t.Run("discounts over HTTP", func(t *testing.T) {
		srv := hq.NewServer(hq.Options{Store: st, Now: func() time.Time { return now }})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		srv.AdminHandler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, hq.PathReportDiscounts, nil))
		if rec.Body.Len() != 0 {
			t.Errorf("GET %s, client gone: %d %s; want no answer", hq.PathReportDiscounts, rec.Code, rec.Body)
		}
	})
}
