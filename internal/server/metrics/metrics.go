// Package metrics holds the server's Prometheus metrics in their own
// registry (no global collectors): scans by final status, scan duration,
// scan queue depth, layer cache hits, and upload sessions purged or
// refused by the registry's upload hygiene. The layer-cache counter is
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
	// UploadsPurged counts interrupted upload sessions purged after
	// --upload-purge-age; UploadsRefused the sessions refused by a cap,
	// by limit ("repository" or "user").
	UploadsPurged  prometheus.Counter
	UploadsRefused *prometheus.CounterVec
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
		UploadsPurged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stowaway_uploads_purged_total",
			Help: "Interrupted upload sessions purged after --upload-purge-age.",
		}),
		UploadsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stowaway_uploads_refused_total",
			Help: "Upload sessions refused by a cap, by limit: repository (--max-uploads-per-repository) or user (--max-uploads-per-user).",
		}, []string{"limit"}),
	}
	m.reg.MustRegister(m.ScansTotal, m.ScanDuration, m.LayerCacheHits, m.UploadsPurged, m.UploadsRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Both limits are exposed from the start, at 0.
	m.UploadsRefused.WithLabelValues("repository")
	m.UploadsRefused.WithLabelValues("user")
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
