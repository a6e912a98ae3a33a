package hqbench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// BenchmarkIngestAudit measures what HQ's audit of synced sales costs ingest.
// As BenchmarkIngest, 20 terminals upload 5 000 sales each to an hq.Server
// over pgstore, but every sale is priced by the engine as a till prices it,
// with the published example ruleset, and carries the inputs the audit reads.
// Each iteration ingests twice, once with no auditor and once with the
// auditor tillhq serve runs (Server.RunAuditor, default options: woken by the
// first upload, yielding to uploads under way) working beside it, so machine
// noise hits both alike. It reports both rates (hq-rows/s, hq-audited-rows/s), the second as
// a percentage of the first, the share of the sales the auditor had audited
// by the end of the ingest, and the auditor's own rate when it drains the
// rest alone with no pause (audit-sales/s). Every sale must come out clean.
//
//	go test ./bench/hqbench -run '^$' -bench IngestAudit -benchtime 3x
func BenchmarkIngestAudit(b *testing.B) {
	const terminals, per, batch = 20, 5000, 500
	e := newIngestOf(b, terminals, per, batch, pricedChain(b))
	sum := sha256.Sum256(discount.Example)
	if err := e.store.PublishRuleset(context.Background(), hq.Ruleset{Version: 1, Hash: hex.EncodeToString(sum[:]), Raw: discount.Example}); err != nil {
		b.Fatal(err)
	}
	var plain, audited, drain time.Duration
	var during, drained int64
	for range b.N {
		plain += e.measure(b, e.viaHQ)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		audited += e.measure(b, func(tb testing.TB) {
			// Started once the tables are emptied, as the ingest begins.
			wg.Go(func() { e.srv.RunAuditor(ctx, hq.AuditorOptions{}) })
			e.viaHQ(tb)
		})
		cancel()
		wg.Wait()
		s, err := e.store.AuditSummary(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		during += s.Sales
		start := time.Now()
		if _, err := hq.NewAuditor(hq.AuditorOptions{Store: e.store}).Drain(context.Background()); err != nil {
			b.Fatal(err)
		}
		drain += time.Since(start)
		if s, err = e.store.AuditSummary(context.Background()); err != nil || s.Sales != int64(e.rows) || s.Flagged != 0 || s.Waiting != 0 {
			b.Fatalf("after the drain the audit says %+v, %v; want %d clean sales", s, err, e.rows)
		}
		drained += int64(e.rows) - during
	}
	rate := func(d time.Duration) float64 { return float64(e.rows*b.N) / d.Seconds() }
	b.ReportMetric(rate(plain), "hq-rows/s")
	b.ReportMetric(rate(audited), "hq-audited-rows/s")
	b.ReportMetric(100*plain.Seconds()/audited.Seconds(), "%_with_audit")
	b.ReportMetric(100*float64(during)/float64(e.rows*b.N), "%_audited_during")
	b.ReportMetric(float64(drained)/drain.Seconds(), "audit-sales/s")
}

// pricedChain returns a chain maker for newIngestOf: a terminal's sales, each
// three lines priced for a card of the chain's with the example ruleset as
// till.Sale prices them (inputs included). Tiers vary with the sale.
func pricedChain(tb testing.TB) func(terminal string, n int) []event.Event {
	return func(terminal string, n int) []event.Event {
		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("MSK", 3*3600))
		specs := make([]storetest.PricedSpec, n)
		for i := range specs {
			card := cardOf(terminal, i)
			specs[i] = storetest.PricedSpec{Rules: discount.Example, At: at.Add(time.Duration(i) * time.Second),
				Basket: pos.Basket{Card: card, Store: "S1", Lines: []pos.Line{
					{SKU: "4607001771234", Category: "dairy", Qty: 2, UnitPrice: 8990},
					{SKU: "4600682000016", Category: "bakery", Qty: 1, UnitPrice: money.Amount(5490 + i%7*100)},
					{SKU: "8711000530085", Category: "grocery", Qty: 1, UnitPrice: 45900},
				}},
				Account: &pos.Account{Card: card, LifetimeSpend: money.Amount(i%20) * 1000_00, Points: int64(i % 300), Sales: int64(i % 40)},
			}
		}
		evs, err := storetest.PricedSales(terminal, 1, "", specs...)
		if err != nil {
			tb.Fatal(fmt.Errorf("chain of %s: %w", terminal, err))
		}
		return evs
	}
}
