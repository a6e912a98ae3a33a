package pos

import (
	"errors"
	"testing"
)

func TestReceiptClaimValidate(t *testing.T) {
	ok := ClaimLine{Line: 1, SKU: "tea", Qty: 2, Paid: 600_00, Points: 6}
	for _, tt := range []struct {
		name  string
		lines []ClaimLine
		field string
	}{
		{"none", nil, "claim.lines"},
		{"line 0", []ClaimLine{{Line: 0, SKU: "tea", Qty: 1}}, "claim.lines[1].line"},
		{"twice", []ClaimLine{ok, ok}, "claim.lines[2].line"},
		{"no units", []ClaimLine{{Line: 1, SKU: "tea"}}, "claim.lines[1].qty"},
		{"negative money", []ClaimLine{{Line: 1, SKU: "tea", Qty: 1, Paid: -1}}, "claim.lines[1].paid"},
		{"negative points paid", []ClaimLine{{Line: 1, SKU: "tea", Qty: 1, Redeemed: -1}}, "claim.lines[1].redeemed"},
		{"points beyond", []ClaimLine{{Line: 1, SKU: "tea", Qty: 1, Points: MaxClaimPoints + 1}}, "claim.lines[1].points"},
		{"bad sku", []ClaimLine{{Line: 1, SKU: "t\x00a", Qty: 1}}, "claim.lines[1].sku"},
		{"good", []ClaimLine{ok, {Line: 3, SKU: "mug", Qty: 1, Redeemed: 500}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&ReceiptClaim{Lines: tt.lines}).Validate()
			var in *InputError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.field != "" && (!errors.As(err, &in) || in.Field != tt.field):
				t.Errorf("Validate: %v, want an input error of %s", err, tt.field)
			}
		})
	}
}

// The sale a claim describes holds the claimed lines at their numbers and
// units of nothing elsewhere, as many as a till's returns counted there.
func TestReceiptClaimSale(t *testing.T) {
	c := ReceiptClaim{Card: "2000000000015", Lines: []ClaimLine{{Line: 2, SKU: "coffee", Qty: 1, Paid: 1000_00, Points: 10, Redeemed: 5}}}
	s := c.Sale("S1-T1-7-abcdef", "RUB", []int64{2, 0, 3})
	if len(s.Lines) != 3 || s.ID != "S1-T1-7-abcdef" || s.Card != c.Card || s.Currency != "RUB" {
		t.Fatalf("sale %+v", s)
	}
	if l := s.Lines[1]; l.SKU != "coffee" || l.Qty != 1 || l.Total != 1000_00 || l.Amount != 1000_00 || l.Points != 10 || l.Redeemed != 5 {
		t.Errorf("line 2: %+v", l)
	}
	for i, want := range map[int]int64{0: 2, 2: 3} {
		if l := s.Lines[i]; l.Qty != want || l.Total != 0 || l.Points != 0 {
			t.Errorf("line %d: %+v, want %d units of nothing", i+1, l, want)
		}
	}
	if s.Total != 1000_00 || s.PointsEarned != 10 || s.PointsRedeemed != 5 {
		t.Errorf("totals: %d, %d earned, %d redeemed", s.Total, s.PointsEarned, s.PointsRedeemed)
	}
}
