package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// TestDependencyFields: a language finding's dependency context is in the
// enhanced finding's vulnerable package (Stowaway's dependencyScope and
// introducedThrough) and in the table's PATH column.
func TestDependencyFields(t *testing.T) {
	s := fixture(true)
	var lang string
	for i := range s.Findings {
		if f := &s.Findings[i]; !f.Package.Type.IsOS() {
			f.Dependency = &inventory.Dependency{Scope: inventory.ScopeTransitive, IntroducedThrough: []string{"app@1.0.0", "mid@2.0.0", f.Package.Name + "@" + f.Package.Version}, Path: f.Package.Path}
			lang = f.ID
		}
	}
	if lang == "" {
		t.Fatal("fixture has no language finding")
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ImageScanFindings struct {
			EnhancedFindings []ECREnhancedFinding `json:"enhancedFindings"`
		} `json:"imageScanFindings"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, e := range doc.ImageScanFindings.EnhancedFindings {
		for _, vp := range e.PackageVulnerabilityDetails.VulnerablePackages {
			if e.PackageVulnerabilityDetails.VulnerabilityID != lang {
				if vp.DependencyScope != "" || vp.IntroducedThrough != nil {
					t.Errorf("%s %s: dependency fields on a package without context: %+v", e.PackageVulnerabilityDetails.VulnerabilityID, vp.Name, vp)
				}
				continue
			}
			want := []string{"app@1.0.0", "mid@2.0.0", vp.Name + "@" + vp.Version}
			if vp.DependencyScope != "transitive" || !cmp.Equal(vp.IntroducedThrough, want) {
				t.Errorf("%s: scope %q, introducedThrough %q; want transitive %q", vp.Name, vp.DependencyScope, vp.IntroducedThrough, want)
			}
		}
	}
	b.Reset()
	if err := WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(via app@1.0.0 > mid@2.0.0)") {
		t.Errorf("table names no path:\n%s", b.String())
	}
	for _, tt := range []struct {
		d    *inventory.Dependency
		want string
	}{
		{nil, ""},
		{&inventory.Dependency{Scope: inventory.ScopeDirect, IntroducedThrough: []string{"a@1"}}, " (direct)"},
		{&inventory.Dependency{Scope: inventory.ScopeTransitive}, " (transitive)"},
		{&inventory.Dependency{Scope: inventory.ScopeTransitive, IntroducedThrough: []string{"a@1", "\x1b[31mb@2", "c@3"}}, " (via a@1 > ?[31mb@2)"}, // a control byte cannot reach the terminal
	} {
		if got := dependencyNote(tt.d); got != tt.want {
			t.Errorf("dependencyNote(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
