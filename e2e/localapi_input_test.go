package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// TestCardsAtTheAPI: issue 14's cards — a wrong EAN check digit, a letter, a
// Luhn failure, a product EAN outside every card range — are refused by
// sale, quote, customers and accounts with 400 naming the card, through the
// real binaries; nothing is recorded at the till or at HQ, and the demo's and
// tests' cards still sell.
func TestCardsAtTheAPI(t *testing.T) {
	g := startGuardedTill(t)
	auth := map[string]string{"Authorization": "Bearer " + g.token, "Content-Type": "application/json"}
	get := map[string]string{"Authorization": "Bearer " + g.token}
	line := `{"sku":"tv","category":"electronics","qty":1,"unit_price":100000}`
	bad := map[string]struct{ code, says string }{
		"2000000010008":    {"bad_card", "check digit is 8, want 7"},
		"20000000A0009":    {"bad_card", "not a card number"},
		"4111111111111112": {"bad_card", "check digit is 2, want 1"},
		"4006381333931":    {"unknown_card", "a product code"},
	}
	for card, want := range bad {
		says := want.says
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/sales", `{"id":"bad-` + card + `","card":"` + card + `","lines":[` + line + `]}`},
			{"POST", "/v1/quote", `{"card":"` + card + `","lines":[` + line + `]}`},
			{"POST", "/v1/customers", `{"card":"` + card + `","name":"Мария","email":"m@example.ru"}`},
			{"GET", "/v1/accounts/" + card, ""},
		} {
			hdr := auth
			if req.method == "GET" {
				hdr = get
			}
			status, got := g.send(t, req.method, req.path, req.body, hdr)
			if status != 400 || !strings.HasPrefix(got, want.code+": card: ") || !strings.Contains(got, says) {
				t.Errorf("%s %s with card %s: %d %q; want 400 naming the card and saying %q", req.method, req.path, card, status, got, says)
			}
		}
		if out, err := exec.Command(bin("tillctl"), "--addr", g.addr, "--token-file", filepath.Join(g.data, "api.token"),
			"sale", "--card", card, "milk:dairy:1:99.90").CombinedOutput(); err == nil || !strings.Contains(string(out), says) {
			t.Errorf("tillctl sale --card %s: %v\n%s", card, err, out)
		}
	}
	// The cards of the demo and of the other tests sell.
	ctx := context.Background()
	good := []string{"2000000000015", "2000000000022", "2000000000039", "2000000000046"}
	for i, card := range good {
		if _, code, err := g.api.Sale(ctx, till.SaleRequest{ID: fmt.Sprint("good-", i), Basket: pos.Basket{Card: card,
			Lines: []pos.Line{{SKU: "milk", Category: "dairy", Qty: 1, UnitPrice: 99_90}}}}); err != nil || code != 201 {
			t.Fatalf("sale with card %s: %d %v", card, code, err)
		}
	}
	waitFor(t, 15*time.Second, "HQ to hold the good sales", func() bool {
		rep := salesReport(t, g.adminURL)
		return len(rep.Terminals) == 1 && rep.Terminals[0].Count == int64(len(good))
	})
	export := ctl(t, g.addr, "ledger", "export")
	for card := range bad {
		if strings.Contains(export, card) {
			t.Errorf("the ledger holds refused card %s", card)
		}
		if out := run(t, bin("tillhq"), "customers", "show", "--admin", g.adminURL, card); !strings.Contains(out, "sales           0") || !strings.Contains(out, "none registered") {
			t.Errorf("HQ knows refused card %s:\n%s", card, out)
		}
	}
	if n := strings.Count(export, "\n"); n != len(good) {
		t.Errorf("the ledger has %d events, want %d", n, len(good))
	}
}

// TestRequestValidation: issue 14's smaller holes through the real binaries:
// a correction keeps what it does not send, NUL and invalid UTF-8 in sku and
// id, redeem_points of −5 and 10^15 and a birthday in 3000 are refused with
// 400 naming the field, and nothing is stored for them.
func TestRequestValidation(t *testing.T) {
	g := startGuardedTill(t)
	auth := map[string]string{"Authorization": "Bearer " + g.token, "Content-Type": "application/json"}
	const card = "2000000000015"
	if status, got := g.send(t, "POST", "/v1/customers", `{"card":"`+card+`","name":"Василий","surname":"Тёркин","birthday":"1978-03-05","email":"v@example.ru","consent":true,"lang":"ru"}`, auth); status != 201 {
		t.Fatalf("register: %d %s", status, got)
	}
	if status, got := g.send(t, "POST", "/v1/customers", `{"card":"`+card+`","name":"Вася","email":"vasya@example.ru","lang":"en"}`, auth); status != 200 {
		t.Fatalf("correction: %d %s", status, got)
	}
	out := ctl(t, g.addr, "account", card)
	for _, want := range []string{"Вася Тёркин", "birthday        1978-03-05", "vasya@example.ru", "consent         true"} {
		if !strings.Contains(out, want) {
			t.Errorf("after a correction of name, e-mail and lang, tillctl account lacks %q:\n%s", want, out)
		}
	}
	// tillctl customer add corrects only the flags given.
	ctl(t, g.addr, "customer", "add", "--card", card, "--phone", "+7 900 123-45-67")
	if out := ctl(t, g.addr, "account", card); !strings.Contains(out, "+7 900 123-45-67 vasya@example.ru") || !strings.Contains(out, "consent         true") {
		t.Errorf("after tillctl customer add --phone:\n%s", out)
	}

	line := `{"sku":"milk","category":"dairy","qty":1,"unit_price":9990}`
	for _, tc := range []struct{ name, path, body, field string }{
		{"NUL in sku", "/v1/sales", `{"id":"v1","lines":[{"sku":"mi\u0000lk","qty":1,"unit_price":1}]}`, "lines[1].sku"},
		{"raw NUL in sku", "/v1/sales", "{\"id\":\"v1\",\"lines\":[{\"sku\":\"mi\x00lk\",\"qty\":1,\"unit_price\":1}]}", "lines[1].sku"},
		{"invalid UTF-8 in sku", "/v1/sales", "{\"id\":\"v1\",\"lines\":[{\"sku\":\"mi\xfflk\",\"qty\":1,\"unit_price\":1}]}", "lines[1].sku"},
		{"NUL in id", "/v1/sales", `{"id":"v\u00001","lines":[` + line + `]}`, "id"},
		{"invalid UTF-8 in id", "/v1/sales", "{\"id\":\"v\xc31\",\"lines\":[" + line + "]}", "id"},
		{"redeem_points -5", "/v1/sales", `{"id":"v1","card":"` + card + `","redeem_points":-5,"lines":[` + line + `]}`, "redeem_points"},
		{"redeem_points 10^15", "/v1/sales", `{"id":"v1","card":"` + card + `","redeem_points":1000000000000000,"lines":[` + line + `]}`, "redeem_points"},
		{"redeem_points -5 in a quote", "/v1/quote", `{"card":"` + card + `","redeem_points":-5,"lines":[` + line + `]}`, "redeem_points"},
		{"birthday in 3000", "/v1/customers", `{"card":"2000000000022","name":"Мария","email":"m@example.ru","birthday":"3000-01-01"}`, "birthday"},
		{"birthday in 3000, a correction", "/v1/customers", `{"card":"` + card + `","birthday":"3000-01-01"}`, "birthday"},
	} {
		status, got := g.send(t, "POST", tc.path, tc.body, auth)
		// redeem_points out of range has its own code; the rest are bad_request.
		code := "bad_request"
		if tc.field == "redeem_points" {
			code = "bad_redeem_points"
		}
		if status != 400 || !strings.HasPrefix(got, code+": "+tc.field+": ") {
			t.Errorf("%s: %d %q; want 400 naming %s", tc.name, status, got, tc.field)
		}
	}
	st, err := g.api.Status(context.Background())
	if err != nil || st.LastSeq != 0 {
		t.Fatalf("events recorded from refused sales: %+v %v", st, err)
	}
	if out := ctl(t, g.addr, "account", card); !strings.Contains(out, "birthday        1978-03-05") {
		t.Errorf("a refused correction changed the holder:\n%s", out)
	}
	if _, err := g.api.Account(context.Background(), "2000000000022"); err != nil {
		t.Fatal(err)
	}
	if out := ctl(t, g.addr, "ledger", "verify"); !strings.Contains(out, "OK") {
		t.Errorf("ledger verify:\n%s", out)
	}
}

// TestListenersStayOnLoopback: tilld refuses an API address other machines
// reach — in `tilld config check` and at start, with a clear message and exit
// 78 — unless remote_api allows it; tillhq refuses a non-loopback admin API.
func TestListenersStayOnLoopback(t *testing.T) {
	work := t.TempDir()
	for _, listen := range []string{"0.0.0.0:7450", ":7450", "[::]:7450", "192.168.1.5:7450"} {
		conf := filepath.Join(work, "tilld.toml")
		writeFile(t, conf, fmt.Sprintf("terminal = \"T1\"\ndata_dir = %q\nlisten = %q\n", filepath.Join(work, "data"), listen))
		out, err := exec.Command(bin("tilld"), "config", "check", conf).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "line 3: listen: ") || !strings.Contains(string(out), "remote_api = true") {
			t.Errorf("config check with listen %q: %v\n%s", listen, err, out)
		}
		writeFile(t, conf, fmt.Sprintf("terminal = \"T1\"\ndata_dir = %q\nlisten = %q\nremote_api = true\n", filepath.Join(work, "data"), listen))
		if out, err := exec.Command(bin("tilld"), "config", "check", conf).CombinedOutput(); err != nil {
			t.Errorf("config check with listen %q and remote_api: %v\n%s", listen, err, out)
		}
	}
	// `tilld run --listen` overrides the file: refused at start, exit 78 (EX_CONFIG).
	if err := os.MkdirAll(filepath.Join(work, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("terminal = \"T1\"\ndata_dir = %q\n", filepath.Join(work, "data")))
	cmd := exec.Command(bin("tilld"), "run", "--config", conf, "--listen", "0.0.0.0:"+port(freeAddr(t)))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 78 || !strings.Contains(string(out), "listens on every network interface") {
		t.Errorf("tilld run --listen 0.0.0.0: %v\n%s; want exit 78 saying why", err, out)
	}
	// tillhq's admin API beyond loopback only over TLS, with operators.
	hqData := filepath.Join(work, "hq")
	run(t, bin("tillhq"), "init", "--data", hqData, "--host", "127.0.0.1")
	for _, admin := range []string{"0.0.0.0:" + port(freeAddr(t)), ":" + port(freeAddr(t)), "[::]:7461"} {
		out, err := exec.Command(bin("tillhq"), "serve", "--data", hqData, "--listen", freeAddr(t), "--admin", admin).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "beyond loopback only over TLS") {
			t.Errorf("tillhq serve --admin %s: %v\n%s", admin, err, out)
		}
	}
}
