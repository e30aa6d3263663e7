// Package composer describes Packagist (Composer) for Stowaway:
// case-insensitive vendor/package names and PHP's version_compare.
package composer

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "composer"

// Descriptor returns Packagist's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type: Type, OSV: "Packagist", Scheme: version.SchemeComposer,
		NameVariants: ecosystem.Lower, NameEqual: strings.EqualFold, PackageManager: "COMPOSER",
		PURLName: ecosystem.SplitLast("/"),
	}
}
