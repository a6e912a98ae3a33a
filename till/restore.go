package till

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
)

// RestoredSale reads a sale event HQ holds of this terminal as Sale wrote it,
// for ledger.Restore: the sale id, the POS app's request digest (zero for a
// sale recorded before sales carried it), the card and what the sale did to
// its account.
func RestoredSale(e event.Event) (ledger.RestoredSale, error) {
	switch e.Type {
	case event.TypeRefund:
		return restoredRefund(e)
	case event.TypeFeedback:
		return restoredFeedback(e)
	}
	var s pos.Sale
	if err := json.Unmarshal(e.Body, &s); err != nil {
		return ledger.RestoredSale{}, fmt.Errorf("sale body: %w", err)
	}
	r := ledger.RestoredSale{ID: s.ID, Card: s.Card, Spend: s.Total, Points: s.PointsEarned - s.PointsRedeemed}
	if s.Request != "" {
		b, err := hex.DecodeString(s.Request)
		if err != nil || len(b) != len(r.Digest) {
			return ledger.RestoredSale{}, fmt.Errorf("sale body: request digest %q is not a SHA-256 in hex", s.Request)
		}
		copy(r.Digest[:], b)
	}
	return r, nil
}

// restoredRefund reads a refund event as Refund wrote it, for ledger.Restore.
func restoredRefund(e event.Event) (ledger.RestoredSale, error) {
	var r pos.Refund
	if err := json.Unmarshal(e.Body, &r); err != nil {
		return ledger.RestoredSale{}, fmt.Errorf("refund body: %w", err)
	}
	s := ledger.RestoredSale{ID: r.ID, Card: r.Card, Spend: -r.Spend, Points: r.PointsReturned - r.PointsReversed}
	if r.Request != "" {
		b, err := hex.DecodeString(r.Request)
		if err != nil || len(b) != len(s.Digest) {
			return ledger.RestoredSale{}, fmt.Errorf("refund body: request digest %q is not a SHA-256 in hex", r.Request)
		}
		copy(s.Digest[:], b)
	}
	return s, nil
}

// restoredFeedback reads a feedback event as Feedback wrote it, for
// ledger.Restore: filed under its sale's id, with no effect on the account.
func restoredFeedback(e event.Event) (ledger.RestoredSale, error) {
	var f pos.Feedback
	if err := json.Unmarshal(e.Body, &f); err != nil {
		return ledger.RestoredSale{}, fmt.Errorf("feedback body: %w", err)
	}
	r := ledger.RestoredSale{ID: f.SaleID, Card: f.Card}
	if f.Request != "" {
		b, err := hex.DecodeString(f.Request)
		if err != nil || len(b) != len(r.Digest) {
			return ledger.RestoredSale{}, fmt.Errorf("feedback body: request digest %q is not a SHA-256 in hex", f.Request)
		}
		copy(r.Digest[:], b)
	}
	return r, nil
}
