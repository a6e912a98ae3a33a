package hq

import (
	"sync"

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
