// Package npm describes the npm registry for Stowaway: semver versions,
// cleaned as npm's semver.clean does.
package npm

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "npm"

// Descriptor returns npm's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type:    Type,
		OSV:     "npm",
		Version: version.SemVer{},
		// Leading "=" and "v" go, as semver.clean drops them.
		CleanVersion: func(v string) string { return strings.TrimSpace(strings.TrimLeft(v, "=v")) },
		// Lockfiles are NPM's and YARN's; an installed package's own
		// package.json (node_modules) is NODEPKG. pnpm has no value of its
		// own in Inspector's enum: NPM.
		PackageManager: "NPM",
		ManagerFiles:   []ecosystem.ManagerFile{{Base: "yarn.lock", Manager: "YARN"}, {Base: "package.json", Manager: "NODEPKG"}},
		// A scoped package's scope is its namespace.
		PURLName: func(n string) (string, string) {
			if strings.HasPrefix(n, "@") {
				if i := strings.IndexByte(n, '/'); i > 0 {
					return n[:i], n[i+1:]
				}
			}
			return "", n
		},
	}
}
