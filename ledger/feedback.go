package ledger

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// FeedbackRequest identifies the one feedback (an NPS answer) a sale may
// have: the sale by its client id, and the digest of the request.
type FeedbackRequest struct {
	SaleID string
	Digest [32]byte
	// Card, when not empty, must be the sale's card.
	Card string
}

// FeedbackFunc returns the body of a feedback event (a pos.Feedback: its
// "sale_seq" and "card" must be the sale's), given the sale's event, the
// sale's card and the time the event will carry. It runs inside the write
// transaction, as PriceFunc does.
type FeedbackFunc func(sale event.Event, card string, at time.Time) ([]byte, error)

// RecordFeedback records the feedback of a sale recorded in this ledger,
// durably, as RecordSale records a sale. A sale has at most one feedback:
// the same request again is the stored receipt with Replayed set; another
// is ErrConflict, and nothing is stored. A sale not kept here is ErrNoSale;
// a card other than the sale's is a *pos.InputError. The feedback's event
// (type feedback) is chained like a sale's and joins the outbox; it changes
// no account, and the time of the card's latest feedback (LastFeedback) is
// kept beside the accounts.
func (l *Ledger) RecordFeedback(req FeedbackRequest, build FeedbackFunc) (Receipt, error) {
	if err := checkClientID(req.SaleID); err != nil {
		return Receipt{}, fmt.Errorf("record feedback: sale %w", err)
	}
	if req.SaleID[0] == 0 {
		return Receipt{}, fmt.Errorf("record feedback: %w", &pos.InputError{Field: "sale", Problem: "not a sale id"})
	}
	return l.commitOne(event.TypeFeedback, req.SaleID, req.Card, func(tx *bolt.Tx, m *meta, rec *journalRecord) (Receipt, error) {
		return l.applyFeedback(tx, m, req, build, rec)
	})
}

func (l *Ledger) applyFeedback(tx *bolt.Tx, m *meta, req FeedbackRequest, build FeedbackFunc, rec *journalRecord) (Receipt, error) {
	idx := indexKey(event.TypeFeedback, req.SaleID)
	if r, ok, err := replayed(tx, idx, req.Digest); ok || err != nil {
		return r, err
	}
	sale, err := findSale(tx, m, RefundRequest{SaleID: req.SaleID})
	if err != nil {
		return Receipt{}, err
	}
	var sl saleLines
	if err := json.Unmarshal(sale.Body, &sl); err != nil {
		return Receipt{}, fmt.Errorf("%w: event %d: %v", ErrCorrupt, sale.Seq, err)
	}
	if req.Card != "" && req.Card != sl.Card {
		return Receipt{}, &pos.InputError{Field: "card", Problem: "not the card of the sale " + req.SaleID}
	}
	at := l.now().UTC()
	b, err := build(sale, sl.Card, at)
	if err != nil {
		return Receipt{}, fmt.Errorf("feedback body: %w", err)
	}
	body, err := canonicalBody(b)
	if err != nil {
		return Receipt{}, fmt.Errorf("feedback body: %w", err)
	}
	var f struct {
		Card    string `json:"card"`
		SaleSeq uint64 `json:"sale_seq"`
	}
	if err := json.Unmarshal(body, &f); err != nil || f.Card != sl.Card || f.SaleSeq != sale.Seq {
		return Receipt{}, fmt.Errorf("feedback body names sale %d and card %s, not %d and %s (%v)",
			f.SaleSeq, pos.MaskCard(f.Card), sale.Seq, pos.MaskCard(sl.Card), err)
	}
	var extra []put
	if sl.Card != "" {
		extra = append(extra, put{bucketAsked, []byte(sl.Card), u64(uint64(at.UnixNano()))})
	}
	p := Priced{Body: body, RulesetVersion: sale.RulesetVersion, RulesetHash: sale.RulesetHash}
	return l.appendEvent(tx, m, rec, event.TypeFeedback, at, p, body, effect{card: sl.Card, saleID: string(idx)}, req.Digest, nil, extra...)
}

// LastFeedback returns when the card's latest feedback recorded in this
// ledger was given; zero when none was.
func (l *Ledger) LastFeedback(card string) (time.Time, error) {
	var at time.Time
	err := l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAsked)
		if b == nil {
			return nil
		}
		if n, err := seqKey(b.Get([]byte(card))); err == nil {
			at = time.Unix(0, int64(n)).UTC()
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("last feedback of %s: %w", pos.MaskCard(card), err)
	}
	return at, nil
}
