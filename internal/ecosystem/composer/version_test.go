package composer_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// scheme is the name the comparator's errors give.
const scheme = "composer"

// TestEdgeCases orders testdata/edge-cases.txt and checks that the
// comparator rejects the inputs every scheme rejects.
func TestEdgeCases(t *testing.T) {
	cases := versiontest.ReadEdgeCases(t, "testdata/edge-cases.txt")
	versiontest.CheckEdgeCases(t, composer.Comparator{}, versiontest.Of(cases, scheme))
	if len(versiontest.Of(cases, scheme)) != len(cases) {
		t.Errorf("testdata/edge-cases.txt has cases of other schemes than %s", scheme)
	}
	versiontest.CheckCommonInvalid(t, composer.Comparator{}, scheme)
}

// TestVectors runs every applicable line of the shared test vectors: lines
// in allowList must disagree, every other line must agree.
func TestVectors(t *testing.T) {
	versiontest.CheckVectors(t, composer.Comparator{}, []string{"packagist-versions.txt", "packagist-versions-generated.txt"}, allowList)
}

func FuzzComposer(f *testing.F) {
	seeds := versiontest.Of(versiontest.ReadEdgeCases(f, "testdata/edge-cases.txt"), scheme)
	versiontest.FuzzOrder(f, composer.Comparator{}, seeds)
}

// BenchmarkCompareLongest compares two MaxLen-byte versions that differ in
// their last byte, per shape.
func BenchmarkCompareLongest(b *testing.B) {
	versiontest.BenchmarkLongest(b, composer.Comparator{})
}
