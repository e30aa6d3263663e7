// Package rubygems describes RubyGems for Stowaway: Gem::Version ordering.
package rubygems

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns RubyGems' descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{Type: inventory.TypeGem, OSV: "RubyGems", Scheme: version.SchemeRubyGems, PackageManager: "GEMSPEC"}
}
