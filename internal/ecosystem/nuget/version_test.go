package nuget_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// scheme is the name the comparator's errors give.
const scheme = "nuget"

// TestEdgeCases orders testdata/edge-cases.txt and checks that the
// comparator rejects the inputs every scheme rejects.
func TestEdgeCases(t *testing.T) {
	cases := versiontest.ReadEdgeCases(t, "testdata/edge-cases.txt")
	versiontest.CheckEdgeCases(t, nuget.Comparator{}, versiontest.Of(cases, scheme))
	if len(versiontest.Of(cases, scheme)) != len(cases) {
		t.Errorf("testdata/edge-cases.txt has cases of other schemes than %s", scheme)
	}
	versiontest.CheckCommonInvalid(t, nuget.Comparator{}, scheme)
}

// TestVectors runs every applicable line of the shared test vectors: every
// line must agree.
func TestVectors(t *testing.T) {
	versiontest.CheckVectors(t, nuget.Comparator{}, []string{"nuget-versions.txt"}, nil)
}

func FuzzNuGet(f *testing.F) {
	seeds := versiontest.Of(versiontest.ReadEdgeCases(f, "testdata/edge-cases.txt"), scheme)
	versiontest.FuzzOrder(f, nuget.Comparator{}, seeds)
}

// BenchmarkCompareLongest compares two MaxLen-byte versions that differ in
// their last byte, per shape.
func BenchmarkCompareLongest(b *testing.B) {
	versiontest.BenchmarkLongest(b, nuget.Comparator{})
}
