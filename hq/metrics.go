package hq

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are tillhq's Prometheus metrics, served at /metrics on the admin API.
type metrics struct {
	reg      *prometheus.Registry
	uploads  *prometheus.CounterVec
	ingested prometheus.Counter
	rules    prometheus.Gauge

	mu    sync.Mutex
	acked map[string]uint64
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tillhq_uploads_total", Help: "Upload batches from terminals, by outcome (ok, fork, broken_chain, wrong_terminal, bad_request, error).",
		}, []string{"outcome"}),
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tillhq_events_ingested_total", Help: "Ledger events newly stored (duplicates not counted); its rate is HQ's ingest rate.",
		}),
		rules: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tillhq_ruleset_version", Help: "Version of the ruleset published last by this replica (0: none since start).",
		}),
	}
	m.reg.MustRegister(m.uploads, m.ingested, m.rules,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ack counts the events a terminal's acked seq advanced by since this replica
// last saw it. The first upload a replica sees from a terminal sets the mark
// without counting, so the counter never reads the store on the ingest path.
func (m *metrics) ack(terminal string, acked uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.acked == nil {
		m.acked = map[string]uint64{}
	}
	prev, seen := m.acked[terminal]
	if acked > prev {
		m.acked[terminal] = acked
		if seen {
			m.ingested.Add(float64(acked - prev))
		}
	}
}

// auditCollector serves the audit's summary, read from the store at each
// scrape: the same numbers at every replica.
type auditCollector struct{ store Audits }

var (
	auditSalesDesc = prometheus.NewDesc("tillhq_audit_sales",
		"Synced sales HQ's audit has priced again or found not re-priceable.", nil, nil)
	auditFlaggedDesc = prometheus.NewDesc("tillhq_audit_flagged_sales",
		"Synced sales the audit flagged: an unpublished or altered ruleset, or totals that differ from HQ's pricing.", nil, nil)
	auditUnpriceableDesc = prometheus.NewDesc("tillhq_audit_unpriceable_sales",
		"Synced sales sold before tills kept what they priced with, so not priced again.", nil, nil)
	auditWaitingDesc = prometheus.NewDesc("tillhq_audit_waiting_events",
		"Events HQ holds that the audit has not reached yet.", nil, nil)
)

func (auditCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{auditSalesDesc, auditFlaggedDesc, auditUnpriceableDesc, auditWaitingDesc} {
		ch <- d
	}
}

func (c auditCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sum, err := c.store.AuditSummary(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(auditFlaggedDesc, err)
		return
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v int64
	}{{auditSalesDesc, sum.Sales}, {auditFlaggedDesc, sum.Flagged}, {auditUnpriceableDesc, sum.Unpriceable}, {auditWaitingDesc, sum.Waiting}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, float64(m.v))
	}
}
