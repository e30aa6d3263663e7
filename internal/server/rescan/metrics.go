package rescan

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics turns tick summaries into Prometheus metrics. Its Observe is an
// Options.Observe.
type Metrics struct {
	ticks    *prometheus.CounterVec
	images   *prometheus.CounterVec
	pairs    prometheus.Counter
	memo     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the rescan metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stowaway_rescan_ticks_total",
			Help: "Rescanner checks by mode: none (no DB change), changes (the DB's change set), diff (pairs compared with the previous DB file), full, or lease_busy (another replica runs the pass).",
		}, []string{"mode"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stowaway_rescan_images_total",
			Help: "Images handled by continuous rescans, by outcome: considered, rematched, changed, announced, expired, revived, skipped, error.",
		}, []string{"outcome"}),
		pairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stowaway_rescan_changed_pairs_total",
			Help: "(namespace, package) pairs changed by the DB builds that rescans processed.",
		}),
		memo: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stowaway_rescan_package_memo_total",
			Help: "Packages of rescanned inventories answered from the pass's per-package memo (hit) or matched (miss).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stowaway_rescan_tick_duration_seconds",
			Help:    "Wall time of rescanner checks that did work, by mode.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"mode"}),
	}
	for _, c := range []prometheus.Collector{m.ticks, m.images, m.pairs, m.memo, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("rescan: metrics: %w", err)
		}
	}
	return m, nil
}

// Observe records one tick.
func (m *Metrics) Observe(s Summary) {
	if s.LeaseBusy {
		m.ticks.WithLabelValues("lease_busy").Inc()
		return
	}
	m.ticks.WithLabelValues(s.Mode).Inc()
	m.pairs.Add(float64(s.ChangedPairs))
	for outcome, n := range map[string]int{
		"considered": s.Considered, "rematched": s.Rematched, "changed": s.Changed, "announced": s.Announced,
		"expired": s.Expired, "revived": s.Revived, "skipped": s.Skipped, "error": s.Errors,
	} {
		m.images.WithLabelValues(outcome).Add(float64(n))
	}
	m.memo.WithLabelValues("hit").Add(float64(s.MemoHits))
	m.memo.WithLabelValues("miss").Add(float64(s.MemoMisses))
	if s.Mode != "none" || s.Rematched+s.Expired > 0 {
		m.duration.WithLabelValues(s.Mode).Observe(s.Duration.Seconds())
	}
}
