package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// TestScanToHQExactlyOnce is the walking skeleton: a card typed on a serial
// scanner reaches the till page's event stream, a sale is priced and recorded,
// HQ goes away for 50 more sales, comes back, and ends up with each of the 51
// exactly once.
func TestScanToHQExactlyOnce(t *testing.T) {
	work := t.TempDir()
	rules := filepath.Join(work, "rules.toml")
	if err := os.WriteFile(rules, discount.Example, 0o644); err != nil {
		t.Fatal(err)
	}
	hqAddr, adminAddr := freeAddr(t), freeAddr(t)
	adminURL := "http://" + adminAddr
	hqData := filepath.Join(work, "hq")
	run(t, bin("tillhq"), "init", "--data", hqData, "--host", "127.0.0.1")
	hqArgs := []string{"serve", "--data", hqData, "--listen", hqAddr, "--admin", adminAddr, "--rules", rules}
	hqProc := start(t, "tillhq", hqArgs...)
	waitFor(t, 10*time.Second, "tillhq's admin API", func() bool {
		resp, err := http.Get(adminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	// Store IT enrolls the terminal with a one-time token; a second use is refused.
	tokOut := run(t, bin("tillhq"), "terminal", "add", "--admin", adminURL, "--store", "S1", "--terminal", "S1-T1")
	token := lastLine(tokOut)
	tilldData := filepath.Join(work, "tilld")
	enrolled := run(t, bin("tilld"), "enroll", "--hq", "https://"+hqAddr, "--token", token, "--data", tilldData)
	if !strings.Contains(enrolled, "enrolled as terminal S1-T1 of store S1") {
		t.Fatalf("tilld enroll said:\n%s", enrolled)
	}
	if out, err := exec.Command(bin("tilld"), "enroll", "--hq", "https://"+hqAddr, "--token", token, "--data", filepath.Join(work, "other")).CombinedOutput(); err == nil || !strings.Contains(string(out), "already used") {
		t.Fatalf("reusing the token: %v\n%s\nwant a refusal saying it was already used", err, out)
	}

	readerEnd, scannerEnd := ptyPair(t)
	apiAddr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	// Terminal id, HQ address and rules key come from the enrollment.
	writeFile(t, conf, fmt.Sprintf(`
data_dir = %q
listen = %q

[[reader]]
name = "front"
type = "serial"
port = %q
baud = 9600
`, tilldData, apiAddr, readerEnd))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(apiAddr, tilldData)
	ctx := context.Background()
	waitFor(t, 15*time.Second, "tilld to get the rules from HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion > 0 && st.Online
	})

	// A card typed on the serial scanner shows up on /v1/events.
	tok, err := localapi.ReadToken(filepath.Join(tilldData, localapi.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	events := subscribe(t, "http://"+apiAddr+"/v1/events", tok)
	scanner, err := os.OpenFile(scannerEnd, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer scanner.Close()
	const card = "2000000000015"
	for _, b := range []byte(card + "\r\n") {
		scanner.Write([]byte{b}) // byte by byte, as a slow scanner sends it
	}
	select {
	case ev := <-events:
		if ev.Card != card || ev.Reader != "front" || ev.Customer == nil {
			t.Fatalf("scan event = %+v; want card %s from reader front with its customer", ev, card)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no scan event within 10 s of typing the card on the serial line")
	}

	basket := pos.Basket{Card: card, Lines: []pos.Line{
		{SKU: "milk", Category: "dairy", Qty: 2, UnitPrice: 9990},
		{SKU: "cigarettes", Category: "tobacco", Qty: 1, UnitPrice: 25000},
	}}
	q, err := api.Quote(ctx, basket)
	if err != nil {
		t.Fatal(err)
	}
	if q.Subtotal != 44980 || q.Total >= q.Subtotal || len(q.Applied) == 0 || q.RulesetVersion == 0 {
		t.Fatalf("quote = %+v; want a discount with the rules that applied", q.Quote)
	}
	var total int64
	sale := func(i int) {
		t.Helper()
		res, code, err := api.Sale(ctx, till.SaleRequest{ID: fmt.Sprintf("pos-%03d", i), Basket: basket})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sale %d: %d %v", i, code, err)
		}
		if res.Seq != uint64(i) {
			t.Fatalf("sale %d got seq %d", i, res.Seq)
		}
		total += int64(res.Total)
	}
	sale(1)
	if q.Total != 44980-q.Discount {
		t.Fatalf("quote total %d != subtotal - discount", q.Total)
	}

	// HQ goes away; the till keeps selling.
	hqProc.stop(t)
	for i := 2; i <= 51; i++ {
		sale(i)
	}
	st, err := api.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastSeq != 51 || st.Outbox == 0 {
		t.Fatalf("status with HQ down = %+v; want last seq 51 and a non-empty outbox", st)
	}
	// The till notices at its next upload or poll, which fifty fast sales
	// may outrun.
	waitFor(t, 30*time.Second, "the till to notice HQ is down", func() bool {
		st, err := api.Status(ctx)
		return err == nil && !st.Online
	})
	out := ctl(t, apiAddr, "status")
	if !strings.Contains(out, "offline") {
		t.Errorf("tillctl status with HQ down says:\n%s\nwant it to say offline", out)
	}

	// HQ is back: everything arrives, once.
	start(t, "tillhq", hqArgs...)
	var rep wire.SalesReport
	waitFor(t, 60*time.Second, "HQ to hold all 51 sales", func() bool {
		rep = salesReport(t, adminURL)
		return len(rep.Terminals) == 1 && rep.Terminals[0].MaxSeq == 51
	})
	got := rep.Terminals[0]
	if got.Terminal != "S1-T1" || got.Count != 51 || got.MaxSeq != 51 || got.Total != total {
		t.Fatalf("HQ report = %+v; want S1-T1 with 51 sales, max seq 51, total %d", got, total)
	}
	waitFor(t, 10*time.Second, "the outbox to drain", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0 && st.Acked == 51
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.TrimSpace(s[strings.LastIndex(s, "\n")+1:])
}

func salesReport(t *testing.T, adminURL string) wire.SalesReport {
	t.Helper()
	var rep wire.SalesReport
	resp, err := http.Get(adminURL + wire.PathReportSales)
	if err != nil {
		return rep
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&rep)
	return rep
}

// subscribe opens an SSE stream, as the POS app does with the API token (or
// as the till page does, without), and delivers its scan events; it returns
// once the stream is open, so nothing sent afterwards is missed.
func subscribe(t *testing.T, url, token string) <-chan till.ScanEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatal("event stream closed at once")
	}
	ch := make(chan till.ScanEvent, 16)
	go func() {
		defer resp.Body.Close()
		name := ""
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				name = n
				continue
			}
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && name == "scan" {
				var ev till.ScanEvent
				if json.Unmarshal([]byte(data), &ev) == nil {
					ch <- ev
				}
			}
		}
	}()
	return ch
}
