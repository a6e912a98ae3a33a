package pos

import "time"

// NPS scores (seed 004): 0 to 10.
const (
	MinNPSScore = 0
	MaxNPSScore = 10
	// MaxFeedbackComment bounds a feedback's comment, in bytes.
	MaxFeedbackComment = 1000
)

// Feedback is a customer's answer to the NPS question ("how likely are you
// to recommend us to a friend?", 0-10) after a sale at the till: the content
// of a feedback event in the ledger and at HQ. At most one per sale. It
// carries the card number but never personal data.
type Feedback struct {
	// SaleID is the POS app's id of the sale answered.
	SaleID    string    `json:"sale_id"`
	SaleEvent string    `json:"sale_event"`
	SaleSeq   uint64    `json:"sale_seq"`
	Card      string    `json:"card,omitempty"`
	Store     string    `json:"store,omitempty"`
	Region    string    `json:"region,omitempty"`
	Score     int       `json:"score"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
	// UTCOffset is the till's offset from UTC in seconds when the sale was
	// made: the day the answer counts on is the till's.
	UTCOffset int `json:"utc_offset,omitempty"`
	// Asked says the rules had the till ask the question at this sale
	// (an nps rule applied); an answer given unasked counts in the score
	// but not in the response rate.
	Asked bool `json:"asked"`
	// Request is the hex SHA-256 of the POS app's request (its
	// idempotency digest), as in Sale.
	Request string `json:"request,omitempty"`
}

// NPSQuestion is the nps rule that applies to a basket (Quote.NPS).
type NPSQuestion struct {
	Rule      string `json:"rule"`
	EveryDays int64  `json:"every_days"`
}

// Due reports whether a card whose latest answer was given at last (zero:
// never) is asked again at now.
func (q *NPSQuestion) Due(last, now time.Time) bool {
	if q == nil {
		return false
	}
	return last.IsZero() || now.Sub(last) >= time.Duration(q.EveryDays)*24*time.Hour
}
