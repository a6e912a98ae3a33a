package hq

import (
	"cmp"
	"context"
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
// the 12 months up to today), ?store=; a DiscountReport).
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

// DiscountReport is the answer of PathReportDiscounts: rows by period,
// store, then the most money first.
type DiscountReport struct {
	Period string        `json:"period"`
	From   string        `json:"from"`
	To     string        `json:"to"`
	Store  string        `json:"store,omitempty"`
	Rows   []DiscountRow `json:"rows"`
}

// DiscountsByRule adds up the rules applied in the sales of q, per period.
func DiscountsByRule(ctx context.Context, st Store, q SimQuery, period string) (DiscountReport, error) {
	rep := DiscountReport{Period: period, From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Store: q.Store, Rows: []DiscountRow{}}
	type key struct{ period, store, rule, currency string }
	rows := map[key]*DiscountRow{}
	err := eachSale(ctx, st, q, func(e *event.Event, sale *pos.Sale, store string) error {
		_, day := saleDay(e, sale)
		start := loyalty.Date(loyalty.PeriodStart(period, loyalty.DayOf(day, 0))).Format(time.DateOnly)
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
	now := s.opts.Now().UTC()
	if qv.Get("from") == "" {
		qv.Set("from", time.Date(now.Year(), now.Month()-11, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	q, err := ParseSimQuery(qv, now)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	rep, err := DiscountsByRule(r.Context(), s.opts.Store, q, period)
	if err != nil {
		s.storeError(w, "discounts report", err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, rep)
}
