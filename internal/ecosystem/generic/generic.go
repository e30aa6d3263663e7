// Package generic describes packages that the binary classifier
// (internal/catalog/binary) identified by the content of files no package
// manager installed: OpenSSL copied into /opt/app/lib, a static curl.
// Their package URLs are pkg:generic/<name>@<version> and their advisories
// NVD's CPE configurations (namespace advisory.CPENamespace, "nvd:cpe"),
// compared with version.CPE. Distribution advisories never apply to them.
package generic

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "generic"

// Namespace is the advisory namespace of its packages (advisory.CPENamespace).
const Namespace = "nvd:cpe"

// PackageManager is what ECR's enhanced findings name as the package
// manager of a classified binary: Inspector's enum has no value for a
// file no package manager installed.
const PackageManager = "GENERIC"

// Descriptor returns the descriptor of binary-classified packages.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type:              Type,
		AdvisoryNamespace: Namespace,
		Version:           version.CPE{},
		PackageManager:    PackageManager,
	}
}
