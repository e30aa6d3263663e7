// Package maven describes Maven for Stowaway: group:artifact names and
// Maven's ComparableVersion.
package maven

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns Maven's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{Type: inventory.TypeMaven, OSV: "Maven", Scheme: version.SchemeMaven, PackageManager: "JAR"}
}
