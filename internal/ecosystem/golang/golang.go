// Package golang describes Go modules for Stowaway: Go's semver with
// pseudo-versions and toolchain versions, and the Go vulnerability DB.
package golang

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "golang"

// Descriptor returns Go's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "Go", Scheme: version.SchemeGo, PackageManager: "GOBINARY",
		PURLName:           ecosystem.SplitLast("/"),
		AdvisoryIDPrefixes: []ecosystem.IDPrefix{{Prefix: "GO-", Database: "Go Vulnerability Database"}},
	}
}
