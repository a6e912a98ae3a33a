package hq_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/sync/wire"
)

// TestExpiredPointsLeaveHQsBalance: points earned with an expiry drop from
// the balance HQ answers, to its staff, to a terminal's look-up and in the
// change feed, on the day they expire, with no event of the card since and
// nothing run at HQ: the answer is read by HQ's clock.
func TestExpiredPointsLeaveHQsBalance(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const card = "2000000000015"
	sold := time.Date(2026, 1, 15, 11, 0, 0, 0, time.UTC)
	msk := time.FixedZone("MSK", 3*3600)
	expires := time.Date(2026, 7, 15, 0, 0, 0, 0, msk) // six months on, on the till's clock
	a1 := storetest.LotSale("S1-T1", 1, "", sold.Add(-time.Hour), card, 50, 0, time.Time{})
	a2 := storetest.LotSale("S1-T1", 2, a1.Hash, sold, card, 30, 0, expires)
	if _, err := store.Append(context.Background(), "S1-T1", []event.Event{a1, a2}); err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	srv := hq.NewServer(hq.Options{Store: store, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	term := httptest.NewServer(srv.Handler())
	defer term.Close()
	get := func(url string, out any) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
	}
	for _, tt := range []struct {
		at     time.Time
		points int64
		lots   int
	}{
		{expires.Add(-time.Second), 80, 2}, // 23:59:59 on the 14th of July, Moscow
		{expires, 50, 1},
		{expires.AddDate(1, 0, 0), 50, 1},
	} {
		now.Store(tt.at.UnixNano())
		var staff, till wire.AccountAnswer
		var ch wire.ChangesAnswer
		get(admin.URL+wire.PathAdminCustomers+"/"+card, &staff)
		get(term.URL+wire.PathAccountPrefix+card+"?terminal=S1-T1", &till)
		get(term.URL+wire.PathChanges+"?terminal=S1-T1&after=0", &ch)
		for who, a := range map[string]wire.AccountAnswer{"staff": staff, "till": till, "changes": ch.Accounts[0]} {
			if a.Account.Points != tt.points || len(a.Account.Lots) != tt.lots {
				t.Errorf("at %s, %s: %d points in %d lots, want %d in %d", tt.at, who, a.Account.Points, len(a.Account.Lots), tt.points, tt.lots)
			}
		}
	}
}
