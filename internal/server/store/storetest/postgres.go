package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// PostgresBaseURL is the test database; STOWAWAY_TEST_POSTGRES overrides it.
func PostgresBaseURL() string {
	if u := os.Getenv("STOWAWAY_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresURL creates a fresh schema for this test, dropped at cleanup, and
// returns a database URL whose search_path points at it. It skips the test
// when PostgreSQL is unreachable.
func PostgresURL(t *testing.T) string {
	t.Helper()
	base := PostgresBaseURL()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("postgres test URL: %v", err)
	}
	db := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Skipf("PostgreSQL not reachable at %s (CI starts it): %v", base, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "stowaway_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return base + "&search_path=" + schema
}

// Postgres opens a store in a fresh schema (see PostgresURL).
func Postgres(t *testing.T) *store.SQL {
	t.Helper()
	u := PostgresURL(t)
	s, err := store.OpenPostgres(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
