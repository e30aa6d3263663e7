// Package notify wires internal/events into the server: it reads the events
// configuration, builds each sink's delivery stack, enqueues events into
// the durable outbox inside the transactions that record what they announce,
// and runs the outbox dispatcher.
//
// Guarantees and policy choices (docs/events.md):
//   - A scan-complete event is enqueued by a jobs.PrepareFunc inside
//     CompleteJob's transaction, a findings-change event inside the
//     rescan's transaction: a crash can neither lose an event nor announce a
//     result that was not committed.
//   - Rules are applied when an event is enqueued: the outbox holds one row
//     per (event, sink that wants it). Editing rules affects later events only.
//   - An ENHANCED scan emits Amazon Inspector's "Inspector2 Scan" event
//     (source aws.inspector2), as ECR does; a BASIC scan "ECR Image Scan".
//   - Delivery is at least once per sink id; consumers dedupe on the event id.
//   - The outbox table lives in the server's database and is created by
//     events.Outbox.Migrate when the server starts (not through the store's
//     schema parts: the table and its SQL belong to internal/events).
package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Options are what a Notifier needs from the server.
type Options struct {
	// DB is the server's database and Dialect "sqlite" or "postgres"
	// (store.SQL's DB and Dialect).
	DB      *sql.DB
	Dialect string
	// Account and Region fill the events' envelope and repository ARNs.
	Account, Region string
	Logger          *slog.Logger
	// Getenv and ReadFile read webhook secrets (default os.Getenv and
	// os.ReadFile).
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// Registerer, when set, receives the delivery counters.
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Notifier enqueues and delivers the server's events.
type Notifier struct {
	cfg        Config
	o          Options
	outbox     *events.Outbox
	dispatcher *events.Dispatcher
	// routes pairs each sink id with its rules, in configuration order.
	routes []route
	close  []func()
}

type route struct {
	id    string
	rules []*events.Filter
}

// New validates cfg, reads the secrets, builds the sinks, and creates the
// outbox table if missing. NATS sinks connect in the background: an
// unreachable NATS server delays their deliveries, not the start.
func New(ctx context.Context, cfg Config, o Options) (*Notifier, error) {
	if o.DB == nil {
		return nil, fmt.Errorf("notify: a database is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var dialect events.Dialect
	switch o.Dialect {
	case "sqlite":
		dialect = events.SQLite
	case "postgres":
		dialect = events.Postgres
	default:
		return nil, fmt.Errorf("notify: unsupported database dialect %q", o.Dialect)
	}
	n := &Notifier{cfg: cfg, o: o, outbox: events.NewOutbox(o.DB, dialect)}
	sinks := make(map[string]events.Sink, len(cfg.Sinks))
	for _, sc := range cfg.Sinks {
		sink, err := n.buildSink(sc)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("notify: sink %s: %w", sc.ID, err)
		}
		sinks[sc.ID] = &events.Retry{
			Sink:     sink,
			Attempts: sc.Retry.Attempts,
			Base:     sc.Retry.Base,
			Max:      sc.Retry.Max,
			Breaker:  &events.Breaker{Threshold: sc.Retry.BreakerThreshold, Cooldown: sc.Retry.BreakerCooldown, Now: o.Now},
		}
		r := route{id: sc.ID}
		for _, rule := range sc.Rules {
			r.rules = append(r.rules, &events.Filter{
				Repositories: rule.RepositoryFilters,
				MinSeverity:  rule.MinSeverity,
				DetailTypes:  rule.DetailTypes,
			})
		}
		n.routes = append(n.routes, r)
	}
	if err := n.outbox.Migrate(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("notify: %w", err)
	}
	observe, err := n.metrics()
	if err != nil {
		n.Close()
		return nil, err
	}
	for _, sc := range cfg.Sinks {
		// Ids and types only: URLs may carry tokens in their query.
		o.Logger.Info("events: sink configured", "id", sc.ID, "type", sc.Type, "rules", len(sc.Rules))
	}
	d := cfg.Delivery
	n.dispatcher = &events.Dispatcher{
		Outbox:      n.outbox,
		Sinks:       sinks,
		Batch:       d.Batch,
		Lease:       d.Lease,
		Poll:        d.Poll,
		MaxAttempts: d.MaxAttempts,
		Backoff: func(attempt int) time.Duration {
			return backoff(d.BackoffBase, d.BackoffMax, attempt)
		},
		Now:     o.Now,
		Logger:  o.Logger,
		Observe: observe,
	}
	return n, nil
}

// backoff is base·2^(n-1) capped at maxD, plus up to 25% jitter.
func backoff(base, maxD time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return d + time.Duration(float64(d)*0.25*rand.Float64())
}

func (n *Notifier) buildSink(sc SinkConfig) (events.Sink, error) {
	switch sc.Type {
	case TypeWebhook:
		secret, err := n.secret(sc)
		if err != nil {
			return nil, err
		}
		return &events.HTTPSink{URL: sc.URL, Secret: secret, Timeout: sc.Timeout, Now: n.o.Now}, nil
	case TypeNATS:
		nc, err := nats.Connect(sc.URL,
			nats.Name("stowaway-events-"+sc.ID),
			nats.RetryOnFailedConnect(true),
			nats.MaxReconnects(-1),
			nats.Timeout(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("nats: connect: %w", err)
		}
		n.close = append(n.close, nc.Close)
		return newJetStreamSink(nc, sc.Stream, sc.SubjectPrefix)
	default:
		return nil, fmt.Errorf("unknown type %q", sc.Type)
	}
}

// secret reads a webhook's HMAC key. Errors name the variable or file, never
// the value.
func (n *Notifier) secret(sc SinkConfig) ([]byte, error) {
	var b []byte
	switch {
	case sc.SecretEnv != "":
		b = []byte(n.o.Getenv(sc.SecretEnv))
		if len(b) == 0 {
			return nil, fmt.Errorf("webhook secret: environment variable %s is unset or empty", sc.SecretEnv)
		}
	default:
		raw, err := n.o.ReadFile(sc.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
		b = []byte(strings.TrimRight(string(raw), "\r\n"))
		if len(b) == 0 {
			return nil, fmt.Errorf("webhook secret: file %s is empty", sc.SecretFile)
		}
	}
	return b, nil
}

// Run delivers the outbox until ctx ends. Rows in flight when it ends stay
// leased and are delivered again after the lease (at least once).
func (n *Notifier) Run(ctx context.Context) error {
	return n.dispatcher.Run(ctx)
}

// Outbox is the notifier's outbox (for inspection).
func (n *Notifier) Outbox() *events.Outbox { return n.outbox }

// Close releases NATS connections. Call it after Run has returned.
func (n *Notifier) Close() {
	for _, c := range n.close {
		c()
	}
	n.close = nil
}

// Execer is the part of a transaction events are enqueued through.
type Execer = events.Execer

// enqueue stores ev for every sink whose rules match it.
func (n *Notifier) enqueue(ctx context.Context, ex Execer, ev events.Event) error {
	var ids []string
	for _, r := range n.routes {
		ok, err := r.match(ev)
		if err != nil {
			return fmt.Errorf("notify: route event %s to %s: %w", ev.ID, r.id, err)
		}
		if ok {
			ids = append(ids, r.id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return n.outbox.Enqueue(ctx, ex, ev, ids...)
}

func (r route) match(ev events.Event) (bool, error) {
	if len(r.rules) == 0 {
		return true, nil
	}
	for _, f := range r.rules {
		ok, err := f.Match(ev)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Route returns the ids of the sinks an event would be enqueued for.
func (n *Notifier) Route(ev events.Event) ([]string, error) {
	var ids []string
	for _, r := range n.routes {
		ok, err := r.match(ev)
		if err != nil {
			return nil, err
		}
		if ok {
			ids = append(ids, r.id)
		}
	}
	return ids, nil
}

// Prepare is a jobs.PrepareFunc: it adds to the job's outcome a
// transaction step that enqueues the scan-complete event, so the event is
// committed with the scan result or not at all. The image's tags are read
// inside that transaction. res is nil when the scan failed for good.
func (n *Notifier) Prepare(ctx context.Context, j *store.Job, res *scanning.Result, out *store.JobOutcome) error {
	repo, digest, enhanced := j.Repository, j.Digest, j.Enhanced
	status := out.Status
	var counts map[severity.Severity]int
	version := ""
	if res != nil {
		counts, version = res.SeverityCounts, res.BasicScanTypeVersion
	}
	out.InTx = append(out.InTx, func(ctx context.Context, tx *store.Tx) error {
		tags, err := imageTags(ctx, tx, repo, digest)
		if err != nil {
			return err
		}
		img := n.image(repo, digest, tags)
		var ev events.Event
		if enhanced {
			ev, err = events.InspectorScan(events.Meta{Time: n.o.Now()}, img, status, counts)
		} else {
			ev, err = events.BasicScanCompleted(events.Meta{Time: n.o.Now()}, img, status, counts, version)
		}
		if err != nil {
			return fmt.Errorf("notify: scan event: %w", err)
		}
		return n.enqueue(ctx, tx, ev)
	})
	return nil
}

// FindingsChanged enqueues the "ECR Image Scan Findings Change" event for a
// continuous rescan, inside the rescan's transaction tx. A change with no
// added and no resolved findings announces nothing.
func (n *Notifier) FindingsChanged(ctx context.Context, tx *store.Tx, c scanning.FindingsChange) error {
	if len(c.Added) == 0 && len(c.Resolved) == 0 {
		return nil
	}
	at := c.At
	if at.IsZero() {
		at = n.o.Now()
	}
	img := n.image(c.Repository, c.Digest, c.Tags)
	added, err := toEventFindings(c.Added, img)
	if err != nil {
		return fmt.Errorf("notify: findings change event: %w", err)
	}
	resolved, err := toEventFindings(c.Resolved, img)
	if err != nil {
		return fmt.Errorf("notify: findings change event: %w", err)
	}
	ev, err := events.NewFindings(events.Meta{Time: at}, img, added, resolved, c.Counts)
	if err != nil {
		return fmt.Errorf("notify: findings change event: %w", err)
	}
	return n.enqueue(ctx, tx, ev)
}

func (n *Notifier) image(repo, digest string, tags []string) events.Image {
	return events.Image{Account: n.o.Account, Region: n.o.Region, Repository: repo, Digest: digest, Tags: tags}
}

func imageTags(ctx context.Context, tx *store.Tx, repo, digest string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag`, repo, digest)
	if err != nil {
		return nil, fmt.Errorf("notify: read image tags: %w", err)
	}
	defer rows.Close()
	tags := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("notify: read image tags: %w", err)
		}
		tags = append(tags, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: read image tags: %w", err)
	}
	return tags, nil
}

// toEventFindings converts a change's findings to the event's; a finding
// of an enhanced scan also gets its finding ARN (as DescribeImageScanFindings
// names it, scanning.FindingARN), fixAvailable and packageManager.
func toEventFindings(fs []scanning.Finding, img events.Image) ([]events.Finding, error) {
	im := scanning.ECRImage{Account: img.Account, Region: img.Region, Repository: img.Repository, Digest: img.Digest}
	out := make([]events.Finding, 0, len(fs))
	for _, f := range fs {
		ef := events.Finding{Name: f.Name, Severity: f.Severity}
		for _, a := range f.Attributes {
			switch a.Key {
			case "package_name":
				ef.PackageName = a.Value
			case "package_version":
				ef.PackageVersion = a.Value
			case "exploit_available":
				ef.ExploitAvailable = a.Value
			case "epss_score":
				if v, err := strconv.ParseFloat(a.Value, 64); err == nil {
					ef.EPSSScore = &v
				}
			}
		}
		if f.Enhanced != nil {
			vulnID, pkgs, err := scanning.EnhancedIdentity(f.Enhanced)
			if err != nil {
				return nil, err
			}
			fix, managers, err := scanning.EnhancedDetails(f.Enhanced)
			if err != nil {
				return nil, err
			}
			ef.FindingARN, ef.FixAvailable, ef.PackageManager = scanning.FindingARN(im, vulnID, pkgs), fix, managers[ef.PackageName]
			var x struct {
				ExploitAvailable string `json:"exploitAvailable"`
				EPSS             *struct {
					Score float64 `json:"score"`
				} `json:"epss"`
			}
			if err := json.Unmarshal(f.Enhanced, &x); err != nil {
				return nil, fmt.Errorf("notify: enhanced finding %s: %w", vulnID, err)
			}
			ef.ExploitAvailable = x.ExploitAvailable
			if x.EPSS != nil {
				ef.EPSSScore = &x.EPSS.Score
			}
		}
		out = append(out, ef)
	}
	return out, nil
}

// metrics registers the delivery counters and returns the dispatcher hook.
func (n *Notifier) metrics() (func(sinkID, outcome string), error) {
	if n.o.Registerer == nil {
		return nil, nil
	}
	delivered := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stowaway_events_delivered_total",
		Help: "Outbox rows delivered, by sink id.",
	}, []string{"sink"})
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stowaway_events_failed_total",
		Help: "Failed outbox delivery attempts, by sink id and outcome (retry: scheduled again; dead: given up).",
	}, []string{"sink", "outcome"})
	for _, c := range []prometheus.Collector{delivered, failed} {
		if err := n.o.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("notify: metrics: %w", err)
		}
	}
	return func(sinkID, outcome string) {
		if outcome == "delivered" {
			delivered.WithLabelValues(sinkID).Inc()
			return
		}
		failed.WithLabelValues(sinkID, outcome).Inc()
	}, nil
}
