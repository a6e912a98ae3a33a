package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// TestRecovery follows every recovery path docs/ledger.md gives store IT,
// through the real binaries, with sales acknowledged to the cashier before and
// after each: a ledger restored from a backup (and selling offline before HQ
// learns of it), a ledger rebuilt from HQ's copy after the disk died, and a
// till started empty. After each, HQ holds every acknowledged sale exactly
// once, its totals are the sum of all of them, and its report shows each
// chain the terminal's ledgers wrote.
func TestRecovery(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "tilld")
	hq := newHQ(t, work, data)
	addr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", data, addr))
	api := apiClient(addr, data)
	ctx := context.Background()
	const card = "2000000000015"

	var tilld *proc
	startTill := func(online bool) {
		t.Helper()
		tilld = start(t, "tilld", "run", "--config", conf)
		waitFor(t, 15*time.Second, "tilld ready", func() bool {
			st, err := api.Status(ctx)
			return err == nil && st.RulesetVersion > 0 && (st.Online || !online)
		})
	}
	status := func() till.Status {
		t.Helper()
		st, err := api.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// book holds every sale the till answered 201, by id: what HQ must hold.
	book := map[string]int64{}
	var lastRes till.SaleResult
	var lastReq till.SaleRequest
	sell := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			req := till.SaleRequest{ID: fmt.Sprintf("%s-%d", prefix, i+1), Basket: basket(card, int64(len(book)))}
			res, code, err := api.Sale(ctx, req)
			if err != nil || code != 201 {
				t.Fatalf("sale %s = %d, %v", req.ID, code, err)
			}
			if _, dup := book[req.ID]; dup {
				t.Fatalf("sale id %s used twice by the test", req.ID)
			}
			book[req.ID] = int64(res.Total)
			lastRes, lastReq = res, req
		}
	}
	synced := func(what string) till.Status {
		t.Helper()
		waitFor(t, 30*time.Second, what, func() bool {
			st, err := api.Status(ctx)
			return err == nil && st.Online && st.Outbox == 0
		})
		return status()
	}
	// checkHQ: every acknowledged sale once, the totals their sum, and the chains.
	checkHQ := func(chains int) []wire.Chain {
		t.Helper()
		var line wire.TerminalSales
		for _, l := range salesReport(t, hq.adminURL).Terminals {
			if l.Terminal == "S1-T1" {
				line = l
			}
		}
		var want int64
		for _, total := range book {
			want += total
		}
		if line.Count != int64(len(book)) || line.Total != want {
			t.Fatalf("HQ holds %d sales for %d; the till acknowledged %d for %d", line.Count, line.Total, len(book), want)
		}
		if len(line.Chains) != chains {
			t.Fatalf("HQ shows %d chains of S1-T1, want %d: %+v", len(line.Chains), chains, line.Chains)
		}
		var sum int64
		for _, c := range line.Chains {
			sum += c.Count
		}
		if sum != line.Count {
			t.Fatalf("the chains hold %d sales, the terminal's line %d", sum, line.Count)
		}
		return line.Chains
	}
	ledgerFiles := []string{filepath.Join(data, "ledger.db"), filepath.Join(data, "ledger.db-journal")}
	moveFiles := func(from, to []string) {
		t.Helper()
		for i := range from {
			if err := os.Rename(from[i], to[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyFiles := func(from, to []string) {
		t.Helper()
		for i := range from {
			copyFile(t, from[i], to[i], 0o600)
		}
	}

	// 1. A backup restored, then sales offline before HQ learns of it.
	startTill(true)
	sell("a", 10)
	first := synced("the first 10 sales at HQ").Epoch
	tilld.stop(t)
	backup := []string{filepath.Join(work, "backup.db"), filepath.Join(work, "backup.db-journal")}
	copyFiles(ledgerFiles, backup)
	startTill(true)
	sell("b", 20)
	synced("30 sales at HQ")
	checkHQ(1)
	tilld.stop(t)
	copyFiles(backup, ledgerFiles)
	hq.proc.stop(t) // the network is out
	startTill(false)
	sell("c", 30)
	if st := status(); st.LastSeq != 40 || st.Outbox != 30 || st.Epoch != first {
		t.Fatalf("the restored till offline: %+v; want seq 40, 30 to send, still epoch %s", st, first.ID)
	}
	hq.start(t)
	st := synced("the restored till's sales at HQ")
	if st.LastSeq != 40 || st.Acked != 40 || st.Epoch.ID == first.ID || st.Epoch.Parent != first.ID || st.Epoch.BaseSeq != 10 {
		t.Fatalf("after the fork the till says %+v; want seq 40 acked on a new epoch based on seq 10 of %s", st, first.ID)
	}
	chains := checkHQ(2)
	if c := chains[1]; c.Epoch != st.Epoch || !c.BaseVerified || !c.Head || c.Count != 30 || chains[0].Count != 30 {
		t.Fatalf("HQ's chains after the fork: %+v", chains)
	}
	if out := ctl(t, addr, "ledger", "verify"); !strings.Contains(out, "OK") {
		t.Fatalf("ledger verify after the fork:\n%s", out)
	}

	// 2. The disk died: rebuild the ledger from HQ's copy of its chain.
	tilld.stop(t)
	for _, f := range ledgerFiles {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, bin("tillctl"), "ledger", "restore", "--from-hq", "--data", data)
	if !strings.Contains(out, "restored 40 events of terminal S1-T1") || !strings.Contains(out, "verify: OK") {
		t.Fatalf("restore said:\n%s", out)
	}
	if out := ctlFails(t, "ledger", "restore", "--from-hq", "--data", data); !strings.Contains(out, "never overwrites") {
		t.Fatalf("a second restore over the rebuilt ledger said:\n%s", out)
	}
	startTill(true)
	if st := status(); st.LastSeq != 40 || st.Acked != 40 || st.Epoch != chains[1].Epoch {
		t.Fatalf("the rebuilt till: %+v; want seq 40, all acknowledged, epoch %s", st, chains[1].Epoch.ID)
	}
	// A retry of the last sale before the disk died is recognised.
	if res, code, err := api.Sale(ctx, lastReq); err != nil || code != 200 || res.Seq != lastRes.Seq || res.Total != lastRes.Total {
		t.Fatalf("retry of sale %s after the rebuild = %d seq %d, %v; want 200 with seq %d", lastReq.ID, code, res.Seq, err, lastRes.Seq)
	}
	sell("d", 5)
	if st := synced("the rebuilt till's sales at HQ"); st.LastSeq != 45 || st.Epoch != chains[1].Epoch {
		t.Fatalf("after the rebuild: %+v; want seq 45 on the same epoch", st)
	}
	checkHQ(2)
	// HQ's account of the card, every chain's sales, reaches the rebuilt till.
	waitFor(t, 15*time.Second, "the card's account from HQ", func() bool {
		a, err := api.Account(ctx, card)
		return err == nil && a.Sales == int64(len(book))
	})

	// 3. Started empty (the ledger moved aside): a chain of its own.
	tilld.stop(t)
	moveFiles(ledgerFiles, []string{filepath.Join(work, "aside.db"), filepath.Join(work, "aside.db-journal")})
	startTill(true)
	sell("e", 5)
	st = synced("the empty till's sales at HQ")
	if st.LastSeq != 5 || st.Epoch.BaseSeq != 0 || st.Epoch.ID == chains[1].Epoch.ID {
		t.Fatalf("the till started empty: %+v; want seq 5 on an epoch of its own", st)
	}
	chains = checkHQ(3)
	if c := chains[2]; c.Epoch != st.Epoch || c.Count != 5 || !c.Head {
		t.Fatalf("HQ's chains after an empty start: %+v", chains)
	}
	if out := run(t, bin("tillhq"), "report", "sales", "--admin", hq.adminURL); !strings.Contains(out, st.Epoch.ID) || !strings.Contains(out, "based on seq 10") {
		t.Errorf("tillhq report sales does not show the chains:\n%s", out)
	}
}
