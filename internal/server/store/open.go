package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Open opens the store named by databaseURL: "" is SQLite in
// dataDir/stowaway.db, "postgres://..." or "postgresql://..." is PostgreSQL,
// "sqlite:PATH" is SQLite at PATH. The schema is created or upgraded.
func Open(ctx context.Context, dataDir, databaseURL string) (*SQL, error) {
	switch {
	case databaseURL == "":
		return OpenSQLite(ctx, filepath.Join(dataDir, "stowaway.db"))
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(databaseURL, "sqlite:"))
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return OpenPostgres(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("store: unsupported database URL scheme (want postgres:// or sqlite:)")
	}
}

// OpenSQLite opens (creating if needed) a SQLite database file.
func OpenSQLite(ctx context.Context, path string) (*SQL, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite open: %w", err)
	}
	// One connection serializes writers inside this process; busy_timeout and
	// immediate transactions cover other processes.
	db.SetMaxOpenConns(1)
	s := &SQL{db: db, d: dialect{
		name:     "sqlite",
		idColumn: "INTEGER PRIMARY KEY AUTOINCREMENT",
	}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenPostgres opens a PostgreSQL database through pgx. The URL may carry
// search_path to place the tables in a schema.
func OpenPostgres(ctx context.Context, databaseURL string) (*SQL, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// The parse error may echo the URL with its password: don't wrap it.
		return nil, fmt.Errorf("store: postgres: invalid database URL")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	s := &SQL{db: db, d: dialect{
		name:        "postgres",
		dollar:      true,
		idColumn:    "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		skipLocked:  " FOR UPDATE SKIP LOCKED",
		migrateLock: "SELECT pg_advisory_xact_lock(7301994)",
	}}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
