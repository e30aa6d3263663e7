// Package centos describes CentOS Linux for Stowaway: only CentOS 7 is
// covered, by RHEL 7 data; it ended on 2024-06-30.
package centos

import (
	"fmt"
	"regexp"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/distro/rhel"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns CentOS's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:           "centos",
		Name:         "CentOS Linux",
		ReleaseFiles: []distro.ReleaseFile{{Path: "etc/centos-release", Pattern: regexp.MustCompile(`CentOS.* release (\d+(?:\.\d+)*)`)}},
		Release:      distro.MajorRelease,
		Releases:     []distro.Release{{Name: "7", EOL: distro.Date(2024, 6, 30)}},
		UnsupportedReason: func(_, versionID string) string {
			return fmt.Sprintf("CentOS %s is end-of-life or CentOS Stream, which has no advisory feed; only CentOS 7 (RHEL 7 data) is supported", versionID)
		},
		Version:       version.RPM{},
		PURLNamespace: "centos",
		AdvisoryNames: distro.NameSource,
		DataAlias:     func(release string) string { return "rhel:" + release },
		// The RHEL feeds it reads rank as they do for RHEL.
		SourceRank: rhel.SourceRank(),
	}
}
