// Package rubygems describes RubyGems for Stowaway: Gem::Version ordering.
package rubygems

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "gem"

// Descriptor returns RubyGems' descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{Type: Type, OSV: "RubyGems", Scheme: version.SchemeRubyGems, PackageManager: "GEMSPEC"}
}
