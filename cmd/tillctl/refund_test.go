package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tilld/tilld/pos"
)

func TestParseClaim(t *testing.T) {
	c, err := parseClaim([]string{"1:tea:3:810.00::8", "3:mug:1:0:500"}, "2000000000015", "RUB")
	want := &pos.ReceiptClaim{Card: "2000000000015", Currency: "RUB", Lines: []pos.ClaimLine{
		{Line: 1, SKU: "tea", Qty: 3, Paid: 810_00, Points: 8}, {Line: 3, SKU: "mug", Qty: 1, Redeemed: 500}}}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Fatalf("parseClaim = %+v, %v; want %+v", c, err, want)
	}
	for _, tt := range []struct {
		args     []string
		currency string
		want     string
	}{
		{nil, "RUB", "--claim-card needs the receipt's lines"},
		{[]string{"1:tea:3:810.00"}, "", "--currency"},
		{[]string{"1:tea:3"}, "RUB", "fields: 3 of them"},
		{[]string{"x:tea:3:1"}, "RUB", "LINE"},
		{[]string{"1:tea:3:8.001"}, "RUB", "PAID"},
		{[]string{"1:tea:3:8:z"}, "RUB", "REDEEMED"},
		{[]string{"1:tea:3:8:1:z"}, "RUB", "EARNED"},
	} {
		if _, err := parseClaim(tt.args, "2000000000015", tt.currency); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseClaim(%q, %q) = %v, want an error naming %s", tt.args, tt.currency, err, tt.want)
		}
	}
}

// FuzzParseClaim: no --claim value makes the parser panic, and what it
// accepts has the fields it was given.
func FuzzParseClaim(f *testing.F) {
	for _, s := range []string{"1:tea:3:810.00::8", "3:mug:1:0:500", "1:tea:3", ":::", "1:a:b:c:d:e:f", "9999999999999999999:x:1:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseClaim([]string{s}, "", "RUB")
		if err != nil {
			return
		}
		if len(c.Lines) != 1 || c.Lines[0].SKU != strings.Split(s, ":")[1] {
			t.Fatalf("parseClaim(%q) = %+v", s, c)
		}
	})
}
