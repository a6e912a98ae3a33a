package localapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	jsonv1 "github.com/go-json-experiment/json/v1"

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

// BenchmarkDecodeSaleAnswer decodes a sale's answer (a card, two lines, two
// rules applied: 940 bytes) as the client does, with go-json-experiment's
// v1 package, and with encoding/json, which it replaced.
//
//	go test ./localapi -run '^$' -bench DecodeSaleAnswer -benchmem -count 3
func BenchmarkDecodeSaleAnswer(b *testing.B) {
	e := newEnv(b, string(discount.Example))
	var raw json.RawMessage
	if _, err := e.client.Do(context.Background(), http.MethodPost, "/v1/sales", till.SaleRequest{ID: "a-1", Basket: pos.Basket{
		Card: "2000000000015", Lines: []pos.Line{
			{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 89_90},
			{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 1000_00},
		}}}, &raw); err != nil {
		b.Fatal(err)
	}
	for _, d := range []struct {
		name      string
		unmarshal func([]byte, any) error
	}{{"client", jsonv1.Unmarshal}, {"encoding_json", json.Unmarshal}} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var r till.SaleResult
				if err := d.unmarshal(raw, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
