package pgstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

func TestAuditConformance(t *testing.T) { storetest.RunAudit(t, openStore) }

// Three replicas (stores of their own on one database), each running the
// auditor tillhq serve runs, audit while four terminals upload through a
// fourth: every sale is audited once, every forged one flagged once, none
// counted twice, and each replica took part.
func TestReplicasAuditExactlyOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	ingest := open(t, url)
	sum := sha256.Sum256(discount.Example)
	if err := ingest.PublishRuleset(ctx, hq.Ruleset{Version: 1, Hash: hex.EncodeToString(sum[:]), Raw: discount.Example}); err != nil {
		t.Fatal(err)
	}
	doctored := bytes.Replace(discount.Example, []byte(`percent = "3%"`), []byte(`percent = "99%"`), 1)
	const terminals, per, batch = 4, 120, 10
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	chains := make([][]storetest.PricedSpec, terminals)
	for i := range chains {
		for j := range per {
			card := fmt.Sprintf("20000000%05d", i*per+j)
			sp := storetest.PricedSpec{Rules: discount.Example, At: at.Add(time.Duration(j) * time.Minute),
				Basket:  pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: 1000_00}}},
				Account: &pos.Account{Card: card, LifetimeSpend: 12_000_00}}
			if j%40 == 39 {
				sp.Rules = doctored // 3 a terminal
			}
			chains[i] = append(chains[i], sp)
		}
	}

	auditCtx, stop := context.WithCancel(ctx)
	var auditors sync.WaitGroup
	batches := make([]int, 3)
	var mu sync.Mutex
	given := map[string]int{} // terminal/seq → how many batches held it
	for r := range batches {
		s := open(t, url)
		auditors.Go(func() {
			// The Auditor over a store that counts its batches.
			count := func(b hq.AuditBatch) {
				mu.Lock()
				defer mu.Unlock()
				batches[r]++
				for _, e := range b.Events {
					given[fmt.Sprintf("%s/%d", e.Terminal, e.Seq)]++
				}
			}
			a := hq.NewAuditor(hq.AuditorOptions{Store: countingStore{s, count},
				Batch: 7, Idle: 5 * time.Millisecond, Pause: 0.01})
			if err := a.Run(auditCtx); err != nil {
				t.Errorf("auditor %d: %v", r, err)
			}
		})
	}
	var uploads sync.WaitGroup
	for i, specs := range chains {
		term := fmt.Sprintf("T%d", i)
		evs, err := storetest.PricedSales(term, 1, "", specs...)
		if err != nil {
			t.Fatal(err)
		}
		uploads.Go(func() {
			for j := 0; j < len(evs); j += batch {
				if _, err := ingest.Append(ctx, term, evs[j:min(j+batch, len(evs))]); err != nil {
					t.Errorf("upload: %v", err)
					return
				}
			}
		})
	}
	uploads.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := ingest.AuditSummary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Waiting == 0 && s.Sales == terminals*per {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the auditors did not finish: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	auditors.Wait()
	rep, err := ingest.AuditReport(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (wire.AuditSummary{Sales: terminals * per, Flagged: terminals * 3}); rep.Summary != want {
		t.Errorf("summary = %+v, want %+v", rep.Summary, want)
	}
	for _, f := range rep.Flags {
		if f.Seq%40 != 0 || f.Findings[0].Code != wire.AuditRulesetHash {
			t.Errorf("flag %s/%d: %+v", f.Terminal, f.Seq, f.Findings)
		}
	}
	for _, c := range rep.Chains {
		if c.Sales != per || c.Audited != per {
			t.Errorf("chain %s: %d sales audited to seq %d, want %d", c.Terminal, c.Sales, c.Audited, per)
		}
	}
	for k, n := range given {
		if n != 1 {
			t.Errorf("event %s given to %d batches", k, n)
		}
	}
	if len(given) != terminals*per {
		t.Errorf("%d events given to the auditors, want %d", len(given), terminals*per)
	}
	t.Logf("batches by replica: %v", batches)
	for r, n := range batches {
		if n == 0 {
			t.Errorf("replica %d audited nothing: %v", r, batches)
		}
	}
}

// countingStore calls batch with every batch the store hands its auditor.
type countingStore struct {
	hq.Store
	batch func(hq.AuditBatch)
}

func (c countingStore) AuditNext(ctx context.Context, limit int, fn func(hq.AuditBatch) (hq.AuditResult, error)) (bool, error) {
	return c.Store.AuditNext(ctx, limit, func(b hq.AuditBatch) (hq.AuditResult, error) {
		c.batch(b)
		return fn(b)
	})
}
