package version_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/version"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// schemes are this package's comparators, by the scheme name their errors
// give, with the files of ../shared/testvectors/versions whose lines apply
// to each and the lines each deliberately disagrees with. The ecosystems'
// own schemes are tested in their packages.
var schemes = []struct {
	name  string
	c     version.Comparator
	files []string
	allow []versiontest.Allowed
}{
	{"dpkg", version.Dpkg{}, []string{"debian-versions.txt", "debian-versions-generated.txt"}, nil},
	{"apk", version.APK{}, []string{"alpine-versions.txt", "alpine-versions-generated.txt", "apk-tools-version.data"}, allowAPK},
	{"rpm", version.RPM{}, []string{"redhat-versions.txt", "rpmvercmp.txt"}, nil},
	// No upstream publishes CPE-version vectors: its cases are in
	// testdata/edge-cases.txt only.
	{"cpe", version.CPE{}, nil, nil},
	{"semver", version.SemVer{}, []string{"semver-versions.txt"}, allowSemVer},
}

// TestVectors runs every applicable line of the shared test vectors. Lines
// in a scheme's allow-list must disagree with it; every other line must
// agree.
func TestVectors(t *testing.T) {
	for _, s := range schemes {
		if len(s.files) == 0 {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			versiontest.CheckVectors(t, s.c, s.files, s.allow)
		})
	}
}
