package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tilld/tilld/pos"
)

// The headless-browser tier: Debian's chromium, driven over the DevTools
// protocol, loads pages from other origins on the till itself and runs their
// scripts against the till's local API, as a web page a cashier opened would.
// TILLD_SCREENSHOTS=DIR keeps the screenshots (docs/screenshots has them).

// browser starts a headless chromium with a fresh profile and returns a tab.
// evil.example resolves to 127.0.0.2, where TestBrowserDNSRebinding's
// attacker listens.
func browser(t testing.TB) context.Context {
	t.Helper()
	return browserFor(t, 60*time.Second)
}

// browserFor is browser with the tab's context ending after limit.
func browserFor(t testing.TB, limit time.Duration) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: the browser tests need Debian's headless chromium " +
			"(apt-get install -y chromium; `make test` installs it with the other TEST_DEBS)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 640),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
		chromedp.Flag("host-resolver-rules", "MAP evil.example 127.0.0.2"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, limit)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot keeps a PNG of the tab in $TILLD_SCREENSHOTS/name, when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TILLD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clickFresh clicks the element sel finds, and again when the page replaced
// it between the query and the click: a list that a fetch still under way
// renders anew (the rules page's versions after a click on its tab). Click
// itself waits for an element to appear; "Could not find node with given
// id" is only that race.
func clickFresh(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node with given id") || time.Now().After(deadline) {
			t.Fatalf("click %s: %v", sel, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// attackResults runs the page at url in the tab, waits for its script to
// write its results as JSON into #result and then add #done, and returns them.
func attackResults(t *testing.T, ctx context.Context, url string) map[string]string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.ID("done"))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result")))
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(text), &res); err != nil {
		t.Fatalf("the page's results %q: %v", text, err)
	}
	t.Logf("the page at %s got: %s", url, text)
	return res
}

// attackScript is the script of an attacker's page: each attempt on the
// till's API (at till, "" for its own origin) and what the page could learn.
const attackScript = `
const till = %q;
const sale = JSON.stringify({id: 'evil-browser-1', card: '2000000000022',
  lines: [{sku: 'tv', category: 'electronics', qty: 1, unit_price: 100000}]});
const out = {};
async function attempt(name, f) {
  try { out[name] = await f(); } catch (e) { out[name] = 'error: ' + e.name + ': ' + e.message; }
}
async function read(r) { return 'status ' + r.status + ': ' + (await r.text()); }
(async () => {
  await attempt('sale', async () => read(await fetch(till + '/v1/sales',
    {method: 'POST', headers: {'Content-Type': 'application/json'}, body: sale})));
  await attempt('sale_simple', async () => {
    const r = await fetch(till + '/v1/sales', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: sale});
    return r.type === 'opaque' ? 'opaque: nothing readable' : await read(r);
  });
  await attempt('customer', async () => read(await fetch(till + '/v1/customers',
    {method: 'POST', headers: {'Content-Type': 'application/json'},
     body: JSON.stringify({card: '2000000000022', name: 'Eve', email: 'eve@evil.example'})})));
  await attempt('account', async () => read(await fetch(till + '/v1/accounts/2000000000022')));
  await attempt('export', async () => read(await fetch(till + '/v1/ledger/export')));
  await attempt('form', () => new Promise(done => {
    // The classic JSON CSRF: a form whose text/plain body is a JSON object.
    const frame = document.createElement('iframe');
    frame.name = 'sink'; frame.style.display = 'none';
    frame.onload = () => done('form posted');
    document.body.append(frame);
    const form = document.createElement('form');
    form.method = 'POST'; form.enctype = 'text/plain'; form.target = 'sink';
    form.action = (till || location.origin) + '/v1/sales';
    const field = document.createElement('input');
    field.name = sale.slice(0, -1) + ', "x": "'; field.value = '"}';
    form.append(field); document.body.append(form); form.submit();
  }));
  document.getElementById('result').textContent = JSON.stringify(out);
  const done = document.createElement('p'); done.id = 'done'; done.textContent = 'done';
  document.body.append(done);
})();
`

// holderTill is a guarded till whose card 2000000000022 has a holder with a
// name and a phone: what a page must not read.
func holderTill(t *testing.T) (*guardedTill, string) {
	t.Helper()
	g := startGuardedTill(t)
	const card = "2000000000022"
	if _, _, err := g.api.RegisterCustomer(context.Background(), pos.CardHolder{Card: card, Name: "Василий",
		Patronymic: "Петрович", Phone: "+7 900 123-45-67"}); err != nil {
		t.Fatal(err)
	}
	return g, card
}

func attackPage(till string) string {
	where := till
	if where == "" {
		where = "its own origin, whose name now resolves to the till"
	}
	return `<!doctype html><html><head><meta charset="utf-8"><title>Скидки!</title></head>
<body><h1>A web page on another site</h1><p>Its script tries the till's local API at ` + where + `:</p>
<pre id="result" style="white-space: pre-wrap"></pre><script>` + fmt.Sprintf(attackScript, till) + `</script></body></html>`
}

// TestBrowserOtherOriginCannotSell: a page served by another local server (on
// another port of this machine) tries to sell, to register a customer, to read
// an account and the ledger through the till's API with fetch and with a form;
// every attempt fails in the browser and nothing is recorded. The till page
// itself still loads, greets a scanned card and shows the till's state.
func TestBrowserOtherOriginCannotSell(t *testing.T) {
	g, card := holderTill(t)
	ctx := context.Background()
	till := "http://" + g.addr
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, attackPage(till))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(ln)
	t.Cleanup(func() { evil.Close() })

	tab := browser(t)
	res := attackResults(t, tab, "http://"+ln.Addr().String()+"/")
	for _, name := range []string{"sale", "customer", "account", "export"} {
		if !strings.HasPrefix(res[name], "error: TypeError") {
			t.Errorf("%s from another origin: the page got %q; want the browser to refuse it (TypeError)", name, res[name])
		}
	}
	if res["sale_simple"] != "opaque: nothing readable" || res["form"] != "form posted" {
		t.Errorf("the simple requests: %q, %q", res["sale_simple"], res["form"])
	}
	screenshot(t, tab, "cross-site-refused.png")

	st, err := g.api.Status(ctx)
	if err != nil || st.LastSeq != 0 {
		t.Fatalf("after the page's attempts the till has %d events (%v); want none", st.LastSeq, err)
	}
	if a, err := g.api.Account(ctx, card); err != nil || a.Sales != 0 || a.Holder == nil || a.Holder.Name != "Василий" {
		t.Fatalf("account after the page's attempts: %+v %v", a, err)
	}
	// The simple requests reached tilld and were refused there.
	_, metrics := g.send(t, "GET", "/metrics", "", nil)
	if !strings.Contains(metrics, `tilld_api_refused_total{why="cross_site"}`) {
		t.Errorf("tilld counted no cross-site refusal")
	}

	// The till page works in the same browser: it shows the till's state and
	// greets a card presented on the reader.
	if err := chromedp.Do(tab, chromedp.Navigate(till+"/"), chromedp.WaitVisible(chromedp.ID("greeting"))); err != nil {
		t.Fatal(err)
	}
	var terminal string
	waitFor(t, 10*time.Second, "the till page to show the terminal", func() bool {
		terminal, _ = chromedp.Run(tab, chromedp.Text(chromedp.ID("terminal")))
		return terminal == "S1-T1"
	})
	if err := g.api.Present(ctx, "demo", card); err != nil {
		t.Fatal(err)
	}
	var greeting, details string
	waitFor(t, 10*time.Second, "the till page to greet the card", func() bool {
		greeting, _ = chromedp.Run(tab, chromedp.Text(chromedp.ID("greeting")))
		details, _ = chromedp.Run(tab, chromedp.Text(chromedp.ID("details")))
		return strings.HasPrefix(greeting, "Здравствуйте")
	})
	// The greeting is the rules' (by name, issue 18); the details show the
	// card masked and no other personal data.
	if !strings.Contains(details, "•••• 0022") || strings.Contains(details, "Василий") || strings.Contains(details, "900") {
		t.Errorf("the till page shows %q after the scan; want the card's last four digits", details)
	}
	link, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("link")))
	if link != "HQ: на связи" {
		t.Errorf("the till page says %q about HQ", link)
	}
	screenshot(t, tab, "till-page.png")
}

// TestBrowserDNSRebinding: a page from evil.example whose name then resolves
// to this machine (DNS rebinding) reaches the till's API as its own origin —
// the browser lets it read the answers — and gets only refusals: tilld
// answers no Host but its own.
func TestBrowserDNSRebinding(t *testing.T) {
	g, card := holderTill(t)
	ctx := context.Background()
	// The attacker's server has the till's port on another loopback address,
	// which the browser knows as evil.example. It serves its page once; then
	// its name "rebinds" to this machine: every later request reaches the
	// till as the browser sent it (Host, Origin, Sec-Fetch-Site and all).
	ln, err := net.Listen("tcp", "127.0.0.2:"+port(g.addr))
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (the attacker's address): %v", err)
	}
	tillURL, _ := url.Parse("http://" + g.addr)
	rebound := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(tillURL)
		r.Out.Host = r.In.Host
	}}
	var served atomic.Bool
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && served.CompareAndSwap(false, true) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, attackPage(""))
			return
		}
		rebound.ServeHTTP(w, r)
	})}
	go evil.Serve(ln)
	t.Cleanup(func() { evil.Close() })

	tab := browser(t)
	res := attackResults(t, tab, "http://evil.example:"+port(g.addr)+"/")
	for _, name := range []string{"sale", "customer", "account", "export"} {
		if !strings.HasPrefix(res[name], "status 403: ") || !strings.Contains(res[name], "bad_host") {
			t.Errorf("%s after rebinding: the page got %q; want 403 bad_host", name, res[name])
		}
	}
	for name, got := range res {
		for _, secret := range []string{"Василий", "900 123", "lifetime_spend", `"seq"`} {
			if strings.Contains(got, secret) {
				t.Errorf("%s after rebinding leaked %q: %q", name, secret, got)
			}
		}
	}
	screenshot(t, tab, "dns-rebinding-refused.png")
	if st, err := g.api.Status(ctx); err != nil || st.LastSeq != 0 {
		t.Fatalf("after the rebinding page the till has %d events (%v); want none", st.LastSeq, err)
	}
	if a, err := g.api.Account(ctx, card); err != nil || a.Holder == nil || a.Holder.Name != "Василий" || a.Holder.Email != "" {
		t.Fatalf("the holder after the rebinding page: %+v %v", a.Holder, err)
	}
}
