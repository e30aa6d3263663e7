// Package amazon describes Amazon Linux for Stowaway: detection from
// os-release or system-release, releases 2 and 2023 and their end of life
// (https://aws.amazon.com/amazon-linux-2/faqs/, AL2023 release notes), rpm
// versions, and ALAS records named by the binary package.
package amazon

import (
	"regexp"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns Amazon Linux's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:           "amzn",
		Name:         "Amazon Linux",
		OSReleaseIDs: []string{"amazon"},
		ReleaseFiles: []distro.ReleaseFile{{Path: "etc/system-release", Pattern: regexp.MustCompile(`Amazon Linux (?:release |AMI release )?(\d+(?:\.\d+)*)`)}},
		Release:      distro.MajorRelease,
		Releases: []distro.Release{
			{Name: "2", EOL: distro.Date(2026, 6, 30)},
			{Name: "2023", EOL: distro.Date(2029, 6, 30)},
		},
		Version:            version.RPM{},
		PURLNamespace:      "amazon",
		AdvisoryNames:      distro.NameBinary,
		AdvisoryURL:        func(id string) string { return "https://explore.alas.aws.amazon.com/" + id + ".html" },
		AdvisoryIDPrefixes: []distro.IDPrefix{{Prefix: "ALAS", Database: "Amazon Linux"}},
	}
}
