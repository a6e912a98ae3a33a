package localapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// tiersOnly has the seed's cumulative tiers and nothing else, so the lifetime
// spend recorded is exactly what was rung up.
const tiersOnly = `
schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "cumulative"
kind = "tiers"
  [[rule.tier]]
  name = "Silver"
  from = "5000.00"
  percent = "5%"
  [[rule.tier]]
  name = "Gold"
  from = "10000.00"
  percent = "10%"
  [[rule.tier]]
  name = "Platinum"
  from = "15000.00"
  percent = "15%"
`

// testToken is the API token of the tests' servers.
const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type env struct {
	t       testing.TB
	till    *till.Till
	client  *localapi.Client
	srv     *httptest.Server
	handler http.Handler // what srv serves
}

// handlerWith is the API of the env's till with token.
func (e *env) handlerWith(token string) http.Handler {
	return localapi.Handler(localapi.Options{Till: e.till, Heartbeat: time.Hour, Token: token})
}

// handlerWithHeartbeat is the API of the env's till with the token and
// keep-alives every d.
func (e *env) handlerWithHeartbeat(d time.Duration) http.Handler {
	return localapi.Handler(localapi.Options{Till: e.till, Heartbeat: d, Token: testToken})
}

func newEnv(t testing.TB, rules string) *env {
	t.Helper()
	return newEnvWith(t, rules, nil)
}

// newEnvWith is newEnv with the till's options changed by opt (when not nil).
func newEnvWith(t testing.TB, rules string, opt func(*till.Options)) *env {
	t.Helper()
	return newEnvLedger(t, rules, opt, ledger.Options{})
}

// newEnvLedger is newEnvWith with the ledger's options (its terminal and
// clock are the till's).
func newEnvLedger(t testing.TB, rules string, opt func(*till.Options), lopts ledger.Options) *env {
	t.Helper()
	topts := till.Options{Terminal: "T1"}
	if opt != nil {
		opt(&topts) // the ledger and the till share the clock
	}
	lopts.Terminal, lopts.Now = "T1", topts.Now
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), lopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rep, err := l.Verify()
		if err != nil || !rep.OK() {
			t.Errorf("ledger verify at cleanup: %v %+v", err, rep)
		}
		l.Close()
	})
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	topts.Ledger, topts.RulesKey = l, pub
	tl, err := till.New(topts)
	if err != nil {
		t.Fatal(err)
	}
	if rules != "" {
		if err := tl.ApplyRules(1, "", wire.SignRules(priv, []byte(rules)), []byte(rules)); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, till: tl}
	e.handler = e.handlerWith(testToken)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e.srv, e.client = srv, localapi.NewClient(srv.URL)
	e.client.Token = testToken
	return e
}

// do sends a request with the API token and, when body is not empty, a JSON body.
func (e *env) do(method, path, body string) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	return http.DefaultClient.Do(req)
}

// post sends a JSON body with the token and returns the status and the
// error's message, if any.
func (e *env) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := e.do(http.MethodPost, path, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var we struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&we)
	return resp.StatusCode, we.Error
}

func (e *env) sale(id, card string, price money.Amount) (till.SaleResult, int) {
	e.t.Helper()
	res, code, err := e.client.Sale(context.Background(), till.SaleRequest{ID: id, Basket: pos.Basket{
		Card: card, Lines: []pos.Line{{SKU: "tv", Category: "electronics", Qty: 1, UnitPrice: price}},
	}})
	if err != nil {
		e.t.Fatalf("sale %s: %v", id, err)
	}
	return res, code
}

// TestTierBoundaries: the tier is chosen on the lifetime spend recorded before
// the purchase, inclusive at the seed's boundaries, and a purchase that crosses a
// boundary upgrades the next one.
func TestTierBoundaries(t *testing.T) {
	e := newEnv(t, tiersOnly)
	const card = "2000000000015"
	ctx := context.Background()
	probe := func(wantTier string, wantDiscount money.Amount) {
		t.Helper()
		q, err := e.client.Quote(ctx, pos.Basket{Card: card, Lines: []pos.Line{{SKU: "x", Qty: 1, UnitPrice: 10000}}})
		if err != nil {
			t.Fatal(err)
		}
		if q.Tier != wantTier || q.Discount != wantDiscount || q.Total != 10000-wantDiscount {
			t.Fatalf("quote at lifetime %d: tier %q discount %d total %d; want %q %d", q.Customer.LifetimeSpend, q.Tier, q.Discount, q.Total, wantTier, wantDiscount)
		}
	}
	probe("", 0)
	if res, code := e.sale("s1", card, 499999); code != http.StatusCreated || res.Total != 499999 || res.Discount != 0 {
		t.Fatalf("first sale: %d %+v", code, res)
	}
	probe("", 0) // 4 999.99 → none
	e.sale("s2", card, 1)
	probe("Silver", 500) // 5 000.00 → 5 %
	// 5 000.00 + 5 263.16 at 5 % = 5 000.00 + 5 000.00 paid → 10 000.00
	if res, _ := e.sale("s3", card, 526316); res.Total != 500000 {
		t.Fatalf("sale s3 total %d, want 500000 (5%% off 5263.16)", res.Total)
	}
	probe("Gold", 1000) // 10 000.00 → 10 %
	// A purchase that crosses 15 000.00 is priced in Gold and upgrades the next one.
	if res, _ := e.sale("s4", card, 600000); res.Total != 540000 || res.Tier != "Gold" {
		t.Fatalf("sale s4: total %d tier %q, want 540000 in Gold", res.Total, res.Tier)
	}
	probe("Platinum", 1500)
	a, err := e.client.Account(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if a.LifetimeSpend != 1540000 || a.Tier != "Platinum" || a.Sales != 4 {
		t.Fatalf("account = %+v, want lifetime 1540000, Platinum, 4 sales", a)
	}
}

func TestSaleIdempotency(t *testing.T) {
	e := newEnv(t, tiersOnly)
	body := `{"id":"pos-42","card":"2000000000015","lines":[{"sku":"milk","category":"dairy","qty":2,"unit_price":9990}]}`
	post := func(b string) (int, []byte) {
		resp, err := e.do(http.MethodPost, "/v1/sales", b)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	code1, ans1 := post(body)
	if code1 != http.StatusCreated {
		t.Fatalf("first POST: %d %s", code1, ans1)
	}
	code2, ans2 := post(body)
	if code2 != http.StatusOK || !bytes.Equal(ans1, ans2) {
		t.Fatalf("retry: %d %s; want 200 and the same body as %s", code2, ans2, ans1)
	}
	code3, ans3 := post(strings.Replace(body, `"qty":2`, `"qty":3`, 1))
	if code3 != http.StatusConflict {
		t.Fatalf("same id, other basket: %d %s; want 409", code3, ans3)
	}
	st, err := e.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.LastSeq != 1 || st.Outbox != 1 {
		t.Fatalf("status after retry and conflict: last seq %d outbox %d; want 1 and 1", st.LastSeq, st.Outbox)
	}
	var sale struct {
		Seq   uint64 `json:"seq"`
		Total int64  `json:"total"`
	}
	if err := json.Unmarshal(ans1, &sale); err != nil || sale.Seq != 1 || sale.Total != 19980 {
		t.Fatalf("sale answer %s: seq %d total %d, %v", ans1, sale.Seq, sale.Total, err)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	e := newEnv(t, tiersOnly)
	for _, tc := range []struct{ body, want string }{
		{`{"lines":[]}`, "lines"},
		{`{"lines":[{"sku":"a","qty":0,"unit_price":1}]}`, "lines[1].qty"},
		{`{"lines":[{"sku":"a","qty":1,"unit_price":-5}]}`, "lines[1].unit_price"},
		{`{"lines":[{"qty":1,"unit_price":5}]}`, "lines[1].sku"},
		{`{"lines":[{"sku":"a","qty":1,"unit_price":5}],"bogus":1}`, "bogus"},
		{`{"card":"20 00","lines":[{"sku":"a","qty":1,"unit_price":5}]}`, "card"},
		{`not json`, "request body"},
	} {
		if code, msg := e.post(t, "/v1/quote", tc.body); code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("quote %s: %d %q; want 400 naming %q", tc.body, code, msg, tc.want)
		}
	}
}

func TestNoRulesIs503(t *testing.T) {
	e := newEnv(t, "")
	_, err := e.client.Quote(context.Background(), pos.Basket{Lines: []pos.Line{{SKU: "a", Qty: 1, UnitPrice: 100}}})
	var apiErr *localapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable || apiErr.Code != "no_rules" {
		t.Fatalf("quote without rules: %v; want 503 no_rules", err)
	}
}

func TestScanEventsStream(t *testing.T) {
	e := newEnv(t, tiersOnly)
	e.sale("s1", "2000000000022", 1200000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // the stream's opening comment: the subscription exists now
	e.till.HandleScan(device.Scan{Source: "front", Kind: device.KindBarcode, Data: "2000000000022", At: time.Now()})
	e.till.HandleScan(device.Scan{Source: "front", Kind: device.KindBarcode, Data: "4600000000008", At: time.Now()})
	e.till.HandleScan(device.Scan{Source: "front", Kind: device.KindBarcode, Data: "4600000000003", At: time.Now()})
	var got []till.ScanEvent
	for len(got) < 3 && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev till.ScanEvent
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
		}
	}
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3", len(got))
	}
	if c := got[0]; c.Card != "2000000000022" || c.Customer == nil || c.Customer.Tier != "Gold" || c.Customer.LifetimeSpend != 1200000 {
		t.Errorf("card scan event = %+v (customer %+v); want the Gold customer", c, c.Customer)
	}
	if p := got[1]; p.Product != "4600000000008" || p.Card != "" || p.Customer != nil {
		t.Errorf("product scan = %+v; want a product, no customer", p)
	}
	if b := got[2]; b.Card != "" || b.Product != "" || !strings.Contains(b.Error, "check digit") {
		t.Errorf("bad check digit scan = %+v; want an error naming the check digit", b)
	}
}

// TestMetrics: /metrics parses with the Prometheus text parser and the outbox
// gauge follows sales and acknowledgements.
func TestMetrics(t *testing.T) {
	e := newEnv(t, tiersOnly)
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		resp, err := http.Get(e.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		return fams
	}
	gauge := func(fams map[string]*dto.MetricFamily, name string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("metric %s missing", name)
		}
		return f.Metric[0].GetGauge().GetValue()
	}
	if v := gauge(scrape(), "tilld_outbox_events"); v != 0 {
		t.Fatalf("outbox before sales = %v", v)
	}
	e.sale("m1", "2000000000015", 1000)
	e.sale("m2", "", 2000)
	e.sale("m2", "", 2000) // a replay records nothing
	fams := scrape()
	if v := gauge(fams, "tilld_outbox_events"); v != 2 {
		t.Fatalf("outbox after 2 sales = %v, want 2", v)
	}
	if v := gauge(fams, "tilld_ruleset_version"); v != 1 {
		t.Fatalf("ruleset version = %v", v)
	}
	var recorded, replayed float64
	for _, m := range fams["tilld_sales_total"].Metric {
		switch m.Label[0].GetValue() {
		case "recorded":
			recorded = m.GetCounter().GetValue()
		case "replayed":
			replayed = m.GetCounter().GetValue()
		}
	}
	if recorded != 2 || replayed != 1 {
		t.Fatalf("sales recorded %v replayed %v, want 2 and 1", recorded, replayed)
	}
	if h := fams["tilld_sale_commit_seconds"].Metric[0].GetHistogram(); h.GetSampleCount() != 2 {
		t.Fatalf("commit histogram has %d samples, want 2", h.GetSampleCount())
	}
	if err := e.till.Ledger().Ack(2); err != nil {
		t.Fatal(err)
	}
	if v := gauge(scrape(), "tilld_outbox_events"); v != 0 {
		t.Fatalf("outbox after HQ acknowledged = %v, want 0", v)
	}
}
