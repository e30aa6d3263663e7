package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// dollar placeholders ($1...) instead of '?'.
	dollar bool
	// idColumn is the auto-increment primary key definition.
	idColumn string
	// skipLocked is appended to the job-claiming subquery.
	skipLocked string
	// migrateLock is run first in the migration transaction, if not empty.
	migrateLock string
}

// SQL is the Store over database/sql (SQLite or PostgreSQL). Feature
// packages add their own tables and methods in files of their own here
// (see schemaParts) and consume them through interfaces they define.
type SQL struct {
	db *sql.DB
	d  dialect
}

func (s *SQL) q(query string) string {
	if !s.d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := range len(query) {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// schemaParts is the explicit list of the baseline schema's parts (schema
// version 1, see migrate.go): the core tables below, then one function per
// feature file. Statements are idempotent (CREATE ... IF NOT EXISTS) and
// valid in both dialects. These are a shipped migration: never change them;
// a schema change is a new migration in migrate.go.
func (s *SQL) schemaParts() []func() []string {
	return []func() []string{
		s.coreSchema,
		s.scanResultSchema,
		s.lifecycleSchema,
		s.inventorySchema,
		s.findingsSchema,
		s.pullsSchema,
		s.consoleSchema,
	}
}

func (s *SQL) schema() []string {
	var out []string
	for _, part := range s.schemaParts() {
		out = append(out, part()...)
	}
	return out
}

func (s *SQL) coreSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS repositories (
			name TEXT PRIMARY KEY,
			created_at BIGINT NOT NULL,
			scan_on_push INTEGER NOT NULL DEFAULT 0,
			tag_immutable INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE IF NOT EXISTS images (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			media_type TEXT NOT NULL,
			artifact_media_type TEXT NOT NULL,
			size BIGINT NOT NULL,
			pushed_at BIGINT NOT NULL,
			PRIMARY KEY (repo, digest))`,
		`CREATE TABLE IF NOT EXISTS tags (
			repo TEXT NOT NULL,
			tag TEXT NOT NULL,
			digest TEXT NOT NULL,
			PRIMARY KEY (repo, tag))`,
		`CREATE INDEX IF NOT EXISTS tags_digest ON tags (repo, digest)`,
		`CREATE TABLE IF NOT EXISTS referrers (
			repo TEXT NOT NULL,
			subject TEXT NOT NULL,
			digest TEXT NOT NULL,
			media_type TEXT NOT NULL,
			artifact_type TEXT NOT NULL,
			size BIGINT NOT NULL,
			annotations TEXT NOT NULL,
			PRIMARY KEY (repo, subject, digest))`,
		`CREATE TABLE IF NOT EXISTS scans (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			status TEXT NOT NULL,
			description TEXT NOT NULL,
			started_at BIGINT NOT NULL,
			result TEXT NOT NULL,
			PRIMARY KEY (repo, digest))`,
		`CREATE TABLE IF NOT EXISTS jobs (
			id ` + s.d.idColumn + `,
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			enhanced INTEGER NOT NULL,
			state TEXT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			run_after BIGINT NOT NULL,
			lease_until BIGINT NOT NULL DEFAULT 0,
			worker TEXT NOT NULL DEFAULT '',
			last_error TEXT NOT NULL DEFAULT '',
			created_at BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (state, run_after)`,
		`CREATE TABLE IF NOT EXISTS settings (
			name TEXT PRIMARY KEY,
			value TEXT NOT NULL)`,
	}
}

func (s *SQL) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (s *SQL) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.d.name, err)
	}
	return nil
}

func (s *SQL) Close() error { return s.db.Close() }

// isConflict reports a primary-key violation in either database.
func isConflict(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}
