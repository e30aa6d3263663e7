package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A migration is one step of the server database's schema. Migrations are
// applied in order, each in the transaction that records it in
// schema_migrations, so a database is always at exactly one version.
//
// Adding a migration: append it to migrations with the next version; never
// edit or reorder one that has shipped (databases out there are at it).
// Statements must be valid in both dialects (s.q rewrites placeholders; use
// s.d for dialect-specific column types). The upgrade test
// (upgrade_test.go) opens databases written by older schemas and checks
// their data survives.
type migration struct {
	version int
	name    string
	stmts   func() []string
}

// migrations is the explicit, ordered list of the schema's versions.
//
// Version 1 is the schema every build before versioning created (with
// CREATE ... IF NOT EXISTS, so it is also how a new database starts): a
// database without schema_migrations but with these tables is adopted as
// version 1 without change.
func (s *SQL) migrations() []migration {
	return []migration{
		{1, "baseline: the schema before versioning", s.schema},
		{2, "indexes for deleting an image's jobs and listing a repository's images by push time", func() []string {
			return []string{
				`CREATE INDEX IF NOT EXISTS jobs_image ON jobs (repo, digest)`,
				`CREATE INDEX IF NOT EXISTS images_pushed ON images (repo, pushed_at)`,
			}
		}},
		{3, "one leases table for the singleton passes (was lifecycle_leases and rescan_leases)", s.leaseSchema},
		{4, "repository resource tags, tag mutability exclusions, encryption configuration; repository creation templates", s.repoConfigSchema},
		{5, "repository policies and the registry policy", s.policySchema},
		{6, "the audit trail", s.auditSchema},
		{7, "pull-through cache rules and the upstream checks of cached tags", s.pullThroughSchema},
		{8, "inventories.findings_hash: the digest of each image's open findings; open findings indexed by image and package (batched rescans)", s.findingsHashSchema},
		{9, "gc_blob_refs: when each blob was last referenced by a manifest PUT (the fence of blob garbage collection across replicas)", s.blobRefSchema},
	}
}

// LatestSchemaVersion is the newest schema version this build knows.
func (s *SQL) LatestSchemaVersion() int {
	m := s.migrations()
	return m[len(m)-1].version
}

// SchemaTooNewError is returned by Open for a database that a newer build
// has migrated: this build does not know its tables and must not write it.
type SchemaTooNewError struct {
	Version, Known int
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("store: the database is at schema version %d, this build knows up to %d: use a newer stowaway", e.Version, e.Known)
}

// SchemaVersion is the version the database is at (0 for a database
// without schema_migrations).
func (s *SQL) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		if ok, terr := s.hasTable(ctx, s.db, "schema_migrations"); terr == nil && !ok {
			return 0, nil
		}
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// hasTable says whether a table exists in the store's schema (the current
// search_path under PostgreSQL).
func (s *SQL) hasTable(ctx context.Context, q querier, name string) (bool, error) {
	query := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if s.d.name == "postgres" {
		query = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	var n int
	if err := q.QueryRowContext(ctx, s.q(query), name).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// migrate brings the database to the latest version, or refuses one that
// is newer. Replicas opening one database together are serialised: by an
// advisory lock under PostgreSQL, by the IMMEDIATE transaction (and a retry
// while another process holds the write lock) under SQLite.
func (s *SQL) migrate(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := s.migrateOnce(ctx)
		if err == nil || !isBusy(err) || attempt >= 50 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: migrate: %w (last: %v)", ctx.Err(), err)
		case <-time.After(time.Duration(20+attempt*20) * time.Millisecond):
		}
	}
}

func (s *SQL) migrateOnce(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.d.migrateLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.migrateLock); err != nil {
				return fmt.Errorf("store: migrate: lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("store: migrate: schema_migrations: %w", err)
		}
		var cur sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&cur); err != nil {
			return fmt.Errorf("store: migrate: read version: %w", err)
		}
		all := s.migrations()
		if latest := all[len(all)-1].version; int(cur.Int64) > latest {
			return &SchemaTooNewError{Version: int(cur.Int64), Known: latest}
		}
		now := ms(time.Now())
		for _, m := range all {
			if m.version <= int(cur.Int64) {
				continue
			}
			for _, stmt := range m.stmts() {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("store: migrate to version %d (%s): %w", m.version, m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.version, m.name, now); err != nil {
				return fmt.Errorf("store: migrate to version %d: record: %w", m.version, err)
			}
		}
		return nil
	})
}

// isBusy says whether err is SQLite's "another connection holds the lock"
// (SQLITE_BUSY, SQLITE_LOCKED), which busy_timeout does not always absorb
// (a process opening the file while another switches it to WAL).
func isBusy(err error) bool {
	if err == nil {
		return false
	}
	var tooNew *SchemaTooNewError
	if errors.As(err, &tooNew) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "SQLITE_LOCKED")
}
