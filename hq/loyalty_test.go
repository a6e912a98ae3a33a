package hq_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
)

// fromSale is what SaleOf must give for a sale, read from the whole pos.Sale.
func fromSale(e event.Event, s pos.Sale) loyalty.Sale {
	out := loyalty.Sale{Card: s.Card, Terminal: e.Terminal, Day: loyalty.DayOf(e.At, 0), Currency: s.Currency, Total: s.Total,
		Earned: s.PointsEarned, Redeemed: s.PointsRedeemed, Tier: s.Tier, Partner: s.Partner, PartnerPoints: s.PartnerPoints,
		At: e.At, Lots: s.Lots, Expires: s.PointsExpire}
	if s.Inputs != nil {
		out.Store, out.Region, out.Day = s.Inputs.Store, s.Inputs.Region, loyalty.DayOf(e.At, s.Inputs.UTCOffset)
		out.UTCOffset = s.Inputs.UTCOffset
	}
	for _, d := range s.Donations {
		out.Donations = append(out.Donations, loyalty.Donation{Cause: d.Cause, Amount: d.Amount, Points: d.Points})
	}
	return out
}

// TestSaleOf: a sale priced as a till prices it reads the same through
// SaleOf as through the whole pos.Sale; other events are not sales.
func TestSaleOf(t *testing.T) {
	at := time.Date(2026, 12, 1, 1, 30, 0, 0, time.FixedZone("MSK", 3*3600)) // still Nov 30 in UTC
	evs, err := storetest.PricedSales("S1-T1", 1, "",
		storetest.PricedSpec{Rules: discount.Example, At: at, Account: &pos.Account{Card: "2000000000015", LifetimeSpend: 12_000_00},
			Basket: pos.Basket{Card: "2000000000015", Store: "S1", Donate: true, Lines: []pos.Line{{SKU: "milk", Qty: 2, UnitPrice: 99_90}}}},
		storetest.PricedSpec{Rules: discount.Example, At: at, NoInputs: true, Basket: pos.Basket{Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 1000_00}}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		var s pos.Sale
		if err := json.Unmarshal(e.Body, &s); err != nil {
			t.Fatal(err)
		}
		got, ok := hq.SaleOf(e, nil)
		if want := fromSale(e, s); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("seq %d: SaleOf = %+v, %v; want %+v", e.Seq, got, ok, want)
		}
	}
	if got, _ := hq.SaleOf(evs[0], nil); got.Day != loyalty.DayOf(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 0) || got.Store != "S1" {
		t.Errorf("a sale at 01:30 UTC+3 on Dec 1 (Nov 30 in UTC): day %s at %q; want 2026-12-01 at S1", loyalty.DateString(got.Day), got.Store)
	}
	if _, ok := hq.SaleOf(event.Event{Type: "feedback", Body: []byte(`{"score":9}`)}, nil); ok {
		t.Error("a feedback event read as a sale")
	}
	if _, ok := hq.SaleOf(event.Event{Type: event.TypeSale, Body: []byte(`{"total":"x"}`)}, nil); ok {
		t.Error("a sale body that does not decode read as a sale")
	}
}

// FuzzSaleOf: any body never panics, and wherever the whole pos.Sale decodes
// SaleOf reads the same.
func FuzzSaleOf(f *testing.F) {
	evs, err := storetest.PricedSales("S1-T1", 1, "", storetest.PricedSpec{Rules: discount.Example, At: time.Unix(1_800_000_000, 0),
		Basket: pos.Basket{Card: "2000000000015", Store: "S1", Lines: []pos.Line{{SKU: "milk", Qty: 2, UnitPrice: 99_90}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(evs[0].Body))
	f.Add([]byte(`{"card":"1","inputs":null,"donations":[{"cause":"x","amount":5}]}`))
	f.Add([]byte(`{"inputs":{"utc_offset":-99999999999}}`))
	f.Add([]byte(`{"card":"1","inputs":{"store":"S1","region":"north","utc_offset":10800},"lots":[{"lot":0,"points":5}],"points_expire":"2027-01-01T00:00:00+03:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := event.Event{Terminal: "T", Seq: 1, Type: event.TypeSale, At: time.Unix(1_800_000_000, 0), Body: body}
		got, ok := hq.SaleOf(e, nil)
		var s pos.Sale
		if json.Unmarshal(body, &s) != nil {
			return
		}
		if want := fromSale(e, s); !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("SaleOf = %+v, %v; pos.Sale says %+v", got, ok, want)
		}
	})
}
