// Package metrics holds the server's Prometheus metrics in their own
// registry (no global collectors): scans by final status, scan duration,
// scan queue depth and layer cache hits. The layer-cache counter is
// exported so the scanner adapter, built before the server, can increment
// it: build Metrics first, pass LayerCacheHits to the adapter and the
// Metrics to the server.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the server's metric set.
type Metrics struct {
	reg            *prometheus.Registry
	ScansTotal     *prometheus.CounterVec
	ScanDuration   prometheus.Histogram
	LayerCacheHits prometheus.Counter
}

// New creates the metrics in a fresh registry, with Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ScansTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stowaway_scans_total",
			Help: "Finished image scans by final status (COMPLETE, FAILED, UNSUPPORTED_IMAGE) and retries (RETRY).",
		}, []string{"status"}),
		ScanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stowaway_scan_duration_seconds",
			Help:    "Wall time of one scan attempt.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		LayerCacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stowaway_layer_cache_hits_total",
			Help: "Layers whose cataloger results came from the layer cache.",
		}),
	}
	m.reg.MustRegister(m.ScansTotal, m.ScanDuration, m.LayerCacheHits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RegisterQueueDepth exposes fn as the stowaway_scan_queue_depth gauge,
// evaluated at scrape time.
func (m *Metrics) RegisterQueueDepth(fn func() float64) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stowaway_scan_queue_depth",
		Help: "Scan jobs queued or running.",
	}, fn))
}

// Registerer is the metrics' registry, for feature packages that add their
// own collectors (the events delivery counters).
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
