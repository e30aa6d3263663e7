// Package rhel describes Red Hat Enterprise Linux for Stowaway: detection,
// releases and the end of maintenance support
// (https://access.redhat.com/support/policy/updates/errata), rpm versions,
// and CSAF records named by the source RPM.
//
// Two feeds cover the same releases: Red Hat's CSAF VEX documents
// (updater "redhat-vex", the current format) and the Security Data API's
// per-CVE JSON ("redhat", which mirrors still carry as a bundle). Where
// both are loaded, the VEX records of a vulnerability replace the CVE
// API's for the namespace: SourceRank.
package rhel

import (
	"regexp"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns RHEL's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:           "rhel",
		Name:         "Red Hat Enterprise Linux",
		OSReleaseIDs: []string{"redhat", "red-hat"},
		ReleaseFiles: []distro.ReleaseFile{{Path: "etc/redhat-release", Pattern: regexp.MustCompile(`Red Hat Enterprise Linux.* release (\d+(?:\.\d+)?)`)}},
		Release:      distro.MajorRelease,
		Releases: []distro.Release{
			{Name: "7", EOL: distro.Date(2024, 6, 30), AfterEOL: "maintenance support ended; Extended Life Cycle Support data is used"},
			{Name: "8", EOL: distro.Date(2029, 5, 31)},
			{Name: "9", EOL: distro.Date(2032, 5, 31)},
		},
		Version:            version.RPM{},
		PURLNamespace:      "redhat",
		AdvisoryNames:      distro.NameSource,
		SourceRank:         SourceRank(),
		AdvisoryURL:        func(id string) string { return "https://access.redhat.com/security/cve/" + id },
		AdvisoryIDPrefixes: []distro.IDPrefix{{Prefix: "RHSA-", Database: "Red Hat"}},
	}
}

// SourceRank ranks the Red Hat feeds: VEX over the CVE API. CentOS 7 (data
// alias rhel:7) uses the same ranking.
func SourceRank() map[string]int { return map[string]int{"redhat-vex": 2, "redhat": 1} }
