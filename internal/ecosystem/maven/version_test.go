package maven_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// scheme is the name the comparator's errors give.
const scheme = "maven"

// TestEdgeCases orders testdata/edge-cases.txt and checks that the
// comparator rejects the inputs every scheme rejects.
func TestEdgeCases(t *testing.T) {
	cases := versiontest.ReadEdgeCases(t, "testdata/edge-cases.txt")
	versiontest.CheckEdgeCases(t, maven.Comparator{}, versiontest.Of(cases, scheme))
	if len(versiontest.Of(cases, scheme)) != len(cases) {
		t.Errorf("testdata/edge-cases.txt has cases of other schemes than %s", scheme)
	}
	versiontest.CheckCommonInvalid(t, maven.Comparator{}, scheme)
}

// TestVectors runs every applicable line of the shared test vectors: lines
// in allowList must disagree, every other line must agree.
func TestVectors(t *testing.T) {
	versiontest.CheckVectors(t, maven.Comparator{}, []string{"maven-versions.txt", "maven-versions-generated.txt"}, allowList)
}

func FuzzMaven(f *testing.F) {
	seeds := versiontest.Of(versiontest.ReadEdgeCases(f, "testdata/edge-cases.txt"), scheme)
	versiontest.FuzzOrder(f, maven.Comparator{}, seeds)
}

// BenchmarkCompareLongest compares two MaxLen-byte versions that differ in
// their last byte, per shape.
func BenchmarkCompareLongest(b *testing.B) {
	versiontest.BenchmarkLongest(b, maven.Comparator{})
}
