package notify_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/alpine"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// alpineDB builds (or rebuilds) a vulnerability DB in dir from an Alpine
// v3.19 secdb fixing each package (name → [fixed version, CVE]).
func alpineDB(t *testing.T, dir string, fixes map[string][2]string, at time.Time) {
	t.Helper()
	src := &feedtest.Source{Files: map[string]string{"v3.19/main.json": feedtest.AlpineSecDB("v3.19", fixes)}, CanList: true}
	_, err := vulndb.Update(context.Background(), dir, []feed.Updater{alpine.New("v3.19")}, func(feed.Updater) feed.Source { return src },
		vulndb.UpdateOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("build DB: %v", err)
	}
}

// TestRescanAnnouncesThroughOutbox runs the real rescanner with the
// Notifier as its Announcer: an image scanned (scan event enqueued with
// the result) gains a finding when the DB adds an advisory, and the
// findings-change event is enqueued for the sinks whose rules want it.
func TestRescanAnnouncesThroughOutbox(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := notify.Parse(strings.NewReader(`
sinks:
  - {id: all, type: webhook, url: 'http://127.0.0.1:1/a', secretEnv: A}
  - id: changes
    type: webhook
    url: http://127.0.0.1:1/b
    secretEnv: A
    rules: [{detailTypes: ['ECR Image Scan Findings Change'], minSeverity: UNDEFINED}]
`))
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(ctx, *cfg, notify.Options{DB: st.DB(), Dialect: st.Dialect(), Account: "123456789012", Region: "us-east-1",
		Getenv: func(string) string { return "k" }})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	now := time.Now().UTC()
	dbDir := t.TempDir()
	alpineDB(t, dbDir, map[string][2]string{"openssl": {"3.1.4-r1", "CVE-2023-5678"}}, now.Add(-2*time.Hour))
	if err := st.PutScanningConfig(ctx, json.RawMessage(`{"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod*","filterType":"WILDCARD"}]}]}`)); err != nil {
		t.Fatal(err)
	}

	// Scan prod/api like the job pool: Recorder and Notifier hooks in
	// CompleteJob's transaction.
	const digest = "sha256:a1"
	inv := &inventory.Inventory{
		Source: inventory.Source{Kind: "registry", Digest: digest},
		Distro: &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported},
	}
	for _, p := range [][2]string{{"busybox", "1.36.1-r5"}, {"openssl", "3.1.4-r0"}} {
		inv.Packages = append(inv.Packages, inventory.Package{Name: p[0], Version: p[1], Type: inventory.TypeAPK, SourceName: p[0], SourceVersion: p[1],
			PURL: "pkg:apk/alpine/" + p[0] + "@" + p[1], Path: "lib/apk/db/installed", Cataloger: "apk"})
	}
	if _, err := st.EnsureRepository(ctx, store.Repository{Name: "prod/api", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutImage(ctx, store.Image{Repository: "prod/api", Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactMediaType: "application/vnd.oci.image.config.v1+json", PushedAt: now}, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := st.StartScan(ctx, "prod/api", digest, true, now, 0); err != nil {
		t.Fatal(err)
	}
	j, err := st.ClaimJob(ctx, "w", now, time.Minute, 3)
	if err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	db, err := vulndb.Open(ctx, dbDir)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := rescan.ScanMatcher{}.Pass(db).Rematch(ctx, inv, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rm.Result(now, db.BuiltAt())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	res.Inventory = inv
	body, _ := json.Marshal(res)
	out := store.JobOutcome{Status: string(res.Status), Result: body}
	codec, err := rescan.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if err := (&rescan.Recorder{Store: st, Codec: codec}).Prepare(ctx, j, res, &out); err != nil {
		t.Fatal(err)
	}
	if err := n.Prepare(ctx, j, res, &out); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteJob(ctx, j, out, now); err != nil {
		t.Fatal(err)
	}

	// The DB gains a busybox advisory; one rescan tick.
	alpineDB(t, dbDir, map[string][2]string{"openssl": {"3.1.4-r1", "CVE-2023-5678"}, "busybox": {"1.36.1-r15", "CVE-2023-42363"}}, now.Add(-time.Hour))
	r, err := rescan.New(rescan.Options{Store: st, Matcher: rescan.ScanMatcher{}, DBDir: dbDir, Announcer: n, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Tick(ctx); err != nil {
		t.Fatal(err)
	}

	rows, err := st.DB().QueryContext(ctx, `SELECT sink_id, payload FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type got struct {
		Sink, DetailType string
		New              []events.Finding
	}
	var all []got
	for rows.Next() {
		var sink, payload string
		if err := rows.Scan(&sink, &payload); err != nil {
			t.Fatal(err)
		}
		var ev events.Event
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatal(err)
		}
		var d struct {
			New    []events.Finding `json:"new-findings"`
			Digest string           `json:"image-digest"`
			Tags   []string         `json:"image-tags"`
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.Digest != digest || !cmp.Equal(d.Tags, []string{"v1"}) {
			t.Errorf("event for %s %v: %s", d.Digest, d.Tags, ev.Detail)
		}
		all = append(all, got{sink, ev.DetailType, d.New})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// An enhanced finding's change carries what DescribeImageScanFindings
	// names it by: its finding ARN, fixAvailable and packageManager.
	im := scanning.ECRImage{Account: "123456789012", Region: "us-east-1", Repository: "prod/api", Digest: digest}
	busybox := []events.Finding{{Name: "CVE-2023-42363", Severity: "UNTRIAGED", PackageName: "busybox", PackageVersion: "1.36.1-r5",
		FindingARN: scanning.FindingARN(im, "CVE-2023-42363", []string{"busybox"}), FixAvailable: "YES", PackageManager: "OS"}}
	want := []got{
		{"all", "Inspector2 Scan", nil},
		{"all", "ECR Image Scan Findings Change", busybox},
		{"changes", "ECR Image Scan Findings Change", busybox},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
}
