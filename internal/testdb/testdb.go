// Package testdb gives tests one real-data vulnerability DB: the DB of
// everything in ../shared/feeds, as `stowaway db update --mirror
// ../shared/feeds` builds it.
//
// When $STOWAWAY_TEST_DB names a DB directory (.ci/run builds one per CI run
// and shares it across packages), tests use it after checking that it was
// built from the same feeds: the directory holds a file FeedsStamp with the
// SHA-256 of ../shared/feeds/SHA256SUMS, written by whoever built it, and
// vulndb.Open refuses a DB of another schema version. A stale or unstamped
// DB fails the test with what to do. Otherwise the DB is built at most once
// per test binary into a temporary directory that Run removes after the
// tests.
//
// Use: one variable per test package, and a TestMain.
//
//	var realDB testdb.DB
//
//	func TestMain(m *testing.M) { os.Exit(realDB.Run(m)) }
//
//	func TestX(t *testing.T) { dir := realDB.Dir(t) ... }
package testdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	feedall "github.com/stowaway-scanner/stowaway/internal/feed/all"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// EnvVar names the environment variable holding a prebuilt DB directory.
const EnvVar = "STOWAWAY_TEST_DB"

// FeedsStamp is the file, inside the DB directory, holding the hex SHA-256
// of the ../shared/feeds/SHA256SUMS the DB was built from.
const FeedsStamp = "feeds-SHA256SUMS.sha256"

// DB is one test binary's real-data DB. The zero value is ready to use.
type DB struct {
	once sync.Once
	dir  string
	tmp  string // the directory this binary built into, removed by Run
	err  error
}

// Run runs the tests and then removes the DB this binary built, if any.
// Call it from TestMain: os.Exit(db.Run(m)).
func (d *DB) Run(m *testing.M) int {
	code := m.Run()
	if d.tmp != "" {
		if err := os.RemoveAll(d.tmp); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: remove %s: %v\n", d.tmp, err)
		}
	}
	return code
}

// Dir returns the DB directory. It skips the test when ../shared/feeds is
// absent or under -short (building takes minutes) and fails it when
// $STOWAWAY_TEST_DB is stale or the build fails.
func (d *DB) Dir(t testing.TB) string {
	t.Helper()
	feeds := testutil.Shared(t, "feeds")
	env := os.Getenv(EnvVar)
	if env == "" && testing.Short() {
		t.Skip("builds the vulnerability DB from ../shared/feeds (minutes); set $" + EnvVar + " to a prebuilt one")
	}
	d.once.Do(func() {
		if env != "" {
			d.dir, d.err = check(env, feeds)
			return
		}
		d.dir, d.err = d.build(feeds)
	})
	if d.err != nil {
		t.Fatal(d.err)
	}
	return d.dir
}

// Open opens the DB (see Dir) and closes it when the test ends.
func (d *DB) Open(t testing.TB) *vulndb.DB {
	t.Helper()
	db, err := vulndb.Open(context.Background(), d.Dir(t))
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// FeedsSum returns the hex SHA-256 of feeds/SHA256SUMS, which names every
// file of the mirror with its checksum.
func FeedsSum(feeds string) (string, error) {
	b, err := os.ReadFile(filepath.Join(feeds, "SHA256SUMS"))
	if err != nil {
		return "", fmt.Errorf("testdb: feeds checksum: %w", err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// check verifies that dir was built from feeds and opens with this build's
// schema.
func check(dir, feeds string) (string, error) {
	want, err := FeedsSum(feeds)
	if err != nil {
		return "", err
	}
	fix := fmt.Sprintf("rebuild it (go run ./cmd/stowaway db update --mirror %s --db %s && sha256sum < %s/SHA256SUMS | cut -d' ' -f1 > %s/%s) or unset $%s",
		feeds, dir, feeds, dir, FeedsStamp, EnvVar)
	b, err := os.ReadFile(filepath.Join(dir, FeedsStamp))
	if err != nil {
		return "", fmt.Errorf("testdb: $%s=%s has no feeds stamp (%v): %s", EnvVar, dir, err, fix)
	}
	if got := strings.TrimSpace(string(b)); got != want {
		return "", fmt.Errorf("testdb: $%s=%s was built from other feeds (SHA256SUMS %s, ../shared/feeds has %s): %s", EnvVar, dir, got, want, fix)
	}
	db, err := vulndb.Open(context.Background(), dir)
	if err != nil {
		if errors.Is(err, vulndb.ErrSchema) {
			return "", fmt.Errorf("testdb: $%s=%s: %w: %s", EnvVar, dir, err, fix)
		}
		return "", fmt.Errorf("testdb: $%s=%s: %w", EnvVar, dir, err)
	}
	db.Close()
	return dir, nil
}

// build builds the DB of everything in feeds into a new temporary directory
// and stamps it.
func (d *DB) build(feeds string) (string, error) {
	tmp, err := os.MkdirTemp("", "stowaway-realdb-")
	if err != nil {
		return "", fmt.Errorf("testdb: %w", err)
	}
	d.tmp = tmp
	ups, _ := source.InMirror(feeds, feedall.Updaters(feedall.Options{Bzip2: bz2.Auto(nil)}))
	src, err := source.New(feeds, source.Options{})
	if err != nil {
		return "", fmt.Errorf("testdb: feeds source: %w", err)
	}
	// What `db update --mirror` builds: the same updaters and supersedes.
	rep, err := vulndb.Update(context.Background(), tmp, ups, src, vulndb.UpdateOptions{Supersedes: distroall.Distros().Supersedes()})
	if err != nil {
		return "", fmt.Errorf("testdb: build DB from %s: %w", feeds, err)
	}
	if err := rep.Err(); err != nil {
		return "", fmt.Errorf("testdb: build DB from %s: %w", feeds, err)
	}
	sum, err := FeedsSum(feeds)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, FeedsStamp), []byte(sum+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("testdb: stamp: %w", err)
	}
	return tmp, nil
}
