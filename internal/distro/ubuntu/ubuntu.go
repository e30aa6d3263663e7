// Package ubuntu describes Ubuntu for Stowaway: detection, releases and
// the end of their standard support (https://ubuntu.com/about/release-cycle;
// the LTS releases keep ESM data after it), dpkg versions, records named by
// the source package, the ranking of Canonical's OSV over the CVE tracker
// over OVAL, and the Ubuntu Pro channels (ESM) that deliver fixes the
// archive does not.
package ubuntu

import (
	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// pro is a fix channel of Ubuntu Pro: Canonical's service of that name,
// enabled on a machine attached to a subscription.
func pro(ch advisory.FixChannel) distro.FixChannel {
	return distro.FixChannel{
		Channel: ch,
		Service: "Ubuntu Pro",
		Enable:  "attach the machine to an Ubuntu Pro subscription and enable " + string(ch),
	}
}

const esm = "standard support ended; ESM data is used"

// Descriptor returns Ubuntu's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:   "ubuntu",
		Name: "Ubuntu",
		Releases: []distro.Release{
			{Name: "14.04", EOL: distro.Date(2019, 4, 30), AfterEOL: esm},
			{Name: "16.04", EOL: distro.Date(2021, 4, 30), AfterEOL: esm},
			{Name: "18.04", EOL: distro.Date(2023, 5, 31), AfterEOL: esm},
			{Name: "20.04", EOL: distro.Date(2025, 5, 29), AfterEOL: esm},
			{Name: "22.04", EOL: distro.Date(2027, 4, 30), AfterEOL: esm},
			{Name: "23.04", EOL: distro.Date(2024, 1, 25)},
			{Name: "24.04", EOL: distro.Date(2029, 4, 30), AfterEOL: esm},
		},
		Version:       version.Dpkg{},
		AdvisoryNames: distro.NameSource,
		// Canonical's OSV export is the tracker's current state for the
		// releases it still covers; the tracker (from a mirror) comes next;
		// the OVAL files are older snapshots of the same judgements. Ranks
		// apply per namespace and package: a release OSV dropped (23.04)
		// keeps the tracker's and OVAL's records.
		SourceRank: map[string]int{"ubuntu-osv": 3, "ubuntu-uct": 2, "ubuntu-oval": 1},
		// Where the tracker (from a mirror) covers a release, that
		// release's OVAL file is not read: it is an older export of the
		// same judgements, and a CVE the tracker has since dropped for
		// the release must not come back from it. OSV does not supersede
		// the tracker this way: it lists affected packages only, so the
		// tracker's not-affected judgements stay (ranked per package).
		Supersedes:         map[string]string{"ubuntu-oval": "ubuntu-uct"},
		AdvisoryURL:        func(id string) string { return "https://ubuntu.com/security/" + id },
		AdvisoryIDPrefixes: []distro.IDPrefix{{Prefix: "USN-", Database: "Ubuntu"}},
		FixChannels: []distro.FixChannel{
			pro(advisory.ChannelESMInfra), pro(advisory.ChannelESMApps), pro(advisory.ChannelESMInfraLegacy),
		},
	}
}
