// Package pypi describes the Python Package Index for Stowaway: PEP 440
// versions and PEP 503 name normalisation.
//
// Comparator (the "pep440" scheme) orders versions through
// github.com/aquasecurity/go-pep440-version.
package pypi

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Type is the inventory package type (and PURL type) of its packages.
const Type inventory.Type = "pypi"

// Descriptor returns PyPI's descriptor.
func Descriptor() ecosystem.Descriptor {
	return ecosystem.Descriptor{
		Type:         Type,
		OSV:          "PyPI",
		Version:      Comparator{},
		NameVariants: func(n string) []string { return []string{strings.ToLower(n), Normalize(n)} },
		NameEqual:    func(a, b string) bool { return Normalize(a) == Normalize(b) },
		// Installed metadata (METADATA, PKG-INFO, egg-info) is PYTHONPKG.
		PackageManager: "PYTHONPKG",
		ManagerFiles: []ecosystem.ManagerFile{
			{Base: "poetry.lock", Manager: "POETRY"}, {Base: "Pipfile.lock", Manager: "PIPENV"}, {Base: "requirements*.txt", Manager: "PIP"},
		},
		PURLName:           func(n string) (string, string) { return "", Normalize(n) },
		AdvisoryIDPrefixes: []ecosystem.IDPrefix{{Prefix: "PYSEC-", Database: "PyPI Advisory Database"}},
	}
}

// Normalize is a name as PEP 503 normalises it.
func Normalize(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(s))
}
