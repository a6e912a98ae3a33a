package localapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/discount"
)

// giftRules: the tiers and a bonus catalog of a bag for a point and a
// mug for a hundred thousand.
const giftRules = tiersOnly + `
[[rule]]
id = "gifts"
kind = "catalog"
  [[rule.item]]
  sku = "bag"
  points = 1
  name = "Пакет"
  [[rule.item]]
  sku = "mug"
  points = 100000
  name = "Кружка"
`

// TestScanRewards: the cashier's page asks what a scanned card can redeem
// by the scan event's id, with the page's cookie: it gets the till's
// answer for that card; a product scan, an id the till does not keep or
// of another process gets 404; without the cookie or the token, 401.
func TestScanRewards(t *testing.T) {
	e := newEnv(t, giftRules)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := follow(t, ctx, e.srv.URL, "")
	e.till.HandleScan(device.Scan{Source: "front", Kind: device.KindBarcode, Data: "2000000000022", At: time.Now()})
	e.till.HandleScan(device.Scan{Source: "front", Kind: device.KindBarcode, Data: "4600000000008", At: time.Now()})
	card, product := next(), next()
	if card.name != "scan" || product.name != "scan" || !strings.Contains(product.data, `"product"`) {
		t.Fatalf("events %+v %+v", card, product)
	}
	local := "127.0.0.1:5555"
	page := e.serve(http.MethodGet, "/", "", local, nil)
	var cookie string
	for _, c := range page.Result().Cookies() {
		if c.Name == "tilld_page" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("the page set no cookie")
	}
	withCookie := map[string]string{"Cookie": cookie}
	w := e.serve(http.MethodGet, "/v1/scans/"+card.id+"/rewards", "", local, withCookie)
	if w.Code != http.StatusOK {
		t.Fatalf("rewards of the scanned card: %d %s", w.Code, w.Body)
	}
	var rw discount.Rewards
	if err := json.Unmarshal(w.Body.Bytes(), &rw); err != nil {
		t.Fatal(err)
	}
	want, err := e.client.Rewards(ctx, "2000000000022", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rw.Catalog) != 2 || rw.NextReason != "ещё 1 балл до «Пакет»" || rw.NextReason != want.NextReason || rw.Points != want.Points {
		t.Errorf("rewards by the scan %+v, by the card %+v", rw, want)
	}
	boot, _, _ := strings.Cut(card.id, "-")
	for _, id := range []string{product.id, boot + "-99", boot + "-0", "deadbeef-1", "x", "-1", boot + "-1x"} {
		if w := e.serve(http.MethodGet, "/v1/scans/"+id+"/rewards", "", local, withCookie); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "no_such_scan") {
			t.Errorf("rewards of scan %q: %d %s, want 404 no_such_scan", id, w.Code, w.Body)
		}
	}
	if w := e.serve(http.MethodGet, "/v1/scans/"+card.id+"/rewards", "", local, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("rewards without the page's cookie: %d %s, want 401", w.Code, w.Body)
	}
	if w := e.serve(http.MethodGet, "/v1/scans/"+card.id+"/rewards", "", local, map[string]string{"Cookie": "tilld_page=guess"}); w.Code != http.StatusUnauthorized {
		t.Errorf("rewards with a guessed cookie: %d, want 401", w.Code)
	}
}
