package pos

import (
	"fmt"

	"github.com/tilld/tilld/money"
)

// ReceiptClaim is what a customer's receipt says of a sale that the till
// taking it back cannot look up: a sale of another terminal while HQ is out
// of reach. It names the card the sale was made with and, for each line the
// return takes units of, what the receipt prints of the whole line. A
// return taken on it gives back what those figures give the units returned
// (as discount.Refund splits a line over its units), never more than the
// ruleset's offline limits; HQ then applies to the card only what the sale
// itself allows (docs/rules.md, "Returns offline").
type ReceiptClaim struct {
	Card string `json:"card,omitempty"`
	// Currency, when set, is the currency of the receipt's amounts: a till
	// takes a claim only in its rules' currency.
	Currency string      `json:"currency,omitempty"`
	Lines    []ClaimLine `json:"lines"`
}

// ClaimLine is one line of a receipt as printed: its number on the receipt
// (from 1), its SKU, the units sold, the money they were paid after every
// discount, the points they were paid with and the points they earned.
type ClaimLine struct {
	Line     int          `json:"line"`
	SKU      string       `json:"sku"`
	Qty      int64        `json:"qty"`
	Paid     money.Amount `json:"paid"`
	Redeemed int64        `json:"redeemed,omitempty"`
	Points   int64        `json:"points,omitempty"`
}

// MaxClaimPoints bounds the points a claimed line says it earned or was
// paid with.
const MaxClaimPoints = MaxRedeemPoints

// Validate reports the first thing wrong with the claim as an *InputError
// naming the field ("claim.lines[2].paid").
func (c *ReceiptClaim) Validate() error {
	if len(c.Lines) == 0 {
		return &InputError{Field: "claim.lines", Problem: "missing: list the receipt's lines the return takes units of"}
	}
	if len(c.Lines) > MaxLines {
		return &InputError{Field: "claim.lines", Problem: fmt.Sprintf("%d lines, at most %d allowed", len(c.Lines), MaxLines)}
	}
	seen := map[int]int{}
	for i, l := range c.Lines {
		at := func(f string) string { return fmt.Sprintf("claim.lines[%d].%s", i+1, f) }
		switch {
		case l.Line < 1 || l.Line > MaxLines:
			return &InputError{Field: at("line"), Problem: fmt.Sprintf("the receipt's line number, from 1 to %d, got %d", MaxLines, l.Line)}
		case seen[l.Line] > 0:
			return &InputError{Field: at("line"), Problem: fmt.Sprintf("line %d is claim.lines[%d] already", l.Line, seen[l.Line])}
		case l.Qty < 1 || l.Qty > MaxQty:
			return &InputError{Field: at("qty"), Problem: fmt.Sprintf("the units the receipt's line sold, between 1 and %d, got %d", MaxQty, l.Qty)}
		case l.Paid < 0 || l.Paid > MaxLineAmount:
			return &InputError{Field: at("paid"), Problem: fmt.Sprintf("what the line was paid in money, between 0 and %d minor units, got %d", MaxLineAmount, l.Paid)}
		case l.Redeemed < 0 || l.Redeemed > MaxClaimPoints:
			return &InputError{Field: at("redeemed"), Problem: fmt.Sprintf("the points the line was paid with, between 0 and %d, got %d", MaxClaimPoints, l.Redeemed)}
		case l.Points < 0 || l.Points > MaxClaimPoints:
			return &InputError{Field: at("points"), Problem: fmt.Sprintf("the points the line earned, between 0 and %d, got %d", MaxClaimPoints, l.Points)}
		}
		if err := CheckText(at("sku"), l.SKU, MaxTextLen); err != nil {
			return err
		}
		seen[l.Line] = i + 1
	}
	return nil
}

// Sale is the sale the claim describes, as discount.Refund reads one: id
// and card as given, the claimed lines at their numbers, and every line the
// claim does not list, up to line len(returned) at least, units of nothing
// (no return may take them: a return on a claim names claimed lines only):
// as many as returned counts of it, at least one.
func (c *ReceiptClaim) Sale(id, currency string, returned []int64) Sale {
	n := len(returned)
	for _, l := range c.Lines {
		n = max(n, l.Line)
	}
	s := Sale{ID: id, Card: c.Card}
	s.Currency = currency
	s.Lines = make([]PricedLine, n)
	for i := range s.Lines {
		q := int64(1)
		if i < len(returned) {
			q = min(max(q, returned[i]), MaxQty)
		}
		s.Lines[i] = PricedLine{Line: Line{SKU: "?", Qty: q}}
	}
	for _, l := range c.Lines {
		s.Lines[l.Line-1] = PricedLine{Line: Line{SKU: l.SKU, Qty: l.Qty}, Amount: l.Paid, Total: l.Paid, Points: l.Points, Redeemed: l.Redeemed}
		s.Total += l.Paid
		s.PointsEarned += l.Points
		s.PointsRedeemed += l.Redeemed
	}
	return s
}
