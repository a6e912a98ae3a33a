package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// HQ's audit of refunds: a refund is never priced again with rules; what it
// gave back and took back follows from its sale's own figures and the units
// earlier refunds returned (its body's Before), by discount.RefundAfter, the
// till's own function. The audit works that out again from the sale HQ holds
// and flags every figure that differs (docs/audit.md).

// AuditRefund audits refund event e of a terminal's chain epoch against
// sale, the event its body names (sale_seq in the same chain, or in the
// head chain of its sale_terminal: a return at another till), nil when HQ
// does not hold one there. returned is what every refund of the sale HQ
// holds returned of each line (Returns, from all terminals): beyond what
// was sold, two tills raced (or one was offline), and the refund is flagged
// over_returned for a person to settle. It is pure, like AuditEvent.
func AuditRefund(epoch string, e event.Event, sale *event.Event, returned []int64) (a SaleAudit) {
	a.Refund = true
	f := &wire.AuditFlag{Terminal: e.Terminal, Epoch: epoch, Seq: e.Seq, At: e.At, RulesetVersion: e.RulesetVersion}
	flag := func(fd wire.AuditFinding) { f.Findings = append(f.Findings, fd) }
	defer func() {
		if len(f.Findings) > 0 {
			a.Flag = f
		}
	}()
	var r pos.Refund
	if err := json.Unmarshal(e.Body, &r); err != nil {
		flag(wire.AuditFinding{Code: wire.AuditBadBody, Detail: err.Error()})
		return a
	}
	f.Refund, f.SaleID, f.Currency = r.ID, r.SaleID, r.Currency
	if sale == nil || sale.Type != event.TypeSale || sale.Seq != r.SaleSeq {
		flag(wire.AuditFinding{Code: wire.AuditRefundSale, Detail: fmt.Sprintf("HQ holds no sale at seq %d of this chain", r.SaleSeq)})
		return a
	}
	var s pos.Sale
	if err := json.Unmarshal(sale.Body, &s); err != nil {
		flag(wire.AuditFinding{Code: wire.AuditRefundSale, Detail: fmt.Sprintf("sale %d: %v", sale.Seq, err)})
		return a
	}
	switch {
	case r.SaleEvent != sale.ID || !r.SaleAt.Equal(sale.At) || r.SaleID != s.ID || r.Card != s.Card:
		flag(wire.AuditFinding{Code: wire.AuditRefundSale,
			Detail: fmt.Sprintf("the refund names sale %q (event %s at %s), HQ holds %q (event %s at %s)",
				r.SaleID, r.SaleEvent, r.SaleAt.Format("2006-01-02T15:04:05Z07:00"), s.ID, sale.ID, sale.At.Format("2006-01-02T15:04:05Z07:00"))})
		return a
	case len(r.Before) > 0 && len(r.Before) != len(s.Lines):
		flag(wire.AuditFinding{Code: wire.AuditBadBody, Detail: fmt.Sprintf("before counts %d lines, the sale has %d", len(r.Before), len(s.Lines))})
		return a
	}
	for _, l := range r.Lines {
		if l.Line >= 1 && l.Line <= len(s.Lines) && l.Line <= len(returned) && returned[l.Line-1] > s.Lines[l.Line-1].Qty {
			flag(wire.AuditFinding{Code: wire.AuditOverReturned, Till: s.Lines[l.Line-1].Qty, HQ: returned[l.Line-1],
				Detail: fmt.Sprintf("line %d: %d sold, refunds at every till return %d", l.Line, s.Lines[l.Line-1].Qty, returned[l.Line-1])})
		}
	}
	lines := make([]pos.ReturnLine, len(r.Lines))
	for i, l := range r.Lines {
		lines[i] = pos.ReturnLine{Line: l.Line, Qty: l.Qty}
		if l.Line >= 1 && l.Line <= len(r.Before) {
			lines[i].Before = r.Before[l.Line-1]
		}
	}
	q, err := discount.RefundAfter(s, lines, r.Before)
	if err != nil {
		flag(wire.AuditFinding{Code: wire.AuditNotPriced, Detail: err.Error()})
		return a
	}
	for _, d := range []struct {
		code      string
		till, got int64
	}{
		{wire.AuditRefundAmount, int64(r.Amount), int64(q.Amount)},
		{wire.AuditRefundBack, int64(r.Back), int64(q.Back)},
		{wire.AuditRefundSpend, int64(r.Spend), int64(q.Amount)},
		{wire.AuditPointsReversed, r.PointsReversed, q.PointsReversed},
		{wire.AuditPointsReturned, r.PointsReturned, q.PointsReturned},
		{wire.AuditPartnerPoints, r.PartnerPoints, q.PartnerPoints},
	} {
		if d.till != d.got {
			flag(wire.AuditFinding{Code: d.code, Till: d.till, HQ: d.got})
		}
	}
	return a
}

// saleOf returns the sale the refund b.Events[i] names: from the batch when
// it is there, else from the store (an earlier batch, or the chain's
// parent); nil when HQ holds none there or the body names none.
func (a *Auditor) saleOf(ctx context.Context, b AuditBatch, i int) (*event.Event, error) {
	var r struct {
		SaleSeq      uint64 `json:"sale_seq"`
		SaleTerminal string `json:"sale_terminal"`
	}
	if json.Unmarshal(b.Events[i].Body, &r) != nil || r.SaleSeq == 0 {
		return nil, nil
	}
	if r.SaleTerminal != "" && r.SaleTerminal != b.Terminal {
		e, ok, err := headEvent(ctx, a.opts.Store, r.SaleTerminal, r.SaleSeq)
		if err != nil || !ok {
			return nil, err
		}
		return &e, nil
	}
	if r.SaleSeq >= b.Events[i].Seq {
		return nil, nil
	}
	for j := i - 1; j >= 0; j-- {
		if b.Events[j].Seq == r.SaleSeq {
			return &b.Events[j], nil
		}
	}
	_, evs, err := a.opts.Store.ChainEvents(ctx, b.Terminal, b.Epoch, r.SaleSeq-1, 1)
	if err != nil {
		return nil, fmt.Errorf("sale %d of refund %d: %w", r.SaleSeq, b.Events[i].Seq, err)
	}
	if len(evs) == 0 || evs[0].Seq != r.SaleSeq {
		return nil, nil
	}
	return &evs[0], nil
}

// isClaim reports whether a refund body says the till took it on a
// receipt's word (pos.Refund.Claim).
func isClaim(body []byte) bool {
	var r struct {
		Claim json.RawMessage `json:"claim"`
	}
	return json.Unmarshal(body, &r) == nil && len(r.Claim) > 0 && string(r.Claim) != "null"
}

// excessOf returns the report of the refund at seq of terminal's chain
// among excess, nil when there is none.
func excessOf(excess []wire.ReturnExcess, terminal string, seq uint64) *wire.ReturnExcess {
	for i := range excess {
		if excess[i].Terminal == terminal && excess[i].Seq == seq {
			return &excess[i]
		}
	}
	return nil
}

// AuditClaim audits refund event e, which a till took on a receipt's word
// without its sale (pos.Refund.Claim): HQ reconciled it with the sale as it
// stored it (ReconcileClaims), and x is what that found beyond what the
// sale allows (nil: nothing, the receipt's word was the sale's). Each
// difference is a finding: offline_excess for the money (Till: handed
// back, HQ: what the sale allows), points_returned and points_reversed for
// the points, and Detail names the reasons (no_sale, over_return, amounts,
// card). It is pure, like AuditRefund.
func AuditClaim(epoch string, e event.Event, x *wire.ReturnExcess) (a SaleAudit) {
	a.Refund = true
	var r pos.Refund
	f := &wire.AuditFlag{Terminal: e.Terminal, Epoch: epoch, Seq: e.Seq, At: e.At, RulesetVersion: e.RulesetVersion}
	if err := json.Unmarshal(e.Body, &r); err != nil {
		f.Findings = append(f.Findings, wire.AuditFinding{Code: wire.AuditBadBody, Detail: err.Error()})
		a.Flag = f
		return a
	}
	if x == nil {
		return a
	}
	f.Refund, f.SaleID, f.Currency = r.ID, r.SaleID, x.Currency
	why := fmt.Sprintf("taken offline on the receipt's word (%s): %s; %d units claimed, %d the sale allowed",
		strings.Join(x.Reasons, ", "), x.Receipt, x.ClaimedUnits, x.AppliedUnits)
	f.Findings = append(f.Findings, wire.AuditFinding{Code: wire.AuditOfflineExcess, Till: int64(x.ClaimedBack), HQ: int64(x.AppliedBack), Detail: why})
	if x.ClaimedPointsReturned != x.AppliedPointsReturned {
		f.Findings = append(f.Findings, wire.AuditFinding{Code: wire.AuditPointsReturned, Till: x.ClaimedPointsReturned, HQ: x.AppliedPointsReturned})
	}
	if x.ClaimedPointsReversed != x.AppliedPointsReversed {
		f.Findings = append(f.Findings, wire.AuditFinding{Code: wire.AuditPointsReversed, Till: x.ClaimedPointsReversed, HQ: x.AppliedPointsReversed})
	}
	a.Flag = f
	return a
}
