package till

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
)

// FeedbackRequest is the body of POST /v1/feedback: the customer's answer
// to the NPS question after a sale. Score is a pointer so that a missing
// score is told from a 0.
type FeedbackRequest struct {
	// Sale is the POS app's id of the sale answered.
	Sale string `json:"sale"`
	// Card, when given, must be the sale's card (as a scan reads it).
	Card    string `json:"card,omitempty"`
	Score   *int   `json:"score"`
	Comment string `json:"comment,omitempty"`
}

// FeedbackResult is the answer to a recorded feedback: the feedback as
// stored, its seq and event id.
type FeedbackResult struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	pos.Feedback
}

// Feedback records a customer's NPS answer to one of this till's sales,
// durably, as a chained feedback event that reaches HQ like a sale. A sale
// has at most one: the same request again is the stored one (replayed),
// another is ErrConflict and nothing is stored; a sale the till does not
// keep is ErrNoSale; a score outside 0-10 is a *pos.InputError.
func (t *Till) Feedback(req FeedbackRequest) (res FeedbackResult, replayed bool, err error) {
	req.Sale = strings.TrimSpace(req.Sale)
	req.Comment = strings.TrimSpace(req.Comment)
	switch {
	case req.Sale == "":
		return FeedbackResult{}, false, &pos.InputError{Field: "sale", Problem: "missing: the id of the sale the customer answers about"}
	case req.Score == nil:
		return FeedbackResult{}, false, &pos.InputError{Field: "score", Problem: "missing: a score from 0 to 10"}
	case *req.Score < pos.MinNPSScore || *req.Score > pos.MaxNPSScore:
		return FeedbackResult{}, false, &pos.InputError{Field: "score", Problem: fmt.Sprintf("must be between %d and %d, got %d", pos.MinNPSScore, pos.MaxNPSScore, *req.Score)}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"sale", req.Sale, ledger.MaxSaleIDLen}, {"comment", req.Comment, pos.MaxFeedbackComment}} {
		if err := pos.CheckText(f.name, f.v, f.max); err != nil {
			return FeedbackResult{}, false, err
		}
	}
	if req.Card, err = t.parseCard(req.Card, ""); err != nil {
		return FeedbackResult{}, false, err
	}
	canon, err := json.Marshal(req)
	if err != nil {
		return FeedbackResult{}, false, fmt.Errorf("record feedback of sale %s: %w", req.Sale, err)
	}
	digest := sha256.Sum256(canon)
	lreq := ledger.FeedbackRequest{SaleID: req.Sale, Digest: digest, Card: req.Card}
	rcpt, err := t.opts.Ledger.RecordFeedback(lreq, func(se event.Event, card string, at time.Time) ([]byte, error) {
		var sale pos.Sale
		if err := json.Unmarshal(se.Body, &sale); err != nil {
			return nil, fmt.Errorf("sale %s: %w", se.ID, err)
		}
		f := pos.Feedback{SaleID: req.Sale, SaleEvent: se.ID, SaleSeq: se.Seq, Card: card, Store: t.opts.Store, Region: t.opts.Region,
			Score: *req.Score, Comment: req.Comment, At: at, Asked: sale.NPS != nil, Request: hex.EncodeToString(digest[:])}
		if sale.Inputs != nil {
			f.Store, f.Region, f.UTCOffset = sale.Inputs.Store, sale.Inputs.Region, sale.Inputs.UTCOffset
		}
		return json.Marshal(f)
	})
	if err != nil {
		return FeedbackResult{}, false, fmt.Errorf("record feedback of sale %s: %w", req.Sale, err)
	}
	res = FeedbackResult{Seq: rcpt.Seq, EventID: rcpt.EventID}
	if err := json.Unmarshal(rcpt.Body, &res.Feedback); err != nil {
		return FeedbackResult{}, false, fmt.Errorf("record feedback of sale %s: stored body: %w", req.Sale, err)
	}
	if !rcpt.Replayed {
		t.log.Info("feedback recorded", "sale", req.Sale, "seq", rcpt.Seq, "score", res.Score)
		if t.opts.OnSale != nil {
			t.opts.OnSale() // the forwarder uploads it
		}
	}
	return res, rcpt.Replayed, nil
}

// AskNPS reports whether the till asks the NPS question after a sale priced
// as q, at now: an nps rule applied (q.NPS) and the card has not answered
// within its period, here or at any till of the chain. The latest answer is
// the later of this till's own (the ledger's) and the one HQ last sent with
// the card's account (pos.Account.LastFeedback): offline, what the till
// knows still holds.
func (t *Till) AskNPS(q pos.Quote, card string, now time.Time) (bool, error) {
	if q.NPS == nil || card == "" {
		return false, nil
	}
	acct, _, err := t.opts.Ledger.Account(card)
	if err != nil {
		return false, err
	}
	last, err := t.lastAnswer(card, acct)
	if err != nil {
		return false, err
	}
	return q.NPS.Due(last, now), nil
}

// lastAnswer is when card last answered the NPS question as far as the
// till knows: the later of its own latest answer (the ledger's) and the one
// HQ last sent with the card's account acct.
func (t *Till) lastAnswer(card string, acct pos.Account) (time.Time, error) {
	last, err := t.opts.Ledger.LastFeedback(card)
	if err != nil {
		return time.Time{}, err
	}
	if acct.LastFeedback.After(last) {
		last = acct.LastFeedback
	}
	return last, nil
}
