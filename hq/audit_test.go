package hq_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// vector is a golden vector of the discount engine (discount/testdata/golden).
type vector struct {
	Rules   string       `json:"rules"`
	Now     time.Time    `json:"now"`
	Basket  pos.Basket   `json:"basket"`
	Account *pos.Account `json:"account"`
}

// published is a rules file as HQ published it: its version, hash and parse.
type published struct {
	raw  []byte
	hash string
	rs   *discount.Ruleset
}

func publish(t *testing.T, raw []byte) published {
	t.Helper()
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return published{raw: raw, hash: hex.EncodeToString(sum[:]), rs: rs}
}

func (p published) rules() map[int64]*hq.AuditRules {
	return map[int64]*hq.AuditRules{p.rs.Version: {Hash: p.hash, Rules: p.rs}}
}

// tillSale prices basket b for acct at the till's wall-clock time now with p,
// as till.Sale does, lets edit change the sale, and returns its event.
func tillSale(t *testing.T, p published, terminal string, b pos.Basket, acct *pos.Account, now time.Time, edit func(*pos.Sale, *event.Event)) event.Event {
	t.Helper()
	b.Terminal = terminal
	q, err := discount.Apply(p.rs, b, acct, now)
	if err != nil {
		t.Fatal(err)
	}
	q.Greeting = ""
	s := pos.Sale{ID: "sale-1", Card: b.Card, At: now.UTC(), Quote: q, Request: strings.Repeat("ab", 32),
		Inputs: pos.NewSaleInputs(b, acct, now)}
	e := event.Event{Terminal: terminal, Seq: 7, ID: "ev-7", Type: event.TypeSale, At: now.UTC(),
		RulesetVersion: p.rs.Version, RulesetHash: p.hash}
	if edit != nil {
		edit(&s, &e)
	}
	if e.Body == nil {
		if e.Body, err = json.Marshal(s); err != nil {
			t.Fatal(err)
		}
	}
	e.Hash = e.ComputeHash()
	return e
}

func goldenVectors(t *testing.T) map[string]vector {
	t.Helper()
	files, err := filepath.Glob("../discount/testdata/golden/*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("golden vectors: %d files, %v", len(files), err)
	}
	out := map[string]vector{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = v
	}
	return out
}

func rulesOf(t *testing.T, v vector) published {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../discount/testdata", v.Rules))
	if err != nil {
		t.Fatal(err)
	}
	return publish(t, raw)
}

// Every golden vector of the engine, sold at a till and priced again at HQ
// from what the sale event carries, is clean: windows on the till's wall
// clock, tiers, lots, offline limits, the birthday, partners, raffles. And
// the event carries no personal data.
func TestAuditGoldenSalesAreClean(t *testing.T) {
	for name, v := range goldenVectors(t) {
		t.Run(name, func(t *testing.T) {
			p := rulesOf(t, v)
			e := tillSale(t, p, cmp.Or(v.Basket.Terminal, "S1-T1"), v.Basket, v.Account, v.Now, nil)
			a := hq.AuditEvent("", e, p.rules())
			if !a.Sale || a.Unpriceable || a.Flag != nil {
				t.Fatalf("audit = %+v, flag %+v; want a clean sale", a, a.Flag)
			}
			if v.Account != nil && v.Account.Profile != nil {
				for _, pd := range []string{v.Account.Profile.Name, `"profile"`, `"birth_day"`} {
					if pd != "" && bytes.Contains(e.Body, []byte(pd)) {
						t.Errorf("the sale event holds %q: personal data", pd)
					}
				}
			}
		})
	}
}

// HQ does not know the holder's birthday: it gives the customer one that
// puts them inside the windows of the birthday rules that applied, and
// outside the others: a 10 % discount 3 days either side, 200 points on the
// day itself.
func TestAuditBirthdays(t *testing.T) {
	v := goldenVectors(t)["chain-birthday-gold-partner-happy-hour"]
	p := rulesOf(t, v)
	birthday := time.Date(2025, 3, 6, 17, 15, 0, 0, v.Now.Location())
	if v.Account.Profile.BirthMonth != 3 || v.Account.Profile.BirthDay != 6 {
		t.Fatalf("the vector's birthday moved: %+v", v.Account.Profile)
	}
	for days := -5; days <= 5; days++ {
		now := birthday.AddDate(0, 0, days)
		e := tillSale(t, p, "S1-T1", v.Basket, v.Account, now, nil)
		var s pos.Sale
		if err := json.Unmarshal(e.Body, &s); err != nil {
			t.Fatal(err)
		}
		if want := days >= -3 && days <= 3; s.Birthday != want {
			t.Fatalf("%d days from the birthday: quote says birthday %v", days, s.Birthday)
		}
		if a := hq.AuditEvent("", e, p.rules()); a.Flag != nil || a.Unpriceable {
			t.Errorf("%d days from the birthday: flagged %+v", days, a.Flag.Findings)
		}
	}
}

// What each kind of tampering or mistake makes the audit say.
func TestAuditFlags(t *testing.T) {
	golden := goldenVectors(t)
	v := golden["chain-redeem-lots"]
	p := rulesOf(t, v)
	saleOf := func(e event.Event) pos.Sale {
		t.Helper()
		var s pos.Sale
		if err := json.Unmarshal(e.Body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	sell := func(edit func(*pos.Sale, *event.Event)) event.Event {
		return tillSale(t, p, "S1-T1", v.Basket, v.Account, v.Now, edit)
	}
	honest := sell(nil)
	sale := saleOf(honest)
	if sale.PointsRedeemed == 0 || sale.Discount == 0 || sale.PointsEarned == 0 {
		t.Fatalf("the vector redeems %d points, earns %d, discount %d: the test proves little", sale.PointsRedeemed, sale.PointsEarned, sale.Discount)
	}
	// The same file with the club card at 99 %, under the same version.
	doctored := publish(t, bytes.Replace(p.raw, []byte(`percent = "3%"`), []byte(`percent = "99%"`), 1))
	if doctored.hash == p.hash {
		t.Fatal("the doctored ruleset is the published one: the test proves nothing")
	}
	forged := tillSale(t, doctored, "S1-T1", v.Basket, v.Account, v.Now, nil)
	fs := saleOf(forged)
	later := publish(t, bytes.Replace(p.raw, []byte("effective = 2025-03-01T"), []byte("effective = 2030-03-01T"), 1))
	if later.hash == p.hash {
		t.Fatal("the later ruleset takes effect when the published one does")
	}
	// The happy hour (16:00-18:00 on weekdays) is read on the till's clock:
	// at 17:15 in Moscow it applies, at 14:15 UTC it does not.
	bv := golden["chain-birthday-gold-partner-happy-hour"]
	bp := rulesOf(t, bv)
	utc := tillSale(t, bp, "S1-T1", bv.Basket, bv.Account, bv.Now, func(s *pos.Sale, _ *event.Event) { s.Inputs.UTCOffset = 0 })

	const anyAmount = -1 // the finding's code is checked, not its amounts
	for _, tc := range []struct {
		name        string
		e           event.Event
		rules       map[int64]*hq.AuditRules
		unpriceable bool
		want        []wire.AuditFinding // nil: clean
	}{
		{name: "honest", e: honest, rules: p.rules()},
		{name: "priced with a doctored ruleset under a published version", e: forged, rules: p.rules(),
			want: []wire.AuditFinding{
				{Code: wire.AuditRulesetHash, Till: anyAmount},
				{Code: wire.AuditTotal, Till: int64(fs.Total), HQ: int64(sale.Total)},
				{Code: wire.AuditDiscount, Till: int64(fs.Discount), HQ: int64(sale.Discount)},
				{Code: wire.AuditPointsEarned, Till: fs.PointsEarned, HQ: sale.PointsEarned},
				{Code: wire.AuditPointsRedeemed, Till: fs.PointsRedeemed, HQ: sale.PointsRedeemed},
			}},
		{name: "a version HQ never published", rules: p.rules(),
			e: sell(func(s *pos.Sale, e *event.Event) {
				s.RulesetVersion, e.RulesetVersion = 99, 99
			}),
			want: []wire.AuditFinding{{Code: wire.AuditUnpublished, Till: anyAmount}}},
		{name: "total lowered after pricing", rules: p.rules(),
			e: sell(func(s *pos.Sale, _ *event.Event) {
				s.Total -= 100_00
				s.Discount += 100_00
			}),
			want: []wire.AuditFinding{
				{Code: wire.AuditTotal, Till: int64(sale.Total) - 100_00, HQ: int64(sale.Total)},
				{Code: wire.AuditDiscount, Till: int64(sale.Discount) + 100_00, HQ: int64(sale.Discount)},
			}},
		{name: "points changed after pricing", rules: p.rules(),
			e: sell(func(s *pos.Sale, _ *event.Event) {
				s.PointsEarned += 500
				s.PointsRedeemed = 0
			}),
			want: []wire.AuditFinding{
				{Code: wire.AuditPointsEarned, Till: sale.PointsEarned + 500, HQ: sale.PointsEarned},
				{Code: wire.AuditPointsRedeemed, Till: 0, HQ: sale.PointsRedeemed},
			}},
		{name: "the account's balance changed after pricing", rules: p.rules(),
			e: sell(func(s *pos.Sale, _ *event.Event) { s.Inputs.Account.Points, s.Inputs.Account.Lots = 0, nil }),
			want: []wire.AuditFinding{
				{Code: wire.AuditTotal, Till: anyAmount},
				{Code: wire.AuditDiscount, Till: anyAmount},
				{Code: wire.AuditPointsEarned, Till: anyAmount},
				{Code: wire.AuditPointsRedeemed, Till: sale.PointsRedeemed, HQ: 0},
			}},
		{name: "sold before tills kept their inputs", rules: p.rules(), unpriceable: true,
			e: sell(func(s *pos.Sale, _ *event.Event) {
				s.Inputs = nil
				s.Total = 1 // not priced again: not a difference
			})},
		{name: "sold before tills kept their inputs, with a ruleset never published", rules: p.rules(), unpriceable: true,
			e: sell(func(s *pos.Sale, e *event.Event) {
				s.Inputs = nil
				s.RulesetVersion, e.RulesetVersion = 41, 41
			}),
			want: []wire.AuditFinding{{Code: wire.AuditUnpublished, Till: anyAmount}}},
		{name: "the quote names another version than its event", rules: p.rules(),
			e:    sell(func(s *pos.Sale, _ *event.Event) { s.RulesetVersion = 3 }),
			want: []wire.AuditFinding{{Code: wire.AuditRulesetVersion, Till: 3, HQ: p.rs.Version}}},
		{name: "sold before the ruleset took effect", rules: later.rules(),
			e:    sell(func(_ *pos.Sale, e *event.Event) { e.RulesetHash = later.hash }),
			want: []wire.AuditFinding{{Code: wire.AuditNotPriced, Till: anyAmount}}},
		{name: "a body that is not a sale", rules: p.rules(),
			e:    sell(func(_ *pos.Sale, e *event.Event) { e.Body = []byte(`{"total":"lots"}`) }),
			want: []wire.AuditFinding{{Code: wire.AuditBadBody, Till: anyAmount}}},
		{name: "a published file that does not parse", e: honest,
			rules: map[int64]*hq.AuditRules{p.rs.Version: {Hash: p.hash, Err: errors.New("schema 2 is not known")}},
			want:  []wire.AuditFinding{{Code: wire.AuditNotPriced, Till: anyAmount}}},
		{name: "the till's clock changed after pricing", e: utc, rules: bp.rules(),
			want: []wire.AuditFinding{
				{Code: wire.AuditTotal, Till: anyAmount},
				{Code: wire.AuditDiscount, Till: anyAmount},
				{Code: wire.AuditPointsEarned, Till: anyAmount},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := hq.AuditEvent("e1", tc.e, tc.rules)
			if !a.Sale || a.Unpriceable != tc.unpriceable {
				t.Fatalf("audit = %+v; want a sale, unpriceable %v", a, tc.unpriceable)
			}
			if tc.want == nil {
				if a.Flag != nil {
					t.Fatalf("flagged: %+v", a.Flag.Findings)
				}
				return
			}
			if a.Flag == nil {
				t.Fatal("not flagged")
			}
			f := a.Flag
			if f.Terminal != "S1-T1" || f.Epoch != "e1" || f.Seq != 7 || !f.At.Equal(tc.e.At) || f.RulesetVersion != tc.e.RulesetVersion {
				t.Errorf("flag filed as %s/%s/%d at %v version %d", f.Terminal, f.Epoch, f.Seq, f.At, f.RulesetVersion)
			}
			if tc.want[0].Code != wire.AuditBadBody && (f.SaleID != "sale-1" || f.Currency != "RUB") {
				t.Errorf("flag names sale %q in %q", f.SaleID, f.Currency)
			}
			ok := len(f.Findings) == len(tc.want)
			for i := 0; ok && i < len(tc.want); i++ {
				got, want := f.Findings[i], tc.want[i]
				ok = got.Code == want.Code && (want.Till == anyAmount || got.Till == want.Till && got.HQ == want.HQ)
				if !got.IsMoney() && got.Code != wire.AuditPointsEarned && got.Code != wire.AuditPointsRedeemed && got.Detail == "" {
					t.Errorf("finding %s says nothing", got.Code)
				}
				if (got.Code == wire.AuditTotal || got.Code == wire.AuditDiscount || got.Code == wire.AuditPointsEarned || got.Code == wire.AuditPointsRedeemed) && got.Till == got.HQ {
					t.Errorf("finding %s with equal amounts", got.Code)
				}
			}
			if !ok {
				t.Errorf("findings = %+v\nwant       %+v", f.Findings, tc.want)
			}
		})
	}
}

func TestAuditSkipsOtherEvents(t *testing.T) {
	e := event.Event{Terminal: "T", Seq: 1, Type: "feedback", Body: []byte(`{"score":9}`)}
	if a := hq.AuditEvent("", e, nil); a.Sale || a.Flag != nil {
		t.Fatalf("audit of feedback = %+v", a)
	}
}

func TestAuditTally(t *testing.T) {
	var got hq.AuditTally
	for _, u := range []hq.AuditTally{
		{Sales: 3},
		{Sales: 2, Unpriceable: 2, UnpricedFirst: 4, UnpricedLast: 5},
		{Sales: 1},
		{Sales: 4, Unpriceable: 1, UnpricedFirst: 9, UnpricedLast: 9},
	} {
		got.Add(u)
	}
	if want := (hq.AuditTally{Sales: 10, Unpriceable: 3, UnpricedFirst: 4, UnpricedLast: 9}); got != want {
		t.Fatalf("tally = %+v, want %+v", got, want)
	}
}

func TestAuditFormatFinding(t *testing.T) {
	for _, tc := range []struct {
		f    wire.AuditFinding
		want string
	}{
		{wire.AuditFinding{Code: wire.AuditTotal, Till: 1_00, HQ: 97_00}, "total: till 1.00 RUB, HQ 97.00 RUB"},
		{wire.AuditFinding{Code: wire.AuditPointsEarned, Till: 0, HQ: 12}, "points_earned: till 0, HQ 12"},
		{wire.AuditFinding{Code: wire.AuditUnpublished, Detail: "ruleset version 9 was never published"}, "unpublished_ruleset: ruleset version 9 was never published"},
	} {
		if got := hq.FormatFinding(tc.f, "RUB"); got != tc.want {
			t.Errorf("FormatFinding(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// FuzzAuditEvent: whatever the body of a sale event (an enrolled terminal
// may upload anything that chains), the audit answers without panicking, and
// a body it cannot price is flagged or found not re-priceable, never clean by
// accident of a failure.
func FuzzAuditEvent(f *testing.F) {
	raw, err := os.ReadFile("../discount/testdata/rules/chain.toml")
	if err != nil {
		f.Fatal(err)
	}
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	published := map[int64]*hq.AuditRules{rs.Version: {Hash: hash, Rules: rs}}
	files, _ := filepath.Glob("../discount/testdata/golden/*.json")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(src, &v); err != nil || v.Rules != "rules/chain.toml" {
			continue
		}
		b := v.Basket
		b.Terminal = "S1-T1"
		q, err := discount.Apply(rs, b, v.Account, v.Now)
		if err != nil {
			f.Fatal(err)
		}
		body, _ := json.Marshal(pos.Sale{ID: "s", Card: b.Card, At: v.Now.UTC(), Quote: q, Inputs: pos.NewSaleInputs(b, v.Account, v.Now)})
		f.Add(body, v.Now.UnixNano())
	}
	f.Add([]byte(`{"inputs":{"utc_offset":-999999999999,"account":{"lots":[{"points":-1}]}},"lines":[{"qty":-1}],"birthday":true,"card":"x","ruleset_version":42}`), int64(0))
	f.Fuzz(func(t *testing.T, body []byte, at int64) {
		if !json.Valid(body) {
			return // an upload is decoded whole first: its bodies are valid JSON
		}
		e := event.Event{Terminal: "S1-T1", Seq: 1, Type: event.TypeSale, At: time.Unix(0, at).UTC(), RulesetVersion: rs.Version, RulesetHash: hash, Body: body}
		a := hq.AuditEvent("", e, published)
		if !a.Sale {
			t.Fatal("a sale event not audited as a sale")
		}
		var s pos.Sale
		if json.Unmarshal(body, &s) != nil && a.Flag == nil {
			t.Fatal("a body that is not a sale passed the audit")
		}
	})
}

// The admin API answers the audit as JSON and counts its flags in /metrics.
func TestAuditReportRoute(t *testing.T) {
	ctx := context.Background()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	srv := hq.NewServer(hq.Options{Store: store, SigningKey: key})
	if _, err := srv.PublishRuleset(ctx, discount.Example); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	b := pos.Basket{Lines: []pos.Line{{SKU: "milk", Qty: 1, UnitPrice: 100_00}}}
	evs, err := storetest.PricedSales("T1", 1, "",
		storetest.PricedSpec{Rules: discount.Example, Basket: b, At: at},
		storetest.PricedSpec{Rules: discount.Example, Basket: b, At: at, Edit: func(s *pos.Sale) { s.Total, s.Discount = 1_00, 99_00 }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "T1", evs); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- srv.RunAuditor(runCtx, hq.AuditorOptions{Idle: 10 * time.Millisecond}) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunAuditor: %v", err)
		}
	}()
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	var rep wire.AuditReport
	for deadline := time.Now().Add(10 * time.Second); rep.Summary.Sales < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the auditor did not audit 2 sales: %+v", rep.Summary)
		}
		code, body := get(wire.PathReportAudit)
		if code != http.StatusOK || json.Unmarshal(body, &rep) != nil {
			t.Fatalf("GET %s = %d %s", wire.PathReportAudit, code, body)
		}
	}
	if rep.Summary != (wire.AuditSummary{Sales: 2, Flagged: 1}) || len(rep.Flags) != 1 || rep.Flags[0].Seq != 2 ||
		rep.Flags[0].Findings[0] != (wire.AuditFinding{Code: wire.AuditTotal, Till: 1_00, HQ: 100_00}) {
		t.Errorf("report = %+v", rep)
	}
	if code, body := get(wire.PathReportAudit + "?limit=0"); code != http.StatusOK || !bytes.Contains(body, []byte(`"seq":2`)) {
		t.Errorf("?limit=0 = %d %s", code, body)
	}
	if code, body := get(wire.PathReportAudit + "?limit=ten"); code != http.StatusBadRequest || !bytes.Contains(body, []byte("limit")) {
		t.Errorf("?limit=ten = %d %s", code, body)
	}
	if _, body := get("/metrics"); !bytes.Contains(body, []byte("\ntillhq_audit_flagged_sales 1\n")) || !bytes.Contains(body, []byte("\ntillhq_audit_sales 2\n")) {
		t.Errorf("/metrics lacks the audit's counts:\n%s", body)
	}
}
