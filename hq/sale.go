package hq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// errNoSale: HQ holds no sale under a receipt code.
var errNoSale = errors.New("no such sale")

// SaleByReceipt returns the sale event a receipt code names, from its
// terminal's head chain (or the chains it continues), and the units of each
// of its lines that refunds from terminals other than asker returned.
func SaleByReceipt(ctx context.Context, st Store, asker, code string) (wire.SaleAnswer, error) {
	terminal, seq, hash, err := pos.ParseReceiptCode(code)
	if err != nil {
		return wire.SaleAnswer{}, err
	}
	e, ok, err := headEvent(ctx, st, terminal, seq)
	if err != nil {
		return wire.SaleAnswer{}, err
	}
	if !ok || e.Type != event.TypeSale || !strings.HasPrefix(e.Hash, hash) {
		return wire.SaleAnswer{}, fmt.Errorf("%w: HQ holds no sale of terminal %s at seq %d whose hash begins %s", errNoSale, terminal, seq, hash)
	}
	returned, err := st.Returned(ctx, terminal, seq, asker)
	if err != nil {
		return wire.SaleAnswer{}, err
	}
	if returned == nil {
		returned = []int64{}
	}
	return wire.SaleAnswer{Event: e, Returned: returned}, nil
}

// headEvent returns the event at seq of the terminal's head chain (or of
// the chains it continues); ok is false when HQ holds none there.
func headEvent(ctx context.Context, st Store, terminal string, seq uint64) (e event.Event, ok bool, err error) {
	chains, err := st.Chains(ctx, terminal)
	if err != nil {
		return event.Event{}, false, fmt.Errorf("chains of %s: %w", terminal, err)
	}
	epoch, found := "", false
	for _, c := range chains {
		if c.Head {
			epoch, found = c.Epoch.ID, true
		}
	}
	if !found || seq == 0 {
		return event.Event{}, false, nil
	}
	_, evs, err := st.ChainEvents(ctx, terminal, epoch, seq-1, 1)
	if err != nil {
		return event.Event{}, false, fmt.Errorf("event %s/%d: %w", terminal, seq, err)
	}
	if len(evs) == 0 || evs[0].Seq != seq {
		return event.Event{}, false, nil
	}
	return evs[0], true, nil
}

// sale answers PathSalePrefix: a till taking back a sale of another one.
func (s *Server) sale(w http.ResponseWriter, r *http.Request) {
	a, err := SaleByReceipt(r.Context(), s.opts.Store, terminalOf(r), r.PathValue("receipt"))
	var bad *pos.InputError
	switch {
	case errors.As(err, &bad):
		wire.WriteError(w, http.StatusBadRequest, "bad_request", bad.Error())
	case errors.Is(err, errNoSale):
		wire.WriteError(w, http.StatusNotFound, "no_sale", err.Error())
	case err != nil:
		s.log.Error("sale by receipt", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
	default:
		wire.WriteJSON(w, http.StatusOK, a)
	}
}

// reportReturnExcess answers wire.PathReportReturnExcess.
func (s *Server) reportReturnExcess(w http.ResponseWriter, r *http.Request) {
	x, err := s.opts.Store.ReturnExcesses(r.Context())
	if err != nil {
		s.log.Error("return excess report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	if x == nil {
		x = []wire.ReturnExcess{}
	}
	wire.WriteJSON(w, http.StatusOK, wire.ReturnExcessReport{Returns: x})
}
