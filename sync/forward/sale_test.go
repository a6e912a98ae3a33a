package forward_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// TestSaleLookup: a till asks HQ for another till's sale by its receipt
// code and gets it with what other tills returned of it; an answer that is
// not that sale (another event, content its hash does not cover) is
// refused, as any answer from HQ is checked.
func TestSaleLookup(t *testing.T) {
	srv, store := newHQ(t)
	ctx := context.Background()
	sales := storetest.Sales("S1-T1", 1, "", storetest.SaleSpec{Card: "2000000000015", Total: 300_00, Earned: 3})
	if _, err := store.Append(ctx, "S1-T1", sales); err != nil {
		t.Fatal(err)
	}
	r := storetest.ReturnEvent("S3-T1", 1, "", "S1-T1", 1, pos.ReturnLine{Line: 1, Qty: 1})
	if _, err := store.Append(ctx, "S3-T1", []event.Event{r}); err != nil {
		t.Fatal(err)
	}
	var tamper func(*wire.SaleAnswer)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if tamper == nil {
			srv.Handler().ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var a wire.SaleAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Error(err)
		}
		tamper(&a)
		wire.WriteJSON(w, rec.Code, a)
	}))
	defer ts.Close()
	f := forward.New(forward.Options{HQ: hqclient.New(ts.URL, hqclient.Options{}), Terminal: "S2-T1", Outbox: &memOutbox{}})
	code := pos.ReceiptCode(sales[0].ID, sales[0].Hash)
	a, err := f.Sale(ctx, code)
	if err != nil || a.Event.Hash != sales[0].Hash || !slices.Equal(a.Returned, []int64{1}) {
		t.Fatalf("Sale(%s) = %+v, %v", code, a, err)
	}
	for name, fn := range map[string]func(*wire.SaleAnswer){
		"another seq":      func(a *wire.SaleAnswer) { a.Event.Seq++ },
		"edited content":   func(a *wire.SaleAnswer) { a.Event.Body = []byte(`{"lines":[]}`) },
		"a refund":         func(a *wire.SaleAnswer) { a.Event.Type = event.TypeRefund; a.Event.Hash = a.Event.ComputeHash() },
		"too many counts":  func(a *wire.SaleAnswer) { a.Returned = []int64{1, 2} },
		"a negative count": func(a *wire.SaleAnswer) { a.Returned = []int64{-1} },
	} {
		tamper = fn
		if _, err := f.Sale(ctx, code); !errors.Is(err, forward.ErrBadSaleAnswer) {
			t.Errorf("%s: %v, want ErrBadSaleAnswer", name, err)
		}
	}
	tamper = nil
	if _, err := f.Sale(ctx, "S1-T1-9-abcdef"); err == nil {
		t.Error("a sale HQ does not hold: no error")
	}
}
