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
		{Terminal: "S1-T1", Count: 1, MaxSeq: 1, Total: 18981, Currency: "RUB"},
		{Terminal: "S2-T1", Count: 3, MaxSeq: 7, Total: 1500, Currency: "JPY", Chains: []wire.Chain{
			{Count: 2, Total: 1000, Acked: 5},
			{Epoch: event.Epoch{ID: "e2", BaseSeq: 5}, BaseVerified: true, Count: 1, Total: 500, Acked: 7, Head: true},
		}},
	}}
	if err := printSales(&b, rep); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "report sales", b.String(),
		"  TERMINAL  SALES  MAX SEQ       TOTAL\n",
		"     S1-T1      1        1  189.81 RUB\n",
		"     S2-T1      3        7    1500 JPY\n",
		"  first: 2 sales, 1000 JPY, up to seq 5",
		"  epoch e2: 1 sale, 500 JPY, up to seq 7, based on seq 5 of the first chain, uploading now")

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
	wantAll(t, "report audit", b.String(), "till 189.81 RUB, HQ 190.00 RUB")
}

func wantAll(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in\n%s", what, w, out)
		}
	}
}
