package loyalty

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
)

var benchCards = flag.Int("loyalty.cards", 1_000_000, "cards in the loyalty benchmarks' book")

// millionBook is a chain's book: n cards over two years at 50 stores, each
// with a cycle of its own (5 to 60 days, ±25 %), a home store it visits
// four times in five, and a fifth who stopped coming at some point. It
// returns the book, the heap it takes and the CPU time building it took.
//
// With expiring, the programme's points expire a year after they are
// earned (every purchase's points a lot of its own, redemptions off the
// newest), one purchase in 50 is refunded the next day (half its money and
// points), and the 50 stores are in 10 regions: the same purchases.
func millionBook(n int, expiring bool) (*Book, uint64, time.Duration) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := cpuTime()
	r := rand.New(rand.NewPCG(42, 20))
	b := NewBook()
	const span = 730
	sales := 0
	for i := range n {
		card := fmt.Sprintf("2%012d", i)
		cycle := 5 + r.Float64()*55
		home := r.IntN(50)
		end := asOf
		if r.IntN(5) == 0 {
			end = asOf - int32(r.IntN(span))
		}
		d := asOf - span + int32(r.IntN(span))
		for d <= end {
			st := home
			if r.IntN(5) == 0 {
				st = r.IntN(50)
			}
			s := Sale{Card: card, Store: fmt.Sprintf("S%02d", st), Day: d, Currency: "RUB",
				Total: money.Amount(200_00 + r.IntN(3000_00)), Earned: int64(r.IntN(100)), Redeemed: int64(r.IntN(20))}
			if expiring {
				s.Region, s.At, s.Expires = fmt.Sprintf("R%d", st%10), Date(d).Add(12*time.Hour), Date(d+365)
			}
			b.Add(s)
			if sales++; expiring && sales%50 == 0 {
				b.AddRefund(Refund{Card: card, Store: s.Store, Day: d + 1, Currency: "RUB", Back: s.Total / 2, Spend: s.Total / 2,
					Reversed: s.Earned / 2, SaleAt: s.At, At: s.At.Add(24 * time.Hour)})
			}
			d += int32(max(1, cycle*(0.75+r.Float64()/2)))
		}
	}
	cpu = cpuTime() - cpu
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return b, after.HeapAlloc - before.HeapAlloc, cpu
}

var benchBook struct {
	b    *Book
	heap uint64
}

func bookForBench(b *testing.B) *Book {
	if benchBook.b == nil || benchBook.b.Len() != *benchCards {
		benchBook.b, benchBook.heap, _ = millionBook(*benchCards, false)
	}
	return benchBook.b
}

// reportBook reports the book's size; call it after the loop (b.Loop
// resets the metrics reported before it).
func reportBook(b *testing.B) {
	var visits int
	for _, c := range benchBook.b.list {
		visits += len(c.visits)
	}
	b.ReportMetric(float64(benchBook.heap)/1e6, "book-MB")
	b.ReportMetric(float64(visits)/float64(benchBook.b.Len()), "visits/card")
}

// BenchmarkOverdueMillion: the overdue list of a million cards, from the
// book to the rows: every card analysed (cycle, scores, P(alive), segment)
// and the late ones listed.
func BenchmarkOverdueMillion(b *testing.B) {
	book := bookForBench(b)
	var late int
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		a := Analyze(book, asOf, cdnowModel, Options{})
		late = a.Overdue(Filter{}, -1).Late
	}
	b.ReportMetric(float64(late), "late")
	reportCPU(b, cpu)
	reportBook(b)
}

// BenchmarkFitModelMillion: BG/NBD and Gamma-Gamma fitted to a million cards.
func BenchmarkFitModelMillion(b *testing.B) {
	book := bookForBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		m := FitModel(book, asOf)
		if m.BGNBD == nil {
			b.Fatalf("no model: %s", m.Why)
		}
		b.Logf("BG/NBD %+v (%d iterations), spend %v, penalized %v, %s", m.BGNBD.Params, m.BGNBD.Iterations, m.Spend != nil, m.Penalized, m.Why)
	}
	reportCPU(b, cpu)
	reportBook(b)
}

// BenchmarkKPIMillion: a year of monthly KPIs for a million cards at 50 stores.
func BenchmarkKPIMillion(b *testing.B) {
	book := bookForBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := book.KPIs(KPIOptions{From: asOf - 364, To: asOf, PointValue: 1_00}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	reportBook(b)
}

// cpuTime is the process's user and system CPU time so far: the machine the
// benchmarks run on is shared, so wall time per op overstates the cost.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU seconds per op since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkKPIExpiryMillion: a year of monthly KPIs by region for a million
// cards whose points expire, with refunds: what expiry and returns add to
// BenchmarkKPIMillion (each card's lots expired by the clock, its refunds'
// and expiries' points in its balance per month).
func BenchmarkKPIExpiryMillion(b *testing.B) {
	book, heap, build := millionBook(*benchCards, true)
	now := Date(asOf).Add(9 * time.Hour)
	var rep KPIReport
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		var err error
		if rep, err = book.KPIs(KPIOptions{From: asOf - 364, To: asOf, PointValue: 1_00, By: ByRegion, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	var expired, returns int64
	for _, p := range rep.Periods {
		expired += *p.Chain.PointsExpired
		returns += p.Chain.Returns.Count
	}
	b.ReportMetric(float64(heap)/1e6, "book-MB")
	b.ReportMetric(build.Seconds(), "build-cpu-s")
	b.ReportMetric(float64(len(book.lots)), "cards-with-lots")
	b.ReportMetric(float64(expired), "points-expired")
	b.ReportMetric(float64(returns), "returns")
}
