package winsvc

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// TestKilledTilld is e2e's TestCrash on Windows, smaller: tillhq.exe serves
// the example rules, tilld.exe is enrolled with it, and, ten times, tilld.exe
// is started, sells through its local API, and is killed with
// TerminateProcess after a random number of acknowledged sales. Every sale
// answered 201 must then be answered again as the same sale (200, same seq and
// body), and the ledger must verify. One POS client, not four, and ten kills,
// not fifty: under wine a start of tilld.exe takes seconds.
func TestKilledTilld(t *testing.T) {
	exe := tilldExe(t)
	hqExe := filepath.Join(filepath.Dir(exe), "tillhq.exe")
	work := t.TempDir()
	data := filepath.Join(work, "tilld")
	rules := filepath.Join(work, "rules.toml")
	write(t, rules, string(discount.Example))
	hqAddr, adminAddr, apiAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	hqData := filepath.Join(work, "hq")
	runExe(t, hqExe, "init", "--data", hqData, "--host", "127.0.0.1")
	hq := exec.Command(hqExe, "serve", "--data", hqData, "--listen", hqAddr, "--admin", adminAddr, "--rules", rules)
	var hqOut bytes.Buffer
	hq.Stdout, hq.Stderr = &hqOut, &hqOut
	if err := hq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hq.Process.Kill(); _ = hq.Wait() })
	waitFor(t, "tillhq's admin API", func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	out := runExe(t, hqExe, "terminal", "add", "--admin", "http://"+adminAddr, "--store", "S1", "--terminal", "S1-T1")
	token := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	runExe(t, exe, "enroll", "--hq", "https://"+hqAddr, "--token", token, "--data", data)
	conf := filepath.Join(work, "tilld.toml")
	write(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\nlog_level = \"warn\"\n", data, apiAddr))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x7111d))
	acked := map[string]till.SaleResult{}
	sent := map[string]till.SaleRequest{}
	n := 0
	const kills = 10
	for round := range kills {
		p, api := startTilld(t, exe, conf, apiAddr, data)
		after := 1 + rng.IntN(20)
		for i := 0; i < after; i++ {
			n++
			req := till.SaleRequest{ID: fmt.Sprintf("r%d-%d", round, i), Basket: pos.Basket{
				Card:  []string{"", "2000000000015", "2000000000022"}[n%3],
				Lines: []pos.Line{{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: money.Amount(9990 + n)}},
			}}
			sent[req.ID] = req
			res, code, err := api.Sale(context.Background(), req)
			if err != nil || code != http.StatusCreated {
				t.Fatalf("round %d: sale %s: %d, %v", round, req.ID, code, err)
			}
			acked[req.ID] = res
		}
		// One more sale in flight, then the kill.
		go api.Sale(context.Background(), till.SaleRequest{ID: fmt.Sprintf("r%d-inflight", round), Basket: sent[fmt.Sprintf("r%d-0", round)].Basket})
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		if err := p.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = p.Wait()
	}

	p, api := startTilld(t, exe, conf, apiAddr, data)
	defer func() { _ = p.Process.Kill(); _ = p.Wait() }()
	for id, want := range acked {
		got, code, err := api.Sale(context.Background(), sent[id])
		if err != nil || code != http.StatusOK || got.Seq != want.Seq || got.EventID != want.EventID || got.Total != want.Total {
			t.Errorf("sale %s acknowledged as seq %d (%s): after the kills %d %v, seq %d (%s)", id, want.Seq, want.EventID, code, err, got.Seq, got.EventID)
		}
	}
	rep, err := api.LedgerVerify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("verify after %d kills: %v %+v", kills, err, rep.Problems)
	}
	t.Logf("%d kills by TerminateProcess; %d sales acknowledged, all found; %d events", kills, len(acked), rep.Events)
}

// startTilld starts tilld.exe and waits until it has the rules.
func startTilld(t *testing.T, exe, conf, addr, data string) (*exec.Cmd, *localapi.Client) {
	t.Helper()
	p := exec.Command(exe, "run", "--config", conf)
	var out bytes.Buffer
	p.Stdout, p.Stderr = &out, &out
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	api := localapi.NewClient("http://" + addr)
	waitFor(t, "tilld with the rules", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.RulesetVersion > 0
	})
	tok, err := localapi.ReadToken(filepath.Join(data, localapi.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	api.Token = tok
	return p, api
}

func runExe(t *testing.T, exe string, args ...string) string {
	t.Helper()
	out, err := exec.Command(exe, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(exe), strings.Join(args, " "), err, out)
	}
	return string(out)
}
