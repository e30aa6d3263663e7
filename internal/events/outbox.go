package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Dialect selects the SQL flavour of an Outbox.
type Dialect int

// Supported dialects: SQLite (modernc.org/sqlite, driver "sqlite") and
// PostgreSQL (pgx stdlib, driver "pgx").
const (
	SQLite Dialect = iota
	Postgres
)

// Execer is satisfied by *sql.DB and *sql.Tx, so events can be enqueued in
// the same transaction as the state change they announce.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Outbox is the durable queue of deliveries: one row per (sink, event) in
// table outbox. Times are stored as Unix milliseconds so both dialects
// compare them the same way. A row whose next_attempt_at is NULL and
// delivered_at is NULL is dead (permanent failure or attempts exhausted);
// last_error says why.
type Outbox struct {
	db      *sql.DB
	dialect Dialect
	// table is the table's name: "outbox", or another queue's (NewOutboxTable).
	table string
}

// NewOutbox returns an Outbox over db. Call Migrate once before use.
func NewOutbox(db *sql.DB, d Dialect) *Outbox { return &Outbox{db: db, dialect: d, table: "outbox"} }

// tableName is what NewOutboxTable accepts: a lower-case SQL identifier.
var tableName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// NewOutboxTable returns an Outbox over its own table, for a queue whose
// rows no other Dispatcher may claim (the replication queue). The table
// has the outbox's columns; Migrate creates it.
func NewOutboxTable(db *sql.DB, d Dialect, table string) (*Outbox, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("outbox: table name %q: want a lower-case identifier of at most 41 characters", table)
	}
	return &Outbox{db: db, dialect: d, table: table}, nil
}

// Migrate creates the outbox table if it does not exist.
func (o *Outbox) Migrate(ctx context.Context) error {
	idCol := "id INTEGER PRIMARY KEY AUTOINCREMENT"
	if o.dialect == Postgres {
		idCol = "id BIGSERIAL PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + o.table + ` (
			` + idCol + `,
			sink_id TEXT NOT NULL,
			event_id TEXT NOT NULL,
			payload TEXT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			next_attempt_at BIGINT,
			delivered_at BIGINT,
			last_error TEXT,
			UNIQUE (sink_id, event_id)
		)`,
		`CREATE INDEX IF NOT EXISTS ` + o.table + `_due ON ` + o.table + ` (next_attempt_at) WHERE delivered_at IS NULL`,
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if o.dialect == Postgres {
		// Replicas starting together must not race on CREATE TABLE IF NOT
		// EXISTS (PostgreSQL can fail it with a unique violation).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7301995)`); err != nil {
			return fmt.Errorf("outbox: migrate: lock: %w", err)
		}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("outbox: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox: migrate: commit: %w", err)
	}
	return nil
}

// q replaces the table name "outbox" with o's table (a validated
// identifier) and rewrites ? placeholders to $n for PostgreSQL.
func (o *Outbox) q(query string) string {
	if o.table != "outbox" {
		query = outboxWord.ReplaceAllString(query, o.table)
	}
	if o.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// outboxWord is the table name in the queries below.
var outboxWord = regexp.MustCompile(`\boutbox\b`)

// Enqueue stores ev once per sink, due now. Enqueuing the same event for the
// same sink again is a no-op.
func (o *Outbox) Enqueue(ctx context.Context, ex Execer, ev Event, sinkIDs ...string) error {
	if ev.ID == "" {
		return errors.New("outbox: enqueue: event has no id")
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("outbox: enqueue: encode event %s: %w", ev.ID, err)
	}
	now := time.Now().UnixMilli()
	for _, sink := range sinkIDs {
		_, err := ex.ExecContext(ctx, o.q(`INSERT INTO outbox (sink_id, event_id, payload, attempts, next_attempt_at)
			VALUES (?, ?, ?, 0, ?) ON CONFLICT (sink_id, event_id) DO NOTHING`), sink, ev.ID, string(payload), now)
		if err != nil {
			return fmt.Errorf("outbox: enqueue event %s for sink %s: %w", ev.ID, sink, err)
		}
	}
	return nil
}

// Status is one outbox row's delivery state, for inspection and tests.
type Status struct {
	SinkID      string
	EventID     string
	Attempts    int
	Delivered   bool
	Dead        bool
	LastError   string
	NextAttempt time.Time
}

// List returns every row's status, oldest first.
func (o *Outbox) List(ctx context.Context) ([]Status, error) {
	rows, err := o.db.QueryContext(ctx, o.q(`SELECT sink_id, event_id, attempts, next_attempt_at, delivered_at, last_error FROM outbox ORDER BY id`))
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	return scanStatuses(rows, "list")
}

// Lookup returns the rows of one event, one per sink, oldest first.
func (o *Outbox) Lookup(ctx context.Context, eventID string) ([]Status, error) {
	rows, err := o.db.QueryContext(ctx, o.q(`SELECT sink_id, event_id, attempts, next_attempt_at, delivered_at, last_error FROM outbox WHERE event_id = ? ORDER BY id`), eventID)
	if err != nil {
		return nil, fmt.Errorf("outbox: lookup %s: %w", eventID, err)
	}
	return scanStatuses(rows, "lookup "+eventID)
}

func scanStatuses(rows *sql.Rows, what string) ([]Status, error) {
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var s Status
		var next, delivered sql.NullInt64
		var lastErr sql.NullString
		if err := rows.Scan(&s.SinkID, &s.EventID, &s.Attempts, &next, &delivered, &lastErr); err != nil {
			return nil, fmt.Errorf("outbox: %s: %w", what, err)
		}
		s.Delivered = delivered.Valid
		s.Dead = !delivered.Valid && !next.Valid
		s.LastError = lastErr.String
		if next.Valid {
			s.NextAttempt = time.UnixMilli(next.Int64)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: %s: %w", what, err)
	}
	return out, nil
}

// Rearm is Enqueue for an event that is announced again: a row of the
// same (sink, event) that was delivered or is dead becomes due now with a
// fresh attempt budget and ev's payload; a row still waiting is left as it
// is (its delivery is still to come). Rows are never duplicated.
func (o *Outbox) Rearm(ctx context.Context, ex Execer, ev Event, sinkIDs ...string) error {
	if ev.ID == "" {
		return errors.New("outbox: rearm: event has no id")
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("outbox: rearm: encode event %s: %w", ev.ID, err)
	}
	now := time.Now().UnixMilli()
	for _, sink := range sinkIDs {
		_, err := ex.ExecContext(ctx, o.q(`INSERT INTO outbox (sink_id, event_id, payload, attempts, next_attempt_at)
			VALUES (?, ?, ?, 0, ?) ON CONFLICT (sink_id, event_id) DO UPDATE
			SET payload = excluded.payload, attempts = 0, next_attempt_at = excluded.next_attempt_at, delivered_at = NULL, last_error = NULL
			WHERE outbox.delivered_at IS NOT NULL OR outbox.next_attempt_at IS NULL`), sink, ev.ID, string(payload), now)
		if err != nil {
			return fmt.Errorf("outbox: rearm event %s for sink %s: %w", ev.ID, sink, err)
		}
	}
	return nil
}

type claimed struct {
	id       int64
	sinkID   string
	eventID  string
	payload  string
	attempts int
}

// claim leases up to n due rows: their next_attempt_at moves to now+lease
// and attempts is incremented, so a dispatcher that dies mid-delivery leaves
// rows that become due again when the lease runs out.
func (o *Outbox) claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]claimed, error) {
	lock := ""
	if o.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	query := o.q(`UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox
			WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT ?` + lock + `)
		RETURNING id, sink_id, event_id, payload, attempts`)
	rows, err := o.db.QueryContext(ctx, query, now.Add(lease).UnixMilli(), now.UnixMilli(), n)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.id, &c.sinkID, &c.eventID, &c.payload, &c.attempts); err != nil {
			return nil, fmt.Errorf("outbox: claim: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	return out, nil
}

func (o *Outbox) markDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := o.db.ExecContext(ctx, o.q(`UPDATE outbox SET delivered_at = ?, next_attempt_at = NULL, last_error = NULL WHERE id = ?`), now.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("outbox: mark delivered: %w", err)
	}
	return nil
}

// markFailed schedules a retry at next, or kills the row when next is zero.
func (o *Outbox) markFailed(ctx context.Context, id int64, next time.Time, cause error) error {
	var nextArg any
	if !next.IsZero() {
		nextArg = next.UnixMilli()
	}
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	_, err := o.db.ExecContext(ctx, o.q(`UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?`), nextArg, msg, id)
	if err != nil {
		return fmt.Errorf("outbox: mark failed: %w", err)
	}
	return nil
}

// Dispatcher delivers due outbox rows through the sink stack registered for
// their sink id. Several dispatchers may share one database.
type Dispatcher struct {
	Outbox *Outbox
	// Sinks maps a sink id to its stack (e.g. Filter{Retry{HTTPSink}}).
	// Rows for an unknown sink id are retried later.
	Sinks map[string]Sink
	// Lookup, when set, is used instead of Sinks: the sinks may then
	// change while Run runs (a reloaded configuration). ok false is an
	// unknown sink id.
	Lookup func(sinkID string) (sink Sink, ok bool)
	// Batch is the number of rows claimed at once (default 32).
	Batch int
	// Lease is how long a claimed row is reserved (default 1m). Each
	// delivery through the stack is cancelled after 90% of it, so a row is
	// never in flight in two dispatchers at once.
	Lease time.Duration
	// Poll is the wait when nothing is due (default 1s).
	Poll time.Duration
	// MaxAttempts kills a row after this many failed deliveries (default 20).
	MaxAttempts int
	// Backoff returns the wait after the n-th failed delivery (default
	// exponential from 1s to 1h with jitter).
	Backoff func(n int) time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	// Observe, when set, is called after each delivery attempt with the
	// row's sink id and outcome: "delivered", "retry" (scheduled again) or
	// "dead" (given up). It is not called for attempts cut by shutdown.
	Observe func(sinkID, outcome string)
}

// Run dispatches until ctx is cancelled, then returns ctx's error.
func (d *Dispatcher) Run(ctx context.Context) error {
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	for {
		n, err := d.DispatchOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			d.logger().Error("outbox dispatch", "err", err)
		}
		if n == 0 || err != nil {
			if err := sleepCtx(ctx, poll); err != nil {
				return err
			}
		}
	}
}

// DispatchOnce claims one batch of due rows and delivers it, returning how
// many rows it claimed. When ctx is cancelled mid-batch the remaining rows
// stay leased and are picked up again after the lease.
func (d *Dispatcher) DispatchOnce(ctx context.Context) (int, error) {
	batch := d.Batch
	if batch <= 0 {
		batch = 32
	}
	rows, err := d.Outbox.claim(ctx, d.now(), d.lease(), batch)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return len(rows), err
		}
		if err := d.deliver(ctx, r); err != nil {
			return len(rows), err
		}
	}
	return len(rows), nil
}

func (d *Dispatcher) deliver(ctx context.Context, r claimed) error {
	var ev Event
	var werr error
	var sink Sink
	var ok bool
	if d.Lookup != nil {
		sink, ok = d.Lookup(r.sinkID)
	} else {
		sink, ok = d.Sinks[r.sinkID]
	}
	switch {
	case !ok:
		werr = fmt.Errorf("outbox: no sink %q configured", r.sinkID)
	default:
		if err := json.Unmarshal([]byte(r.payload), &ev); err != nil {
			werr = Permanent(fmt.Errorf("outbox: decode event %s: %w", r.eventID, err))
			break
		}
		// A delivery may not outlive its lease, or another dispatcher
		// would claim the row while it is still in flight.
		dctx, cancel := context.WithTimeout(ctx, d.lease()*9/10)
		werr = sink.Write(dctx, ev)
		cancel()
	}
	if ctx.Err() != nil {
		// Stopping: leave the row leased; it is retried after the lease.
		return ctx.Err()
	}
	now := d.now()
	if werr == nil {
		d.observe(r.sinkID, "delivered")
		return d.Outbox.markDelivered(ctx, r.id, now)
	}
	maxAttempts := d.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 20
	}
	var next time.Time
	if !IsPermanent(werr) && r.attempts < maxAttempts {
		next = now.Add(d.backoff(r.attempts))
	}
	if next.IsZero() {
		d.observe(r.sinkID, "dead")
	} else {
		d.observe(r.sinkID, "retry")
	}
	d.logger().Warn("outbox delivery failed", "sink", r.sinkID, "event", r.eventID,
		"attempts", r.attempts, "dead", next.IsZero(), "err", werr)
	return d.Outbox.markFailed(ctx, r.id, next, werr)
}

func (d *Dispatcher) observe(sinkID, outcome string) {
	if d.Observe != nil {
		d.Observe(sinkID, outcome)
	}
}

func (d *Dispatcher) backoff(n int) time.Duration {
	if d.Backoff != nil {
		return d.Backoff(n)
	}
	return time.Second + jitter(capped(time.Second, time.Hour, n), nil)
}

func (d *Dispatcher) lease() time.Duration {
	if d.Lease > 0 {
		return d.Lease
	}
	return time.Minute
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}
