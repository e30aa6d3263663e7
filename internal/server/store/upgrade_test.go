package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// backend is each dialect's way to open a store at a location the test
// prepared (a SQLite path or a PostgreSQL URL).
type backend struct {
	name    string
	dialect events.Dialect
	// fresh returns a new, empty location.
	fresh func(t *testing.T) string
	// fixture returns a location holding the unversioned fixture.
	fixture func(t *testing.T) string
	open    func(ctx context.Context, loc string) (*store.SQL, error)
}

func backends() []backend {
	return []backend{
		{
			name: "sqlite", dialect: events.SQLite,
			fresh: func(t *testing.T) string { return filepath.Join(t.TempDir(), "stowaway.db") },
			fixture: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "stowaway.db")
				copyFile(t, filepath.Join("testdata", "upgrade", "unversioned.sqlite"), p)
				return p
			},
			open: store.OpenSQLite,
		},
		{
			name: "postgres", dialect: events.Postgres,
			fresh: storetest.PostgresURL,
			fixture: func(t *testing.T) string {
				u := storetest.PostgresURL(t)
				loadPostgresDump(t, u, filepath.Join("testdata", "upgrade", "unversioned.postgres.sql"))
				return u
			},
			open: store.OpenPostgres,
		},
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// loadPostgresDump replays a pg_dump --inserts of fixtureSchema into the
// schema u's search_path names (psql meta-commands dropped).
func loadPostgresDump(t *testing.T, u, path string) {
	t.Helper()
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	schema := cfg.RuntimeParams["search_path"]
	var b strings.Builder
	for _, line := range strings.Split(string(dump), "\n") {
		if strings.HasPrefix(line, "\\") || strings.HasPrefix(line, "CREATE SCHEMA ") {
			continue
		}
		b.WriteString(strings.ReplaceAll(line, fixtureSchema+".", schema+"."))
		b.WriteString("\n")
	}
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The simple protocol runs the whole script as one multi-statement query.
	if _, err := conn.Exec(ctx, b.String(), pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
}

func migrationVersions(ctx context.Context, t *testing.T, s *store.SQL) []int {
	t.Helper()
	rows, err := s.DB().QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func allVersions(s *store.SQL) []int {
	var out []int
	for v := 1; v <= s.LatestSchemaVersion(); v++ {
		out = append(out, v)
	}
	return out
}

// TestUpgradeFromUnversioned opens a database written by the last build
// without schema versioning: it is adopted as version 1, migrated to the
// latest version, and keeps every row.
func TestUpgradeFromUnversioned(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			loc := b.fixture(t)
			s, err := b.open(ctx, loc)
			if err != nil {
				t.Fatalf("open the fixture: %v", err)
			}
			if diff := cmp.Diff(allVersions(s), migrationVersions(ctx, t, s)); diff != "" {
				t.Errorf("schema_migrations (-want +got):\n%s", diff)
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != s.LatestSchemaVersion() {
				t.Errorf("SchemaVersion = %d, %v; want %d", v, err, s.LatestSchemaVersion())
			}
			checkFixtureData(ctx, t, s, b.dialect)
			s.Close()

			// Opening again changes nothing.
			s, err = b.open(ctx, loc)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			if diff := cmp.Diff(allVersions(s), migrationVersions(ctx, t, s)); diff != "" {
				t.Errorf("schema_migrations after reopen (-want +got):\n%s", diff)
			}
			checkFixtureData(ctx, t, s, b.dialect)
		})
	}
}

// TestNewDatabaseIsAtLatest: a new database gets every migration, in order.
func TestNewDatabaseIsAtLatest(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := b.open(ctx, b.fresh(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if diff := cmp.Diff(allVersions(s), migrationVersions(ctx, t, s)); diff != "" {
				t.Errorf("schema_migrations (-want +got):\n%s", diff)
			}
			if s.LatestSchemaVersion() < 2 {
				t.Errorf("LatestSchemaVersion = %d: the list lost its migrations", s.LatestSchemaVersion())
			}
		})
	}
}

// TestRefusesNewerSchema: a database a newer build migrated is not opened
// (and not written).
func TestRefusesNewerSchema(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			loc := b.fresh(t)
			s, err := b.open(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			latest := s.LatestSchemaVersion()
			if _, err := s.DB().ExecContext(ctx, s.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				latest+7, "from the future", 0); err != nil {
				t.Fatal(err)
			}
			s.Close()
			_, err = b.open(ctx, loc)
			var tooNew *store.SchemaTooNewError
			if !errors.As(err, &tooNew) {
				t.Fatalf("open a newer schema: err = %v, want a SchemaTooNewError", err)
			}
			want := fmt.Sprintf("store: the database is at schema version %d, this build knows up to %d: use a newer stowaway", latest+7, latest)
			if err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
		})
	}
}

// TestConcurrentOpen: replicas starting together on one database all open
// it, and each migration is applied once.
func TestConcurrentOpen(t *testing.T) {
	const replicas = 8
	for _, b := range backends() {
		for _, start := range []string{"new", "unversioned"} {
			t.Run(b.name+"/"+start, func(t *testing.T) {
				ctx := context.Background()
				loc := b.fresh(t)
				if start == "unversioned" {
					loc = b.fixture(t)
				}
				var wg sync.WaitGroup
				stores := make([]*store.SQL, replicas)
				errs := make([]error, replicas)
				for i := range replicas {
					wg.Add(1)
					go func() {
						defer wg.Done()
						stores[i], errs[i] = b.open(ctx, loc)
					}()
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("replica %d: %v", i, err)
						continue
					}
					defer stores[i].Close()
				}
				if t.Failed() {
					return
				}
				if diff := cmp.Diff(allVersions(stores[0]), migrationVersions(ctx, t, stores[0])); diff != "" {
					t.Errorf("schema_migrations (-want +got):\n%s", diff)
				}
				if start == "unversioned" {
					checkFixtureData(ctx, t, stores[replicas-1], b.dialect)
				}
			})
		}
	}
}
