package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// inspectorFixture is the enhanced fixture with what Inspector groups and
// names: a second binary package of openssl with the same vulnerability
// but no fix (PARTIAL), an unscored finding (UNTRIAGED), an image author,
// a push time and an account and region of its own.
func inspectorFixture() Scan {
	s := fixture(true)
	inv := *s.Inventory
	inv.Source.Author = "Jane Doe <jane@example.com>"
	d := inv.Distro
	dev := inventory.Package{Name: "openssl", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	lock := inventory.Package{Name: "urllib3", Version: "1.26.0", Type: "pypi", Path: "app/Pipfile.lock", Layer: "sha256:bbb", Cataloger: "python"}
	dev.PURL, lock.PURL = testNames.PURL(dev, d), testNames.PURL(lock, d)
	inv.Packages = append(append([]inventory.Package(nil), inv.Packages...), dev, lock)
	s.Inventory = &inv
	s.Findings = append(append([]match.Finding(nil), s.Findings...),
		match.Finding{ID: "CVE-2024-0727", Package: dev, Namespace: "debian:12", Status: match.StatusUnfixed, Severity: "HIGH", SeveritySource: "vendor:osv-Debian", Sources: []string{"osv-Debian"}},
		match.Finding{ID: "GHSA-aaaa-bbbb-cccc", Package: lock, Namespace: "osv:PyPI", Status: match.StatusUnfixed, Severity: severity.Undefined, SeveritySource: "none", Sources: []string{"osv-PyPI"}})
	match.SortFindings(s.Findings)
	s.RegistryID, s.Region = "123456789012", "eu-west-1"
	s.PushedAt = time.Date(2026, 11, 22, 9, 30, 0, 500e6, time.UTC)
	return s
}

func TestInspectorGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, inspectorFixture()); err != nil {
		t.Fatal(err)
	}
	golden(t, "inspector-enhanced.ecr.json", b.Bytes())
}

// TestInspectorFields pins the fields Inspector routes findings by.
func TestInspectorFields(t *testing.T) {
	r := ECR(inspectorFixture())
	type row struct {
		Title, FixAvailable string
		Severity            severity.Severity
		Managers            []string
		Remediation         string
	}
	var got []row
	arn := regexp.MustCompile(`^arn:aws:inspector2:eu-west-1:123456789012:finding/[a-f0-9]{32}$`)
	for _, e := range r.ImageScanFindings.EnhancedFindings {
		rw := row{Title: e.Title, FixAvailable: e.FixAvailable, Severity: e.Severity, Remediation: e.Remediation.Recommendation.Text}
		for _, p := range e.PackageVulnerabilityDetails.VulnerablePackages {
			rw.Managers = append(rw.Managers, p.PackageManager)
		}
		got = append(got, rw)
		if !arn.MatchString(e.FindingArn) || e.AWSAccountID != "123456789012" {
			t.Errorf("%s: findingArn %q, awsAccountId %q", e.Title, e.FindingArn, e.AWSAccountID)
		}
		res := e.Resources[0]
		img := res.Details.AWSECRContainerImage
		want := "arn:aws:ecr:eu-west-1:123456789012:repository/app/sha256:ddd"
		if res.ID != want || img.Registry != "123456789012" || img.RepositoryName != "app" || img.Author != "Jane Doe <jane@example.com>" ||
			img.PushedAt == nil || img.PushedAt.Time().UnixMilli() != 1795339800500 || img.ImageHash != "sha256:ddd" || img.Architecture != "amd64" {
			t.Errorf("%s: resource %+v", e.Title, res)
		}
	}
	want := []row{
		{"CVE-2018-18074 - requests", "YES", "CRITICAL", []string{"PYTHONPKG"}, "Upgrade requests to 2.20.0 or later."},
		{"CVE-2024-0727 - openssl, libssl3", "PARTIAL", "HIGH", []string{"OS", "OS"}, "Upgrade libssl3 to 3.0.13-1~deb12u1 or later."},
		{"CVE-2023-9999 - libssl3", "NO", "LOW", []string{"OS"}, "None provided"},
		{"GHSA-aaaa-bbbb-cccc - urllib3", "NO", "UNTRIAGED", []string{"PIPENV"}, "None provided"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("enhanced findings (-want +got):\n%s", d)
	}
	wantCounts := map[severity.Severity]int{"CRITICAL": 1, "HIGH": 1, "LOW": 1, "UNTRIAGED": 1}
	if d := cmp.Diff(wantCounts, r.ImageScanFindings.FindingSeverityCounts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	// A rescan of the same image names every finding the same.
	again := ECR(inspectorFixture())
	for i, e := range again.ImageScanFindings.EnhancedFindings {
		if e.FindingArn != r.ImageScanFindings.EnhancedFindings[i].FindingArn {
			t.Errorf("%s: findingArn changed between scans", e.Title)
		}
	}
	// Basic findings keep their levels and attributes: UNDEFINED stays.
	s := inspectorFixture()
	s.Enhanced = false
	b := ECR(s)
	if b.ImageScanFindings.FindingSeverityCounts["UNDEFINED"] != 1 || len(b.ImageScanFindings.EnhancedFindings) != 0 {
		t.Errorf("basic counts %v", b.ImageScanFindings.FindingSeverityCounts)
	}
}

// TestRouteStored checks that a finding stored without its registry
// (a server scan: no Repository) and routed when served
// (scanning.RouteEnhanced) is the finding a scan that knew its repository
// built.
func TestRouteStored(t *testing.T) {
	s := inspectorFixture()
	routed := ECR(s)
	s.Repository = ""
	stored, err := ScanningResult(s)
	if err != nil {
		t.Fatal(err)
	}
	im := scanning.ECRImage{Account: "123456789012", Region: "eu-west-1", Repository: "app", Digest: "sha256:ddd", Tags: []string{"app:1"}, PushedAt: s.PushedAt}
	if len(stored.EnhancedFindings) != len(routed.ImageScanFindings.EnhancedFindings) {
		t.Fatalf("%d stored findings, %d routed", len(stored.EnhancedFindings), len(routed.ImageScanFindings.EnhancedFindings))
	}
	for i, raw := range stored.EnhancedFindings {
		var unrouted ECREnhancedFinding
		if err := json.Unmarshal(raw, &unrouted); err != nil {
			t.Fatal(err)
		}
		if unrouted.FindingArn != "" || unrouted.AWSAccountID != "" || unrouted.Resources[0].Details.AWSECRContainerImage.Registry != "" {
			t.Errorf("stored finding %d is routed: %s", i, raw)
		}
		out, err := scanning.RouteEnhanced(raw, im)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(routed.ImageScanFindings.EnhancedFindings[i])
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(out, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(w, g); d != "" {
			t.Errorf("finding %d routed when served (-scan +served):\n%s", i, d)
		}
	}
}

func TestSplitRef(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag string }{
		{"registry:localhost:5000/team/app:1@sha256:abc", "team/app", "1"},
		{"registry.example.com/team/app:latest", "team/app", "latest"},
		{"alpine:3.19", "alpine", "3.19"},
		{"app:1", "app", "1"},
		{"docker-archive:ubuntu-16.04.tar", "ubuntu-16.04", ""},
		{"oci-layout:/tmp/Img", "tmp/img", ""},
	} {
		repo, tag := splitRef(tc.in)
		if repo != tc.repo || tag != tc.tag {
			t.Errorf("splitRef(%q) = %q, %q; want %q, %q", tc.in, repo, tag, tc.repo, tc.tag)
		}
	}
}
