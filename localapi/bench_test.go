package localapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// BenchmarkSaleNoSync is a sale through the local API in one process — the
// client's request, the guard, decoding, pricing on the example ruleset, the
// ledger's record, the answer and its decoding — with the ledger's fsyncs
// off: what a sale costs in CPU and allocations besides the disk, and
// (with -cpuprofile) where that goes. docs/benchmarks.md "Performance at the
// floor" has the profile. Besides the time per sale it reports the process's
// CPU time per sale (user + system, client and server alike), which the
// machine's other work moves less than the time.
//
//	go test ./localapi -run '^$' -bench SaleNoSync -benchmem -benchtime 5000x
func BenchmarkSaleNoSync(b *testing.B) {
	e := newEnvLedger(b, string(discount.Example), nil, ledger.Options{NoSync: true})
	ctx := context.Background()
	cards := []string{"2000000000015", "2000000000022", ""}
	var i int
	cpu0 := cpuTime(b)
	for b.Loop() {
		_, code, err := e.client.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("b-%d", i), Basket: pos.Basket{
			Card: cards[i%len(cards)], Lines: []pos.Line{
				{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 89_90},
				{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: money.Amount(1000_00 + i)},
			}}})
		if err != nil || code != http.StatusCreated {
			b.Fatalf("sale %d = %d, %v", i, code, err)
		}
		i++
	}
	if cpu := cpuTime(b) - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(i), "cpu-µs/op")
	}
}
