package loyalty

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// storesBook is a book of one card's sale at each of n stores, all on one
// day: what a terminal whose sales name many stores leaves in it.
func storesBook(n int, on int32) *Book {
	b := NewBook()
	for i := range n {
		b.Add(Sale{Card: fmt.Sprintf("C%d", i), Store: fmt.Sprintf("S%03d", i), Region: fmt.Sprintf("R%d", i%7), Day: on, Currency: "RUB", Total: 100_00, Earned: 1})
	}
	return b
}

// kpiAlloc returns the bytes one KPIs call allocates (runtime.MemStats'
// TotalAlloc: every allocation, so at least the call's peak heap).
func kpiAlloc(t *testing.T, b *Book, o KPIOptions) (KPIReport, uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := b.KPIs(o)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return rep, after.TotalAlloc - before.TotalAlloc
}

// TestKPIMemoryByStores: a daily report over 27 years (9 800 periods, under
// the 10 000 allowed) allocates about as much for 400 stores as for one: the
// rows of a period are made for the stores (regions) with something in it,
// not for every store in every period. It was ≈ 4 MiB per store.
func TestKPIMemoryByStores(t *testing.T) {
	from, to := day(1999, 6, 1), day(2026, 4, 30)
	on := day(2026, 4, 15)
	for _, by := range []string{ByStore, ByRegion} {
		var base uint64
		for _, n := range []int{1, 100, 400} {
			rep, alloc := kpiAlloc(t, storesBook(n, on), KPIOptions{Period: PeriodDay, From: from, To: to, By: by, Now: Date(to).Add(time.Hour)})
			t.Logf("by %s, %d stores: %d periods, %.1f MiB allocated", by, n, len(rep.Periods), float64(alloc)/(1<<20))
			if len(rep.Periods) != int(to-from+1) {
				t.Fatalf("by %s, %d stores: %d periods; want %d", by, n, len(rep.Periods), to-from+1)
			}
			rows := 0
			for _, p := range rep.Periods {
				rows += len(p.Stores) + len(p.Regions)
				if p.Start == DateString(on) && p.Chain.Sales != int64(n) {
					t.Errorf("by %s, %d stores: %s: %d sales; want %d", by, n, p.Start, p.Chain.Sales, n)
				}
			}
			if want := min(n, 7); by == ByStore && rows != n || by == ByRegion && rows != want {
				t.Errorf("by %s, %d stores: %d rows in all; want one per store (region) that sold", by, n, rows)
			}
			if n == 1 {
				base = alloc
				continue
			}
			// Each store's row costs its own few KiB, not one per period.
			if limit := base + uint64(n)*16<<10; alloc > limit {
				t.Errorf("by %s, %d stores: %.1f MiB allocated; want at most %.1f MiB (%.1f MiB for one store)", by, n,
					float64(alloc)/(1<<20), float64(limit)/(1<<20), float64(base)/(1<<20))
			}
		}
	}
}
