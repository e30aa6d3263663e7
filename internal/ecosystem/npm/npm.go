// Package npm describes the npm registry for Stowaway: semver versions,
// cleaned as npm's semver.clean does.
package npm

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns npm's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type:    inventory.TypeNPM,
		OSV:     "npm",
		Version: version.SemVer{},
		// Leading "=" and "v" go, as semver.clean drops them.
		CleanVersion:   func(v string) string { return strings.TrimSpace(strings.TrimLeft(v, "=v")) },
		PackageManager: "NODEPKG",
	}
}
