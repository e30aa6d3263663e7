// Package oracle describes Oracle Linux for Stowaway: detection (its images
// often lack os-release), releases and the end of premier support
// (https://www.oracle.com/a/ocom/docs/elsp-lifetime-069338.pdf), rpm
// versions, and ELSA records named by the binary package.
package oracle

import (
	"regexp"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns Oracle Linux's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:           "ol",
		Name:         "Oracle Linux",
		OSReleaseIDs: []string{"oracle", "oraclelinux"},
		ReleaseFiles: []distro.ReleaseFile{{Path: "etc/oracle-release", Pattern: regexp.MustCompile(`Oracle Linux.* release (\d+(?:\.\d+)?)`)}},
		Release:      distro.MajorRelease,
		Releases: []distro.Release{
			{Name: "7", EOL: distro.Date(2024, 12, 31), AfterEOL: "premier support ended"},
			{Name: "8", EOL: distro.Date(2029, 7, 31)},
			{Name: "9", EOL: distro.Date(2032, 6, 30)},
		},
		Version:            version.RPM{},
		PURLNamespace:      "oracle",
		AdvisoryNames:      distro.NameBinary,
		AdvisoryURL:        func(id string) string { return "https://linux.oracle.com/cve/" + id + ".html" },
		AdvisoryIDPrefixes: []distro.IDPrefix{{Prefix: "ELSA-", Database: "Oracle Linux"}},
	}
}
