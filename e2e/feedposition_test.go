package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// feedLines are tilld's debug lines about HQ's change feed: the accounts an
// answer carried, and each position kept.
var (
	feedAccountsLine = regexp.MustCompile(`accounts from HQ's change feed"[^\n]*? accounts=(\d+)`)
	feedKeptLine     = regexp.MustCompile(`change feed position kept"[^\n]*? after=(\d+)`)
	feedReadOnLine   = regexp.MustCompile(`reading HQ's change feed on from the position kept"[^\n]*? after=(\d+)`)
)

// matchInts returns the first group of every match of re in s, as numbers.
func matchInts(t *testing.T, re *regexp.Regexp, s string) []int64 {
	t.Helper()
	var out []int64
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", m[0], err)
		}
		out = append(out, n)
	}
	return out
}

// TestChangeFeedPositionKept: a till keeps its position in HQ's change feed
// in its ledger, with the feed's identity, so that a restart reads on from
// there instead of every account it has ever seen again (a fleet-wide
// restart cost HQ's database hours). Through the real tilld and tillhq: the
// till sells to two cards and stops; while it is down HQ staff import a
// holder for one of them; the started till reads on from the kept position
// and gets that one card's change, not both cards again. Then the ledger is
// given a position of another feed, as a till moved to another HQ (or an HQ
// restored from a backup) would have: HQ answers it from the start; and so
// after `tillhq feed renew`, the step after restoring HQ's store.
func TestChangeFeedPositionKept(t *testing.T) {
	work := t.TempDir()
	h := launchHQ(t, work, discount.Example, "")
	e := h.enrollTill(t, work, "S1", "S1-T1", "log_level = \"debug\"\n")
	ctx := context.Background()
	const cardA, cardB = "2000000000015", "2000000000022"
	startTill := func() *proc {
		t.Helper()
		p := start(t, "tilld", "run", "--config", e.conf)
		waitFor(t, 15*time.Second, "the till online with rules", func() bool {
			st, err := e.api.Status(ctx)
			return err == nil && st.RulesetVersion > 0 && st.Online
		})
		return p
	}
	sum := func(ns []int64) (n int64) {
		for _, v := range ns {
			n += v
		}
		return n
	}

	p := startTill()
	if got := feedReadOnLine.FindString(p.out.String()); got != "" {
		t.Errorf("a new till read on from a kept position: %s", got)
	}
	for i, card := range []string{cardA, cardB} {
		if _, code, err := e.api.Sale(ctx, till.SaleRequest{ID: "s" + strconv.Itoa(i), Basket: pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 100_00}}}}); err != nil || code != http.StatusCreated {
			t.Fatalf("sale to %s: %d %v", card, code, err)
		}
	}
	var kept int64
	waitFor(t, 30*time.Second, "both cards' accounts back from HQ's feed, and the position kept", func() bool {
		out := p.out.String()
		k := matchInts(t, feedKeptLine, out)
		if sum(matchInts(t, feedAccountsLine, out)) < 2 || len(k) == 0 {
			return false
		}
		kept = k[len(k)-1]
		return true
	})
	p.stop(t)
	file := filepath.Join(e.data, "ledger.db")
	feed := feedOf(t, file, kept)

	// While the till is down, HQ staff give card B a holder: a change of B.
	csv := filepath.Join(work, "customers.csv")
	writeFile(t, csv, "card;name;phone\n"+cardB+";Мария;+7 911 111-11-11\n")
	if out := run(t, bin("tillhq"), "customers", "import", "--admin", h.adminURL, csv); !strings.Contains(out, "1 stored") {
		t.Fatalf("import:\n%s", out)
	}

	p = startTill()
	if got := matchInts(t, feedReadOnLine, p.out.String()); len(got) != 1 || got[0] != kept {
		t.Fatalf("the restarted till read on from %v; want the position kept, %d", got, kept)
	}
	waitFor(t, 15*time.Second, "B's holder from HQ's feed", func() bool {
		q, err := e.api.Quote(ctx, pos.Basket{Card: cardB, Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 100_00}}})
		return err == nil && strings.Contains(q.Greeting, "Мария")
	})
	if got := matchInts(t, feedAccountsLine, p.out.String()); sum(got) != 1 {
		t.Errorf("after the restart HQ's feed sent %v accounts; want B's change alone (1)", got)
	}
	p.stop(t)
	k := matchInts(t, feedKeptLine, p.out.String())
	if len(k) == 0 {
		t.Fatal("the restarted till kept no position after B's change")
	}
	kept = k[len(k)-1]
	if again := feedOf(t, file, kept); again != feed {
		t.Errorf("the feed's identity changed from %q to %q", feed, again)
	}

	// A position of another feed: HQ answers from the start, both cards.
	l, err := ledger.Open(file, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetFeedPosition("another-hq", uint64(kept)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	p = startTill()
	waitFor(t, 30*time.Second, "the feed read again from its start", func() bool {
		return sum(matchInts(t, feedAccountsLine, p.out.String())) >= 2
	})
	p.stop(t)
	if again := feedOf(t, file, -1); again != feed {
		t.Errorf("after reading from the start the ledger keeps feed %q; want HQ's %q", again, feed)
	}

	// HQ's store restored from a backup is given a new identity by hand,
	// HQ stopped: the till reads the feed from the start again.
	h.proc.stop(t)
	if out := run(t, bin("tillhq"), "feed", "renew", "--data", filepath.Join(work, "hq")); !strings.Contains(out, "new identity") {
		t.Fatalf("tillhq feed renew:\n%s", out)
	}
	h.start(t)
	p = startTill()
	waitFor(t, 30*time.Second, "the renewed feed read from its start", func() bool {
		return sum(matchInts(t, feedAccountsLine, p.out.String())) >= 2
	})
	p.stop(t)
	if renewed := feedOf(t, file, -1); renewed == feed {
		t.Errorf("after tillhq feed renew the ledger keeps the old feed %q", renewed)
	}
}

// feedOf opens the ledger file read-only and returns the feed identity it
// keeps, failing unless the position kept is after (any, when after < 0).
func feedOf(t *testing.T, file string, after int64) string {
	t.Helper()
	l, err := ledger.Open(file, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	feed, n, err := l.FeedPosition()
	if err != nil || feed == "" || (after >= 0 && int64(n) != after) {
		t.Fatalf("the ledger keeps position %d of feed %q (%v); want %d of HQ's feed", n, feed, err, after)
	}
	return feed
}
