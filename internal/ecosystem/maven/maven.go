// Package maven describes Maven for Stowaway: group:artifact names and
// Maven's ComparableVersion.
//
// Comparator (the "maven" scheme) is github.com/masahiro331/go-mvn-version
// (Maven 3.6's ComparableVersion). KNOWN LIMITATION: it is not transitive on
// some inputs (FuzzMaven: 1.0-SNAPSHOT < 1 < 1.A but 1.0-SNAPSHOT > 1.A); see
// version.go.
package maven

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "maven"

// Descriptor returns Maven's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{Type: Type, OSV: "Maven", Version: Comparator{}, PackageManager: "JAR",
		PURLName: ecosystem.SplitLast(":"), NameSeparator: ":", ComponentGroup: true}
}
