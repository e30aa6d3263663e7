package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// The fixture's clock: "day0" is 2026-11-20, dayN is N days before.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func day(n int) time.Time { return now.AddDate(0, 0, -n) }

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

var (
	imgA, imgB, imgC, imgD = digest('a'), digest('b'), digest('c'), digest('d')
	layer1, layer2, layer3 = digest('1'), digest('2'), digest('3')
)

func attrs(kv ...string) []scanning.Attribute {
	var out []scanning.Attribute
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, scanning.Attribute{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

// Image A: four basic findings; zlib1g's location comes from the inventory.
var resultA = scanning.Result{
	Status: scanning.StatusComplete,
	Findings: []scanning.Finding{
		{Name: "CVE-2024-0001", URI: "https://security-tracker.debian.org/tracker/CVE-2024-0001", Severity: "CRITICAL",
			Attributes: attrs("package_name", "libssl3", "package_version", "3.0.11-1~deb12u2", "CVSS3_SCORE", "9.8", "fixed_version", "3.0.13-1~deb12u1",
				"package_path", "var/lib/dpkg/status", "layer_diff_id", layer1, "exploit_available", "YES", "kev_date_added", "2024-01-10",
				"epss_score", "0.5", "epss_percentile", "0.97")},
		{Name: "CVE-2024-0002", URI: "https://security-tracker.debian.org/tracker/CVE-2024-0002", Severity: "HIGH",
			Attributes: attrs("package_name", "zlib1g", "package_version", "1:1.2.13.dfsg-1", "CVSS3_SCORE", "7.5", "exploit_available", "NO",
				"epss_score", "0.75", "epss_percentile", "0.99")},
		{Name: "CVE-2024-0003", URI: "https://security-tracker.debian.org/tracker/CVE-2024-0003", Severity: "MEDIUM",
			Attributes: attrs("package_name", "libssl3", "package_version", "3.0.11-1~deb12u2", "CVSS3_SCORE", "8.1", "fixed_version", "3.0.14-1~deb12u1",
				"package_path", "var/lib/dpkg/status", "layer_diff_id", layer1, "exploit_available", "NO", "epss_score", "0.01")},
		{Name: "CVE-2023-9999", URI: "https://security-tracker.debian.org/tracker/CVE-2023-9999", Severity: "LOW",
			Attributes: attrs("package_name", "bash", "package_version", "5.2.15-2+b2", "CVSS2_SCORE", "3.1",
				"package_path", "var/lib/dpkg/status", "layer_diff_id", layer1)},
	},
	SeverityCounts: map[severity.Severity]int{"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1},
	CompletedAt:    day(3),
}

var inventoryA = inventory.Inventory{
	Source: inventory.Source{Ref: "team/app@" + imgA, Kind: "registry", Digest: imgA, Layers: []inventory.Layer{{DiffID: layer1}, {DiffID: layer2}}},
	Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Codename: "bookworm", Status: inventory.OSSupported},
	Packages: []inventory.Package{
		{Name: "bash", Version: "5.2.15-2+b2", Type: inventory.TypeDeb, PURL: "pkg:deb/debian/bash@5.2.15-2%2Bb2?distro=debian-12", Path: "var/lib/dpkg/status", Layer: layer1, Cataloger: "dpkg"},
		{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12", Path: "var/lib/dpkg/status", Layer: layer1, Cataloger: "dpkg"},
		{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: inventory.TypeDeb, Epoch: 1, PURL: "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?distro=debian-12&epoch=1", Path: "var/lib/dpkg/status.d/zlib1g", Layer: layer2, Cataloger: "dpkg"},
	},
	CreatedAt: day(3),
}

// Image B: a basic and an enhanced finding, and a hostile one.
var resultB = scanning.Result{
	Status: scanning.StatusComplete,
	Findings: []scanning.Finding{
		{Name: "CVE-2024-0002", URI: "https://security-tracker.debian.org/tracker/CVE-2024-0002", Severity: "HIGH",
			Attributes: attrs("package_name", "zlib1g", "package_version", "1:1.2.13.dfsg-1")},
		{Name: "<script>alert(1)</script>", URI: "javascript:alert(1)", Severity: "UNDEFINED",
			Attributes: attrs("package_name", `"><img src=x>`, "package_version", "1")},
	},
	EnhancedFindings: []json.RawMessage{json.RawMessage(`{"title":"CVE-2024-0001 - lodash","severity":"CRITICAL","score":9.1,"fixAvailable":"YES","exploitAvailable":"YES","epss":{"score":0.5,"percentile":0.97},
		"packageVulnerabilityDetails":{"vulnerabilityId":"CVE-2024-0001","sourceUrl":"https://osv.dev/vulnerability/CVE-2024-0001",
		"vulnerablePackages":[{"name":"lodash","version":"4.17.15","fixedInVersion":"4.17.21","filePath":"app/node_modules/lodash/package.json","sourceLayerHash":"` + layer3 + `","packageManager":"NODEPKG",
		"dependencyScope":"transitive","introducedThrough":["express@4.17.1","<b>body-parser</b>@1.19.0","lodash@4.17.15"]}]}}`)},
	SeverityCounts: map[severity.Severity]int{"CRITICAL": 1, "HIGH": 1, "UNDEFINED": 1},
	CompletedAt:    day(2),
}

var resultD = scanning.Result{
	Status: scanning.StatusComplete,
	// A fix that only Ubuntu Pro delivers (esm-infra).
	Findings: []scanning.Finding{{Name: "CVE-2024-0001", Severity: "CRITICAL", Attributes: attrs("package_name", "libssl3", "package_version", "3.0.9",
		"fixed_version", "3.0.9+esm1", "fix_channel", "esm-infra")}},
	SeverityCounts: map[severity.Severity]int{"CRITICAL": 1},
	CompletedAt:    day(4),
}

func rec(name, pkg, version string, sev severity.Severity) store.FindingRecord {
	return store.FindingRecord{Name: name, PackageName: pkg, PackageVersion: version, Severity: sev}
}

var (
	f1 = rec("CVE-2024-0001", "libssl3", "3.0.11-1~deb12u2", "CRITICAL")
	f2 = rec("CVE-2024-0002", "zlib1g", "1:1.2.13.dfsg-1", "HIGH")
	f3 = rec("CVE-2024-0003", "libssl3", "3.0.11-1~deb12u2", "MEDIUM")
	f4 = rec("CVE-2023-9999", "bash", "5.2.15-2+b2", "LOW")
	r1 = rec("CVE-2024-0100", "zlib1g", "1:1.2.13.dfsg-1", "HIGH")
)

// seed fills st with three repositories and four images:
//
//	team/app  A (day 3, tags 1.0 latest, 4 findings, inventory)
//	          B (day 2, tag 2.0, basic + enhanced findings)
//	          C (day 1, untagged, scan IN_PROGRESS)
//	team/empty
//	secret    D (day 4, tag x, 1 finding, fixed only through Ubuntu Pro)
//
// finding_history of A: r1 seen day 5 and resolved day 2; f1 f2 f4 seen
// day 3; f3 seen day 1. B's two findings seen day 2, D's day 4.
func seed(t *testing.T, st *store.SQL) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := json.Marshal(scanning.Config{ScanType: scanning.ScanBasic, Rules: []scanning.Rule{{ScanFrequency: scanning.ScanOnPush, RepositoryFilters: []scanning.Filter{{Filter: "team", FilterType: "WILDCARD"}}}}})
	must(st.PutScanningConfig(ctx, cfg))
	for _, r := range []string{"team/app", "team/empty", "secret"} {
		must(st.CreateRepository(ctx, store.Repository{Name: r, CreatedAt: day(10)}))
	}
	put := func(repo, dg string, pushed time.Time, tags ...string) {
		img := store.Image{Repository: repo, Digest: dg, MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactMediaType: "application/vnd.oci.image.config.v1+json", Size: 1234, PushedAt: pushed}
		if len(tags) == 0 {
			tags = []string{""}
		}
		for _, tag := range tags {
			_, err := st.PutImage(ctx, img, tag)
			must(err)
		}
	}
	put("team/app", imgA, day(3), "1.0", "latest")
	put("team/app", imgB, day(2), "2.0")
	put("team/app", imgC, day(1))
	put("secret", imgD, day(4), "x")

	scan := func(repo, dg string, at time.Time, res *scanning.Result, extra ...store.TxFunc) {
		must(st.StartScan(ctx, repo, dg, false, at, 0))
		if res == nil {
			return
		}
		j, err := st.ClaimJob(ctx, "test", at, time.Minute, 3)
		must(err)
		if j == nil || j.Digest != dg {
			t.Fatalf("claimed %+v, want the job of %s", j, dg)
		}
		raw, err := json.Marshal(res)
		must(err)
		must(st.CompleteJob(ctx, j, store.JobOutcome{Status: string(res.Status), Result: raw, InTx: extra}, at))
	}
	history := func(repo, dg string, at time.Time, recs ...store.FindingRecord) {
		must(st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := st.RecordFindings(ctx, tx, repo, dg, recs, at)
			return err
		}))
	}
	history("team/app", imgA, day(5), r1)
	history("team/app", imgA, day(3), r1, f1, f2, f4)
	history("team/app", imgA, day(2), f1, f2, f4)
	history("team/app", imgA, day(1), f1, f2, f3, f4)
	history("team/app", imgB, day(2), f2, rec("CVE-2024-0001", "lodash", "4.17.15", "CRITICAL"))
	history("secret", imgD, day(4), rec("CVE-2024-0001", "libssl3", "3.0.9", "CRITICAL"))

	scan("team/app", imgA, day(3), &resultA, func(ctx context.Context, tx *store.Tx) error {
		return st.PutInventory(ctx, tx, store.StoredInventory{Repository: "team/app", Digest: imgA, Data: compress(t, inventoryA), StoredAt: day(3)}, nil)
	})
	scan("team/app", imgB, day(2), &resultB)
	scan("team/app", imgC, day(1), nil)
	scan("secret", imgD, day(4), &resultD)
}

func compress(t *testing.T, inv inventory.Inventory) []byte {
	t.Helper()
	codec, err := rescan.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	b, err := codec.Encode(&inv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Users: alice may administer everything, bob may pull team/*.
func testAuth(t *testing.T) *auth.Authenticator {
	t.Helper()
	a, err := auth.New([]auth.User{
		{Name: "alice", Password: "alice-pw", Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{Name: "bob", Password: "bob-pw", Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
	}, nil, []byte("secret"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type fixture struct {
	st *store.SQL
	c  *Console
}

// stores runs fn against a seeded SQLite store and a seeded PostgreSQL one
// (skipped when PostgreSQL is unreachable).
func stores(t *testing.T, fn func(t *testing.T, fx fixture)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var st *store.SQL
			if name == "sqlite" {
				var err error
				st, err = store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "console.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
			} else {
				st = storetest.Postgres(t)
			}
			seed(t, st)
			c, err := New(Options{Store: st, Auth: testAuth(t), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, fixture{st: st, c: c})
		})
	}
}

// get requests path as user ("" = no credentials).
func (fx fixture) get(t *testing.T, user, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	rec := httptest.NewRecorder()
	fx.c.ServeHTTP(rec, req)
	return rec
}

// page requests path and parses it, failing unless the status is want.
func (fx fixture) page(t *testing.T, user, path string, want int) page {
	t.Helper()
	rec := fx.get(t, user, path)
	if rec.Code != want {
		t.Fatalf("GET %s as %q: status %d, want %d\n%s", path, user, rec.Code, want, rec.Body.String())
	}
	return parsePage(t, rec.Body)
}
