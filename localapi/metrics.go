package localapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// metrics are tilld's Prometheus metrics, served at /metrics on the local API.
// Counters of the API's own work are kept here; the state of the ledger, the HQ
// link, the rules and the readers is read from the till at each scrape.
type metrics struct {
	reg     *prometheus.Registry
	quotes  *prometheus.CounterVec
	sales   *prometheus.CounterVec
	refunds *prometheus.CounterVec
	commit  prometheus.Histogram
	refused *prometheus.CounterVec
	handler http.Handler
}

func newMetrics(t *till.Till) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		quotes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tilld_quotes_total", Help: "Quotes answered, by outcome (ok, bad_request, error).",
		}, []string{"outcome"}),
		sales: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tilld_sales_total", Help: "Sale requests, by outcome (recorded, replayed, conflict, bad_request, error).",
		}, []string{"outcome"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tilld_refunds_total", Help: "Refund requests, by outcome (recorded, replayed, conflict, over_return, no_sale, offline_limit, bad_request, error).",
		}, []string{"outcome"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tilld_sale_commit_seconds",
			Help:    "Time from a sale request to its durable commit (fsync included).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tilld_api_refused_total", Help: "Local API requests refused before any work, by why (cross_site, bad_host, remote_without_token, unauthorized, bad_content_type).",
		}, []string{"why"}),
	}
	m.reg.MustRegister(m.quotes, m.sales, m.refunds, m.commit, m.refused, &tillCollector{t: t},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func outcome(err error) string {
	var in *pos.InputError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, till.ErrConflict):
		return "conflict"
	case errors.As(err, &in):
		return "bad_request"
	}
	return "error"
}

func (m *metrics) observeSale(start time.Time, replayed bool, err error) {
	switch {
	case err == nil && replayed:
		m.sales.WithLabelValues("replayed").Inc()
	case err == nil:
		m.sales.WithLabelValues("recorded").Inc()
		m.commit.Observe(time.Since(start).Seconds())
	default:
		m.sales.WithLabelValues(outcome(err)).Inc()
	}
}

var (
	descOutbox   = prometheus.NewDesc("tilld_outbox_events", "Recorded events HQ has not acknowledged yet.", nil, nil)
	descOldest   = prometheus.NewDesc("tilld_oldest_unsynced_age_seconds", "Age of the oldest event HQ has not acknowledged (0 when none).", nil, nil)
	descLastSeq  = prometheus.NewDesc("tilld_ledger_last_seq", "Sequence number of the last recorded event.", nil, nil)
	descOnline   = prometheus.NewDesc("tilld_hq_online", "1 when the last exchange with HQ succeeded.", nil, nil)
	descSyncErr  = prometheus.NewDesc("tilld_sync_failing", "1 while uploads or rule fetches fail.", nil, nil)
	descRules    = prometheus.NewDesc("tilld_ruleset_version", "Version of the active ruleset (0: none).", nil, nil)
	descScans    = prometheus.NewDesc("tilld_device_scans_total", "Scans delivered by each reader.", []string{"reader", "type"}, nil)
	descDevErr   = prometheus.NewDesc("tilld_device_errors_total", "Failures of each reader.", []string{"reader", "type"}, nil)
	descDevState = prometheus.NewDesc("tilld_device_up", "1 when the reader is running without a fault.", []string{"reader", "type"}, nil)
)

// tillCollector reads the till's status once per scrape.
type tillCollector struct{ t *till.Till }

func (c *tillCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutbox, descOldest, descLastSeq, descOnline, descSyncErr, descRules, descScans, descDevErr, descDevState} {
		ch <- d
	}
}

func (c *tillCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.t.Status()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descOutbox, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descOutbox, float64(st.Outbox))
	age := 0.0
	if !st.OldestUnsynced.IsZero() {
		age = time.Since(st.OldestUnsynced).Seconds()
	}
	gauge(descOldest, age)
	gauge(descLastSeq, float64(st.LastSeq))
	gauge(descOnline, b2f(st.Online))
	gauge(descSyncErr, b2f(st.LastSyncError != ""))
	gauge(descRules, float64(st.RulesetVersion))
	for _, d := range st.Devices {
		ch <- prometheus.MustNewConstMetric(descScans, prometheus.CounterValue, float64(d.Scans), d.Name, d.Type)
		ch <- prometheus.MustNewConstMetric(descDevErr, prometheus.CounterValue, float64(d.Errors), d.Name, d.Type)
		gauge(descDevState, b2f(d.State == "running"), d.Name, d.Type)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observeRefund counts a refund request by its outcome.
func (m *metrics) observeRefund(replayed bool, err error) {
	switch {
	case err == nil && replayed:
		m.refunds.WithLabelValues("replayed").Inc()
	case err == nil:
		m.refunds.WithLabelValues("recorded").Inc()
	case errors.Is(err, till.ErrOverReturn):
		m.refunds.WithLabelValues("over_return").Inc()
	case errors.Is(err, till.ErrNoSale):
		m.refunds.WithLabelValues("no_sale").Inc()
	case errors.Is(err, till.ErrOfflineLimit):
		m.refunds.WithLabelValues("offline_limit").Inc()
	default:
		m.refunds.WithLabelValues(outcome(err)).Inc()
	}
}
