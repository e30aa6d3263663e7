// Package ecosystem describes language package ecosystems: one Descriptor
// per ecosystem, defined in the package that owns it
// (internal/ecosystem/<name>) and registered in the explicit list of
// internal/ecosystem/all. Matching (match), package URLs and reports
// (through package names) read the descriptors handed to them and hold no
// ecosystem's name. A descriptor package also declares its inventory
// package Type, which its catalogers use.
package ecosystem

import (
	"path"
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
	// AdvisoryNamespace, when set, is the namespace of the ecosystem's
	// advisories instead ("nvd:cpe" for binary-classified packages, which
	// no OSV ecosystem covers).
	AdvisoryNamespace string
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
	// package manager (a value of Inspector's PackageManager enum) for
	// packages read from a file that ManagerFiles does not name.
	PackageManager string
	// ManagerFiles name the package manager by the file a package was read
	// from (inventory.Package.Path), as Inspector distinguishes a lockfile
	// from installed metadata; the first match wins. Nil for one manager.
	ManagerFiles []ManagerFile
	// AdvisoryIDPrefixes are the prefixes of the ecosystem's own advisory
	// ids, with the database's display name.
	AdvisoryIDPrefixes []IDPrefix
	// PURLName splits a package name into the namespace and the name of
	// its package URL ("group:artifact" to "group" and "artifact"), and
	// may normalise the name; nil keeps the name whole, with no namespace.
	PURLName func(name string) (namespace, rest string)
	// NameSeparator joins a namespace (a package URL's, a CycloneDX
	// component group) and a name back into a package name; "" means "/".
	NameSeparator string
	// ComponentGroup says that the package-URL namespace is written as the
	// CycloneDX component group (Maven's groupId), the rest as its name.
	ComponentGroup bool
	// SymbolPresence says that the ecosystem's advisories name vulnerable
	// symbols (advisory.Affected.SymbolImports) and its binaries carry a
	// symbol table (inventory.SymbolTable), so each finding gets a symbol
	// presence (match.SymbolPresence). Go's.
	SymbolPresence bool
}

// ManagerFile names the package manager of packages read from files whose
// base name matches Base, a path.Match pattern ("Gemfile.lock",
// "*.deps.json").
type ManagerFile struct {
	Base, Manager string
}

// ManagerOf is the package manager of a package read from file: the first
// of ManagerFiles whose Base matches the file's base name (the last
// element of a nested archive path "outer.jar!inner.jar"), else
// PackageManager.
func (d *Descriptor) ManagerOf(file string) string {
	if i := strings.LastIndexByte(file, '!'); i >= 0 {
		file = file[i+1:]
	}
	base := path.Base(file)
	for _, m := range d.ManagerFiles {
		if ok, _ := path.Match(m.Base, base); ok {
			return m.Manager
		}
	}
	return d.PackageManager
}

// IDPrefix names the database behind advisory ids with one prefix.
type IDPrefix struct {
	Prefix, Database string
}

// Namespace is the advisory namespace of the ecosystem.
func (d *Descriptor) Namespace() string {
	if d.AdvisoryNamespace != "" {
		return d.AdvisoryNamespace
	}
	return "osv:" + d.OSV
}

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

// SplitName is the package-URL namespace and name of a package name.
func (d *Descriptor) SplitName(name string) (namespace, rest string) {
	if d.PURLName == nil {
		return "", name
	}
	return d.PURLName(name)
}

// JoinName is the package name of a namespace and a name.
func (d *Descriptor) JoinName(namespace, name string) string {
	sep := d.NameSeparator
	if sep == "" {
		sep = "/"
	}
	return namespace + sep + name
}

// SplitLast returns a PURLName that splits at the last sep ("a/b/c" to
// "a/b" and "c"); a name without sep, or with sep only first, stays whole.
func SplitLast(sep string) func(string) (string, string) {
	return func(name string) (string, string) {
		if i := strings.LastIndex(name, sep); i > 0 {
			return name[:i], name[i+len(sep):]
		}
		return "", name
	}
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

// ByNamespace returns the descriptor of an "osv:<ecosystem>" namespace (or
// of its AdvisoryNamespace).
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
