package scan_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/alpine"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/feed/osv"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// zipDir is an osv.dev-style all.zip of the JSON records in dir.
func zipDir(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no records in %s: %v", dir, err)
	}
	sort.Strings(files)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// fixtureDB builds a vulnerability DB through the real feed parsers and
// vulndb from small upstream-format fixtures: an Alpine secdb fixing musl
// in 1.2.4-r3, and the OSV records of testdata/unparseable (lodash,
// jinja2, rack, Debian's zlib).
func fixtureDB(t *testing.T) *scan.VulnDB {
	t.Helper()
	dir := t.TempDir()
	recs := filepath.Join("testdata", "unparseable")
	files := map[string]string{
		"v3.19/main.json": feedtest.AlpineSecDB("v3.19", map[string][2]string{"musl": {"1.2.4-r3", "CVE-2025-26519"}}),
	}
	for _, eco := range []string{"npm", "PyPI", "RubyGems", "Debian"} {
		files[eco+"/all.zip"] = zipDir(t, filepath.Join(recs, eco))
	}
	src := &feedtest.Source{Files: files}
	ups := []feed.Updater{alpine.New("v3.19"), osv.New("npm"), osv.New("PyPI"), osv.New("RubyGems"), osv.New("Debian")}
	rep, err := vulndb.Update(context.Background(), dir, ups, func(feed.Updater) feed.Source { return src },
		vulndb.UpdateOptions{Now: func() time.Time { return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatalf("build DB: %v", err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("build DB: %v", err)
	}
	db, err := vulndb.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &scan.VulnDB{DB: db}
}

// sfinding is the part of a finding TestScanUnparseableVersions compares.
type sfinding struct {
	ID, Pkg, Version, Path, Status, Fixed, Severity, VersionError string
	Related                                                       []string
}

// TestScanUnparseableVersions scans inventories holding packages whose
// versions their schemes cannot parse beside vulnerable packages: the scan
// is COMPLETE, the vulnerable packages get their normal findings, the
// degraded ones UNKNOWN_VERSION (or the ordinary finding of a record that
// does not depend on the version), and the description names them.
func TestScanUnparseableVersions(t *testing.T) {
	db := fixtureDB(t)
	const apkDB, dpkgDB = "lib/apk/db/installed", "var/lib/dpkg/status"
	alpine := &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported}
	debian := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	semverLatest := `semver: version "latest": invalid version: invalid semantic version`
	semverGit := `semver: version "git+https://github.com/lodash/lodash.git#4.17.15": invalid version: invalid characters in version`
	apkErr := `apk: version "1.2.4_r2": invalid version: unknown suffix "_r"`
	pepErr := `pep440: version "2.10.0 beta": space or control character at byte 6: invalid version`
	gemErr := `rubygems: version "-": invalid version: invalid gem version`
	dpkgErr := `dpkg: version "1:1.2.13 dfsg-1": space or control character at byte 8: invalid version`
	tests := []struct {
		name     string
		distro   *inventory.Distro
		pkgs     []inventory.Package
		enhanced bool
		desc     string
		want     []sfinding
	}{
		{
			name: "alpine with language packages, enhanced", distro: alpine, enhanced: true,
			pkgs: []inventory.Package{
				{Name: "musl", Version: "1.2.4_r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4_r2", Path: apkDB},
				{Name: "musl-utils", Version: "1.2.4-r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4-r2", Path: apkDB},
				{Name: "lodash", Version: "latest", Type: npm.Type, Path: "app/package.json"},
				{Name: "lodash", Version: "git+https://github.com/lodash/lodash.git#4.17.15", Type: npm.Type, Path: "app/node_modules/lodash/package.json"},
				{Name: "lodash", Version: "4.17.15", Type: npm.Type, Path: "srv/node_modules/lodash/package.json"},
				{Name: "Jinja2", Version: "2.10.0 beta", Type: pypi.Type, Path: "usr/lib/python3/site-packages/Jinja2.egg-info/PKG-INFO"},
				{Name: "Jinja2", Version: "2.10", Type: pypi.Type, Path: "srv/lib/python3/site-packages/Jinja2-2.10.dist-info/METADATA"},
				{Name: "rack", Version: "-", Type: rubygems.Type, Path: "app/Gemfile.lock"},
				{Name: "rack", Version: "2.0.0", Type: rubygems.Type, Path: "srv/Gemfile.lock"},
				{Name: "left-pad", Version: "", Type: npm.Type, Path: "vendor/left-pad/package.json"},
			},
			desc: `The scan was completed successfully. 6 packages have versions that could not be compared (findings for them have status UNKNOWN_VERSION): ` +
				`Jinja2 "2.10.0 beta" (usr/lib/python3/site-packages/Jinja2.egg-info/PKG-INFO), left-pad "" (vendor/left-pad/package.json), ` +
				`lodash "git+https://github.com/lodash/lodash.git#4.17.15" (app/node_modules/lodash/package.json), lodash "latest" (app/package.json), ` +
				`musl "1.2.4_r2" (lib/apk/db/installed), and 1 more.`,
			want: []sfinding{
				{"CVE-2019-10906", "Jinja2", "2.10", "srv/lib/python3/site-packages/Jinja2-2.10.dist-info/METADATA", "FIXABLE", "2.10.1", "HIGH", "", []string{"GHSA-462w-v97r-4m45"}},
				{"CVE-2019-10906", "Jinja2", "2.10.0 beta", "usr/lib/python3/site-packages/Jinja2.egg-info/PKG-INFO", "UNKNOWN_VERSION", "2.10.1", "HIGH", pepErr, []string{"GHSA-462w-v97r-4m45"}},
				{"CVE-2020-8184", "rack", "-", "app/Gemfile.lock", "UNKNOWN_VERSION", "2.2.3", "HIGH", gemErr, []string{"GHSA-j6w9-fv6q-3q52"}},
				{"CVE-2020-8184", "rack", "2.0.0", "srv/Gemfile.lock", "FIXABLE", "2.1.4", "HIGH", "", []string{"GHSA-j6w9-fv6q-3q52"}},
				{"CVE-2021-23337", "lodash", "git+https://github.com/lodash/lodash.git#4.17.15", "app/node_modules/lodash/package.json", "UNKNOWN_VERSION", "4.17.21", "HIGH", semverGit, []string{"GHSA-35jh-r3h4-6jhm"}},
				{"CVE-2021-23337", "lodash", "latest", "app/package.json", "UNKNOWN_VERSION", "4.17.21", "HIGH", semverLatest, []string{"GHSA-35jh-r3h4-6jhm"}},
				{"CVE-2021-23337", "lodash", "4.17.15", "srv/node_modules/lodash/package.json", "FIXABLE", "4.17.21", "HIGH", "", []string{"GHSA-35jh-r3h4-6jhm"}},
				{"CVE-2025-26519", "musl", "1.2.4_r2", apkDB, "UNKNOWN_VERSION", "1.2.4-r3", "UNDEFINED", apkErr, nil},
				{"CVE-2025-26519", "musl-utils", "1.2.4-r2", apkDB, "FIXABLE", "1.2.4-r3", "UNDEFINED", "", nil},
			},
		},
		{
			name: "alpine, basic: language packages are neither matched nor degraded", distro: alpine,
			pkgs: []inventory.Package{
				{Name: "musl", Version: "1.2.4_r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4_r2", Path: apkDB},
				{Name: "musl-utils", Version: "1.2.4-r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4-r2", Path: apkDB},
				{Name: "lodash", Version: "latest", Type: npm.Type, Path: "app/package.json"},
			},
			desc: `The scan was completed successfully. 1 package has a version that could not be compared (findings for it have status UNKNOWN_VERSION): musl "1.2.4_r2" (lib/apk/db/installed).`,
			want: []sfinding{
				{"CVE-2025-26519", "musl", "1.2.4_r2", apkDB, "UNKNOWN_VERSION", "1.2.4-r3", "UNDEFINED", apkErr, nil},
				{"CVE-2025-26519", "musl-utils", "1.2.4-r2", apkDB, "FIXABLE", "1.2.4-r3", "UNDEFINED", "", nil},
			},
		},
		{
			name: "debian: a dpkg version with a space", distro: debian,
			pkgs: []inventory.Package{
				{Name: "zlib1g", Version: "1:1.2.13 dfsg-1", Type: inventory.TypeDeb, SourceName: "zlib", SourceVersion: "1:1.2.13 dfsg-1", Path: dpkgDB},
				{Name: "zlib1g-dev", Version: "1:1.2.11.dfsg-2", Type: inventory.TypeDeb, SourceName: "zlib", SourceVersion: "1:1.2.11.dfsg-2", Path: dpkgDB},
			},
			desc: `The scan was completed successfully. 1 package has a version that could not be compared (findings for it have status UNKNOWN_VERSION): zlib1g "1:1.2.13 dfsg-1" (var/lib/dpkg/status).`,
			want: []sfinding{
				{"CVE-2018-25032", "zlib1g", "1:1.2.13 dfsg-1", dpkgDB, "UNKNOWN_VERSION", "1:1.2.11.dfsg-4", "HIGH", dpkgErr, nil},
				{"CVE-2018-25032", "zlib1g-dev", "1:1.2.11.dfsg-2", dpkgDB, "FIXABLE", "1:1.2.11.dfsg-4", "HIGH", "", nil},
				// Every version, no fix: the version does not matter.
				{"CVE-2023-45853", "zlib1g", "1:1.2.13 dfsg-1", dpkgDB, "UNFIXED", "", "INFORMATIONAL", "", nil},
				{"CVE-2023-45853", "zlib1g-dev", "1:1.2.11.dfsg-2", dpkgDB, "UNFIXED", "", "INFORMATIONAL", "", nil},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &inventory.Inventory{Source: inventory.Source{Ref: "test", Digest: "sha256:abc"}, Distro: tc.distro, Packages: tc.pkgs}
			for i := range inv.Packages {
				inv.Packages[i].PURL = names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}.PURL(inv.Packages[i], tc.distro)
			}
			s, err := scan.Inventory(context.Background(), inv, db, scan.Options{Enhanced: tc.enhanced, Now: beforeEOL})
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			if s.Status != scan.StatusComplete || s.StatusDescription != tc.desc {
				t.Errorf("status %s, description\n%s\nwant COMPLETE,\n%s", s.Status, s.StatusDescription, tc.desc)
			}
			var got []sfinding
			for _, f := range s.Findings {
				got = append(got, sfinding{f.ID, f.Package.Name, f.Package.Version, f.Package.Path, string(f.Status), f.FixedVersion, string(f.Severity), f.VersionError, f.Related})
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			// Every package named in the description is a degraded one,
			// and each has a warning.
			if len(s.Warnings()) != len(s.Degraded) {
				t.Errorf("%d warnings for %d degraded packages", len(s.Warnings()), len(s.Degraded))
			}
			if e := report.ECR(*s); e.ImageScanStatus.Status != "COMPLETE" || e.ImageScanStatus.Description != tc.desc {
				t.Errorf("ECR imageScanStatus %+v", e.ImageScanStatus)
			}
			// A rescan's memo gives the same result.
			memo := match.NewPackageMemo()
			for round := range 2 {
				again, err := scan.Inventory(context.Background(), inv, db, scan.Options{Enhanced: tc.enhanced, Memo: memo, Now: beforeEOL})
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(s, again, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".CompletedAt" }, cmp.Ignore()), cmpopts.IgnoreFields(report.Scan{}, "Names")); d != "" {
					t.Errorf("round %d with memo (-without +with):\n%s", round, d)
				}
			}
		})
	}
}

func TestDegradedDescription(t *testing.T) {
	d := func(name, v, path string) match.Degraded {
		return match.Degraded{Package: inventory.Package{Name: name, Version: v, Path: path}}
	}
	var seven []match.Degraded
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		seven = append(seven, d(n, "x", ""))
	}
	tests := []struct {
		name string
		ds   []match.Degraded
		want string
	}{
		{"none", nil, ""},
		{"one", []match.Degraded{d("musl", "1.2.4_r2", "lib/apk/db/installed")},
			`1 package has a version that could not be compared (findings for it have status UNKNOWN_VERSION): musl "1.2.4_r2" (lib/apk/db/installed).`},
		{"two", []match.Degraded{d("lodash", "latest", "app/package.json"), d("musl", "1.2.4_r2", "lib/apk/db/installed")},
			`2 packages have versions that could not be compared (findings for them have status UNKNOWN_VERSION): lodash "latest" (app/package.json), musl "1.2.4_r2" (lib/apk/db/installed).`},
		{"an advisory's version", []match.Degraded{{Package: inventory.Package{Name: "busybox", Version: "1.36.1-r15", Path: "lib/apk/db/installed"}, Advisory: "CVE-2022-28391"}},
			`1 package has a version that could not be compared (findings for it have status UNKNOWN_VERSION): busybox "1.36.1-r15" (lib/apk/db/installed; advisory CVE-2022-28391).`},
		{"past the limit", seven,
			`7 packages have versions that could not be compared (findings for them have status UNKNOWN_VERSION): a "x", b "x", c "x", d "x", e "x", and 2 more.`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan.DegradedDescription(tc.ds); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// beforeEOL is a day on which the fixture's Alpine 3.19 was still
// supported, so that the descriptions compared here carry no end-of-life
// note.
func beforeEOL() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }
