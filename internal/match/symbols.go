package match

import (
	"slices"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// SymbolPresence says whether a Go finding's vulnerable code is in the
// binary (Finding.SymbolPresence).
type SymbolPresence string

// Symbol presence values.
const (
	// SymbolPresent: a vulnerable symbol (or, for a record that lists a
	// package without symbols, any function of that package) is in the
	// binary's symbol table, inlined copies included.
	SymbolPresent SymbolPresence = "PRESENT"
	// SymbolNotPresent: the records list the vulnerable symbols, and none
	// is in the binary for its GOOS/GOARCH (or the records' packages are
	// vulnerable only on other platforms).
	SymbolNotPresent SymbolPresence = "NOT_PRESENT"
	// SymbolUnknown: no symbol data (a record without the vulnerable
	// packages), a binary whose symbols could not be read (or only without
	// its inline trees, and no symbol was found), or a package not read
	// from a binary (go.mod, go.sum, an SBOM).
	SymbolUnknown SymbolPresence = "UNKNOWN"
)

// Valid reports whether s is one of the presence values.
func (s SymbolPresence) Valid() bool {
	return s == SymbolPresent || s == SymbolNotPresent || s == SymbolUnknown
}

// addSymbolImports adds one record's vulnerable packages to f. A record that
// lists none adds nothing: the Go vulnerability database's GO records are
// the ones that list symbols, and osv.dev's Go dump also holds GHSA
// records of the same vulnerabilities without them (govulncheck reads the
// GO records only).
func addSymbolImports(f *Finding, imports []advisory.SymbolImport) {
	f.SymbolImports = append(slices.Clip(f.SymbolImports), imports...)
}

// symbolPresence decides f's presence from the binary its package was read
// from (nil when it was not read from a binary).
func symbolPresence(f *Finding, bin *inventory.SymbolTable) {
	f.VulnerableSymbols = nil
	set := func(p SymbolPresence, why string) { f.SymbolPresence, f.SymbolPresenceReason = p, why }
	switch {
	case bin == nil:
		set(SymbolUnknown, "not read from a binary with a symbol table")
		return
	case bin.Problem != "":
		set(SymbolUnknown, "the binary's symbols could not be read: "+bin.Problem)
		return
	case len(bin.Symbols) == 0:
		set(SymbolUnknown, "the binary has no symbols")
		return
	case len(f.SymbolImports) == 0:
		set(SymbolUnknown, "the advisory lists no vulnerable symbols")
		return
	}
	// A module replaced by another keeps its packages' import paths: the
	// replacement's paths are looked up under the original module's.
	orig := bin.Replaced[f.Package.Name]
	var found []string
	onPlatform := 0
	for _, im := range f.SymbolImports {
		if !platformMatches(bin.GOOS, im.GOOS) || !platformMatches(bin.GOARCH, im.GOARCH) {
			continue
		}
		onPlatform++
		path := im.Path
		if orig != "" && (path == f.Package.Name || strings.HasPrefix(path, f.Package.Name+"/")) {
			path = orig + strings.TrimPrefix(path, f.Package.Name)
		}
		if len(im.Symbols) == 0 {
			if bin.HasPackage(path) {
				found = append(found, im.Path)
			}
			continue
		}
		for _, s := range im.Symbols {
			if bin.Has(path, s) {
				found = append(found, im.Path+"."+s)
			}
		}
	}
	switch {
	case len(found) > 0:
		sort.Strings(found)
		f.VulnerableSymbols = slices.Compact(found)
		set(SymbolPresent, "")
	case onPlatform == 0:
		set(SymbolNotPresent, "vulnerable only on other platforms than "+bin.GOOS+"/"+bin.GOARCH)
	case !bin.Complete:
		set(SymbolUnknown, "no vulnerable symbol found, but "+bin.Partial)
	default:
		set(SymbolNotPresent, "no vulnerable symbol in the binary")
	}
}

// platformMatches: an empty list, or a binary of unknown platform, matches.
func platformMatches(v string, list []string) bool {
	return v == "" || len(list) == 0 || slices.Contains(list, v)
}
