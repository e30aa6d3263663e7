package version_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// TestEdgeCases orders each scheme's cases of testdata/edge-cases.txt and
// checks that every scheme rejects the inputs every scheme rejects.
func TestEdgeCases(t *testing.T) {
	cases := versiontest.ReadEdgeCases(t, "testdata/edge-cases.txt")
	known := map[string]bool{}
	for _, s := range schemes {
		known[s.name] = true
		t.Run(s.name, func(t *testing.T) {
			versiontest.CheckEdgeCases(t, s.c, versiontest.Of(cases, s.name))
			versiontest.CheckCommonInvalid(t, s.c, s.name)
		})
	}
	for _, c := range cases {
		if !known[c.Scheme] {
			t.Errorf("testdata/edge-cases.txt: a case for %q, which is not one of this package's schemes", c.Scheme)
		}
	}
}
