package hq

import (
	"net/http"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/sync/wire"
)

// PathReportNPS is the NPS report on the admin API (GET, JSON): the NPS of
// the answers the tills recorded (analytics/loyalty.NPSOf), with ?store=,
// ?terminal=, ?card=, ?from= and ?to= (YYYY-MM-DD, the till's day, both
// included) selecting the answers, ?by=store|region|terminal grouping them
// and ?period=day|week|month (default month) the trend's step.
const PathReportNPS = "/v1/report/nps"

func (s *Server) reportNPS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := FeedbackFilter{Store: q.Get("store"), Terminal: q.Get("terminal"), Card: q.Get("card")}
	from, to, err := parseDateRange(q)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if !from.IsZero() {
		f.From = from.Format(time.DateOnly)
	}
	if !to.IsZero() {
		f.To = to.Format(time.DateOnly)
	}
	fs, err := s.opts.Store.Feedback(r.Context(), f)
	if err != nil {
		s.log.Error("nps report", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	rep, err := loyalty.NPSOf(NPSAnswers(fs), loyalty.NPSOptions{By: q.Get("by"), Period: q.Get("period")})
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	wire.WriteJSON(w, http.StatusOK, rep)
}
