package wire

import (
	"time"

	"github.com/tilld/tilld/money"
)

// PathReportReturnExcess answers the returns tills took offline on a
// receipt's word that gave back other than their sale allows (GET,
// ReturnExcessReport).
const PathReportReturnExcess = "/v1/report/return-excess"

// Why a return taken on a receipt's word differs from its sale
// (ReturnExcess.Reasons).
const (
	// ExcessNoSale: HQ holds no sale under the receipt code (not uploaded
	// when the return was, or a code that names none): nothing of the
	// return is applied to any card; when the sale comes, the return is
	// reconciled against it and this report replaced.
	ExcessNoSale = "no_sale"
	// ExcessOverReturn: the return took back units the sale did not sell
	// or other returns (at any till, a race before upload among them) had
	// taken back already.
	ExcessOverReturn = "over_return"
	// ExcessAmounts: the receipt's word gave back other money or points
	// than the sale's own figures give the units returned.
	ExcessAmounts = "amounts"
	// ExcessCard: the receipt named another card than the sale's.
	ExcessCard = "card"
)

// ReturnExcess is a return a till took on a receipt's word, without its
// sale, that HQ reconciled against the sale: the card got the Applied
// figures (what the sale allows), the customer the Claimed ones; Excess is
// the money handed back beyond what the sale allows (negative: less).
type ReturnExcess struct {
	Terminal     string    `json:"terminal"` // the till that took the return
	Seq          uint64    `json:"seq"`      // its refund event there
	Refund       string    `json:"refund"`   // the POS app's refund id
	At           time.Time `json:"at"`
	Receipt      string    `json:"receipt"`
	SaleTerminal string    `json:"sale_terminal"`
	SaleSeq      uint64    `json:"sale_seq"`
	// Card is the sale's card (the receipt's when HQ holds no sale);
	// ClaimedCard the receipt's when it differs.
	Card        string   `json:"card,omitempty"`
	ClaimedCard string   `json:"claimed_card,omitempty"`
	Currency    string   `json:"currency"`
	Reasons     []string `json:"reasons"`

	ClaimedUnits          int64        `json:"claimed_units"`
	AppliedUnits          int64        `json:"applied_units"`
	ClaimedBack           money.Amount `json:"claimed_back"`
	AppliedBack           money.Amount `json:"applied_back"`
	Excess                money.Amount `json:"excess"`
	ClaimedPointsReturned int64        `json:"claimed_points_returned"`
	AppliedPointsReturned int64        `json:"applied_points_returned"`
	ClaimedPointsReversed int64        `json:"claimed_points_reversed"`
	AppliedPointsReversed int64        `json:"applied_points_reversed"`
}

// ReturnExcessReport is the answer of PathReportReturnExcess, oldest first.
type ReturnExcessReport struct {
	Returns []ReturnExcess `json:"returns"`
}
