package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// npsChainRules: points, and the NPS question every 90 days.
const npsChainRules = `schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"

[[rule]]
id = "nps"
kind = "nps"
every_days = 90
`

// TestFeedbackReachesHQOnce is issue 18's NPS capture through the real
// binaries: a sale with a card asks the question; HQ goes down; the
// customer's answer is recorded at the till and waits in the outbox; a
// second answer to the same sale is refused; HQ comes back and keeps the
// answer exactly once, and `tillhq report nps --store S1` prints its band
// and the score.
func TestFeedbackReachesHQOnce(t *testing.T) {
	work := t.TempDir()
	h := launchHQ(t, work, []byte(npsChainRules), "")
	e := h.enrollTill(t, work, "S1", "S1-T1", "")
	api := e.api
	start(t, "tilld", "run", "--config", e.conf)
	ctx := context.Background()
	waitFor(t, 15*time.Second, "the till online with rules", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion > 0 && st.Online
	})
	const card = "2000000000015"
	sale, code, err := api.Sale(ctx, till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 500_00}}}})
	if err != nil || code != http.StatusCreated || !sale.AskNPS {
		t.Fatalf("sale: %d %v, ask_nps %v", code, err, sale.AskNPS)
	}
	waitFor(t, 15*time.Second, "the sale at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0
	})

	h.proc.stop(t)
	nine := 9
	fb, code, err := api.Feedback(ctx, till.FeedbackRequest{Sale: "s1", Card: card, Score: &nine, Comment: "Всё отлично"})
	if err != nil || code != http.StatusCreated || fb.Store != "S1" || !fb.Asked {
		t.Fatalf("feedback with HQ down: %d %v %+v", code, err, fb)
	}
	ten := 10
	if _, code, err := api.Feedback(ctx, till.FeedbackRequest{Sale: "s1", Score: &ten}); code != http.StatusConflict {
		t.Errorf("a second answer to the sale: %d %v", code, err)
	}
	waitFor(t, 15*time.Second, "the till to see HQ offline", func() bool {
		st, err := api.Status(ctx)
		return err == nil && !st.Online && st.Outbox == 1
	})

	h.start(t)
	waitFor(t, 30*time.Second, "the feedback at HQ", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.Outbox == 0 && st.Online
	})
	var rep loyalty.NPSReport
	if err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "nps", "--admin", h.adminURL, "--store", "S1", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if n := rep.Total; n.Answers != 1 || n.Promoters != 1 || n.Score == nil || *n.Score != 100 || n.Asked != 1 {
		t.Errorf("nps at HQ: %+v", n)
	}
	out := run(t, bin("tillhq"), "report", "nps", "--admin", h.adminURL, "--store", "S1")
	for _, want := range []string{"PROMOTERS 9-10", "total", "+100.0", "asked at 1 sales, 1 answered"} {
		if !strings.Contains(out, want) {
			t.Errorf("tillhq report nps: no %q in:\n%s", want, out)
		}
	}
	if out := run(t, bin("tillhq"), "report", "nps", "--admin", h.adminURL, "--store", "S2", "--json"); !strings.Contains(out, `"answers":0`) {
		t.Errorf("another store's nps: %s", out)
	}
}

// TestNPSAskedOncePerChain: the NPS question is asked once per card and
// period across the chain, not per till. S2-T1, in another store, has
// scanned the card once; then the customer answers at S1-T1; HQ holds the
// answer and moves the card in its change feed; S2-T1 learns the answer's
// time from the feed, without another scan, and does not ask. Offline (HQ
// stopped), S2-T1 still knows: 30 days on (--clock-offset) it does not ask;
// 91 days on, past the rules' 90, it asks again.
func TestNPSAskedOncePerChain(t *testing.T) {
	work := t.TempDir()
	h := launchHQ(t, work, []byte(npsChainRules), "")
	ctx := context.Background()
	const card = "2000000000015"
	type tillProc struct {
		api  *localapi.Client
		conf string
	}
	startTill := func(tp tillProc, online bool, args ...string) *proc {
		p := start(t, "tilld", append([]string{"run", "--config", tp.conf}, args...)...)
		waitFor(t, 15*time.Second, "tilld with rules", func() bool {
			st, err := tp.api.Status(ctx)
			return err == nil && st.RulesetVersion > 0 && (st.Online || !online)
		})
		return p
	}
	enroll := func(store, terminal string) tillProc {
		e := h.enrollTill(t, work, store, terminal, "\n[[reader]]\nname = \"front\"\ntype = \"fake\"\n")
		return tillProc{e.api, e.conf}
	}
	sell := func(api *localapi.Client, id string) till.SaleResult {
		t.Helper()
		res, code, err := api.Sale(ctx, till.SaleRequest{ID: id, Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 500_00}}}})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sale %s: %d %v", id, code, err)
		}
		return res
	}

	a, b := enroll("S1", "S1-T1"), enroll("S2", "S2-T1")
	startTill(a, true)
	pb := startTill(b, true)
	if s := sell(a.api, "a-1"); !s.AskNPS {
		t.Fatal("the card's first sale at S1-T1 does not ask the NPS question")
	}
	waitFor(t, 30*time.Second, "the sale at HQ", func() bool {
		st, err := a.api.Status(ctx)
		return err == nil && st.Outbox == 0
	})
	// S2-T1 scans the card once: HQ sends it the card's changes from now on.
	if err := b.api.Present(ctx, "front", card); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "HQ's account of the card at S2-T1", func() bool {
		c, err := b.api.Account(ctx, card)
		return err == nil && c.Sales == 1 && c.LastFeedback.IsZero()
	})

	nine := 9
	fb, code, err := a.api.Feedback(ctx, till.FeedbackRequest{Sale: "a-1", Score: &nine})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("feedback at S1-T1: %d %v", code, err)
	}
	if c, err := a.api.Account(ctx, card); err != nil || !c.LastFeedback.Equal(fb.At) {
		t.Errorf("S1-T1's account of the card: last_feedback %s %v, want %s", c.LastFeedback, err, fb.At)
	}
	// The change feed brings the answer's time to S2-T1; no scan there,
	// and no other event of the card meanwhile.
	waitFor(t, 30*time.Second, "the answer's time at S2-T1", func() bool {
		c, err := b.api.Account(ctx, card)
		return err == nil && c.LastFeedback.Equal(fb.At)
	})
	if s := sell(b.api, "b-1"); s.AskNPS {
		t.Error("S2-T1 asks a customer who answered at S1-T1 today")
	}
	if s := sell(a.api, "a-2"); s.AskNPS {
		t.Error("S1-T1 asks again right after the answer")
	}

	// HQ down: S2-T1 keeps what it learnt.
	h.proc.stop(t)
	pb.stop(t)
	pb = startTill(b, false, "--clock-offset", fmt.Sprintf("%dh", 30*24))
	if s := sell(b.api, "b-2"); s.AskNPS {
		t.Error("S2-T1, offline, asks 30 days after the answer at S1-T1")
	}
	pb.stop(t)
	startTill(b, false, "--clock-offset", fmt.Sprintf("%dh", 91*24))
	if s := sell(b.api, "b-3"); !s.AskNPS {
		t.Error("S2-T1, offline, does not ask 91 days after the answer (the rules' period is 90)")
	}
}
