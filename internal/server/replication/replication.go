// Package replication replicates pushed images to other registries, as
// ECR's registry replication does: PutReplicationConfiguration's rules
// (destinations {region, registryId}, PREFIX_MATCH repository filters) say
// which repositories go where, and each destination is a registry named
// in the auth config's replication section (a URL and credentials,
// auth.Destination): another Stowaway, ECR or any OCI registry.
//
// Guarantees and policy choices (docs/replication.md):
//   - A push (every manifest PUT: images, indexes, referrers such as SBOMs
//     and signatures) is enqueued, for each destination its repository's
//     rules name at that moment, in a durable outbox (internal/events'
//     Outbox over its own table, replication_outbox), in the transaction
//     that records the image (Prepare, run by the store's PutImage): a
//     recorded push always has its rows. One row per (destination,
//     repository@digest). Pushing the same digest again (a
//     new tag) makes a delivered or given-up row due again; a row still
//     waiting is left alone, its delivery reads the tags then.
//   - Delivery is at least once, and idempotent at the destination: every
//     manifest PUT is preceded by a HEAD, and skipped when the destination
//     has it (and each tag when it already points at the digest), blobs are
//     uploaded only when missing. A manifest's subject is copied before it,
//     an index's children before the index, and the referrers of the image
//     (everything whose subject it is) after it.
//   - A failed delivery is retried with exponential backoff (bounded by
//     BackoffMax) up to MaxAttempts, by whichever replica claims the row;
//     a restart resumes where the outbox stands.
//   - DescribeImageReplicationStatus reads the rows: COMPLETE once
//     delivered, IN_PROGRESS before the first failure, FAILED with the
//     last error as failureCode after a failed attempt (while retries
//     remain, it becomes COMPLETE when the destination catches up).
package replication

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Table is the replication queue's table.
const Table = "replication_outbox"

// detailType marks the queue's rows (they are never announced).
const detailType = "Stowaway Image Replication"

// Store is the state replication reads.
type Store interface {
	GetReplicationConfig(ctx context.Context) (json.RawMessage, error)
	PutReplicationConfig(ctx context.Context, cfg json.RawMessage) error
	GetImage(ctx context.Context, repo, digest string) (store.Image, error)
	ListReferrers(ctx context.Context, repo, subject, artifactType string) ([]store.Referrer, error)
}

// Options configure a Replicator.
type Options struct {
	// DB and Dialect ("sqlite" or "postgres") hold the outbox table.
	DB      *sql.DB
	Dialect string
	Store   Store
	// Source reads the registry's manifests and blobs.
	Source Source
	// Self is this registry (its region and account id): no rule may
	// replicate to it.
	Self Destination
	// Destinations are the configured destination registries.
	Destinations []auth.Destination
	// Transport carries requests to destinations (default: a clone of
	// http.DefaultTransport).
	Transport http.RoundTripper
	// Poll is the wait when nothing is due (default 1s); Lease how long a
	// claimed row is reserved, and so the longest one delivery may take
	// (default 15m); MaxAttempts after how many failed attempts a row is
	// given up (default 200); BackoffBase and BackoffMax shape the wait
	// after the n-th failure, min(BackoffMax, BackoffBase·2^(n-1)) plus up
	// to 25% jitter (defaults 2s and 5m: 200 attempts span about 16 h).
	Poll, Lease             time.Duration
	MaxAttempts             int
	BackoffBase, BackoffMax time.Duration
	Registerer              prometheus.Registerer
	Now                     func() time.Time
	Logger                  *slog.Logger
}

// Replicator enqueues pushes and delivers them to destinations.
type Replicator struct {
	o          Options
	outbox     *events.Outbox
	dispatcher *events.Dispatcher
	// mu guards the destinations, replaced by ReplaceDestinations.
	mu    sync.RWMutex
	known map[Destination]bool
	sinks map[string]events.Sink
}

// New checks the options and creates the outbox table if missing.
func New(ctx context.Context, o Options) (*Replicator, error) {
	if o.DB == nil || o.Store == nil || o.Source == nil {
		return nil, errors.New("replication: a database, a store and a source are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 200
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 2 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	var dialect events.Dialect
	switch o.Dialect {
	case "sqlite":
		dialect = events.SQLite
	case "postgres":
		dialect = events.Postgres
	default:
		return nil, fmt.Errorf("replication: unsupported database dialect %q", o.Dialect)
	}
	ob, err := events.NewOutboxTable(o.DB, dialect, Table)
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	if err := ob.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	r := &Replicator{o: o, outbox: ob}
	if err := r.ReplaceDestinations(o.Destinations); err != nil {
		return nil, err
	}
	observe, err := r.metrics()
	if err != nil {
		return nil, err
	}
	r.dispatcher = &events.Dispatcher{
		Outbox:      ob,
		Lookup:      r.sink,
		Batch:       8,
		Lease:       o.Lease,
		Poll:        o.Poll,
		MaxAttempts: o.MaxAttempts,
		Backoff:     func(n int) time.Duration { return backoff(o.BackoffBase, o.BackoffMax, n) },
		Now:         o.Now,
		Logger:      o.Logger,
		Observe:     observe,
	}
	return r, nil
}

// ReplaceDestinations swaps in a new set of destination registries (a
// reloaded auth config's replication section) at once; on an error (a
// destination given twice) the old set stays. Deliveries in flight finish
// with the destination they started with. The stored rules are not
// checked again: rows for a destination no longer configured wait, and
// are retried (then given up) like any failed delivery, until it is back.
func (r *Replicator) ReplaceDestinations(dsts []auth.Destination) error {
	known := map[Destination]bool{}
	sinks := map[string]events.Sink{}
	for _, d := range dsts {
		key := Destination{Region: d.Region, RegistryID: d.RegistryID}
		if known[key] {
			return fmt.Errorf("replication: destination %s is configured twice", key.Key())
		}
		known[key] = true
		sinks[key.Key()] = &copier{dst: d, src: r.o.Source, store: r.o.Store, transport: r.o.Transport}
	}
	r.mu.Lock()
	r.known, r.sinks = known, sinks
	r.mu.Unlock()
	for _, d := range dsts {
		// Hosts only: a URL carries no secret, but logs need no more.
		r.o.Logger.Info("replication: destination configured", "destination", Destination{Region: d.Region, RegistryID: d.RegistryID}.Key(), "host", d.URL.Host, "anonymous", d.Username == "")
	}
	return nil
}

// sink is the dispatcher's Lookup.
func (r *Replicator) sink(id string) (events.Sink, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.sinks[id]
	return s, ok
}

// isKnown says whether d is a configured destination.
func (r *Replicator) isKnown(d Destination) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.known[d]
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

// Configuration returns the stored configuration (no rules when none was
// put).
func (r *Replicator) Configuration(ctx context.Context) (Config, error) {
	raw, err := r.o.Store.GetReplicationConfig(ctx)
	if err != nil {
		return Config{}, fmt.Errorf("replication: %w", err)
	}
	return Decode(raw)
}

// PutConfiguration validates c (an *Error when ECR or this server
// refuses it) and stores it. It applies to later pushes.
func (r *Replicator) PutConfiguration(ctx context.Context, c Config) error {
	if err := c.Validate(r.o.Self, r.isKnown); err != nil {
		return err
	}
	if c.Rules == nil {
		c.Rules = []Rule{}
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("replication: encode configuration: %w", err)
	}
	if err := r.o.Store.PutReplicationConfig(ctx, raw); err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	return nil
}

// eventID is the dedup key of a push: one row per destination and
// repository@digest ("@" is in no repository name).
func eventID(repo, digest string) string { return repo + "@" + digest }

type detail struct {
	Repository string `json:"repository-name"`
	Digest     string `json:"image-digest"`
}

// Push enqueues a pushed manifest for the destinations its repository's
// rules name (nothing when none does), in a transaction of its own:
// Prepare, then the enqueue over the outbox's database.
func (r *Replicator) Push(ctx context.Context, repo, digest string) error {
	enqueue, err := r.Prepare(ctx, repo, digest)
	if err != nil || enqueue == nil {
		return err
	}
	return enqueue(ctx, r.o.DB)
}

// Enqueue writes a push's outbox rows through ex: the transaction that
// records the push, so the push is recorded with its rows or not at all.
type Enqueue func(ctx context.Context, ex events.Execer) error

// Prepare reads the rules (outside any transaction: under SQLite the
// store has a single connection) and returns the enqueue of repo@digest
// for the destinations they name for repo, nil when none. The push is
// enqueued for the rules as they were when Prepare read them.
func (r *Replicator) Prepare(ctx context.Context, repo, digest string) (Enqueue, error) {
	c, err := r.Configuration(ctx)
	if err != nil {
		return nil, err
	}
	dsts := c.DestinationsFor(repo)
	if len(dsts) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(detail{Repository: repo, Digest: digest})
	if err != nil {
		return nil, fmt.Errorf("replication: encode event: %w", err)
	}
	ev := events.Event{
		Version: "0", ID: eventID(repo, digest), DetailType: detailType, Source: events.SourceECR,
		Account: r.o.Self.RegistryID, Region: r.o.Self.Region, Time: r.o.Now().UTC().Format(time.RFC3339),
		Resources: []string{}, Detail: body,
	}
	keys := make([]string, 0, len(dsts))
	for _, d := range dsts {
		keys = append(keys, d.Key())
	}
	return func(ctx context.Context, ex events.Execer) error {
		if err := r.outbox.Rearm(ctx, ex, ev, keys...); err != nil {
			return fmt.Errorf("replication: enqueue: %w", err)
		}
		return nil
	}, nil
}

// The replication statuses of DescribeImageReplicationStatus.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusComplete   = "COMPLETE"
	StatusFailed     = "FAILED"
)

// Status is one destination's replication of an image.
type Status struct {
	Destination Destination
	Status      string
	// FailureCode is the last failed attempt's error (FAILED only).
	FailureCode string
}

// Statuses returns the image's replication to each destination it was
// enqueued for, in enqueue order.
func (r *Replicator) Statuses(ctx context.Context, repo, digest string) ([]Status, error) {
	rows, err := r.outbox.Lookup(ctx, eventID(repo, digest))
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	out := make([]Status, 0, len(rows))
	for _, row := range rows {
		s := Status{Destination: parseKey(row.SinkID), Status: StatusInProgress}
		switch {
		case row.Delivered:
			s.Status = StatusComplete
		case row.Dead || row.LastError != "":
			s.Status, s.FailureCode = StatusFailed, row.LastError
		}
		out = append(out, s)
	}
	return out, nil
}

// parseKey inverts Destination.Key.
func parseKey(key string) Destination {
	region, id, _ := strings.Cut(key, "/")
	return Destination{Region: region, RegistryID: id}
}

// Run delivers the queue until ctx ends, and prunes it hourly (Prune).
// Rows in flight when it ends stay leased and are delivered again after
// the lease (at least once).
func (r *Replicator) Run(ctx context.Context) error {
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := r.Prune(ctx); err != nil {
					r.o.Logger.Error("replication: prune the queue", "err", err)
				} else if n > 0 {
					r.o.Logger.Info("replication: pruned the queue", "rows", n)
				}
			}
		}
	}()
	return r.dispatcher.Run(ctx)
}

// Prune deletes the finished rows (delivered or given up) of images that
// are no longer in the registry, so the queue holds at most one row per
// stored image and destination. Rows still waiting are left to run their
// course. Replicas may prune at once: the statement is idempotent.
func (r *Replicator) Prune(ctx context.Context) (int64, error) {
	res, err := r.o.DB.ExecContext(ctx, `DELETE FROM `+Table+`
		WHERE (delivered_at IS NOT NULL OR next_attempt_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM images WHERE images.repo || '@' || images.digest = `+Table+`.event_id)`)
	if err != nil {
		return 0, fmt.Errorf("replication: prune: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("replication: prune: %w", err)
	}
	return n, nil
}

// DispatchOnce delivers one batch of due rows (for tests and tools).
func (r *Replicator) DispatchOnce(ctx context.Context) (int, error) {
	return r.dispatcher.DispatchOnce(ctx)
}

// metrics registers the delivery counters and returns the dispatcher hook.
func (r *Replicator) metrics() (func(sinkID, outcome string), error) {
	if r.o.Registerer == nil {
		return nil, nil
	}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stowaway_replication_deliveries_total",
		Help: "Replication delivery attempts, by destination (REGION/REGISTRY_ID) and outcome (delivered; retry: scheduled again; dead: given up).",
	}, []string{"destination", "outcome"})
	if err := r.o.Registerer.Register(attempts); err != nil {
		return nil, fmt.Errorf("replication: metrics: %w", err)
	}
	return func(sinkID, outcome string) { attempts.WithLabelValues(sinkID, outcome).Inc() }, nil
}
