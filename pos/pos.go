// Package pos holds the domain types every layer of a till shares: a basket of
// lines, the account view of a loyalty card, and the errors that describe bad input.
// It has no behaviour beyond validation; pricing lives in discount, storage in ledger.
package pos

import (
	"fmt"
	"time"

	"github.com/tilld/tilld/money"
)

// Line is one position of a basket: qty units of a SKU at a unit price in minor units.
type Line struct {
	SKU       string       `json:"sku"`
	Category  string       `json:"category,omitempty"`
	Qty       int64        `json:"qty"`
	UnitPrice money.Amount `json:"unit_price"`
}

// Amount is the line's price before any discount.
func (l Line) Amount() money.Amount { return l.UnitPrice * money.Amount(l.Qty) }

// Basket is what the cashier rang up, with the card presented (empty when none).
type Basket struct {
	Card  string `json:"card,omitempty"`
	Lines []Line `json:"lines"`
}

// Limits that keep every sum of a valid basket far inside int64: at most
// MaxLines lines of at most MaxLineAmount each is below 10^16.
const (
	MaxLines      = 1000
	MaxQty        = 1_000_000
	MaxUnitPrice  = money.Amount(1_000_000_000_00)  // a billion major units
	MaxLineAmount = money.Amount(10_000_000_000_00) // ten billion major units
)

// Validate reports the first thing wrong with the basket, naming the line (from 1)
// and field, in words a POS integrator can act on.
func (b Basket) Validate() error {
	if len(b.Lines) == 0 {
		return &InputError{Field: "lines", Problem: "the basket has no lines"}
	}
	if len(b.Lines) > MaxLines {
		return &InputError{Field: "lines", Problem: fmt.Sprintf("%d lines, at most %d allowed", len(b.Lines), MaxLines)}
	}
	for i, l := range b.Lines {
		at := func(f string) string { return fmt.Sprintf("lines[%d].%s", i+1, f) }
		switch {
		case l.SKU == "":
			return &InputError{Field: at("sku"), Problem: "missing"}
		case l.Qty <= 0 || l.Qty > MaxQty:
			return &InputError{Field: at("qty"), Problem: fmt.Sprintf("must be between 1 and %d, got %d", MaxQty, l.Qty)}
		case l.UnitPrice < 0 || l.UnitPrice > MaxUnitPrice:
			return &InputError{Field: at("unit_price"), Problem: fmt.Sprintf("must be between 0 and %d minor units, got %d", MaxUnitPrice, l.UnitPrice)}
		case l.Amount() > MaxLineAmount:
			return &InputError{Field: at("qty"), Problem: fmt.Sprintf("qty × unit_price is %d minor units, at most %d allowed", l.Amount(), MaxLineAmount)}
		}
	}
	return nil
}

// Subtotal is the sum of the lines before discounts. Validate guarantees it fits.
func (b Basket) Subtotal() money.Amount {
	var s money.Amount
	for _, l := range b.Lines {
		s += l.Amount()
	}
	return s
}

// Account is the loyalty view of one card: what HQ last told the till plus the
// till's own sales HQ has not acknowledged yet.
type Account struct {
	Card          string       `json:"card"`
	LifetimeSpend money.Amount `json:"lifetime_spend"`
	Points        int64        `json:"points"`
	Sales         int64        `json:"sales"`
	LastSale      time.Time    `json:"last_sale,omitzero"`
}

// InputError is bad input from a caller: which field, and what is wrong with it.
type InputError struct {
	Field   string
	Problem string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// Applied is one rule that changed the price or the points of a basket, with the
// reason the till shows the customer.
type Applied struct {
	Rule   string       `json:"rule"`
	Kind   string       `json:"kind"`
	Amount money.Amount `json:"amount"`
	Points int64        `json:"points,omitempty"`
	Reason string       `json:"reason"`
}

// PricedLine is a basket line with its share of every discount.
type PricedLine struct {
	Line
	Amount   money.Amount `json:"amount"`
	Discount money.Amount `json:"discount"`
	Total    money.Amount `json:"total"`
}

// Quote is a priced basket: what the discount engine returns. Lines add up to the
// totals to the minor unit: sum(Lines.Total) == Total, Subtotal - Discount == Total.
type Quote struct {
	Currency       string       `json:"currency"`
	Lines          []PricedLine `json:"lines"`
	Subtotal       money.Amount `json:"subtotal"`
	Discount       money.Amount `json:"discount"`
	Total          money.Amount `json:"total"`
	PointsEarned   int64        `json:"points_earned"`
	Tier           string       `json:"tier,omitempty"`
	Applied        []Applied    `json:"applied"`
	RulesetVersion int64        `json:"ruleset_version"`
}

// Sale is a quote the customer paid for: the content of a sale event in the ledger
// and at HQ. It carries the card number but never personal data.
type Sale struct {
	ID   string    `json:"id"`
	Card string    `json:"card,omitempty"`
	At   time.Time `json:"at"`
	Quote
}
