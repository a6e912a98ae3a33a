package boltstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
)

func TestLoyaltyConformance(t *testing.T) { storetest.RunLoyalty(t, openStore) }

// BenchmarkLoyaltyRefresh: a replica's first read of the sales into the
// loyalty book (what `tillhq serve` does at start): 20 terminals of 10 000
// sales each, 50 000 cards.
func BenchmarkLoyaltyRefresh(b *testing.B) {
	ctx := context.Background()
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const terminals, per = 20, 10_000
	for ti := range terminals {
		term := fmt.Sprintf("S%02d-T1", ti)
		specs := make([]storetest.LoyaltySpec, per)
		for i := range specs {
			specs[i] = storetest.LoyaltySpec{Card: fmt.Sprintf("2%012d", (ti*per+i)%50_000), DaysAgo: 365 - i*365/per,
				Store: fmt.Sprintf("S%02d", ti), Total: 1234_00, Earned: 12}
		}
		evs := storetest.LoyaltySales(term, 1, "", storetest.LoyaltyAsOf, specs...)
		for start := 0; start < len(evs); start += 1000 {
			if _, err := s.Append(ctx, term, evs[start:start+1000]); err != nil {
				b.Fatal(err)
			}
		}
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for b.Loop() {
		l := hq.NewLoyalty(hq.LoyaltyOptions{Store: s})
		if n, err := l.Refresh(ctx); err != nil || n != terminals*per {
			b.Fatalf("refresh = %d, %v", n, err)
		}
	}
	// The machine is shared: CPU time says what a refresh costs.
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(terminals*per)*float64(b.N)/cpu.Seconds(), "sales/cpu-s")
}

// TestLoyaltyWhileUploading: reports are read while a terminal uploads and
// the book keeper runs (under -race in make test): every sale ends up in the
// book once.
func TestLoyaltyWhileUploading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "hq.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close(); checkFile(t, path) }()
	srv := hq.NewServer(hq.Options{Store: s})
	done := make(chan error, 1)
	go func() { done <- srv.RunLoyalty(ctx) }()
	admin := srv.AdminHandler()
	const batches, per = 20, 25
	specs := make([]storetest.LoyaltySpec, batches*per)
	for i := range specs {
		specs[i] = storetest.LoyaltySpec{Card: fmt.Sprintf("C%d", i%7), DaysAgo: len(specs) - i, Store: "S1", Total: 100_00, Earned: 1}
	}
	evs := storetest.LoyaltySales("T1", 1, "", time.Now(), specs...)
	uploaded := make(chan struct{})
	go func() {
		defer close(uploaded)
		for b := range batches {
			if _, err := s.Append(ctx, "T1", evs[b*per:(b+1)*per]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for waiting := true; waiting; reads++ {
		select {
		case <-uploaded:
			waiting = false
		default:
		}
		for _, path := range []string{"/v1/report/cadence", "/v1/report/overdue", "/v1/report/segments", "/v1/report/kpi"} {
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s while uploading: %d %s", path, rec.Code, rec.Body)
			}
		}
	}
	if _, err := srv.Loyalty().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Loyalty().View(func(b *loyalty.Book, _ loyalty.Model, _ time.Time) error {
		if b.Sales != batches*per || b.Len() != 7 {
			t.Errorf("book after %d reads: %d sales of %d cards; want %d of 7", reads, b.Sales, b.Len(), batches*per)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
