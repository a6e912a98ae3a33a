package hq

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/sync/wire"
)

// The loyalty reports on the admin API (GET, JSON; the overdue list also as
// CSV with ?format=csv). Every one takes ?as_of=YYYY-MM-DD (default: today,
// UTC); cadence, overdue and clv take ?store= (the customers' home store),
// ?segment= (repeatable or comma-separated) and ?limit= (rows; -1 for all);
// cadence and segments take ?goal=SEGMENT=DAYS (repeatable; "*" for the
// rest).
const (
	PathReportCadence  = "/v1/report/cadence"
	PathReportOverdue  = "/v1/report/overdue"
	PathReportSegments = "/v1/report/segments"
	PathReportCLV      = "/v1/report/clv"
	PathReportKPI      = "/v1/report/kpi"
)

func (s *Server) loyaltyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathReportCadence, s.reportCadence)
	mux.HandleFunc("GET "+PathReportOverdue, s.reportOverdue)
	mux.HandleFunc("GET "+PathReportSegments, s.reportSegments)
	mux.HandleFunc("GET "+PathReportCLV, s.reportCLV)
	mux.HandleFunc("GET "+PathReportKPI, s.reportKPI)
}

// RunLoyalty keeps the loyalty reports' book up to date until ctx ends:
// every replica runs it.
func (s *Server) RunLoyalty(ctx context.Context) error { return s.loyalty.Run(ctx) }

// Loyalty returns the server's loyalty book keeper.
func (s *Server) Loyalty() *Loyalty { return s.loyalty }

// loyaltyQuery is what a loyalty report request asks for.
type loyaltyQuery struct {
	asOf   int32
	filter loyalty.Filter
	limit  int
	opts   loyalty.Options
}

func parseLoyaltyQuery(q url.Values, now time.Time, defLimit int) (lq loyaltyQuery, err error) {
	lq.asOf, lq.limit = loyalty.DayOf(now, 0), defLimit
	if v := q.Get("as_of"); v != "" {
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return lq, fmt.Errorf("as_of %q: want a date YYYY-MM-DD", v)
		}
		lq.asOf = loyalty.DayOf(d, 0)
	}
	if v := q.Get("limit"); v != "" {
		if lq.limit, err = strconv.Atoi(v); err != nil || lq.limit < -1 {
			return lq, fmt.Errorf("limit %q: want a number of rows, -1 for all", v)
		}
	}
	lq.filter.Store = q.Get("store")
	for _, v := range q["segment"] {
		for _, seg := range strings.Split(v, ",") {
			if seg = strings.TrimSpace(seg); seg == "" {
				continue
			}
			if !knownSegment(seg) {
				return lq, fmt.Errorf("segment %q: want one of %s", seg, strings.Join(loyalty.Segments, ", "))
			}
			lq.filter.Segments = append(lq.filter.Segments, seg)
		}
	}
	for _, v := range q["goal"] {
		seg, days, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(days)
		if !ok || err != nil || n <= 0 || n > 3660 || (seg != "*" && !knownSegment(seg)) {
			return lq, fmt.Errorf("goal %q: want SEGMENT=DAYS (a segment of %s, or *; 1 to 3660 days)", v, strings.Join(loyalty.Segments, ", "))
		}
		if lq.opts.Goals == nil {
			lq.opts.Goals = map[string]int{"*": 30}
		}
		lq.opts.Goals[seg] = n
	}
	return lq, nil
}

func knownSegment(s string) bool {
	for _, k := range loyalty.Segments {
		if k == s {
			return true
		}
	}
	return false
}

// loyaltyReport answers a loyalty report: it parses the query, brings the
// book up to date, and calls build under the book's read lock.
func (s *Server) loyaltyReport(w http.ResponseWriter, r *http.Request, defLimit int, build func(a *loyalty.Analysis, m loyalty.Model, lq loyaltyQuery) (any, error)) {
	lq, err := parseLoyaltyQuery(r.URL.Query(), s.opts.Now(), defLimit)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err := s.loyalty.Ready(r.Context()); err != nil {
		if r.Context().Err() != nil {
			return // the client hung up: no one to answer, nothing wrong with the store
		}
		s.log.Error("loyalty report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	var out any
	err = s.loyalty.View(func(b *loyalty.Book, m loyalty.Model, _ time.Time) error {
		var err error
		lq.opts.NPS = s.loyalty.NPS() // each card's latest answer: the indicator's NPS part
		out, err = build(s.loyalty.Analysis(b, m, lq.asOf, lq.opts), m, lq)
		return err
	})
	if err != nil {
		s.log.Error("loyalty report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	if out == nil {
		return // build wrote the answer
	}
	wire.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) reportCadence(w http.ResponseWriter, r *http.Request) {
	s.loyaltyReport(w, r, 100, func(a *loyalty.Analysis, _ loyalty.Model, lq loyaltyQuery) (any, error) {
		return a.Cadence(lq.filter, lq.limit), nil
	})
}

func (s *Server) reportSegments(w http.ResponseWriter, r *http.Request) {
	s.loyaltyReport(w, r, 0, func(a *loyalty.Analysis, _ loyalty.Model, _ loyaltyQuery) (any, error) {
		return a.Segments(), nil
	})
}

func (s *Server) reportCLV(w http.ResponseWriter, r *http.Request) {
	s.loyaltyReport(w, r, 100, func(a *loyalty.Analysis, m loyalty.Model, lq loyaltyQuery) (any, error) {
		return a.CLV(m, lq.filter, lq.limit), nil
	})
}

// reportOverdue answers the overdue list, with each late customer's holder
// and, where the holder consented to be contacted, their phone and e-mail.
func (s *Server) reportOverdue(w http.ResponseWriter, r *http.Request) {
	var csv bool
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
	case "csv":
		csv = true
	default:
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("format %q: want json or csv", f))
		return
	}
	s.loyaltyReport(w, r, -1, func(a *loyalty.Analysis, _ loyalty.Model, lq loyaltyQuery) (any, error) {
		rep := a.Overdue(lq.filter, lq.limit)
		if err := s.fillHolders(r.Context(), rep.Rows); err != nil {
			return nil, err
		}
		if !csv {
			if rep.Rows == nil {
				rep.Rows = []loyalty.CustomerRow{}
			}
			return rep, nil
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="overdue-`+rep.AsOf+`.csv"`)
		return nil, loyalty.WriteOverdueCSV(w, rep)
	})
}

// fillHolders adds the card holders to rows: the name always, the contacts
// only with consent.
func (s *Server) fillHolders(ctx context.Context, rows []loyalty.CustomerRow) error {
	cards := make([]string, len(rows))
	for i := range rows {
		cards[i] = rows[i].Card
	}
	holders, err := holdersOf(ctx, s.opts.Store, cards)
	if err != nil {
		return err
	}
	for i := range rows {
		h, ok := holders[rows[i].Card]
		if !ok {
			continue
		}
		rows[i].Holder = strings.Join(strings.Fields(h.Name+" "+h.Patronymic+" "+h.Surname), " ")
		rows[i].Consent = h.Consent
		if h.Consent {
			rows[i].Phone, rows[i].Email = h.Phone, h.Email
		}
	}
	return nil
}

// parseDateRange reads a report's ?from= and ?to= (YYYY-MM-DD, both
// included; zero when not given): a date that does not parse, or a to
// before the from, is an error naming the parameter. The reports that take
// a range read it here, so that they refuse the same things the same way.
func parseDateRange(q url.Values) (from, to time.Time, err error) {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = time.Parse(time.DateOnly, v); err != nil {
				return time.Time{}, time.Time{}, fmt.Errorf("%s %q: want a date YYYY-MM-DD", p.name, v)
			}
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return time.Time{}, time.Time{}, fmt.Errorf("to %s is before from %s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	return from, to, nil
}

// yearTo returns the first day of the twelve calendar months up to t's
// date: a report's from when only its to is given.
func yearTo(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()-11, 1, 0, 0, 0, 0, time.UTC)
}

// reportKPI answers the programme's KPIs: ?period=day|week|month (default
// month), ?from= and ?to= (YYYY-MM-DD; default to today and from the first
// day of the twelve calendar months to to),
// ?by=store|region (default store), ?store=, ?region=. A point's value is
// the current ruleset's redeem rule's, the order of its tiers its tiers
// rule's; points expire by HQ's clock.
func (s *Server) reportKPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.opts.Now()
	from, to, err := parseDateRange(q)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = yearTo(to)
	}
	o := loyalty.KPIOptions{Period: q.Get("period"), Store: q.Get("store"), Region: q.Get("region"), By: q.Get("by"), Now: now,
		From: loyalty.DayOf(from, 0), To: loyalty.DayOf(to, 0)}
	o.PointValue, o.TierOrder = s.programme(r.Context())
	if _, err := s.loyalty.Refresh(r.Context()); err != nil {
		if r.Context().Err() != nil {
			return // the client hung up: no one to answer, nothing wrong with the store
		}
		s.log.Error("kpi report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	var rep loyalty.KPIReport
	err = s.loyalty.View(func(b *loyalty.Book, _ loyalty.Model, _ time.Time) error {
		var err error
		rep, err = b.KPIs(o)
		return err
	})
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	wire.WriteJSON(w, http.StatusOK, rep)
}

// programme is what the KPIs read of the current ruleset: what one point
// pays for (its first redeem rule's point value; 0 when there is none) and
// its tiers from the lowest up (its first tiers rule's, which lists them
// from the lowest spend; nil when there is none). No ruleset: 0 and nil.
func (s *Server) programme(ctx context.Context) (pointValue money.Amount, tiers []string) {
	rs, err := s.opts.Store.CurrentRuleset(ctx)
	if err != nil {
		return 0, nil
	}
	parsed, err := rulesfile.Parse(rs.Raw)
	if err != nil {
		return 0, nil
	}
	for _, rule := range parsed.Rules {
		switch {
		case rule.Kind == discount.KindRedeem && rule.PointValue > 0 && pointValue == 0:
			pointValue = rule.PointValue
		case rule.Kind == discount.KindTiers && tiers == nil:
			tiers = []string{}
			for _, t := range rule.Tiers {
				tiers = append(tiers, t.Name)
			}
		}
	}
	return pointValue, tiers
}
