package hq_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// TestSaleByReceipt: a till asks HQ for another till's sale by the receipt
// code printed with it, and learns what other tills returned of it; a code
// that names no sale HQ holds is a 404, one that is no code a 400.
func TestSaleByReceipt(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	sales := storetest.Sales("S1-T1", 1, "", storetest.SaleSpec{Card: "2000000000015", Total: 500_00, Earned: 5},
		storetest.SaleSpec{Card: "2000000000015", Total: 100_00, Earned: 1})
	if _, err := store.Append(ctx, "S1-T1", sales); err != nil {
		t.Fatal(err)
	}
	r := storetest.ReturnEvent("S2-T1", 1, "", "S1-T1", 2, pos.ReturnLine{Line: 1, Qty: 1})
	if _, err := store.Append(ctx, "S2-T1", []event.Event{r}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hq.NewServer(hq.Options{Store: store}).Handler())
	defer srv.Close()
	get := func(code, asker string) (int, wire.SaleAnswer, wire.Error) {
		t.Helper()
		resp, err := http.Get(srv.URL + wire.PathSalePrefix + code + "?terminal=" + asker)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a wire.SaleAnswer
		var e wire.Error
		if resp.StatusCode == 200 {
			err = json.NewDecoder(resp.Body).Decode(&a)
		} else {
			err = json.NewDecoder(resp.Body).Decode(&e)
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, a, e
	}
	code := pos.ReceiptCode(sales[1].ID, sales[1].Hash)
	status, a, _ := get(code, "S3-T1")
	if status != 200 || a.Event.Hash != sales[1].Hash || a.Event.ComputeHash() != a.Event.Hash || !slices.Equal(a.Returned, []int64{1}) {
		t.Errorf("S3-T1 asks for %s: %d %+v", code, status, a)
	}
	// S2-T1 knows its own returns: HQ counts the others'.
	if status, a, _ = get(code, "S2-T1"); status != 200 || len(a.Returned) != 0 {
		t.Errorf("S2-T1 asks: %d returned %v, want none", status, a.Returned)
	}
	for _, tt := range []struct {
		code   string
		status int
		err    string
	}{
		{pos.ReceiptCode(sales[0].ID, "ffffff"), 404, "no_sale"},
		{"S9-T1-1-abcdef", 404, "no_sale"},
		{"S1-T1-3-abcdef", 404, "no_sale"},
		{"nonsense", 400, "bad_request"},
	} {
		if status, _, e := get(tt.code, "S3-T1"); status != tt.status || e.Code != tt.err {
			t.Errorf("%s: %d %+v, want %d %s", tt.code, status, e, tt.status, tt.err)
		}
	}
}
