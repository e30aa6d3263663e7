package version_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/version"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// fuzzOrder fuzzes one scheme's comparator for a total order, seeded with
// its edge cases.
func fuzzOrder(f *testing.F, scheme string, c version.Comparator) {
	seeds := versiontest.Of(versiontest.ReadEdgeCases(f, "testdata/edge-cases.txt"), scheme)
	versiontest.FuzzOrder(f, c, seeds)
}

func FuzzDpkg(f *testing.F)   { fuzzOrder(f, "dpkg", version.Dpkg{}) }
func FuzzAPK(f *testing.F)    { fuzzOrder(f, "apk", version.APK{}) }
func FuzzRPM(f *testing.F)    { fuzzOrder(f, "rpm", version.RPM{}) }
func FuzzSemVer(f *testing.F) { fuzzOrder(f, "semver", version.SemVer{}) }
func FuzzCPE(f *testing.F)    { fuzzOrder(f, "cpe", version.CPE{}) }
