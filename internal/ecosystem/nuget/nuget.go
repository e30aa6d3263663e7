// Package nuget describes NuGet for Stowaway: case-insensitive package ids
// and NuGet versions.
//
// Comparator (the "nuget" scheme) is our own NuGetVersion (no maintained Go
// library): up to four numeric parts with missing parts as 0, SemVer 2
// pre-release ordering compared case-insensitively, build metadata ignored.
package nuget

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "nuget"

// Descriptor returns NuGet's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "NuGet", Version: Comparator{},
		NameVariants: ecosystem.Lower, NameEqual: strings.EqualFold, PackageManager: "NUGET",
		// A .NET application's deps.json is DOTNET_CORE; packages.lock.json NUGET.
		ManagerFiles: []ecosystem.ManagerFile{{Base: "*.deps.json", Manager: "DOTNET_CORE"}},
	}
}
