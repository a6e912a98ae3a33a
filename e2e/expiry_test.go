package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

const expiryRules = `schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"
expire_months = 6
`

// TestPointsExpire: points earned at a sale through the real binaries
// expire six months on, at the till and at HQ alike. The binaries have no
// other clock than the real one but for the hidden --clock-offset, which
// moves the loyalty clock; run past the expiry, the till (offline: HQ is
// down) and then HQ drop the points from the balance, with no event of the
// card since and nothing run at either.
func TestPointsExpire(t *testing.T) {
	work := t.TempDir()
	h := launchHQ(t, work, []byte(expiryRules), "")
	e := h.enrollTill(t, work, "S1", "S1-T1", "")
	apiAddr, conf, api := e.addr, e.conf, e.api
	ctx := context.Background()
	startTill := func(online bool, args ...string) *proc {
		p := start(t, "tilld", append([]string{"run", "--config", conf}, args...)...)
		waitFor(t, 15*time.Second, "tilld with rules", func() bool {
			st, err := api.Status(ctx)
			return err == nil && st.RulesetVersion > 0 && (st.Online || !online)
		})
		return p
	}
	p := startTill(true)

	const card = "2000000000015"
	res, code, err := api.Sale(ctx, till.SaleRequest{ID: "s1", Basket: pos.Basket{Card: card,
		Lines: []pos.Line{{SKU: "tea", Qty: 1, UnitPrice: 1000_00}}}})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("sale: %d %v", code, err)
	}
	sold := res.At.In(time.Local)
	want := time.Date(sold.Year(), sold.Month()+6, 1, 0, 0, 0, 0, time.Local)
	if d := sold.Day(); d <= time.Date(want.Year(), want.Month()+1, 0, 0, 0, 0, 0, time.Local).Day() {
		want = want.AddDate(0, 0, d-1)
	} else {
		want = time.Date(want.Year(), want.Month()+1, 0, 0, 0, 0, 0, time.Local)
	}
	if res.PointsEarned != 10 || !res.PointsExpire.Equal(want) {
		t.Fatalf("sale: %d points expiring %s, want 10 expiring %s", res.PointsEarned, res.PointsExpire, want)
	}
	tillPoints := func() string {
		out := ctl(t, apiAddr, "account", card)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "points ") {
				return strings.TrimSpace(strings.TrimPrefix(l, "points"))
			}
		}
		return "no points line in:\n" + out
	}
	hqAccount := func() (wire.AccountAnswer, error) {
		var a wire.AccountAnswer
		resp, err := http.Get(h.adminURL + wire.PathAdminCustomers + "/" + card)
		if err != nil {
			return a, err
		}
		defer resp.Body.Close()
		return a, json.NewDecoder(resp.Body).Decode(&a)
	}
	if got := tillPoints(); got != "10" {
		t.Errorf("the till's balance after the sale: %s, want 10", got)
	}
	waitFor(t, 30*time.Second, "HQ to hold the sale's points in a lot", func() bool {
		a, err := hqAccount()
		return err == nil && a.Account.Points == 10 && len(a.Account.Lots) == 1 && a.Account.Lots[0].Expires.Equal(want)
	})

	// A day after the expiry (more than six months on: 200 days), offline.
	h.proc.stop(t)
	p.stop(t)
	offset := fmt.Sprintf("%dh", 200*24)
	p = startTill(false, "--clock-offset", offset)
	if got := tillPoints(); got != "0" {
		t.Errorf("the till's balance, offline, after the expiry: %s, want 0", got)
	}
	// The day before the expiry, the points are still there.
	p.stop(t)
	before := time.Until(want) - 12*time.Hour
	p = startTill(false, "--clock-offset", before.Round(time.Second).String())
	if got := tillPoints(); got != "10" {
		t.Errorf("the till's balance, offline, half a day before the expiry: %s, want 10", got)
	}
	p.stop(t)

	// HQ, past the expiry, answers its staff and the till without them.
	h.args = append(h.args, "--clock-offset", offset)
	h.start(t)
	if a, err := hqAccount(); err != nil || a.Account.Points != 0 || len(a.Account.Lots) != 0 {
		t.Errorf("HQ's account after the expiry: %+v %v, want 0 points and no lots", a.Account, err)
	}
	startTill(true, "--clock-offset", offset)
	if got := tillPoints(); got != "0" {
		t.Errorf("the till's balance, online, after the expiry: %s, want 0", got)
	}
}
