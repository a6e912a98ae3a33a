package till

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Errors of Refund, beside the ledger's ErrConflict (a refund id used
// before for another return).
var (
	// ErrNoSale: the sale a refund names is not kept on this till.
	ErrNoSale = ledger.ErrNoSale
	// ErrOverReturn: the refund would return more than the sale sold,
	// counting its earlier refunds.
	ErrOverReturn = ledger.ErrOverReturn
	// ErrOtherTerminal: the receipt code names a sale made at another
	// terminal, and this till cannot ask HQ for it (stand-alone).
	ErrOtherTerminal = errors.New("the sale was made at another terminal")
	// ErrSaleUnreachable: the receipt code names a sale made at another
	// terminal, and HQ could not be asked for it or does not hold it (not
	// uploaded yet); returns of other tills' sales offline are not taken.
	ErrSaleUnreachable = errors.New("HQ cannot tell the sale made at another terminal")
	// ErrSaleNotAtHQ: HQ answered that it holds no sale under the receipt
	// code (mistyped, or not uploaded yet by its till), or sent another
	// one: FetchSale wraps it so that the return is not taken on the
	// receipt's word either.
	ErrSaleNotAtHQ = errors.New("HQ holds no sale under the receipt code")
	// ErrSaleNotKept: the receipt code names a sale of this till older than
	// its ledger keeps, and HQ, which holds it, could not be asked now.
	ErrSaleNotKept = errors.New("this till no longer keeps the sale, and HQ cannot tell it now")
	// ErrNoOfflineReturns: HQ cannot tell the sale made at another
	// terminal, the request carries what its receipt says, and the rules
	// take no return on a receipt's word ([limits] offline_return unset).
	ErrNoOfflineReturns = errors.New("the rules take no return of another terminal's sale without HQ")
	// ErrOfflineLimit: a return on a receipt's word would give back more
	// than the rules' offline limits allow (a *ledger.OfflineLimitError
	// says which limit and by how much).
	ErrOfflineLimit = ledger.ErrOfflineLimit
)

// MaxReasonLen bounds a refund's reason, in bytes.
const MaxReasonLen = 256

// ReceiptCode is the code printed on a sale's receipt that a refund can name
// the sale by (pos.ReceiptCode), e.g. "T042-17-3fa9c2".
func ReceiptCode(eventID, hash string) string { return pos.ReceiptCode(eventID, hash) }

// parseReceiptCode reads a receipt code into its terminal, seq and hash
// prefix (pos.ParseReceiptCode).
func parseReceiptCode(code string) (terminal string, seq uint64, hash string, err error) {
	return pos.ParseReceiptCode(code)
}

// RefundRequest is a return at the till: units of one of its sales, named
// by the POS app's sale id, by its seq, or by the receipt code printed with
// it (exactly one), under the POS app's own refund id.
type RefundRequest struct {
	ID      string `json:"id"`
	Sale    string `json:"sale,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Receipt string `json:"receipt,omitempty"`
	// Lines are the units returned: each line of the sale (from 1) once,
	// with a quantity. None: everything of the sale not returned yet.
	Lines  []pos.ReturnLine `json:"lines,omitempty"`
	Reason string           `json:"reason,omitempty"`
	// Claim is what the customer's receipt says of the sale, for when the
	// receipt names a sale of another terminal and HQ cannot be asked: the
	// return is then taken on it, within the rules' offline limits
	// (docs/rules.md, "Returns offline"). While HQ answers, it is ignored.
	Claim *pos.ReceiptClaim `json:"claim,omitempty"`
}

// RefundResult is the answer to a recorded refund: the refund as stored,
// its seq and event id. A retry with the same id and body gets the same.
type RefundResult struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	pos.Refund
}

// Refund records a return of units of one of this till's sales; it returns
// only once the refund is durable. What it gives back and takes back is
// worked out from the sale's own figures (discount.RefundAfter), never
// priced again: the money the returned units were paid and their share of
// a round-up to charity, the points they earned (the balance may go below
// zero when those were spent: an overdraft that later earnings pay back),
// the points they were paid with (back to their lots), their partner
// points, and the lifetime spend they added. replayed is true when the id
// was recorded before with the same request.
func (t *Till) Refund(req RefundRequest) (res RefundResult, replayed bool, err error) {
	req.ID = strings.TrimSpace(req.ID)
	req.Sale = strings.TrimSpace(req.Sale)
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.ID == "":
		return RefundResult{}, false, &pos.InputError{Field: "id", Problem: "missing: a refund id of 1 to 128 bytes is required"}
	case (req.Sale != "") && (req.Seq != 0 || req.Receipt != "") || req.Seq != 0 && req.Receipt != "":
		return RefundResult{}, false, &pos.InputError{Field: "sale", Problem: "name the sale once: by its sale id, its seq or its receipt code"}
	case req.Sale == "" && req.Seq == 0 && req.Receipt == "":
		return RefundResult{}, false, &pos.InputError{Field: "sale", Problem: "missing: name the sale by its sale id, its seq or its receipt code"}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"id", req.ID, ledger.MaxSaleIDLen}, {"sale", req.Sale, ledger.MaxSaleIDLen}, {"reason", req.Reason, MaxReasonLen}} {
		if err := pos.CheckText(f.name, f.v, f.max); err != nil {
			return RefundResult{}, false, err
		}
	}
	canon, err := json.Marshal(req)
	if err != nil {
		return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
	}
	lreq := ledger.RefundRequest{ID: req.ID, Digest: sha256.Sum256(canon), SaleID: req.Sale, SaleSeq: req.Seq, Lines: req.Lines}
	if req.Receipt != "" {
		terminal, seq, hash, err := parseReceiptCode(req.Receipt)
		if err != nil {
			return RefundResult{}, false, err
		}
		own := terminal == t.opts.Ledger.Terminal()
		pruned := false
		if own && t.opts.FetchSale != nil {
			var counted bool
			if pruned, counted, err = t.opts.Ledger.PrunedSale(seq); err != nil {
				return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
			}
			// Older than the ledger keeps: HQ has it, and this till still
			// counts its returns of it (else the ledger says where to go).
			pruned = pruned && counted
		}
		if !own || pruned {
			if t.opts.FetchSale == nil {
				return RefundResult{}, false, fmt.Errorf("receipt %s: %w %s", req.Receipt, ErrOtherTerminal, terminal)
			}
			if rcpt, ok, err := t.opts.Ledger.RefundReplayed(req.ID, lreq.Digest); err != nil {
				return RefundResult{}, false, err
			} else if ok {
				return t.refunded(req.ID, rcpt)
			}
			limit := t.opts.FetchSaleTimeout
			if limit <= 0 {
				limit = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			a, err := t.opts.FetchSale(ctx, req.Receipt)
			cancel()
			if errors.Is(err, ErrSaleNotAtHQ) {
				return RefundResult{}, false, fmt.Errorf("receipt %s: %w", req.Receipt, err)
			}
			if err != nil && pruned {
				return RefundResult{}, false, fmt.Errorf("receipt %s: %w: %w", req.Receipt, ErrSaleNotKept, err)
			}
			if err != nil && req.Claim != nil {
				return t.refundOnClaim(req, lreq, terminal, seq, err)
			}
			if err != nil {
				return RefundResult{}, false, fmt.Errorf("receipt %s: %w %s: %w", req.Receipt, ErrSaleUnreachable, terminal, err)
			}
			lreq.Foreign, lreq.ForeignReturned = &a.Event, a.Returned
		} else {
			lreq.SaleSeq, lreq.SaleHash = seq, hash
		}
	}
	if lreq.Foreign == nil && t.opts.FetchSale != nil {
		lreq.ForeignReturned = t.othersReturned(lreq)
	}
	return t.record(req, lreq, nil)
}

// record records the refund lreq asks for, worked out by
// discount.RefundAfter from the sale the ledger finds (or lreq.Foreign).
// claim is the receipt's word the sale was taken from, nil when it is the
// sale itself; the refund event then carries the rules active now.
func (t *Till) record(req RefundRequest, lreq ledger.RefundRequest, claim *pos.ReceiptClaim) (RefundResult, bool, error) {
	digest := hex.EncodeToString(lreq.Digest[:])
	var version int64
	var hash string
	if claim != nil {
		a, err := t.active()
		if err != nil {
			return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
		}
		version, hash = a.version, a.hash
	}
	rcpt, err := t.opts.Ledger.RecordRefund(lreq, func(se event.Event, returned []pos.ReturnLine, before []int64, _ pos.Account, at time.Time) (ledger.Priced, error) {
		var sale pos.Sale
		if err := json.Unmarshal(se.Body, &sale); err != nil {
			return ledger.Priced{}, fmt.Errorf("sale %s: %w", se.ID, err)
		}
		rq, err := discount.RefundAfter(sale, returned, before)
		if err != nil {
			return ledger.Priced{}, err
		}
		var saleTerminal string
		if lreq.Foreign != nil && se.Terminal != t.opts.Ledger.Terminal() {
			saleTerminal = se.Terminal // not this till's own sale, pruned here
		}
		body, err := json.Marshal(pos.Refund{ID: req.ID, At: at, SaleEvent: se.ID, SaleSeq: se.Seq, SaleAt: se.At, SaleTerminal: saleTerminal,
			Reason: req.Reason, Before: before, RefundQuote: rq, Spend: rq.Amount, Request: digest, Claim: claim})
		if err != nil {
			return ledger.Priced{}, err
		}
		p := ledger.Priced{Body: body, Spend: -rq.Amount, PointsDelta: rq.PointsReturned - rq.PointsReversed,
			RulesetVersion: se.RulesetVersion, RulesetHash: se.RulesetHash}
		if claim != nil {
			p.RulesetVersion, p.RulesetHash = version, hash
		}
		return p, nil
	})
	if err != nil {
		return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
	}
	return t.refunded(req.ID, rcpt)
}

// refundOnClaim records a return of the sale at seq of another terminal,
// which HQ could not tell (fetchErr), on what the customer's receipt says
// of it (req.Claim): within the rules' [limits] offline_return and
// offline_returns_per_day, the money back counted on this till since the
// start of its day, and the units of each receipt line bounded by what the
// receipt says it sold, counting this till's returns of the sale. HQ
// applies to the card what the sale itself allows and reports the rest.
func (t *Till) refundOnClaim(req RefundRequest, lreq ledger.RefundRequest, terminal string, seq uint64, fetchErr error) (RefundResult, bool, error) {
	a, err := t.active()
	if err != nil {
		return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
	}
	lim := a.rs.Limits
	if lim.OfflineReturn <= 0 || lim.OfflineReturnsPerDay <= 0 {
		return RefundResult{}, false, fmt.Errorf("receipt %s: %w (HQ: %v)", req.Receipt, ErrNoOfflineReturns, fetchErr)
	}
	claim := *req.Claim
	claim.Lines = slices.Clone(claim.Lines)
	if claim.Card, err = t.parseCard(claim.Card, ""); err != nil {
		var in *pos.InputError
		if errors.As(err, &in) {
			in.Field = "claim." + in.Field
		}
		return RefundResult{}, false, err
	}
	if err := claim.Validate(); err != nil {
		return RefundResult{}, false, err
	}
	if claim.Currency != "" && claim.Currency != a.rs.Currency.Code {
		return RefundResult{}, false, &pos.InputError{Field: "claim.currency",
			Problem: fmt.Sprintf("the receipt's amounts are in %s, this till sells in %s", claim.Currency, a.rs.Currency.Code)}
	}
	claim.Currency = a.rs.Currency.Code
	if len(req.Lines) == 0 {
		for _, l := range claim.Lines {
			lreq.Lines = append(lreq.Lines, pos.ReturnLine{Line: l.Line, Qty: l.Qty})
		}
	}
	for i, r := range req.Lines {
		if !slices.ContainsFunc(claim.Lines, func(c pos.ClaimLine) bool { return c.Line == r.Line }) {
			return RefundResult{}, false, &pos.InputError{Field: fmt.Sprintf("lines[%d].line", i+1),
				Problem: fmt.Sprintf("line %d is not in the claim: say what the receipt prints of it in claim.lines", r.Line)}
		}
	}
	// The lines this till's returns of the sale counted, claimed then.
	here, err := t.opts.Ledger.ForeignReturnedHere(terminal, seq)
	if err != nil {
		return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
	}
	body, err := json.Marshal(claim.Sale(req.Receipt, a.rs.Currency.Code, here))
	if err != nil {
		return RefundResult{}, false, fmt.Errorf("record refund %s: %w", req.ID, err)
	}
	lreq.Foreign = &event.Event{ID: fmt.Sprintf("%s-%d", terminal, seq), Terminal: terminal, Seq: seq, Type: event.TypeSale, Body: body}
	now := t.opts.Now()
	y, m, d := now.Date()
	lreq.Offline = &ledger.OfflineLimits{PerReturn: lim.OfflineReturn, PerDay: lim.OfflineReturnsPerDay,
		Since: time.Date(y, m, d, 0, 0, 0, 0, now.Location()), PointValue: pointValue(a.rs)}
	t.log.Warn("return of another terminal's sale on its receipt's word: HQ cannot tell it", "refund", req.ID, "receipt", req.Receipt, "err", fetchErr)
	return t.record(req, lreq, &claim)
}

// refunded is the answer to a refund recorded (or replayed) with rcpt.
func (t *Till) refunded(id string, rcpt ledger.Receipt) (res RefundResult, replayed bool, err error) {
	res = RefundResult{Seq: rcpt.Seq, EventID: rcpt.EventID}
	if err := json.Unmarshal(rcpt.Body, &res.Refund); err != nil {
		return RefundResult{}, false, fmt.Errorf("record refund %s: stored body: %w", id, err)
	}
	if !rcpt.Replayed {
		t.log.Info("refund recorded", "refund", id, "sale", res.SaleID, "seq", rcpt.Seq, "sale_terminal", res.SaleTerminal)
		if t.opts.OnSale != nil {
			t.opts.OnSale()
		}
	}
	return res, rcpt.Replayed, nil
}

// othersReturned asks HQ what other tills returned of this till's sale a
// refund names (a customer may take a sale back at any till), so that the
// refund is bounded by theirs too. Offline, or before HQ holds the sale,
// the till's own count bounds it alone: nil. It waits for HQ at most 2 s.
func (t *Till) othersReturned(req ledger.RefundRequest) []int64 {
	se, err := t.opts.Ledger.SaleOf(req)
	if err != nil {
		return nil // RecordRefund says why
	}
	limit := min(t.opts.FetchSaleTimeout, 2*time.Second)
	if limit <= 0 {
		limit = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	a, err := t.opts.FetchSale(ctx, pos.ReceiptCode(se.ID, se.Hash))
	if err != nil {
		t.log.Info("refund bounded by this till's returns alone: HQ cannot tell other tills' returns", "sale", se.ID, "err", err)
		return nil
	}
	if a.Event.Hash != se.Hash {
		t.log.Warn("HQ holds another event under this till's sale; its returns elsewhere are not counted", "sale", se.ID)
		return nil
	}
	return a.Returned
}

// pointValue is the most one point pays for in rs's redeem rules (0 when
// none): what a point a return on a receipt's word gives back counts as
// against the offline limits.
func pointValue(rs *discount.Ruleset) money.Amount {
	var v money.Amount
	for _, r := range rs.Rules {
		if r.Kind == discount.KindRedeem {
			v = max(v, r.PointValue)
		}
	}
	return v
}
