package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// LoyaltySpec is one sale of a chain built by LoyaltySales: a card's
// purchase at a store, DaysAgo days before the day asked for, at noon UTC.
type LoyaltySpec struct {
	Card             string
	DaysAgo          int
	Store            string
	Total            money.Amount
	Earned, Redeemed int64
	Tier             string
	Partner          string
	PartnerPoints    int64
	Donations        []pos.Donation
}

// LoyaltyAsOf is the day the loyalty conformance cases are read as of.
var LoyaltyAsOf = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// LoyaltySales returns the events from seq from on of a terminal's chain,
// one sale per spec with the store in its inputs (a till in Moscow, UTC+3),
// linked to prevHash; the specs' days count back from asOf's date.
func LoyaltySales(terminal string, from uint64, prevHash string, asOf time.Time, specs ...LoyaltySpec) []event.Event {
	asOf = time.Date(asOf.Year(), asOf.Month(), asOf.Day(), 0, 0, 0, 0, time.UTC)
	var out []event.Event
	for i, sp := range specs {
		seq := from + uint64(i)
		at := asOf.AddDate(0, 0, -sp.DaysAgo).Add(12 * time.Hour)
		sale := pos.Sale{
			ID: fmt.Sprintf("%s-sale-%d", terminal, seq), Card: sp.Card, At: at,
			Quote: pos.Quote{
				Currency: "RUB",
				Lines:    []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: 1, UnitPrice: sp.Total}, Amount: sp.Total, Total: sp.Total}},
				Subtotal: sp.Total, Total: sp.Total, PointsEarned: sp.Earned, PointsRedeemed: sp.Redeemed, RulesetVersion: 1,
				Tier: sp.Tier, Partner: sp.Partner, PartnerPoints: sp.PartnerPoints, Donations: sp.Donations,
			},
			Inputs: &pos.SaleInputs{Store: sp.Store, UTCOffset: 3 * 3600},
		}
		body, err := json.Marshal(sale)
		if err != nil {
			panic(err)
		}
		e := event.Event{Terminal: terminal, Seq: seq, ID: fmt.Sprintf("%s-%d", terminal, seq), Type: event.TypeSale,
			At: at, RulesetVersion: 1, Prev: prevHash, Body: body}
		e.Hash = e.ComputeHash()
		prevHash = e.Hash
		out = append(out, e)
	}
	return out
}

// RunLoyalty checks that the loyalty reports read the same book from the
// store whatever it is: every event of every chain once (a chain continued
// in an epoch, uploads repeated), the card holders' names and, only with
// consent, their contacts. It is the worked example of docs/analytics.md,
// stored in two terminals' chains.
func RunLoyalty(t *testing.T, open func(t *testing.T) hq.Store) {
	ctx := context.Background()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	srv := hq.NewServer(hq.Options{Store: s, Now: func() time.Time { return LoyaltyAsOf.Add(9 * time.Hour) }})
	admin := srv.AdminHandler()
	get := func(t *testing.T, path string, out any) {
		t.Helper()
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	// Before any sale: every report answers, empty.
	t.Run("Empty", func(t *testing.T) {
		for _, path := range []string{"/v1/report/cadence", "/v1/report/overdue", "/v1/report/segments", "/v1/report/clv", "/v1/report/kpi",
			"/v1/report/overdue?format=csv"} {
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s on an empty store: %d %s", path, rec.Code, rec.Body)
			}
		}
		var rep loyalty.CadenceReport
		get(t, "/v1/report/cadence", &rep)
		if rep.Customers != 0 || rep.Rows == nil || rep.Goals == nil {
			t.Errorf("empty cadence: %+v", rep)
		}
		for _, bad := range []string{"?as_of=30.11.2026", "?segment=vip", "?goal=new=0", "?limit=x"} {
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/report/cadence"+bad, nil))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), strings.Split(strings.TrimPrefix(bad, "?"), "=")[0]) {
				t.Errorf("GET cadence%s: %d %s; want 400 naming the parameter", bad, rec.Code, rec.Body)
			}
		}
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/report/kpi?period=year", nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET kpi?period=year: %d %s; want 400", rec.Code, rec.Body)
		}
	})

	// Store S1's till T1: every S1 sale, oldest first.
	t1 := LoyaltySales("T1", 1, "", LoyaltyAsOf,
		LoyaltySpec{Card: "E", DaysAgo: 200, Store: "S1", Total: 100_00, Earned: 10},
		LoyaltySpec{Card: "B", DaysAgo: 44, Store: "S1", Total: 1000_00, Earned: 100},
		LoyaltySpec{Card: "C", DaysAgo: 40, Store: "S1", Total: 300_00, Earned: 30},
		LoyaltySpec{Card: "A", DaysAgo: 35, Store: "S1", Total: 500_00, Earned: 50},
		LoyaltySpec{Card: "A", DaysAgo: 28, Store: "S1", Total: 500_00, Earned: 50},
		LoyaltySpec{Card: "A", DaysAgo: 21, Store: "S1", Total: 500_00, Earned: 50},
		LoyaltySpec{Card: "C", DaysAgo: 20, Store: "S1", Total: 300_00, Earned: 30},
		LoyaltySpec{Card: "A", DaysAgo: 14, Store: "S1", Total: 500_00, Earned: 50, Redeemed: 100},
		LoyaltySpec{Card: "A", DaysAgo: 7, Store: "S1", Total: 500_00, Earned: 50},
		LoyaltySpec{Card: "", DaysAgo: 7, Store: "S1", Total: 99_00},
	)
	// Store S2's till T2 sold two, then its ledger was restored from a
	// backup of seq 2 and went on in epoch e2.
	t2 := LoyaltySales("T2", 1, "", LoyaltyAsOf,
		LoyaltySpec{Card: "B", DaysAgo: 66, Store: "S2", Total: 1000_00, Earned: 100},
		LoyaltySpec{Card: "B", DaysAgo: 56, Store: "S2", Total: 1000_00, Earned: 100},
	)
	e2 := event.Epoch{ID: "e2", BaseSeq: 2, BaseHash: t2[1].Hash}
	t2e2 := LoyaltySales("T2", 3, t2[1].Hash, LoyaltyAsOf,
		LoyaltySpec{Card: "B", DaysAgo: 30, Store: "S2", Total: 1000_00, Earned: 100, Redeemed: 250},
		LoyaltySpec{Card: "D", DaysAgo: 10, Store: "S2", Total: 2000_00, Earned: 200},
	)
	for _, up := range []struct {
		terminal string
		epoch    event.Epoch
		events   []event.Event
	}{{"T1", event.Epoch{}, t1[:6]}, {"T2", event.Epoch{}, t2}, {"T1", event.Epoch{}, t1[3:]}, {"T2", e2, t2e2}, {"T2", e2, t2e2}} {
		if _, err := s.AppendEpoch(ctx, up.terminal, up.epoch, up.events); err != nil {
			t.Fatalf("append %s/%q: %v", up.terminal, up.epoch.ID, err)
		}
	}
	holders := []pos.CardHolder{
		{Card: "B", Name: "Василий", Patronymic: "Петрович", Phone: "+7 921 000-00-01", Email: "vp@example.ru", Consent: true, Updated: Epoch},
		{Card: "A", Name: "Анна", Phone: "+7 921 000-00-02", Consent: false, Updated: Epoch},
	}
	if _, err := s.PutHolders(ctx, "", holders); err != nil {
		t.Fatal(err)
	}

	t.Run("Holders", func(t *testing.T) {
		hl, ok := s.(hq.HolderLister)
		if !ok {
			t.Fatalf("%T does not look holders up in bulk (hq.HolderLister)", s)
		}
		got, err := hl.Holders(ctx, []string{"A", "B", "C", "nobody", "A"})
		if err != nil || len(got) != 2 || got["A"].Name != "Анна" || got["B"].Patronymic != "Петрович" || !got["B"].Consent {
			t.Fatalf("Holders = %+v, %v; want A's and B's", got, err)
		}
		if got, err := hl.Holders(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("Holders(nil) = %+v, %v", got, err)
		}
		if _, err := s.ForgetHolder(ctx, "A", Epoch.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, err := hl.Holders(ctx, []string{"A", "B"}); err != nil || len(got) != 1 {
			t.Fatalf("Holders after A was forgotten = %+v, %v; want B's alone", got, err)
		}
		if _, err := s.PutHolders(ctx, "", []pos.CardHolder{{Card: "A", Name: "Анна", Phone: "+7 921 000-00-02", Updated: Epoch.Add(2 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Book", func(t *testing.T) {
		if n, err := srv.Loyalty().Refresh(ctx); err != nil || n != 14 {
			t.Fatalf("refresh added %d sales, %v; want 14 (10 of T1, 2 of T2, 2 of T2's e2)", n, err)
		}
		if n, err := srv.Loyalty().Refresh(ctx); err != nil || n != 0 {
			t.Fatalf("a second refresh added %d sales, %v; want 0", n, err)
		}
		srv.Loyalty().View(func(b *loyalty.Book, _ loyalty.Model, _ time.Time) error {
			if b.Len() != 5 || b.Sales != 14 {
				t.Errorf("book: %d cards, %d sales; want 5, 14", b.Len(), b.Sales)
			}
			return nil
		})
	})

	t.Run("Cadence", func(t *testing.T) {
		var rep loyalty.CadenceReport
		get(t, "/v1/report/cadence?as_of=2026-11-30&limit=-1", &rep)
		if rep.Customers != 5 || rep.WithCycle != 3 || rep.Late != 1 || rep.MedianCycle != 12 || len(rep.Rows) != 5 {
			t.Fatalf("cadence %+v; want 5 customers, 3 with a cycle (median 12 days), 1 late", rep)
		}
		byCard := map[string]loyalty.CustomerRow{}
		for _, r := range rep.Rows {
			byCard[r.Card] = r
		}
		if a := byCard["A"]; a.Visits != 5 || a.Cycle != 7 || a.Spread != 1 || a.Points != 150 || a.Spend != 2500_00 {
			t.Errorf("A: %+v; want 5 visits every 7 days ± 1, 150 points, 2 500.00 spent", a)
		}
		if b := byCard["B"]; strings.Join(b.Stores, ",") != "S2,S1" || b.Points != 150 {
			t.Errorf("B: stores %v, points %d; want S2,S1 and 150", b.Stores, b.Points)
		}
	})

	t.Run("Overdue", func(t *testing.T) {
		var rep loyalty.OverdueReport
		get(t, "/v1/report/overdue?as_of=2026-11-30", &rep)
		if rep.Late != 1 || len(rep.Rows) != 1 {
			t.Fatalf("overdue %+v; want B alone", rep)
		}
		r := rep.Rows[0]
		if r.Card != "B" || r.Holder != "Василий Петрович" || r.Phone != "+7 921 000-00-01" || r.Email != "vp@example.ru" ||
			r.Last != "2026-10-31" || r.Cycle != 12 || r.Next != "2026-11-12" || r.DaysLate != 18 {
			t.Fatalf("overdue row %+v", r)
		}
		// A is not late on 2026-11-30 but is on 2026-12-10: no contact without consent.
		get(t, "/v1/report/overdue?as_of=2026-12-10&segment=loyal,at_risk,regular,champions", &rep)
		for _, r := range rep.Rows {
			if r.Card == "A" && (r.Holder != "Анна" || r.Phone != "" || r.Consent) {
				t.Fatalf("A without consent: %+v", r)
			}
		}
		get(t, "/v1/report/overdue?as_of=2026-11-30&store=S1", &rep)
		if rep.Late != 0 {
			t.Fatalf("overdue at S1: %d; want none (B's home store is S2)", rep.Late)
		}
	})

	t.Run("Segments", func(t *testing.T) {
		var rep loyalty.SegmentReport
		get(t, "/v1/report/segments?as_of=2026-11-30", &rep)
		if rep.Customers != 5 || len(rep.Stores) != 2 || rep.Stores[0].Store != "S1" || rep.Stores[0].Customers != 3 || rep.Stores[1].Customers != 2 {
			t.Fatalf("segments %+v; want 3 customers at home in S1, 2 in S2", rep)
		}
	})

	t.Run("KPI", func(t *testing.T) {
		var rep loyalty.KPIReport
		get(t, "/v1/report/kpi?from=2026-10-01&to=2026-11-30", &rep)
		if len(rep.Periods) != 2 {
			t.Fatalf("kpi %+v; want October and November", rep)
		}
		oct, nov := rep.Periods[0], rep.Periods[1]
		if c := oct.Chain; c.Sales != 5 || c.Revenue != 3800_00 || c.Active != 3 || c.New != 2 || c.Returning != 1 || c.PointsRedeemed != 250 {
			t.Errorf("October: %+v", c)
		}
		if c := nov.Chain; c.Sales != 7 || c.CardSales != 6 || c.Active != 3 || c.New != 1 || c.PointsEarned != 430 || nov.PointsOutstanding != 570 || nov.Liability != nil {
			t.Errorf("November: %+v, %d points outstanding, liability %v", c, nov.PointsOutstanding, nov.Liability)
		}
		if len(nov.Stores) != 2 || nov.Stores[0].Store != "S1" || nov.Stores[0].Sales != 6 || nov.Stores[1].New != 1 {
			t.Errorf("November's stores: %+v", nov.Stores)
		}
	})

	// A till of store S3 in the north (UTC+3): card F earns 40 points that
	// expire on 2026-11-20 and 10 that do not, its second sale is refunded,
	// F answers NPS 3 and A 9. Nothing of F's follows the expiry: the
	// points are gone by HQ's clock (the report is made on 2026-11-30).
	t.Run("ReturnsExpiryNPS", func(t *testing.T) {
		msk := time.FixedZone("MSK", 3*3600)
		sale := func(seq uint64, prev string, at time.Time, total money.Amount, earned int64, expires time.Time) event.Event {
			return link("T3", seq, event.TypeSale, at, prev, pos.Sale{ID: fmt.Sprintf("T3-sale-%d", seq), Card: "F", At: at,
				Quote: pos.Quote{Currency: "RUB", Lines: []pos.PricedLine{{Line: pos.Line{SKU: "milk", Qty: 1, UnitPrice: total}, Amount: total, Total: total}},
					Subtotal: total, Total: total, PointsEarned: earned, PointsExpire: expires, RulesetVersion: 1},
				Inputs: &pos.SaleInputs{Store: "S3", Region: "north", UTCOffset: 3 * 3600}})
		}
		s1 := sale(1, "", time.Date(2026, 11, 2, 12, 0, 0, 0, msk), 400_00, 40, time.Date(2026, 11, 20, 0, 0, 0, 0, msk))
		s2 := sale(2, s1.Hash, time.Date(2026, 11, 5, 12, 0, 0, 0, msk), 100_00, 10, time.Time{})
		refundAt := time.Date(2026, 11, 6, 12, 0, 0, 0, msk)
		r := link("T3", 3, event.TypeRefund, refundAt, s2.Hash, pos.Refund{ID: "T3-refund-3", At: refundAt, SaleEvent: "T3-2", SaleSeq: 2, SaleAt: s2.At,
			RefundQuote: pos.RefundQuote{SaleID: "T3-sale-2", Card: "F", Currency: "RUB",
				Lines:  []pos.RefundLine{{Line: 1, SKU: "milk", Qty: 1, Amount: 100_00, Points: 10}},
				Amount: 100_00, Back: 100_00, PointsReversed: 10},
			Spend: 100_00})
		fb := Feedbacks("T3", 4, r.Hash,
			FeedbackSpec{Store: "S3", Card: "F", Sale: 2, Score: 3, Asked: true, At: refundAt.Add(time.Hour), UTCOffset: 3 * 3600},
			FeedbackSpec{Store: "S3", Card: "A", Sale: 1, Score: 9, Asked: true, At: refundAt.Add(2 * time.Hour), UTCOffset: 3 * 3600})
		evs := append([]event.Event{s1, s2, r}, fb...)
		for _, up := range [][]event.Event{evs[:3], evs} { // uploaded twice: read once
			if _, err := s.Append(ctx, "T3", up); err != nil {
				t.Fatal(err)
			}
		}
		if a, err := s.Account(ctx, "", "F"); err != nil || a.Account.Points != 40 {
			t.Fatalf("F's account at HQ: %+v, %v; want 40 points (its expired lot is dropped only when read)", a.Account, err)
		}
		// What HQ's staff read (expired by HQ's clock) is what the KPIs count:
		// F's balance at the end of November, 0, adds nothing to the 570.
		var staff wire.AccountAnswer
		get(t, wire.PathAdminCustomers+"/F", &staff)
		if staff.Account.Points != 0 {
			t.Errorf("F's points read by HQ's staff on 2026-11-30: %d; want 0 (40 - 10 + 10 - 40 expired)", staff.Account.Points)
		}

		var rep loyalty.KPIReport
		get(t, "/v1/report/kpi?from=2026-11-01&to=2026-11-30", &rep)
		nov := rep.Periods[0]
		c := nov.Chain
		if c.Sales != 9 || c.Revenue != 4899_00 || c.PointsExpired == nil || *c.PointsExpired != 40 || c.ExpiredValue != nil ||
			*c.Returns != (loyalty.ReturnsKPI{Count: 1, Amount: 100_00, Share: 0.0204, PointsReversed: 10}) || nov.PointsOutstanding != 570 {
			t.Errorf("November: %+v, returns %+v, %v expired, %d outstanding; want 9 sales, 4 899.00, 40 expired, 1 return of 100.00, 570 outstanding",
				c, c.Returns, c.PointsExpired, nov.PointsOutstanding)
		}
		if c.NPS == nil || c.NPS.Answers != 2 || *c.NPS.Score != 0 {
			t.Errorf("November's NPS: %+v; want 2 answers, score 0", c.NPS)
		}
		var s3 *loyalty.KPI
		for i := range nov.Stores {
			if nov.Stores[i].Store == "S3" {
				s3 = &nov.Stores[i]
			}
		}
		if s3 == nil || s3.Sales != 2 || s3.Returns.Share != 0.2 || s3.NPS == nil || *s3.NPS.Score != 0 || s3.PointsExpired != nil {
			t.Errorf("November at S3: %+v", s3)
		}
		get(t, "/v1/report/kpi?from=2026-11-01&to=2026-11-30&by=region", &rep)
		if r := rep.Periods[0].Regions; rep.By != "region" || len(r) != 2 || r[0].Region != "" || r[0].Sales != 7 || r[1].Region != "north" ||
			r[1].Sales != 2 || r[1].Active != 1 || r[1].New != 1 || r[1].Returns.Count != 1 || len(rep.Periods[0].Stores) != 0 {
			t.Errorf("November by region: %+v", r)
		}
		get(t, "/v1/report/kpi?from=2026-11-01&to=2026-11-30&by=region&region=north", &rep)
		if r := rep.Periods[0].Regions; len(r) != 1 || r[0].Region != "north" {
			t.Errorf("November in the north alone: %+v", r)
		}
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/report/kpi?by=terminal", nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "by") {
			t.Errorf("GET kpi?by=terminal: %d %s; want 400 naming by", rec.Code, rec.Body)
		}

		var cad loyalty.CadenceReport
		get(t, "/v1/report/cadence?as_of=2026-11-30&limit=-1", &cad)
		nps := map[string]int{}
		for _, r := range cad.Rows {
			if r.NPS != nil {
				nps[r.Card] = *r.NPS
			}
		}
		if len(nps) != 2 || nps["A"] != 9 || nps["F"] != 3 {
			t.Errorf("the cards' NPS in the indicator: %v; want A 9, F 3", nps)
		}
	})

	// Tier moves, with the example chain's ruleset (Silver, Gold, Platinum
	// from the lowest up): at S4, A buys in Silver on 2026-12-02 (no tier
	// before: up), G's first purchase is in Gold on 2026-12-01 (no move),
	// then in Silver on 2027-01-04 (down).
	t.Run("TierMoves", func(t *testing.T) {
		publishRules(ctx, t, s, discount.Example)
		evs := LoyaltySales("T4", 1, "", LoyaltyAsOf,
			LoyaltySpec{Card: "G", DaysAgo: -1, Store: "S4", Total: 100_00, Tier: "Gold"},
			LoyaltySpec{Card: "A", DaysAgo: -2, Store: "S4", Total: 100_00, Tier: "Silver"},
			LoyaltySpec{Card: "G", DaysAgo: -35, Store: "S4", Total: 100_00, Tier: "Silver"})
		if _, err := s.Append(ctx, "T4", evs); err != nil {
			t.Fatal(err)
		}
		var rep loyalty.KPIReport
		get(t, "/v1/report/kpi?from=2026-12-01&to=2027-01-31", &rep)
		if len(rep.Periods) != 2 || len(rep.Missing) != 0 {
			t.Fatalf("kpi %+v; want December and January, nothing missing", rep)
		}
		for i, want := range []struct {
			moves    []loyalty.TierMove
			up, down int
		}{{[]loyalty.TierMove{{From: "", To: "Silver", Cards: 1}}, 1, 0}, {[]loyalty.TierMove{{From: "Gold", To: "Silver", Cards: 1}}, 0, 1}} {
			p := rep.Periods[i]
			if len(p.Stores) != 1 || p.Stores[0].Store != "S4" {
				t.Fatalf("%s: stores %+v; want S4", p.Start, p.Stores)
			}
			for _, k := range []loyalty.KPI{p.Chain, p.Stores[0]} {
				if !reflect.DeepEqual(k.TierMoves, want.moves) || k.TiersUp == nil || *k.TiersUp != want.up || k.TiersDown == nil || *k.TiersDown != want.down {
					t.Errorf("%s, %q: moves %+v, up %v, down %v; want %+v, %d up, %d down", p.Start, k.Store, k.TierMoves, k.TiersUp, k.TiersDown, want.moves, want.up, want.down)
				}
			}
		}
	})
}
