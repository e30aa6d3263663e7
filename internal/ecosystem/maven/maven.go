// Package maven describes Maven for Stowaway: group:artifact names and
// Maven's ComparableVersion.
package maven

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "maven"

// Descriptor returns Maven's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{Type: Type, OSV: "Maven", Scheme: version.SchemeMaven, PackageManager: "JAR",
		PURLName: ecosystem.SplitLast(":"), NameSeparator: ":", ComponentGroup: true}
}
