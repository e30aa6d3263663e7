// Package nuget describes NuGet for Stowaway: case-insensitive package ids
// and NuGet versions.
package nuget

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "nuget"

// Descriptor returns NuGet's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "NuGet", Scheme: version.SchemeNuGet,
		NameVariants: ecosystem.Lower, NameEqual: strings.EqualFold, PackageManager: "NUGET",
	}
}
