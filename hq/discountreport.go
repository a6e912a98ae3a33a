package hq

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// PathReportDiscounts answers what each rule gave, per period and store (GET,
// ?period=day|week|month (default month), ?from=&to= (local dates, default
// to today and from the first day of the 12 calendar months up to to),
// ?store=; a DiscountReport).
const PathReportDiscounts = "/v1/report/discounts"

// DiscountRow is what one rule gave in the sales of one period and store:
// money in minor units of Currency.
type DiscountRow struct {
	Period   string       `json:"period"` // its first day, YYYY-MM-DD
	Store    string       `json:"store"`
	Rule     string       `json:"rule"`
	Kind     string       `json:"kind"`
	Currency string       `json:"currency"`
	Sales    int64        `json:"sales"`  // sales it applied to
	Amount   money.Amount `json:"amount"` // discount
	Points   int64        `json:"points"` // points earned (a partner's: owed by the partner)
	Redeemed int64        `json:"redeemed"`
	Partner  string       `json:"partner,omitempty"`
}

// CharityRow is what customers gave one cause in one period and store: in
// the sales made then and there, and taken back by the returns made then and
// there (money in minor units of Currency).
type CharityRow struct {
	Period         string       `json:"period"` // its first day, YYYY-MM-DD
	Store          string       `json:"store"`
	Cause          string       `json:"cause"`
	Currency       string       `json:"currency"`
	Sales          int64        `json:"sales"`  // sales that gave to it
	Amount         money.Amount `json:"amount"` // money given (on top of what customers paid)
	Points         int64        `json:"points"` // points given
	ReturnedAmount money.Amount `json:"returned_amount"`
	ReturnedPoints int64        `json:"returned_points"`
}

// RaffleWin is a sale that won in a raffle: who (the card, masked), where,
// when, and what; Void when a return of the whole sale voided its tickets.
type RaffleWin struct {
	Period   string `json:"period"`
	Store    string `json:"store"`
	Terminal string `json:"terminal"`
	Seq      uint64 `json:"seq"`
	At       string `json:"at"` // RFC 3339, on the till's clock and offset
	Card     string `json:"card"`
	Rule     string `json:"rule"`
	Tickets  int64  `json:"tickets"`
	Won      int64  `json:"won"`
	Prize    string `json:"prize,omitempty"`
	Code     string `json:"code"` // printed on the receipt
	Void     bool   `json:"void,omitempty"`

	when time.Time // the sale's time, for the order
}

// DiscountReport is the answer of PathReportDiscounts: rows by period,
// store, then the most money first; charity likewise by cause; the raffle
// winners in the order they won.
type DiscountReport struct {
	Period  string        `json:"period"`
	From    string        `json:"from"`
	To      string        `json:"to"`
	Store   string        `json:"store,omitempty"`
	Rows    []DiscountRow `json:"rows"`
	Charity []CharityRow  `json:"charity"`
	Raffles []RaffleWin   `json:"raffles"`
}

// DiscountsByRule adds up the rules applied, the donations given and the
// raffles won in the sales of q, per period, and the donations the returns
// of q took back. A return counts at its own till's store (the store of that
// till's sales) on its own day. It stops with ctx's error when ctx ends.
func DiscountsByRule(ctx context.Context, st Store, q SimQuery, period string) (DiscountReport, error) {
	rep := DiscountReport{Period: period, From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Store: q.Store,
		Rows: []DiscountRow{}, Charity: []CharityRow{}, Raffles: []RaffleWin{}}
	type key struct{ period, store, name, currency string }
	rows := map[key]*DiscountRow{}
	charity := map[key]*CharityRow{}
	cause := func(k key) *CharityRow {
		r := charity[k]
		if r == nil {
			r = &CharityRow{Period: k.period, Store: k.store, Cause: k.name, Currency: k.currency}
			charity[k] = r
		}
		return r
	}
	periodOf := func(day time.Time) string {
		return loyalty.Date(loyalty.PeriodStart(period, loyalty.DayOf(day, 0))).Format(time.DateOnly)
	}
	type place struct {
		store  string
		offset int
	}
	where := map[string]place{} // a till's store and UTC offset, from its sales
	type saleRef struct {
		terminal string
		seq      uint64
	}
	voided := map[saleRef]bool{}
	err := eachEvent(ctx, st, func(e *event.Event) error {
		if err := ctx.Err(); err != nil { // the store need not check: a client that hung up stops the scan
			return err
		}
		switch e.Type {
		case event.TypeSale:
			var sale pos.Sale
			if err := json.Unmarshal(e.Body, &sale); err != nil {
				return nil
			}
			store, day := saleDay(e, &sale)
			if sale.Inputs != nil {
				where[e.Terminal] = place{store, sale.Inputs.UTCOffset}
			}
			if !q.holds(store, day) {
				return nil
			}
			start := periodOf(day)
			for _, a := range sale.Applied {
				k := key{start, store, a.Rule, sale.Currency}
				r := rows[k]
				if r == nil {
					r = &DiscountRow{Period: start, Store: store, Rule: a.Rule, Kind: a.Kind, Currency: sale.Currency, Partner: a.Partner}
					rows[k] = r
				}
				r.Sales++
				r.Amount += a.Amount
				r.Points += a.Points
				r.Redeemed += a.Redeemed
			}
			for _, d := range sale.Donations {
				r := cause(key{start, store, d.Cause, sale.Currency})
				r.Sales++
				r.Amount += d.Amount
				r.Points += d.Points
			}
			for _, w := range sale.Raffles {
				if w.Won <= 0 {
					continue
				}
				rep.Raffles = append(rep.Raffles, RaffleWin{Period: start, Store: store, Terminal: e.Terminal, Seq: e.Seq,
					At: e.At.In(time.FixedZone("", where[e.Terminal].offset)).Format(time.RFC3339), Card: pos.MaskCard(sale.Card),
					Rule: w.Rule, Tickets: w.Tickets, Won: w.Won, Prize: w.Prize, Code: w.Code, when: e.At})
			}
		case event.TypeRefund:
			var ref pos.Refund
			if err := json.Unmarshal(e.Body, &ref); err != nil {
				return nil
			}
			if len(ref.RafflesVoid) > 0 {
				voided[saleRef{cmp.Or(ref.SaleTerminal, e.Terminal), ref.SaleSeq}] = true
			}
			w := where[e.Terminal]
			day := localDay(e.At, w.offset)
			if !q.holds(w.store, day) {
				return nil
			}
			for _, d := range ref.Donations {
				r := cause(key{periodOf(day), w.store, d.Cause, ref.Currency})
				r.ReturnedAmount += d.Amount
				r.ReturnedPoints += d.Points
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("discounts by rule: %w", err)
	}
	for _, r := range rows {
		rep.Rows = append(rep.Rows, *r)
	}
	slices.SortFunc(rep.Rows, func(a, b DiscountRow) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Store, b.Store), cmp.Compare(b.Amount, a.Amount),
			cmp.Compare(b.Points, a.Points), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Currency, b.Currency))
	})
	for _, r := range charity {
		rep.Charity = append(rep.Charity, *r)
	}
	slices.SortFunc(rep.Charity, func(a, b CharityRow) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Store, b.Store), cmp.Compare(b.Amount, a.Amount),
			cmp.Compare(b.Points, a.Points), cmp.Compare(a.Cause, b.Cause), cmp.Compare(a.Currency, b.Currency))
	})
	for i, w := range rep.Raffles {
		rep.Raffles[i].Void = voided[saleRef{w.Terminal, w.Seq}]
	}
	slices.SortStableFunc(rep.Raffles, func(a, b RaffleWin) int {
		return cmp.Or(a.when.Compare(b.when), cmp.Compare(a.Terminal, b.Terminal), cmp.Compare(a.Seq, b.Seq))
	})
	return rep, nil
}

// reportDiscounts answers PathReportDiscounts.
func (s *Server) reportDiscounts(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	period := cmp.Or(qv.Get("period"), loyalty.PeriodMonth)
	if period != loyalty.PeriodDay && period != loyalty.PeriodWeek && period != loyalty.PeriodMonth {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("period %q: want day, week or month", period))
		return
	}
	_, to, err := parseDateRange(qv) // as the other reports word it
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	now := s.opts.Now().UTC()
	if to.IsZero() {
		to = now
	}
	if qv.Get("from") == "" {
		qv.Set("from", yearTo(to).Format(time.DateOnly))
	}
	q, err := ParseSimQuery(qv, now)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	rep, err := DiscountsByRule(r.Context(), s.opts.Store, q, period)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client hung up: no one to answer, nothing wrong with the store
		}
		s.storeError(w, "discounts report", err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, rep)
}
