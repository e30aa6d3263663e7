package rescan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
)

// TestReportRecordsMatchIdentities: the identities a pass computes from
// matched findings are those the recorder reads back from the converted
// result, for basic and enhanced scans, including one vulnerability found
// twice in the same package version at two paths (one identity).
func TestReportRecordsMatchIdentities(t *testing.T) {
	pkg := func(name, version, path string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: pypi.Type, Path: path, PURL: "pkg:pypi/" + name + "@" + version}
	}
	findings := []match.Finding{
		{ID: "CVE-2018-18074", Package: pkg("requests", "2.19.1", "a/METADATA"), Severity: "HIGH", Sources: []string{"osv-PyPI"}},
		{ID: "CVE-2018-18074", Package: pkg("requests", "2.19.1", "b/METADATA"), Severity: "HIGH", Sources: []string{"osv-PyPI"}},
		{ID: "GHSA-xxxx-yyyy-zzzz", Package: pkg("urllib3", "1.24", "c/METADATA"), Severity: "MEDIUM"},
		{ID: "CVE-2023-0001", Package: inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, SourceName: "openssl"}, Severity: "UNDEFINED"},
	}
	inv := &inventory.Inventory{Source: inventory.Source{Digest: "sha256:abc"}}
	for _, tc := range []struct {
		name     string
		enhanced bool
	}{{"basic", false}, {"enhanced", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := report.Scan{Inventory: inv, Enhanced: tc.enhanced, Status: "COMPLETE", Findings: findings, CompletedAt: time.Unix(1e9, 0)}
			res, err := report.ScanningResult(s)
			if err != nil {
				t.Fatal(err)
			}
			got := reportRecords(findings, tc.enhanced)
			if d := cmp.Diff(records(mustIdentities(t, res)), got); d != "" {
				t.Errorf("(-identities of the result +records of the findings):\n%s", d)
			}
			if len(got) != 3 {
				t.Errorf("%d records, want 3 (the two requests findings are one identity)", len(got))
			}
		})
	}
}
