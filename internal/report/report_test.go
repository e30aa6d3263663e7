package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testNames are Stowaway's descriptors, as scans hand them over.
var testNames = names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}

func fixture(enhanced bool) Scan {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	ssl := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	req := inventory.Package{Name: "requests", Version: "2.19.1", Type: pypi.Type, Path: "usr/lib/python3/site-packages/requests-2.19.1.dist-info/METADATA", Layer: "sha256:bbb", Cataloger: "python"}
	ssl.PURL, req.PURL = testNames.PURL(ssl, d), testNames.PURL(req, d)
	inv := &inventory.Inventory{
		Source:    inventory.Source{Ref: "docker-archive:app.tar", Kind: "docker-archive", Digest: "sha256:ddd", Tags: []string{"app:1"}, Architecture: "amd64", OS: "linux"},
		Distro:    d,
		Packages:  []inventory.Package{ssl, req},
		CreatedAt: t0,
	}
	v3 := advisory.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8, Source: "nvd"}
	v2 := advisory.CVSS{Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5, Source: "nvd"}
	fs := []match.Finding{
		{ID: "CVE-2024-0727", Related: []string{"DSA-5620-1"}, Package: ssl, Namespace: "debian:12", Status: match.StatusFixable, FixedVersion: "3.0.13-1~deb12u1",
			Severity: "MEDIUM", SeveritySource: "vendor:osv-Debian", VendorSeverity: "MEDIUM", CVSS3: &v3, Description: "PKCS12 NULL dereference", URI: "https://security-tracker.debian.org/tracker/CVE-2024-0727", Sources: []string{"osv-Debian"}, Published: t0.Add(-1000 * time.Hour)},
		{ID: "CVE-2023-9999", Package: ssl, Namespace: "debian:12", Status: match.StatusUnfixed, Severity: "LOW", SeveritySource: "cvss2:nvd", CVSS2: &v2, Sources: []string{"osv-Debian"}, URI: "https://security-tracker.debian.org/tracker/CVE-2023-9999"},
	}
	if enhanced {
		fs = append(fs, match.Finding{ID: "CVE-2018-18074", Related: []string{"GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"}, Package: req, Namespace: "osv:PyPI", Status: match.StatusFixable, FixedVersion: "2.20.0",
			Severity: "CRITICAL", SeveritySource: "cvss3:nvd", CVSS3: &v3, Sources: []string{"osv-PyPI"}, URI: "https://nvd.nist.gov/vuln/detail/CVE-2018-18074", References: []string{"https://github.com/psf/requests/pull/4718"}})
		match.SortFindings(fs)
	}
	return Scan{Inventory: inv, Findings: fs, Enhanced: enhanced, Status: "COMPLETE", StatusDescription: "The scan was completed successfully.", CompletedAt: t0, DBUpdatedAt: t0.Add(-24 * time.Hour), Repository: "app", Names: testNames}
}

// degradedFixture is fixture with packages whose versions could not be
// compared and their UNKNOWN_VERSION findings: one with a fix, one without.
func degradedFixture(enhanced bool) Scan {
	s := fixture(enhanced)
	d := s.Inventory.Distro
	zlib := inventory.Package{Name: "zlib1g", Version: "1:1.2.13 dfsg-1", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "zlib", SourceVersion: "1:1.2.13 dfsg-1", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	zlib.PURL = testNames.PURL(zlib, d)
	zerr := `dpkg: version "1:1.2.13 dfsg-1": space or control character at byte 8: invalid version`
	inv := *s.Inventory
	inv.Packages = append(append([]inventory.Package(nil), inv.Packages...), zlib)
	s.Degraded = []match.Degraded{{Package: zlib, Namespace: "debian:12", Reason: zerr}}
	s.Findings = append(s.Findings,
		match.Finding{ID: "CVE-2023-45853", Package: zlib, Namespace: "debian:12", Status: match.StatusUnknownVersion, FixedVersion: "1:1.3.dfsg-1",
			Severity: "CRITICAL", SeveritySource: "cvss3:nvd", Sources: []string{"osv-Debian"}, URI: "https://security-tracker.debian.org/tracker/CVE-2023-45853", VersionError: zerr},
		match.Finding{ID: "CVE-2018-25032", Package: zlib, Namespace: "debian:12", Status: match.StatusUnknownVersion,
			Severity: "HIGH", SeveritySource: "vendor:osv-Debian", VendorSeverity: "HIGH", Sources: []string{"osv-Debian"}, URI: "https://security-tracker.debian.org/tracker/CVE-2018-25032", VersionError: zerr})
	if enhanced {
		lodash := inventory.Package{Name: "lodash", Version: "latest", Type: npm.Type, Path: "app/package.json", Layer: "sha256:bbb", Cataloger: "javascript"}
		lodash.PURL = testNames.PURL(lodash, d)
		lerr := `semver: version "latest": invalid version: invalid semantic version`
		inv.Packages = append(inv.Packages, lodash)
		s.Degraded = append([]match.Degraded{{Package: lodash, Namespace: "osv:npm", Reason: lerr}}, s.Degraded...)
		s.Findings = append(s.Findings, match.Finding{ID: "CVE-2021-23337", Related: []string{"GHSA-35jh-r3h4-6jhm"}, Package: lodash, Namespace: "osv:npm", Status: match.StatusUnknownVersion, FixedVersion: "4.17.21",
			Severity: "HIGH", SeveritySource: "vendor:osv-npm", VendorSeverity: "HIGH", Sources: []string{"osv-npm"}, URI: "https://nvd.nist.gov/vuln/detail/CVE-2021-23337", VersionError: lerr})
	}
	match.SortFindings(s.Findings)
	s.Inventory = &inv
	s.StatusDescription = "The scan was completed successfully. 2 packages have versions that could not be compared (findings for them have status UNKNOWN_VERSION): lodash \"latest\" (app/package.json), zlib1g \"1:1.2.13 dfsg-1\" (var/lib/dpkg/status)."
	return s
}

// proFixture is an Ubuntu 16.04 scan whose fixes come from the standard
// archive, from Ubuntu Pro esm-infra and from esm-apps, as the UCT
// pockets xenial, esm-infra/xenial and esm-apps/xenial give them.
func proFixture(enhanced bool) Scan {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := &inventory.Distro{ID: "ubuntu", VersionID: "16.04", Release: "16.04", Status: inventory.OSSupported}
	libc := inventory.Package{Name: "libc-bin", Version: "2.23-0ubuntu11.2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "glibc", SourceVersion: "2.23-0ubuntu11.2", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	vim := inventory.Package{Name: "vim-tiny", Version: "2:7.4.1689-3ubuntu1.5", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "vim", SourceVersion: "2:7.4.1689-3ubuntu1.5", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	libc.PURL, vim.PURL = testNames.PURL(libc, d), testNames.PURL(vim, d)
	inv := &inventory.Inventory{
		Source:   inventory.Source{Ref: "docker-archive:ubuntu-16.04.tar", Kind: "docker-archive", Digest: "sha256:eee", Architecture: "amd64", OS: "linux"},
		Distro:   d,
		Packages: []inventory.Package{libc, vim}, CreatedAt: t0,
	}
	src := []string{"ubuntu-uct"}
	fs := []match.Finding{
		{ID: "CVE-2016-10228", Package: libc, Namespace: "ubuntu:16.04", Status: match.StatusFixable, FixedVersion: "2.23-0ubuntu11.3+esm3", FixChannel: advisory.ChannelESMInfra,
			Severity: "LOW", SeveritySource: "vendor:ubuntu-uct", VendorSeverity: "LOW", Sources: src, URI: "https://ubuntu.com/security/CVE-2016-10228"},
		{ID: "CVE-2021-3326", Package: libc, Namespace: "ubuntu:16.04", Status: match.StatusFixable, FixedVersion: "2.23-0ubuntu11.3", Severity: "LOW", SeveritySource: "vendor:ubuntu-uct", VendorSeverity: "LOW", Sources: src, URI: "https://ubuntu.com/security/CVE-2021-3326"},
		{ID: "CVE-2022-0128", Package: vim, Namespace: "ubuntu:16.04", Status: match.StatusFixable, FixedVersion: "2:7.4.1689-3ubuntu1.5+esm6", FixChannel: advisory.ChannelESMApps,
			Severity: "MEDIUM", SeveritySource: "vendor:ubuntu-uct", VendorSeverity: "MEDIUM", Sources: src, URI: "https://ubuntu.com/security/CVE-2022-0128"},
		{ID: "CVE-2017-12424", Package: vim, Namespace: "ubuntu:16.04", Status: match.StatusUnfixed, Severity: "LOW", SeveritySource: "vendor:ubuntu-uct", VendorSeverity: "LOW", Sources: src, URI: "https://ubuntu.com/security/CVE-2017-12424"},
	}
	match.SortFindings(fs)
	return Scan{Inventory: inv, Findings: fs, Enhanced: enhanced, Status: "COMPLETE", StatusDescription: "The scan was completed successfully.", CompletedAt: t0, DBUpdatedAt: t0.Add(-24 * time.Hour), Repository: "ubuntu", Names: testNames}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", name, d)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		enhanced bool
		degraded bool
		write    func(*bytes.Buffer, Scan) error
	}{
		{"basic.ecr.json", false, false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"enhanced.ecr.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"enhanced.table.txt", true, false, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"enhanced.sarif.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteSARIF(b, s, "test") }},
		{"enhanced.cdx.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteCycloneDX(b, s) }},
		{"degraded-basic.ecr.json", false, true, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"degraded-basic.table.txt", false, true, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"degraded-enhanced.ecr.json", true, true, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"degraded-enhanced.table.txt", true, true, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"degraded-enhanced.sarif.json", true, true, func(b *bytes.Buffer, s Scan) error { return WriteSARIF(b, s, "test") }},
		{"degraded-enhanced.cdx.json", true, true, func(b *bytes.Buffer, s Scan) error { return WriteCycloneDX(b, s) }},
		{"pro-basic.ecr.json", false, false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"pro-basic.table.txt", false, false, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"pro-enhanced.ecr.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"pro-enhanced.sarif.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteSARIF(b, s, "test") }},
		{"pro-enhanced.cdx.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteCycloneDX(b, s) }},
		{"exploit-basic.ecr.json", false, false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"exploit-basic.table.txt", false, false, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"exploit-enhanced.ecr.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"exploit-enhanced.table.txt", true, false, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"exploit-enhanced.sarif.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteSARIF(b, s, "test") }},
		{"exploit-enhanced.cdx.json", true, false, func(b *bytes.Buffer, s Scan) error { return WriteCycloneDX(b, s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fixture(tc.enhanced)
			switch {
			case tc.degraded:
				s = degradedFixture(tc.enhanced)
			case strings.HasPrefix(tc.name, "pro-"):
				s = proFixture(tc.enhanced)
			case strings.HasPrefix(tc.name, "exploit-"):
				s = exploitFixture(tc.enhanced)
			}
			var b bytes.Buffer
			if err := tc.write(&b, s); err != nil {
				t.Fatal(err)
			}
			if json.Valid(b.Bytes()) != (filepath.Ext(tc.name) == ".json") {
				t.Errorf("JSON validity of %s is wrong", tc.name)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestECRShape checks the DescribeImageScanFindings shape that clients read.
func TestECRShape(t *testing.T) {
	r := ECR(fixture(false))
	if d := cmp.Diff(map[severity.Severity]int{"MEDIUM": 1, "LOW": 1}, r.ImageScanFindings.FindingSeverityCounts); d != "" {
		t.Errorf("counts: %s", d)
	}
	f := r.ImageScanFindings.Findings[0]
	attrs := map[string]string{}
	for _, a := range f.Attributes {
		attrs[a.Key] = a.Value
	}
	for k, want := range map[string]string{"package_name": "libssl3", "package_version": "3.0.11-1~deb12u2", "CVSS3_SCORE": "9.8", "fixed_version": "3.0.13-1~deb12u1", "severity_source": "vendor:osv-Debian"} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	e := ECR(fixture(true))
	if len(e.ImageScanFindings.Findings) != 0 || len(e.ImageScanFindings.EnhancedFindings) != 3 {
		t.Fatalf("enhanced: %d findings, %d enhanced", len(e.ImageScanFindings.Findings), len(e.ImageScanFindings.EnhancedFindings))
	}
	vp := e.ImageScanFindings.EnhancedFindings[0].PackageVulnerabilityDetails.VulnerablePackages[0]
	if vp.Name != "requests" || vp.FixedInVersion != "2.20.0" || vp.PackageManager != "PYTHONPKG" || vp.FilePath == "" {
		t.Errorf("vulnerable package: %+v", vp)
	}
}

// TestUnknownVersionRendering pins what each format says about an
// UNKNOWN_VERSION finding, beyond the golden files.
func TestUnknownVersionRendering(t *testing.T) {
	s := degradedFixture(false)
	zerr := s.Degraded[0].Reason
	var basic *ECRFinding
	r := ECR(s)
	for i, f := range r.ImageScanFindings.Findings {
		if f.Name == "CVE-2023-45853" {
			basic = &r.ImageScanFindings.Findings[i]
		}
	}
	if basic == nil {
		t.Fatal("no basic finding for CVE-2023-45853")
	}
	attrs := map[string]string{}
	for _, a := range basic.Attributes {
		attrs[a.Key] = a.Value
	}
	if d := cmp.Diff(map[string]string{"status": "UNKNOWN_VERSION", "version_unparseable": zerr, "fixed_version": "1:1.3.dfsg-1", "package_version": "1:1.2.13 dfsg-1"},
		map[string]string{"status": attrs["status"], "version_unparseable": attrs["version_unparseable"], "fixed_version": attrs["fixed_version"], "package_version": attrs["package_version"]}); d != "" {
		t.Errorf("basic attributes (-want +got):\n%s", d)
	}
	if _, ok := attrs["version_unparseable"]; !ok || len(basic.Attributes) > 50 {
		t.Errorf("attributes: %v", basic.Attributes)
	}
	if d := cmp.Diff(map[severity.Severity]int{"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1}, r.ImageScanFindings.FindingSeverityCounts); d != "" {
		t.Errorf("UNKNOWN_VERSION findings count by severity as any other (-want +got):\n%s", d)
	}
	e := ECR(degradedFixture(true))
	var lodash *ECREnhancedFinding
	for i, f := range e.ImageScanFindings.EnhancedFindings {
		if f.PackageVulnerabilityDetails.VulnerabilityID == "CVE-2021-23337" {
			lodash = &e.ImageScanFindings.EnhancedFindings[i]
		}
	}
	if lodash == nil {
		t.Fatal("no enhanced finding for lodash")
	}
	want := `Versions could not be compared (semver: version "latest": invalid version: invalid semantic version). Make sure lodash is at 4.17.21 or later.`
	if lodash.Remediation.Recommendation.Text != want || lodash.FixAvailable != "YES" || lodash.Status != "ACTIVE" {
		t.Errorf("enhanced: remediation %q, fixAvailable %s, status %s", lodash.Remediation.Recommendation.Text, lodash.FixAvailable, lodash.Status)
	}
	var sb bytes.Buffer
	if err := WriteSARIF(&sb, degradedFixture(true), "test"); err != nil {
		t.Fatal(err)
	}
	var sl sarifLog
	if err := json.Unmarshal(sb.Bytes(), &sl); err != nil {
		t.Fatal(err)
	}
	levels := map[string]string{}
	for _, res := range sl.Runs[0].Results {
		if res.Properties["status"] == "UNKNOWN_VERSION" {
			levels[res.RuleID] = res.Level
		}
	}
	if d := cmp.Diff(map[string]string{"CVE-2023-45853": "error", "CVE-2018-25032": "error", "CVE-2021-23337": "error"}, levels); d != "" {
		t.Errorf("SARIF levels of UNKNOWN_VERSION results follow severity (-want +got):\n%s", d)
	}
}

// TestWarnings: the inventory's warnings, then one per degraded package.
func TestWarnings(t *testing.T) {
	s := degradedFixture(true)
	s.Inventory.Warnings = []string{"dpkg: var/lib/dpkg/status: record 3: bad field; record skipped"}
	want := []string{
		"dpkg: var/lib/dpkg/status: record 3: bad field; record skipped",
		`npm package lodash "latest" (app/package.json): version cannot be compared: semver: version "latest": invalid version: invalid semantic version; findings for it that depend on the version have status UNKNOWN_VERSION`,
		`deb package zlib1g "1:1.2.13 dfsg-1" (var/lib/dpkg/status): version cannot be compared: dpkg: version "1:1.2.13 dfsg-1": space or control character at byte 8: invalid version; findings for it that depend on the version have status UNKNOWN_VERSION`,
	}
	if d := cmp.Diff(want, s.Warnings()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := (Scan{}).Warnings(); got != nil {
		t.Errorf("no inventory: %q", got)
	}
}

// TestCycloneDXSchema validates the vulnerability report against the
// CycloneDX 1.6 schema kept with the sbom package's tests.
func TestCycloneDXSchema(t *testing.T) {
	dir := filepath.Join("..", "sbom", "testdata", "schema")
	c := jsonschema.NewCompiler()
	c.UseLoader(noNetwork{})
	for u, file := range map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(u, doc); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	// A dependency graph: the project depends on requests; requests on a
	// package its file does not hold (pruned).
	graph := fixture(true)
	req := graph.Inventory.Packages[1]
	graph.Inventory.Relationships = []inventory.Relationship{
		{Path: req.Path, To: inventory.RefOf(req)},
		{Path: req.Path, From: inventory.RefOf(req), To: inventory.PackageRef{Name: "libssl3", Version: "3.0.11-1~deb12u2"}},
	}
	for name, s := range map[string]Scan{"enhanced": fixture(true), "degraded": degradedFixture(true), "pro": proFixture(true), "exploit": exploitFixture(true), "graph": graph} {
		var b bytes.Buffer
		if err := WriteCycloneDX(&b, s); err != nil {
			t.Fatal(err)
		}
		if name == "graph" && !strings.Contains(b.String(), `"dependsOn"`) {
			t.Errorf("graph: no dependencies in\n%s", b.String())
		}
		inst, err := jsonschema.UnmarshalJSON(&b)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: CycloneDX with vulnerabilities does not validate: %v", name, err)
		}
	}
}

type noNetwork struct{}

func (noNetwork) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not kept locally and tests use no network", u)
}

// TestFixChannelRendering pins the Ubuntu Pro marker in each format, and
// that standard and missing fixes carry none.
func TestFixChannelRendering(t *testing.T) {
	attrs := map[string]map[string]string{}
	for _, f := range ECR(proFixture(false)).ImageScanFindings.Findings {
		m := map[string]string{}
		for _, a := range f.Attributes {
			m[a.Key] = a.Value
		}
		attrs[f.Name] = m
	}
	channel := map[string]string{}
	for id, m := range attrs {
		if v, ok := m["fix_channel"]; ok {
			channel[id] = v
		}
	}
	if d := cmp.Diff(map[string]string{"CVE-2016-10228": "esm-infra", "CVE-2022-0128": "esm-apps"}, channel); d != "" {
		t.Errorf("ECR fix_channel attributes (-want +got):\n%s", d)
	}

	enh := map[string]string{}
	texts := map[string]string{}
	for _, e := range ECR(proFixture(true)).ImageScanFindings.EnhancedFindings {
		enh[e.PackageVulnerabilityDetails.VulnerabilityID] = e.PackageVulnerabilityDetails.VulnerablePackages[0].FixChannel
		texts[e.PackageVulnerabilityDetails.VulnerabilityID] = e.Remediation.Recommendation.Text
	}
	if d := cmp.Diff(map[string]string{"CVE-2016-10228": "esm-infra", "CVE-2022-0128": "esm-apps", "CVE-2021-3326": "", "CVE-2017-12424": ""}, enh); d != "" {
		t.Errorf("enhanced fixChannel (-want +got):\n%s", d)
	}
	if want := "Upgrade libc-bin to 2.23-0ubuntu11.3+esm3 or later. " + FixChannelNote(testNames, advisory.ChannelESMInfra); texts["CVE-2016-10228"] != want {
		t.Errorf("remediation = %q, want %q", texts["CVE-2016-10228"], want)
	}
	if texts["CVE-2021-3326"] != "Upgrade libc-bin to 2.23-0ubuntu11.3 or later." {
		t.Errorf("standard remediation = %q", texts["CVE-2021-3326"])
	}

	var tb bytes.Buffer
	if err := WriteTable(&tb, proFixture(false)); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(tb.String(), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "CVE-") {
			lines[f[1]] = strings.Join(f[4:], " ")
		}
	}
	if d := cmp.Diff(map[string]string{
		"CVE-2016-10228": "2.23-0ubuntu11.3+esm3 (esm-infra) FIXABLE",
		"CVE-2021-3326":  "2.23-0ubuntu11.3 FIXABLE",
		"CVE-2022-0128":  "2:7.4.1689-3ubuntu1.5+esm6 (esm-apps) FIXABLE",
		"CVE-2017-12424": "- UNFIXED",
	}, lines); d != "" {
		t.Errorf("table FIXED IN and STATUS (-want +got):\n%s", d)
	}
	if !strings.Contains(tb.String(), "  pro-only: esm-infra 1, esm-apps 1: ") {
		t.Errorf("table summary has no pro-only line:\n%s", tb.String())
	}
	tb.Reset()
	if err := WriteTable(&tb, fixture(false)); err != nil || strings.Contains(tb.String(), "pro-only") || strings.Contains(tb.String(), "(esm") {
		t.Errorf("a scan without Pro fixes is marked (err %v):\n%s", err, tb.String())
	}

	var sb bytes.Buffer
	if err := WriteSARIF(&sb, proFixture(true), "test"); err != nil {
		t.Fatal(err)
	}
	var sl sarifLog
	if err := json.Unmarshal(sb.Bytes(), &sl); err != nil {
		t.Fatal(err)
	}
	props := map[string]any{}
	for _, r := range sl.Runs[0].Results {
		if v, ok := r.Properties["fixChannel"]; ok {
			props[r.RuleID] = v
		}
	}
	if d := cmp.Diff(map[string]any{"CVE-2016-10228": "esm-infra", "CVE-2022-0128": "esm-apps"}, props); d != "" {
		t.Errorf("SARIF fixChannel (-want +got):\n%s", d)
	}
}
