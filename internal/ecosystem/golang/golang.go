// Package golang describes Go modules for Stowaway: Go's semver with
// pseudo-versions and toolchain versions, and the Go vulnerability DB.
//
// Comparator (the "go" scheme) is golang.org/x/mod/semver after
// normalisation: "1.2.3" (OSV) gets a "v"; Go toolchain versions "go1.21.5",
// "go1.21", "go1.21rc2" become "v1.21.5", "v1.21.0", "v1.21.0-rc.2" as in
// golang.org/x/vuln; a " X:experiment" suffix from build info is dropped.
// Pseudo-versions are semver pre-releases and order by their timestamp.
package golang

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "golang"

// Descriptor returns Go's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "Go", Version: Comparator{}, PackageManager: "GOBINARY",
		ManagerFiles:       []ecosystem.ManagerFile{{Base: "go.mod", Manager: "GOMOD"}},
		PURLName:           ecosystem.SplitLast("/"),
		AdvisoryIDPrefixes: []ecosystem.IDPrefix{{Prefix: "GO-", Database: "Go Vulnerability Database"}},
		SymbolPresence:     true,
	}
}
