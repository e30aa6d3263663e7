// Package debian describes Debian for Stowaway: detection, releases and the
// end of their LTS (https://wiki.debian.org/LTS), dpkg versions, and
// records named by the source package.
package debian

import (
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns Debian's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:           "debian",
		Name:         "Debian",
		ReleaseFiles: []distro.ReleaseFile{{Path: "etc/debian_version", Pattern: regexp.MustCompile(`^\s*(\d+(?:\.\d+)*|[a-z]+/sid)`)}},
		Release: func(v string) string {
			if strings.HasSuffix(v, "/sid") {
				return "unstable"
			}
			return distro.MajorRelease(v)
		},
		Releases: []distro.Release{
			{Name: "10", EOL: distro.Date(2024, 6, 30), AfterEOL: "LTS ended"},
			{Name: "11", EOL: distro.Date(2026, 8, 31), AfterEOL: "LTS ended"},
			{Name: "12", EOL: distro.Date(2028, 6, 30), AfterEOL: "LTS ended"},
			{Name: "13", EOL: distro.Date(2030, 6, 30), AfterEOL: "LTS ended"},
		},
		UnsupportedReason: func(release, _ string) string {
			if release == "unstable" {
				return "Debian testing/unstable has no stable security coverage"
			}
			return ""
		},
		Version:            version.Dpkg{},
		AdvisoryNames:      distro.NameSource,
		AdvisoryURL:        func(id string) string { return "https://security-tracker.debian.org/tracker/" + id },
		AdvisoryIDPrefixes: []distro.IDPrefix{{Prefix: "DSA-", Database: "Debian"}, {Prefix: "DLA-", Database: "Debian"}},
	}
}
