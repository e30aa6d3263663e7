package scan_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

func enhancedScan(t *testing.T, db *scan.VulnDB, image string, enhanced bool) []match.Finding {
	t.Helper()
	src, err := resolve(filepath.Join(testutil.Shared(t, "images"), image))
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Image(context.Background(), src, db, scan.Options{Enhanced: enhanced, OS: all.OS(), Language: all.Language()})
	if err != nil {
		t.Fatal(err)
	}
	return res.Findings
}

// TestEnhancedLanguageImages checks the known vulnerable language packages
// of the lang-* images, that a fixed version is not reported, and that
// packages deleted in an upper layer are not reported.
func TestEnhancedLanguageImages(t *testing.T) {
	db := realDB(t)
	type want struct {
		pkg, version, id, severity string
	}
	tests := []struct {
		image  string
		want   []want
		absent []string // "pkg@version" or "pkg@version/id" that must not appear
	}{
		{"lang-python-node.oci", []want{
			{"requests", "2.19.1", "CVE-2018-18074", ""},
			{"urllib3", "1.24.1", "", ""},
			{"Django", "2.2", "", ""},
			{"lodash", "4.17.15", "CVE-2021-23337", ""},
			{"minimist", "1.2.0", "", ""},
		}, nil},
		{"lang-java-go.tar", []want{
			{"org.apache.logging.log4j:log4j-core", "2.14.1", "CVE-2021-44228", "CRITICAL"},
			{"com.fasterxml.jackson.core:jackson-databind", "2.9.8", "", ""},
			{"github.com/gin-gonic/gin", "v1.6.0", "", ""},
			{"golang.org/x/text", "v0.3.5", "", ""},
		}, nil},
		{"multilayer-whiteout.tar", []want{
			{"requests", "2.31.0", "", ""},
		}, []string{"minimist@1.2.0", "urllib3@1.24.1", "requests@2.19.1", "lodash@4.17.15", "requests@2.31.0/CVE-2018-18074", "lodash@4.17.21/CVE-2021-23337"}},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			fs := enhancedScan(t, db, tc.image, true)
			have := map[string]match.Finding{}
			pkgs := map[string]bool{}
			for _, f := range fs {
				k := f.Package.Name + "@" + f.Package.Version
				pkgs[k] = true
				have[k+"/"+f.ID] = f
				for _, r := range f.Related {
					have[k+"/"+r] = f
				}
			}
			for _, w := range tc.want {
				k := w.pkg + "@" + w.version
				if w.id == "" {
					if !pkgs[k] {
						t.Errorf("%s: no finding", k)
					}
					continue
				}
				f, ok := have[k+"/"+w.id]
				if !ok {
					t.Errorf("%s: %s not found", k, w.id)
					continue
				}
				if w.severity != "" && string(f.Severity) != w.severity {
					t.Errorf("%s %s: severity %s (%s), want %s", k, w.id, f.Severity, f.SeveritySource, w.severity)
				}
				if f.Package.Path == "" || f.Package.Layer == "" || f.Package.PURL == "" {
					t.Errorf("%s: path %q, layer %q, purl %q: all must be set", k, f.Package.Path, f.Package.Layer, f.Package.PURL)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(a, "/") {
					if _, ok := have[a]; ok {
						t.Errorf("%s reported, but that version is fixed or the package is deleted", a)
					}
				} else if pkgs[a] {
					t.Errorf("%s reported, but an upper layer deleted it", a)
				}
			}
			// BASIC reports no language package.
			for _, f := range enhancedScan(t, db, tc.image, false) {
				if !f.Package.Type.IsOS() {
					t.Errorf("BASIC scan reported language package %s", f.Package.Name)
				}
			}
			t.Logf("%s: %d findings", tc.image, len(fs))
		})
	}
}
