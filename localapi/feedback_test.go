package localapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// npsRules: the cumulative tiers and the NPS question every 90 days.
const npsRules = tiersOnly + `
[[rule]]
id = "nps"
kind = "nps"
every_days = 90
`

func score(n int) *int { return &n }

// TestFeedback: an NPS answer to a sale is recorded once, as a chained
// feedback event; a bad score, an unknown sale, another card, or a second
// answer to the same sale get a clear 4xx and record nothing; the sale
// asks the question only while the card has not answered within the
// rules' period.
func TestFeedback(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	e := newEnvWith(t, npsRules, func(o *till.Options) { o.Now = func() time.Time { return now } })
	ctx := context.Background()
	const card = "2000000000015"
	s1, _ := e.sale("s1", card, 100_00)
	if !s1.AskNPS || s1.NPS == nil || s1.NPS.EveryDays != 90 {
		t.Fatalf("the first sale of a card does not ask: ask %v, nps %+v", s1.AskNPS, s1.NPS)
	}
	noCard, _ := e.sale("s-nocard", "", 100_00)
	if noCard.AskNPS {
		t.Error("a sale without a card asks the question")
	}
	lastSeq := func() uint64 {
		st, err := e.till.Ledger().Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.LastSeq
	}
	before := lastSeq()
	for _, tc := range []struct {
		name, body string
		code       int
		want       string // in the error message
	}{
		{"score 11", `{"sale":"s1","score":11}`, 400, "score: must be between 0 and 10, got 11"},
		{"score -1", `{"sale":"s1","score":-1}`, 400, "score: must be between 0 and 10"},
		{"no score", `{"sale":"s1"}`, 400, "score: missing"},
		{"a score that is not a number", `{"sale":"s1","score":"9"}`, 400, "score"},
		{"no sale", `{"score":9}`, 400, "sale: missing"},
		{"unknown sale", `{"sale":"nope","score":9}`, 404, "no such sale"},
		{"another card", `{"sale":"s1","card":"2000000000022","score":9}`, 400, "card: not the card of the sale s1"},
		{"unknown field", `{"sale":"s1","score":9,"stars":5}`, 400, "stars"},
		{"a comment with control characters", `{"sale":"s1","score":9,"comment":"a\u0007b"}`, 400, "comment: contains control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := e.post(t, "/v1/feedback", tc.body)
			if code != tc.code || !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %d %q, want %d with %q", tc.body, code, msg, tc.code, tc.want)
			}
		})
	}
	if got := lastSeq(); got != before {
		t.Fatalf("refused feedback recorded events: last seq %d, was %d", got, before)
	}

	f, code, err := e.client.Feedback(ctx, till.FeedbackRequest{Sale: "s1", Card: card, Score: score(9), Comment: "  Быстро и вежливо  "})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("feedback: %d %v", code, err)
	}
	if f.Seq != before+1 || f.Score != 9 || f.Card != card || f.SaleSeq != s1.Seq || f.Comment != "Быстро и вежливо" || !f.Asked || !f.At.Equal(now) {
		t.Errorf("feedback recorded as %+v", f)
	}
	// The same answer again (a retry) is the stored one; another is refused.
	again, code, err := e.client.Feedback(ctx, till.FeedbackRequest{Sale: "s1", Card: card, Score: score(9), Comment: "Быстро и вежливо"})
	if err != nil || code != http.StatusOK || again.Seq != f.Seq {
		t.Errorf("retry: %d %v %+v", code, err, again)
	}
	if code, msg := e.post(t, "/v1/feedback", `{"sale":"s1","score":3}`); code != http.StatusConflict || !strings.Contains(msg, "already answered") {
		t.Errorf("a second answer: %d %q", code, msg)
	}
	// Unasked sales may be answered too (the cashier keys it in).
	if _, code, err := e.client.Feedback(ctx, till.FeedbackRequest{Sale: "s-nocard", Score: score(4)}); err != nil || code != http.StatusCreated {
		t.Errorf("feedback without a card: %d %v", code, err)
	}
	if got := lastSeq(); got != before+2 {
		t.Errorf("last seq %d, want %d", got, before+2)
	}
	var types []string
	if err := e.till.Ledger().Events(before+1, func(ev event.Event) error { types = append(types, ev.Type); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(types, " ") != "feedback feedback" {
		t.Fatalf("events after the sales: %v", types)
	}

	// Within 90 days the card is not asked again; after, it is.
	if s2, _ := e.sale("s2", card, 100_00); s2.AskNPS {
		t.Error("asked again the same day")
	}
	now = now.Add(89 * 24 * time.Hour)
	if s3, _ := e.sale("s3", card, 100_00); s3.AskNPS {
		t.Error("asked again within 90 days")
	}
	now = now.Add(24 * time.Hour)
	if s4, _ := e.sale("s4", card, 100_00); !s4.AskNPS {
		t.Error("not asked after 90 days")
	}
}

// TestFeedbackChainWide: an answer given at another till, which HQ sends
// with the card's account (pos.Account.LastFeedback), counts as the
// till's own: within the period the card is not asked; after, it is.
func TestFeedbackChainWide(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	e := newEnvWith(t, npsRules, func(o *till.Options) { o.Now = func() time.Time { return now } })
	const card = "2000000000015"
	elsewhere := now.Add(-10 * 24 * time.Hour)
	if err := e.till.ApplyAccount(wire.AccountAnswer{Card: card, Account: pos.Account{Card: card, LastFeedback: elsewhere}}); err != nil {
		t.Fatal(err)
	}
	if s1, _ := e.sale("s1", card, 100_00); s1.AskNPS {
		t.Error("asked 10 days after an answer at another till")
	}
	// The till's own sale since keeps what HQ said.
	now = elsewhere.Add(89 * 24 * time.Hour)
	if s2, _ := e.sale("s2", card, 100_00); s2.AskNPS {
		t.Error("asked 89 days after an answer at another till")
	}
	now = elsewhere.Add(90 * 24 * time.Hour)
	if s3, _ := e.sale("s3", card, 100_00); !s3.AskNPS {
		t.Error("not asked 90 days after an answer at another till")
	}
	// An older answer from HQ does not hide the till's own, later one.
	if _, _, err := e.client.Feedback(context.Background(), till.FeedbackRequest{Sale: "s3", Score: score(9)}); err != nil {
		t.Fatal(err)
	}
	if err := e.till.ApplyAccount(wire.AccountAnswer{Card: card, Account: pos.Account{Card: card, LastFeedback: elsewhere}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if s4, _ := e.sale("s4", card, 100_00); s4.AskNPS {
		t.Error("asked an hour after an answer here, HQ saying an older one")
	}
}

// FuzzFeedbackBody sends arbitrary bodies to POST /v1/feedback through the
// API's real handler and ledger, with a few sales to answer: it never
// fails with a 5xx, refuses with an error that says what is wrong, and
// records at most one answer per sale, with a score of 0 to 10 and a comment
// a person typed.
func FuzzFeedbackBody(f *testing.F) {
	for _, s := range []string{
		`{"sale":"s1","score":9}`, `{"sale":"s1","card":"2000000000015","score":0,"comment":"ok"}`,
		`{"sale":"s2","score":10,"comment":"Спасибо!"}`, `{"sale":"s1","score":11}`, `{"sale":"s1","score":-1}`,
		`{"sale":"s1","score":9.5}`, `{"sale":"s1","score":"9"}`, `{"sale":"nope","score":5}`, `{"sale":"\u0000s1","score":5}`,
		`{"sale":"s1","score":9,"comment":"a\u0000"}`, "{\"sale\":\"s\xff\",\"score\":1}", `{"score":1}`, `{}`, `null`, `[]`, ``,
		`{"sale":"s1","score":9}{"sale":"s1","score":9}`, `{"sale":"s1","score":1e1}`, `{"sale":"s1","score":99999999999999999999}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	l, err := ledger.Open(filepath.Join(f.TempDir(), "ledger.db"), ledger.Options{Terminal: "T1", NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if rep, err := l.Verify(); err != nil || !rep.OK() {
			f.Errorf("ledger verify after fuzzing: %v %+v", err, rep)
		}
		l.Close()
	})
	pub, priv, _ := ed25519.GenerateKey(nil)
	cards := device.IdentifyOptions{CardPrefixes: []string{"2"}}
	tl, err := till.New(till.Options{Terminal: "T1", Ledger: l, RulesKey: pub, Cards: cards, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	if err := tl.ApplyRules(1, "", wire.SignRules(priv, []byte(npsRules)), []byte(npsRules)); err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ id, card string }{{"s1", "2000000000015"}, {"s2", ""}} {
		if _, _, err := tl.Sale(till.SaleRequest{ID: s.id, Basket: pos.Basket{Card: s.card, Lines: []pos.Line{{SKU: "milk", Qty: 1, UnitPrice: 100_00}}}}); err != nil {
			f.Fatal(err)
		}
	}
	h := localapi.Handler(localapi.Options{Till: tl, Heartbeat: time.Hour, Token: testToken})
	answered := map[string]uint64{}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:7450/v1/feedback", bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:1"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch code := w.Code; {
		case code >= 500:
			t.Fatalf("POST %q: %d %s", body, code, w.Body)
		case code >= 300:
			var we wire.Error
			if err := json.Unmarshal(w.Body.Bytes(), &we); err != nil || we.Code == "" || we.Message == "" {
				t.Fatalf("POST %q: %d with body %q: not an error that says what is wrong", body, code, w.Body)
			}
			return
		}
		var fb till.FeedbackResult
		if err := json.Unmarshal(w.Body.Bytes(), &fb); err != nil {
			t.Fatal(err)
		}
		typed := utf8.ValidString(fb.Comment) && !strings.ContainsFunc(fb.Comment, unicode.IsControl)
		if fb.Score < 0 || fb.Score > 10 || !typed || (fb.SaleID != "s1" && fb.SaleID != "s2") {
			t.Fatalf("POST %q recorded %+v", body, fb)
		}
		if seq, ok := answered[fb.SaleID]; ok && seq != fb.Seq {
			t.Fatalf("POST %q: a second answer to sale %s recorded (seq %d, then %d)", body, fb.SaleID, seq, fb.Seq)
		}
		answered[fb.SaleID] = fb.Seq
	})
}
