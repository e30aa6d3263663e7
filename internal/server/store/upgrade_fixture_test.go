package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// The upgrade fixtures are databases written by an earlier build's schema:
// testdata/upgrade/unversioned.sqlite and unversioned.postgres.sql (a
// pg_dump --inserts of one schema) were written by the store of commit
// 8ed4f05, the last schema without schema_migrations, with
//
//	go test ./internal/server/store -run TestGenerateUpgradeFixture -generate
//
// run on that commit. Running the generator on later code writes that
// code's schema instead: do so only to add a fixture of a new baseline
// (under a new name), never to overwrite these.
var generate = flag.Bool("generate", false, "write the upgrade fixtures from this build's schema (see upgrade_test.go)")

const fixtureSchema = "stowaway_upgrade_fixture"

var fixtureT0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// fixtureData writes one of each kind of row a server keeps.
func fixtureData(ctx context.Context, t *testing.T, s *store.SQL, d events.Dialect) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateRepository(ctx, store.Repository{Name: "team/app", CreatedAt: fixtureT0, ScanOnPush: true}))
	must(s.CreateRepository(ctx, store.Repository{Name: "team/immutable", CreatedAt: fixtureT0, TagImmutable: true}))
	img := store.Image{Repository: "team/app", Digest: "sha256:" + strings.Repeat("a", 64),
		MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 1234, PushedAt: fixtureT0.Add(time.Minute)}
	if _, err := s.PutImage(ctx, img, "v1"); err != nil {
		t.Fatal(err)
	}
	must(s.StartScan(ctx, img.Repository, img.Digest, false, fixtureT0.Add(2*time.Minute), 0))
	j, err := s.ClaimJob(ctx, "fixture", fixtureT0.Add(3*time.Minute), time.Minute, 3)
	must(err)
	if j == nil {
		t.Fatal("no job to claim")
	}
	result := json.RawMessage(`{"imageScanStatus":{"status":"COMPLETE"},"findingSeverityCounts":{"HIGH":1},"findings":[{"name":"CVE-2024-0001","severity":"HIGH","attributes":[{"key":"package_name","value":"openssl"},{"key":"package_version","value":"3.0.1"}]}]}`)
	must(s.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Description: "The scan was completed successfully.", Result: result,
		InTx: []store.TxFunc{func(ctx context.Context, tx *store.Tx) error {
			_, err := s.RecordFindings(ctx, tx, img.Repository, img.Digest, []store.FindingRecord{
				{Name: "CVE-2024-0001", PackageName: "openssl", PackageVersion: "3.0.1", Severity: "HIGH"},
			}, fixtureT0.Add(4*time.Minute))
			return err
		}}}, fixtureT0.Add(4*time.Minute)))
	must(s.PutLifecyclePolicy(ctx, "team/app", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`, fixtureT0))
	if _, err := s.RecordPull(ctx, img.Repository, img.Digest, fixtureT0.Add(5*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	must(s.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		return s.PutInventory(ctx, tx, store.StoredInventory{Repository: img.Repository, Digest: img.Digest,
			Data: []byte("inventory"), StoredAt: fixtureT0.Add(4 * time.Minute), DBBuiltAt: fixtureT0},
			[]store.InventoryKey{{Namespace: "debian:12", Package: "openssl"}})
	}))
	must(s.PutScanningConfig(ctx, json.RawMessage(`{"scanType":"BASIC","rules":[]}`)))
	ob := events.NewOutbox(s.DB(), d)
	must(ob.Migrate(ctx))
	must(ob.Enqueue(ctx, s.DB(), events.Event{Version: "0", ID: "ev-1", DetailType: "ECR Image Scan", Source: "aws.ecr",
		Time: fixtureT0.Format(time.RFC3339), Detail: json.RawMessage(`{}`)}, "sink-a"))
}

// checkFixtureData says whether the rows fixtureData wrote are all there.
func checkFixtureData(ctx context.Context, t *testing.T, s *store.SQL, d events.Dialect) {
	t.Helper()
	repos, err := s.ListRepositories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Repository{
		{Name: "team/app", CreatedAt: fixtureT0, ScanOnPush: true},
		{Name: "team/immutable", CreatedAt: fixtureT0, TagImmutable: true},
	}
	if diff := cmp.Diff(want, repos); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	img, err := s.GetImage(ctx, "team/app", digest)
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	if diff := cmp.Diff([]string{"v1"}, img.Tags); diff != "" || img.Size != 1234 {
		t.Errorf("image %+v", img)
	}
	sc, err := s.GetScan(ctx, "team/app", digest)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if sc.Status != "COMPLETE" || !strings.Contains(string(sc.Result), "CVE-2024-0001") {
		t.Errorf("scan %s %q, result %s", sc.Status, sc.Description, sc.Result)
	}
	page, err := s.ScanFindingsPage(ctx, "team/app", digest, 0, 10)
	if err != nil {
		t.Fatalf("findings page: %v", err)
	}
	if page.Findings != 1 || len(page.Basic) != 1 {
		t.Errorf("findings page has %d findings (%d in the window), want 1", page.Findings, len(page.Basic))
	}
	hist, err := s.FindingHistory(ctx, "team/app", digest)
	if err != nil || len(hist) != 1 || hist[0].Name != "CVE-2024-0001" {
		t.Errorf("finding history %+v, %v", hist, err)
	}
	if p, err := s.GetLifecyclePolicy(ctx, "team/app"); err != nil || !strings.Contains(p.Text, "sinceImagePushed") {
		t.Errorf("lifecycle policy %+v, %v", p, err)
	}
	if at, err := s.LastPull(ctx, "team/app", digest); err != nil || !at.Equal(fixtureT0.Add(5*time.Minute)) {
		t.Errorf("last pull %v, %v", at, err)
	}
	if inv, err := s.GetInventory(ctx, "team/app", digest); err != nil || string(inv.Data) != "inventory" {
		t.Errorf("inventory %+v, %v", inv, err)
	}
	if keys, err := s.InventoryKeys(ctx, "team/app", digest); err != nil || len(keys) != 1 {
		t.Errorf("inventory keys %+v, %v", keys, err)
	}
	if cfg, err := s.GetScanningConfig(ctx); err != nil || !strings.Contains(string(cfg), "BASIC") {
		t.Errorf("scanning config %s, %v", cfg, err)
	}
	ob := events.NewOutbox(s.DB(), d)
	if err := ob.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := ob.List(ctx); err != nil || len(st) != 1 || st[0].EventID != "ev-1" {
		t.Errorf("outbox %+v, %v", st, err)
	}
}

// TestGenerateUpgradeFixture writes the fixtures (with -generate only).
func TestGenerateUpgradeFixture(t *testing.T) {
	if !*generate {
		t.Skip("writes the upgrade fixtures; run with -generate (see upgrade_test.go)")
	}
	ctx := context.Background()
	out := filepath.Join("testdata", "upgrade", "unversioned.sqlite")
	_ = os.Remove(out)
	s, err := store.OpenSQLite(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	fixtureData(ctx, t, s, events.SQLite)
	if _, err := s.DB().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_ = os.Remove(out + "-wal")
	_ = os.Remove(out + "-shm")

	base := storetest.PostgresBaseURL()
	admin := pgDB(t, base)
	if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+fixtureSchema+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+fixtureSchema); err != nil {
		t.Fatal(err)
	}
	defer admin.ExecContext(ctx, "DROP SCHEMA "+fixtureSchema+" CASCADE")
	ps, err := store.OpenPostgres(ctx, base+"&search_path="+fixtureSchema)
	if err != nil {
		t.Fatal(err)
	}
	fixtureData(ctx, t, ps, events.Postgres)
	ps.Close()
	cfg, _ := pgx.ParseConfig(base)
	cmd := exec.Command("pg_dump", "--inserts", "--no-owner", "--no-privileges", "--schema="+fixtureSchema,
		"-h", cfg.Host, "-p", fmt.Sprint(cfg.Port), "-U", cfg.User, cfg.Database)
	dump, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "upgrade", "unversioned.postgres.sql"), dump, 0o644); err != nil {
		t.Fatal(err)
	}
}

func pgDB(t *testing.T, u string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Skipf("PostgreSQL not reachable at %s (CI starts it): %v", u, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
