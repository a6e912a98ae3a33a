package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Every amount a tillhq report prints is in major units with its currency:
// never kopecks, never a bare number.
func TestReportsPrintMoneyInMajorUnits(t *testing.T) {
	var b strings.Builder
	rep := wire.SalesReport{Terminals: []wire.TerminalSales{
		{Terminal: "S1-T1", Count: 2, Refunds: 1, MaxSeq: 3, Total: 28981, Refunded: 5050, Net: 23931, Currency: "RUB"},
		{Terminal: "S2-T1", Count: 3, MaxSeq: 7, Total: 1500, Net: 1500, Currency: "JPY", Chains: []wire.Chain{
			{Count: 2, Total: 1000, Net: 1000, Acked: 5},
			{Epoch: event.Epoch{ID: "e2", BaseSeq: 5}, BaseVerified: true, Count: 1, Total: 500, Net: 500, Acked: 7, Head: true},
		}},
	}}
	if err := printSales(&b, rep); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "report sales", b.String(),
		"  TERMINAL  SALES  RETURNS  MAX SEQ       TOTAL   RETURNED         NET\n",
		"     S1-T1      2        1        3  289.81 RUB  50.50 RUB  239.31 RUB\n",
		"     S2-T1      3        0        7    1500 JPY      0 JPY    1500 JPY\n",
		"  first: 2 sales, 1000 JPY, 0 returns, 1000 JPY net, up to seq 5",
		"  epoch e2: 1 sale, 500 JPY, 0 returns, 500 JPY net, up to seq 7, based on seq 5 of the first chain, uploading now")

	b.Reset()
	printAccount(&b, wire.AccountAnswer{Card: "2000000000022", Currency: "RUB",
		Account: pos.Account{LifetimeSpend: 643500, Points: 64, Sales: 3}})
	wantAll(t, "customers show", b.String(), "lifetime spend  6435.00 RUB\n", "points          64\n")

	b.Reset()
	if err := printAudit(&b, wire.AuditReport{Summary: wire.AuditSummary{Sales: 2, Flagged: 1}, Flags: []wire.AuditFlag{{
		Terminal: "S1-T1", Seq: 2, SaleID: "s2", At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), RulesetVersion: 3, Currency: "RUB",
		Findings: []wire.AuditFinding{{Code: wire.AuditTotal, Till: 18981, HQ: 19000}},
	}}}); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "report audit", b.String(), "till 189.81 RUB, HQ 190.00 RUB", "audited 0 refunds: 0 flagged\n")

	b.Reset()
	if err := printAudit(&b, wire.AuditReport{Summary: wire.AuditSummary{Sales: 1, Refunds: 2, RefundsFlagged: 1}, Flags: []wire.AuditFlag{{
		Terminal: "S1-T1", Seq: 3, SaleID: "s1", Refund: "r2", At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), RulesetVersion: 3, Currency: "RUB",
		Findings: []wire.AuditFinding{{Code: wire.AuditRefundBack, Till: 28421, HQ: 27000}, {Code: wire.AuditPointsReversed, Till: 0, HQ: 3}},
	}}}); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "report audit of a refund", b.String(), "audited 2 refunds: 1 flagged\n", "seq 3: refund r2 of sale s1 at",
		"refund_back: till 284.21 RUB, HQ 270.00 RUB", "points_reversed: till 0, HQ 3")
}

func wantAll(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in\n%s", what, w, out)
		}
	}
}
