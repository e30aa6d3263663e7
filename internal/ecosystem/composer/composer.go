// Package composer describes Packagist (Composer) for Stowaway:
// case-insensitive vendor/package names and PHP's version_compare.
//
// Comparator (the "composer" scheme) is our own port of PHP's
// version_compare, which is what OSV's Packagist semantics follow, with a
// leading "v" dropped and numbers of any length. "#" is rejected: PHP orders
// it equal to every number, which is not a total order.
package composer

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "composer"

// Descriptor returns Packagist's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "Packagist", Version: Comparator{},
		NameVariants: ecosystem.Lower, NameEqual: strings.EqualFold, PackageManager: "COMPOSER",
		PURLName: ecosystem.SplitLast("/"),
	}
}
