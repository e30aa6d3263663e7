// Package ecosystem describes language package ecosystems: one Descriptor
// per ecosystem, defined in the package that owns it
// (internal/ecosystem/<name>) and registered in the explicit list of
// internal/ecosystem/all. Matching (match) and reports (report) read the
// descriptors handed to them and hold no ecosystem's name.
package ecosystem

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor is everything Stowaway knows about one language ecosystem.
type Descriptor struct {
	// Type is the inventory package type (and PURL type) of its packages.
	Type inventory.Type
	// OSV is the OSV ecosystem name; its advisories live in namespace
	// "osv:<OSV>".
	OSV string
	// Version compares the ecosystem's versions: one of package version's
	// shared schemes or the ecosystem package's own.
	Version version.Comparator
	// NameVariants are the further names an advisory may list a package
	// under (a normalised spelling); nil for none.
	NameVariants func(name string) []string
	// NameEqual says whether two spellings name one package; nil means
	// exact equality.
	NameEqual func(a, b string) bool
	// CleanVersion normalises an installed version before comparison, as
	// the ecosystem's own tools do; nil keeps it.
	CleanVersion func(v string) string
	// PackageManager is the name ECR and Inspector give the ecosystem's
	// package manager.
	PackageManager string
	// AdvisoryIDPrefixes are the prefixes of the ecosystem's own advisory
	// ids, with the database's display name.
	AdvisoryIDPrefixes []IDPrefix
}

// IDPrefix names the database behind advisory ids with one prefix.
type IDPrefix struct {
	Prefix, Database string
}

// Namespace is the advisory namespace of the ecosystem.
func (d *Descriptor) Namespace() string { return "osv:" + d.OSV }

// Equal reports whether a and b name one package.
func (d *Descriptor) Equal(a, b string) bool {
	if d.NameEqual == nil {
		return a == b
	}
	return d.NameEqual(a, b)
}

// Clean is v as compared with advisory versions: trimmed, then cleaned.
func (d *Descriptor) Clean(v string) string {
	v = strings.TrimSpace(v)
	if d.CleanVersion != nil {
		v = d.CleanVersion(v)
	}
	return v
}

// List is a set of descriptors.
type List []Descriptor

// ByType returns the descriptor of a package type.
func (l List) ByType(t inventory.Type) (*Descriptor, bool) {
	for i := range l {
		if l[i].Type == t {
			return &l[i], true
		}
	}
	return nil, false
}

// ByNamespace returns the descriptor of an "osv:<ecosystem>" namespace.
func (l List) ByNamespace(ns string) (*Descriptor, bool) {
	for i := range l {
		if l[i].Namespace() == ns {
			return &l[i], true
		}
	}
	return nil, false
}

// Lower is a NameVariants and NameEqual helper for case-insensitive names.
func Lower(name string) []string { return []string{strings.ToLower(name)} }
