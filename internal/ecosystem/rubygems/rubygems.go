// Package rubygems describes RubyGems for Stowaway: Gem::Version ordering.
//
// Comparator (the "rubygems" scheme) is github.com/aquasecurity/go-gem-version.
package rubygems

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "gem"

// Descriptor returns RubyGems' descriptor.
func Descriptor() ecosystem.Descriptor {
	// Bundler's lockfiles are BUNDLER; installed gemspecs GEMSPEC.
	return ecosystem.Descriptor{Type: Type, OSV: "RubyGems", Version: Comparator{}, PackageManager: "GEMSPEC",
		ManagerFiles: []ecosystem.ManagerFile{{Base: "Gemfile.lock", Manager: "BUNDLER"}, {Base: "gems.locked", Manager: "BUNDLER"}}}
}
