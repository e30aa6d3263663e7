// Package cargo describes crates.io for Stowaway: semver versions and
// RustSec advisories.
package cargo

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "cargo"

// Descriptor returns crates.io's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "crates.io", Version: version.SemVer{}, PackageManager: "CARGO",
		AdvisoryIDPrefixes: []ecosystem.IDPrefix{{Prefix: "RUSTSEC-", Database: "RustSec"}},
	}
}
