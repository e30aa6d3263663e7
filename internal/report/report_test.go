package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixture(enhanced bool) Scan {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	ssl := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	req := inventory.Package{Name: "requests", Version: "2.19.1", Type: inventory.TypePyPI, Path: "usr/lib/python3/site-packages/requests-2.19.1.dist-info/METADATA", Layer: "sha256:bbb", Cataloger: "python"}
	ssl.PURL, req.PURL = inventory.PURL(ssl, d), inventory.PURL(req, d)
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
	return Scan{Inventory: inv, Findings: fs, Enhanced: enhanced, Status: "COMPLETE", StatusDescription: "The scan was completed successfully.", CompletedAt: t0, DBUpdatedAt: t0.Add(-24 * time.Hour), Repository: "app"}
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
		write    func(*bytes.Buffer, Scan) error
	}{
		{"basic.ecr.json", false, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"enhanced.ecr.json", true, func(b *bytes.Buffer, s Scan) error { return WriteJSON(b, s) }},
		{"enhanced.table.txt", true, func(b *bytes.Buffer, s Scan) error { return WriteTable(b, s) }},
		{"enhanced.sarif.json", true, func(b *bytes.Buffer, s Scan) error { return WriteSARIF(b, s, "test") }},
		{"enhanced.cdx.json", true, func(b *bytes.Buffer, s Scan) error { return WriteCycloneDX(b, s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b, fixture(tc.enhanced)); err != nil {
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
	if d := cmp.Diff(map[string]int{"MEDIUM": 1, "LOW": 1}, r.ImageScanFindings.FindingSeverityCounts); d != "" {
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
	var b bytes.Buffer
	if err := WriteCycloneDX(&b, fixture(true)); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("CycloneDX with vulnerabilities does not validate: %v", err)
	}
}

type noNetwork struct{}

func (noNetwork) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not kept locally and tests use no network", u)
}
