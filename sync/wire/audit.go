package wire

import "time"

// PathReportAudit answers HQ's audit of the synced sales (GET, AuditReport);
// ?limit=N caps the flags listed (default 1 000).
const PathReportAudit = "/v1/report/audit"

// What an audit finding says differs (AuditFinding.Code).
const (
	// AuditUnpublished: the sale names a ruleset version HQ never published.
	AuditUnpublished = "unpublished_ruleset"
	// AuditRulesetHash: the sale names a published version with another hash:
	// it was priced with a ruleset that is not the one HQ published.
	AuditRulesetHash = "ruleset_hash"
	// AuditRulesetVersion: the sale's quote and its event name different versions.
	AuditRulesetVersion = "ruleset_version"
	// AuditNotPriced: HQ's engine refuses to price the sale again (Detail says
	// why: the ruleset not in effect at the sale's time, a bad basket).
	AuditNotPriced = "not_priced"
	// AuditBadBody: the sale event's body is not a sale.
	AuditBadBody = "bad_body"
	// Totals that differ between the till's sale and HQ's pricing of it:
	// money (in minor units of the flag's currency) and points.
	AuditTotal          = "total"
	AuditDiscount       = "discount"
	AuditPointsEarned   = "points_earned"
	AuditPointsRedeemed = "points_redeemed"
	AuditCurrency       = "currency"
	// What a refund gave back and took back, differing from what HQ works
	// out from the refund's sale (discount.RefundAfter): money (minor units)
	// and points; AuditRefundSale: the refund's sale is not the one its
	// event names, or not a sale HQ holds (Detail says).
	AuditRefundAmount   = "refund_amount"
	AuditRefundBack     = "refund_back"
	AuditRefundSpend    = "refund_spend"
	AuditPointsReversed = "points_reversed"
	AuditPointsReturned = "points_returned"
	AuditPartnerPoints  = "partner_points"
	AuditRefundSale     = "refund_sale"
	// AuditOverReturned: the refunds of the refund's sale, at every till,
	// return more units of a line than were sold (Till: sold, HQ: returned).
	AuditOverReturned = "over_returned"
	// AuditOfflineExcess: a refund taken offline on a receipt's word gave
	// back other than its sale allows (Till: the money handed back, HQ:
	// what the sale allows; Detail: the reasons, as in ReturnExcess).
	AuditOfflineExcess = "offline_excess"
)

// AuditFinding is one thing HQ's audit found wrong with a sale. For totals,
// Till is what the till recorded and HQ what HQ's pricing of the same sale
// gives; for the others, Detail says what and Till/HQ are unused.
type AuditFinding struct {
	Code   string `json:"code"`
	Till   int64  `json:"till,omitempty"`
	HQ     int64  `json:"hq,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// IsMoney reports whether the finding's Till and HQ are amounts of money.
func (f AuditFinding) IsMoney() bool {
	switch f.Code {
	case AuditTotal, AuditDiscount, AuditRefundAmount, AuditRefundBack, AuditRefundSpend, AuditOfflineExcess:
		return true
	}
	return false
}

// AuditFlag is a sale the audit flagged, filed under its event's place in its
// terminal's chain.
type AuditFlag struct {
	Terminal string `json:"terminal"`
	Epoch    string `json:"epoch,omitempty"`
	Seq      uint64 `json:"seq"`
	SaleID   string `json:"sale_id"`
	// Refund is the refund's id when the event flagged is a refund (SaleID
	// is then its sale's).
	Refund         string         `json:"refund,omitempty"`
	At             time.Time      `json:"at"`
	RulesetVersion int64          `json:"ruleset_version"`
	Currency       string         `json:"currency,omitempty"`
	Findings       []AuditFinding `json:"findings"`
}

// AuditSummary counts what the audit has done, over every chain.
type AuditSummary struct {
	Sales       int64 `json:"sales"`       // sale events audited
	Flagged     int64 `json:"flagged"`     // of them, flagged
	Unpriceable int64 `json:"unpriceable"` // of them, sold before tills kept their pricing inputs
	Waiting     int64 `json:"waiting"`     // events HQ holds that the audit has not reached yet
	// Refunds are the refund events audited, and RefundsFlagged those of
	// them flagged (not counted in Flagged).
	Refunds        int64 `json:"refunds"`
	RefundsFlagged int64 `json:"refunds_flagged"`
}

// AuditChain is one chain's part of the audit: how far it got and the sales it
// could not price again because they were sold before tills kept what they
// priced with (seqs UnpricedFirst..UnpricedLast).
type AuditChain struct {
	Terminal      string `json:"terminal"`
	Epoch         string `json:"epoch,omitempty"`
	Audited       uint64 `json:"audited"` // the audit has read the chain's events up to this seq
	Acked         uint64 `json:"acked"`
	Sales         int64  `json:"sales"`
	Flagged       int64  `json:"flagged"`
	Unpriceable   int64  `json:"unpriceable,omitempty"`
	UnpricedFirst uint64 `json:"unpriced_first,omitempty"`
	UnpricedLast  uint64 `json:"unpriced_last,omitempty"`
	// Refunds and RefundsFlagged: as in AuditSummary (Flagged counts sales).
	Refunds        int64 `json:"refunds,omitempty"`
	RefundsFlagged int64 `json:"refunds_flagged,omitempty"`
}

// AuditReport is the answer of PathReportAudit: the summary, every chain, and
// the flagged sales by terminal, epoch and seq (at most the limit asked for;
// Summary.Flagged and RefundsFlagged count them all).
type AuditReport struct {
	Summary AuditSummary `json:"summary"`
	Chains  []AuditChain `json:"chains"`
	Flags   []AuditFlag  `json:"flags"`
}
