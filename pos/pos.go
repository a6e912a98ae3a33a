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
	Card string `json:"card,omitempty"`
	// CardType is the kind of card number Card is, as the scan event named it
	// ("ean13", "uid", ...); empty: read from the number's shape. The till
	// parses Card with it and then clears it.
	CardType string `json:"card_type,omitempty"`
	Lines    []Line `json:"lines"`

	// RedeemPoints is the most points the customer wants to pay with; the
	// engine caps it by the balance and the ruleset's limits. 0: none.
	RedeemPoints int64 `json:"redeem_points,omitempty"`
	// Donate is the customer's consent to the ruleset's charity (round the
	// total up, or give a share of the points earned to a cause).
	Donate bool `json:"donate,omitempty"`
	// Store, Region and Terminal say where the basket is sold; the till fills
	// them from its configuration. Rules may be scoped to them.
	Store    string `json:"store,omitempty"`
	Region   string `json:"region,omitempty"`
	Terminal string `json:"terminal,omitempty"`
}

// Limits that keep every sum of a valid basket far inside int64: at most
// MaxLines lines of at most MaxLineAmount each is below 10^16.
const (
	MaxLines      = 1000
	MaxQty        = 1_000_000
	MaxUnitPrice  = money.Amount(1_000_000_000_00)  // a billion major units
	MaxLineAmount = money.Amount(10_000_000_000_00) // ten billion major units
	// MaxRedeemPoints bounds a basket's RedeemPoints: far above any balance,
	// and small enough that no sum of points can overflow.
	MaxRedeemPoints = 1_000_000_000
	// MaxTextLen bounds a line's SKU and category, in bytes.
	MaxTextLen = 128
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
	if b.RedeemPoints < 0 || b.RedeemPoints > MaxRedeemPoints {
		return &InputError{Field: "redeem_points", Problem: fmt.Sprintf("must be between 0 and %d, got %d", MaxRedeemPoints, b.RedeemPoints)}
	}
	for i, l := range b.Lines {
		// The field's name is built only for an error: a sale validates
		// every line, and most are fine.
		at := func(f string) string { return fmt.Sprintf("lines[%d].%s", i+1, f) }
		if p := textProblem(l.SKU, MaxTextLen); p != "" {
			return &InputError{Field: at("sku"), Problem: p}
		}
		if p := textProblem(l.Category, MaxTextLen); p != "" {
			return &InputError{Field: at("category"), Problem: p}
		}
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

	// Lots are the points by when they were earned and when they expire;
	// redemption takes the oldest first and ignores expired ones. Empty means
	// Points is one lot that never expires.
	Lots []PointsLot `json:"lots,omitempty"`
	// Profile is the personal data the engine needs to greet the customer;
	// nil when unknown or forgotten. It never enters a ledger event.
	Profile *Profile `json:"profile,omitempty"`
	// Offline is set by a till that could not reach HQ: its view may be
	// stale, and the ruleset's offline limits apply to redemption.
	Offline bool `json:"offline,omitempty"`
	// OfflineRedeemedToday is the points this card already redeemed today on
	// this terminal while offline.
	OfflineRedeemedToday int64 `json:"offline_redeemed_today,omitempty"`
	// BirthdayBonus is when the card last earned a birthday bonus: the time
	// of the latest sale whose quote has BirthdayBonus. The engine pays the
	// bonus once per birthday; zero: never.
	BirthdayBonus time.Time `json:"birthday_bonus,omitzero"`
	// LastFeedback is when the card last answered the NPS question at any
	// till of the chain, as HQ knows it (hq.Server fills it in from the
	// feedback tills uploaded): a till asks again only once the nps rule's
	// period has passed since the latest of this and its own answers. Zero:
	// never, or an HQ that does not say.
	LastFeedback time.Time `json:"last_feedback,omitzero"`
}

// PointsLot is points earned together: they expire together.
type PointsLot struct {
	Points  int64     `json:"points"`
	Earned  time.Time `json:"earned"`
	Expires time.Time `json:"expires,omitzero"` // zero: never
}

// Profile is what the till knows about a card holder to greet them.
type Profile struct {
	Name       string `json:"name,omitempty"`
	Patronymic string `json:"patronymic,omitempty"`
	Lang       string `json:"lang,omitempty"`        // "ru", "en"; empty: the ruleset's default
	BirthMonth int    `json:"birth_month,omitempty"` // 1–12, 0 when unknown
	BirthDay   int    `json:"birth_day,omitempty"`   // 1–31, 0 when unknown
}

// InputError is bad input from a caller: which field, and what is wrong with it.
type InputError struct {
	Field   string
	Problem string
	// Err is the cause when another package found it (a card number's
	// *device.CardError), for errors.Is and errors.As; nil otherwise.
	Err error
	// Reason says how the field is wrong, for a screen to say it in the
	// cashier's language ("" when only Problem says it): missing, too_long,
	// text, chars, range (Got outside Min–Max), format, future, contact
	// (neither phone nor e-mail).
	Reason        string
	Got, Min, Max int64
}

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

func (e *InputError) Unwrap() error { return e.Err }

// Applied is one rule that changed the price or the points of a basket, with the
// reason the till shows the customer.
type Applied struct {
	Rule   string       `json:"rule"`
	Kind   string       `json:"kind"`
	Amount money.Amount `json:"amount"`
	Points int64        `json:"points,omitempty"`
	Reason string       `json:"reason"`

	// Redeemed is the points this rule took from the card as payment.
	Redeemed int64 `json:"redeemed,omitempty"`
	// Partner is the partner program a partner rule belongs to; its points
	// are owed by the partner, not added to PointsEarned.
	Partner string `json:"partner,omitempty"`
	// Capped is how much of the rule's discount the ruleset's limits took
	// away, and Note says which limit, or what else the rule did not give
	// (catalog units not taken, a birthday bonus paid already) and why.
	Capped money.Amount `json:"capped,omitempty"`
	Note   string       `json:"note,omitempty"`
}

// Dropped is a rule that did not apply to a basket and why, in explain mode.
type Dropped struct {
	Rule   string `json:"rule"`
	Code   string `json:"code"`   // stable: "window", "scope", "group", "capped", …
	Reason string `json:"reason"` // for people
}

// LotUse is how many points a redemption takes from one lot of the account.
type LotUse struct {
	Lot     int       `json:"lot"` // index in Account.Lots; -1 for Account.Points without lots
	Earned  time.Time `json:"earned,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	Points  int64     `json:"points"`
}

// Gift is an item the customer is owed by a promotion.
type Gift struct {
	Rule string `json:"rule"`
	SKU  string `json:"sku"`
	Name string `json:"name,omitempty"`
	Qty  int64  `json:"qty"`
}

// RaffleEntry is the tickets a basket earned in a raffle and the outcome of
// their draw.
type RaffleEntry struct {
	Rule    string `json:"rule"`
	Tickets int64  `json:"tickets"`
	Won     int64  `json:"won"`
	Prize   string `json:"prize,omitempty"`
	Code    string `json:"code"` // printed on the receipt; HQ recomputes it
}

// Donation is money or points given to a cause, reported apart from discounts.
type Donation struct {
	Rule   string       `json:"rule"`
	Cause  string       `json:"cause"`
	Amount money.Amount `json:"amount,omitempty"` // added to what the customer pays
	Points int64        `json:"points,omitempty"` // taken from the points earned
}

// PricedLine is a basket line with its share of every discount.
type PricedLine struct {
	Line
	Amount   money.Amount `json:"amount"`
	Discount money.Amount `json:"discount"`
	Total    money.Amount `json:"total"`

	// The line's share of the points earned, redeemed and owed by a partner,
	// so that a refund can reverse them in proportion.
	Points        int64 `json:"points,omitempty"`
	Redeemed      int64 `json:"redeemed,omitempty"`
	PartnerPoints int64 `json:"partner_points,omitempty"`
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

	// PointsRedeemed is the points paid with; PointsValue is their money
	// value, part of Discount.
	PointsRedeemed int64        `json:"points_redeemed,omitempty"`
	PointsValue    money.Amount `json:"points_value,omitempty"`
	// Lots lists the account's lots the redemption consumes, oldest first.
	Lots []LotUse `json:"lots,omitempty"`
	// PointsExpire is when the points the basket earns expire, by the
	// ruleset's points rules (expire_months, expire_period); zero: never.
	PointsExpire time.Time `json:"points_expire,omitzero"`
	// TierMessage and Flags are the privileges the till shows: the tier's
	// message, its flags and "birthday".
	TierMessage string   `json:"tier_message,omitempty"`
	Flags       []string `json:"flags,omitempty"`
	Birthday    bool     `json:"birthday,omitempty"`
	Greeting    string   `json:"greeting,omitempty"`
	// NPS, when set, says an nps rule applies: the till asks the NPS
	// question after the sale unless the card answered within EveryDays.
	NPS *NPSQuestion `json:"nps,omitempty"`
	// BirthdayBonus is the points of PointsEarned that birthday rules gave as
	// their bonus: once this sale is recorded, the card's bonus for this
	// birthday is spent (Account.BirthdayBonus).
	BirthdayBonus int64 `json:"birthday_bonus,omitempty"`
	// Partner is the partner program the card belongs to; PartnerPoints are
	// the points that program owes the card for this basket.
	Partner       string        `json:"partner,omitempty"`
	PartnerPoints int64         `json:"partner_points,omitempty"`
	Gifts         []Gift        `json:"gifts,omitempty"`
	Raffles       []RaffleEntry `json:"raffles,omitempty"`
	Donations     []Donation    `json:"donations,omitempty"`
	// Dropped lists, in explain mode only, every rule that did not apply and why.
	Dropped []Dropped `json:"dropped,omitempty"`
}

// Sale is a quote the customer paid for: the content of a sale event in the ledger
// and at HQ. It carries the card number but never personal data.
type Sale struct {
	ID   string    `json:"id"`
	Card string    `json:"card,omitempty"`
	At   time.Time `json:"at"`
	Quote
	// Request is the hex SHA-256 of the POS app's request the sale answered
	// (its idempotency digest): a ledger rebuilt from HQ's copy of the chain
	// still tells a retry of the sale from another basket under its id.
	Request string `json:"request,omitempty"`
	// Inputs is what the engine read to price the sale that the rest of the
	// body does not say, so that HQ can price it again (docs/audit.md); nil
	// in a sale recorded before tills kept it.
	Inputs *SaleInputs `json:"inputs,omitempty"`
}

// SaleInputs is what a till priced a sale with beyond its lines, its card and
// its time: where it sold, what the customer asked for, the card's account as
// the till saw it, and the till's clock. It holds no personal data: the
// account comes without its Profile (the quote's Birthday says what the
// engine made of the birthday).
type SaleInputs struct {
	Store  string `json:"store,omitempty"`
	Region string `json:"region,omitempty"`
	// RedeemPoints and Donate are the basket's: what the customer asked for.
	RedeemPoints int64 `json:"redeem_points,omitempty"`
	Donate       bool  `json:"donate,omitempty"`
	// UTCOffset is the till's offset from UTC at the sale, in seconds east:
	// rules' windows are read on the till's wall clock.
	UTCOffset int `json:"utc_offset"`
	// Account is the card's account as the sale was priced against it, its
	// Profile removed; nil for a sale without a card. Its Lots are kept only
	// when the customer asked to pay with points: nothing else reads them.
	Account *Account `json:"account,omitempty"`
}

// ReturnLine asks to refund Qty units of the sale's line number Line (from
// 1, as in error messages); Before is how many units of it earlier refunds
// already returned, so that a line is never refunded beyond what was sold.
type ReturnLine struct {
	Line   int   `json:"line"`
	Qty    int64 `json:"qty"`
	Before int64 `json:"before,omitempty"`
}

// RefundLine is what one returned line gives back.
type RefundLine struct {
	Line          int          `json:"line"`
	SKU           string       `json:"sku"`
	Qty           int64        `json:"qty"`
	Amount        money.Amount `json:"amount"`                   // money back
	Points        int64        `json:"points,omitempty"`         // earned points taken back
	Redeemed      int64        `json:"redeemed,omitempty"`       // redeemed points given back
	PartnerPoints int64        `json:"partner_points,omitempty"` // partner points taken back
	// Donated is the line's share of the sale's round-up to charity, given
	// back with the line.
	Donated money.Amount `json:"donated,omitempty"`
}

// RefundQuote is what a refund gives back and takes back, line by line and
// in total: the customer gets Amount and PointsReturned, loses PointsReversed.
type RefundQuote struct {
	SaleID         string       `json:"sale_id"`
	Card           string       `json:"card,omitempty"`
	Currency       string       `json:"currency"`
	Lines          []RefundLine `json:"lines"`
	Amount         money.Amount `json:"amount"`
	PointsReversed int64        `json:"points_reversed"`
	PointsReturned int64        `json:"points_returned"`
	Partner        string       `json:"partner,omitempty"`
	PartnerPoints  int64        `json:"partner_points,omitempty"`

	// Donated is the share of the sale's round-up to charity the returned
	// units carry: the cause gets that much less and the customer gets it
	// back. Back is all the money handed back: Amount + Donated.
	Donated money.Amount `json:"donated,omitempty"`
	Back    money.Amount `json:"back"`
	// Donations are the shares of the sale's donations reversed, by rule:
	// money (Amount, part of Donated) and points (taken from what the cause
	// got; the customer never had them).
	Donations []Donation `json:"donations,omitempty"`

	// Set by RefundAfter, which knows the sale's earlier refunds:
	// ReturnedLots are the lots the redeemed points go back to, with the
	// times they were earned and expire; Full says the sale is returned
	// whole with this refund, and then RafflesVoid lists the sale's raffle
	// entries, void.
	ReturnedLots []PointsLot   `json:"returned_lots,omitempty"`
	Full         bool          `json:"full,omitempty"`
	RafflesVoid  []RaffleEntry `json:"raffles_void,omitempty"`
}

// Refund is a return the customer got: the content of a refund event in the
// ledger and at HQ. It points at its original sale (SaleID, SaleEvent,
// SaleSeq) and says what the return gave back and took back, worked out from
// the sale's own figures, never priced again. Like a Sale it carries the card
// number and never personal data.
type Refund struct {
	ID string    `json:"id"` // the POS app's refund id
	At time.Time `json:"at"`
	// SaleEvent is the original sale's event id ("T042-17"), SaleSeq its
	// seq in that terminal's chain and SaleAt its time.
	SaleEvent string `json:"sale_event"`
	SaleSeq   uint64 `json:"sale_seq"`
	// SaleTerminal is the terminal whose sale it returns, when it is not
	// the refund's own (a return at another till); empty: its own.
	SaleTerminal string    `json:"sale_terminal,omitempty"`
	SaleAt       time.Time `json:"sale_at"`
	Reason       string    `json:"reason,omitempty"`
	// Before is how many units of each of the sale's lines earlier refunds
	// had returned: with the sale, what the refund was worked out from
	// (discount.RefundAfter), so that anyone holding both can check it.
	Before []int64 `json:"before,omitempty"`
	RefundQuote
	// Spend is what the refund takes off the card's lifetime spend: the
	// money the returned lines were paid, so the next purchase's tier is
	// worked out without them.
	Spend money.Amount `json:"spend"`
	// Request is the hex SHA-256 of the POS app's request, as in Sale.
	Request string `json:"request,omitempty"`
	// Claim, when set, is what the customer's receipt said of a sale of
	// another terminal that the till could not look up (HQ out of reach):
	// the refund was worked out from it, within the ruleset's offline
	// limits, and HQ reconciles it against the sale.
	Claim *ReceiptClaim `json:"claim,omitempty"`
}
