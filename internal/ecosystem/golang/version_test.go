package golang_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/version"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// scheme is the name the comparator's errors give.
const scheme = "go"

// TestEdgeCases orders testdata/edge-cases.txt and checks that the
// comparator rejects the inputs every scheme rejects.
func TestEdgeCases(t *testing.T) {
	cases := versiontest.ReadEdgeCases(t, "testdata/edge-cases.txt")
	versiontest.CheckEdgeCases(t, golang.Comparator{}, versiontest.Of(cases, scheme))
	if len(versiontest.Of(cases, scheme)) != len(cases) {
		t.Errorf("testdata/edge-cases.txt has cases of other schemes than %s", scheme)
	}
	versiontest.CheckCommonInvalid(t, golang.Comparator{}, scheme)
}

// TestVectors runs every applicable line of the shared test vectors: lines
// in allowList must disagree, every other line must agree.
func TestVectors(t *testing.T) {
	versiontest.CheckVectors(t, golang.Comparator{}, []string{"semver-versions.txt"}, allowList)
}

func FuzzGo(f *testing.F) {
	seeds := versiontest.Of(versiontest.ReadEdgeCases(f, "testdata/edge-cases.txt"), scheme)
	versiontest.FuzzOrder(f, golang.Comparator{}, seeds)
}

// BenchmarkCompareLongest compares two MaxLen-byte versions that differ in
// their last byte, per shape.
func BenchmarkCompareLongest(b *testing.B) {
	versiontest.BenchmarkLongest(b, golang.Comparator{})
}

func TestBuildInfoVersion(t *testing.T) {
	c := golang.Comparator{}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"go1.22.0 X:boringcrypto", "1.22.0", 0},
		{"go1.22.0 X:boringcrypto", "1.22.1", -1},
	} {
		got, err := c.Compare(tc.a, tc.b)
		if err != nil {
			t.Fatalf("Compare(%q, %q): %v", tc.a, tc.b, err)
		}
		if got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestStdlibAffected: OSV's Go ranges ("1.21.5", "1.21.0-0") against
// toolchain versions as build info records them.
func TestStdlibAffected(t *testing.T) {
	type result struct {
		Affected bool
		FixedIn  string
	}
	ev := func(intro, fixed string) []advisory.Range {
		return []advisory.Range{{Events: []advisory.Event{{Introduced: intro}, {Fixed: fixed}}}}
	}
	for _, tc := range []struct {
		name   string
		ranges []advisory.Range
		v      string
		want   result
	}{
		{"go stdlib", ev("0", "1.21.5"), "go1.21.4", result{true, "1.21.5"}},
		{"go stdlib fixed", ev("1.21.0-0", "1.21.5"), "go1.21.5", result{false, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, fix, err := version.Affected(golang.Comparator{}, tc.ranges, nil, tc.v)
			if err != nil {
				t.Fatalf("Affected: %v", err)
			}
			if diff := cmp.Diff(tc.want, result{a, fix}); diff != "" {
				t.Errorf("Affected(%q) (-want +got):\n%s", tc.v, diff)
			}
		})
	}
}
