package inventory

import "sort"

// SymbolTable is what the symbol table (pclntab) of one Go binary says, for
// symbol presence: which functions of which packages are in it, and the
// platform it was built for. It travels beside the inventory (Inventory.
// SymbolTables) and in the indexer's layer cache, and is never written into
// an SBOM: a scan of an SBOM has no symbols, and its Go findings' symbol
// presence is UNKNOWN.
type SymbolTable struct {
	// Path is the binary, as the packages read from it name it.
	Path string `json:"path"`
	// GOOS and GOARCH are the binary's platform (its build settings, else
	// its ELF header).
	GOOS   string `json:"goos,omitempty"`
	GOARCH string `json:"goarch,omitempty"`
	// Problem says why the symbols could not be read ("" when they were):
	// then Symbols is empty and nothing is known.
	Problem string `json:"problem,omitempty"`
	// Complete says that the inline trees were read too, so a function
	// inlined into its callers counts as present. Without them a symbol
	// found is present, but one not found is not proof of absence
	// (Partial says why).
	Complete bool   `json:"complete,omitempty"`
	Partial  string `json:"partial,omitempty"`
	// Symbols maps a package's import path to the sorted names of its
	// functions in the binary, as the Go vulnerability database writes
	// them: "Parse", "Tag.String" (a method, pointer receiver or not).
	Symbols map[string][]string `json:"symbols,omitempty"`
	// Replaced maps a replacement module's path to the module it replaces
	// (a go.mod replace directive): the code keeps the original import
	// paths, so the replacement's packages are found under those.
	Replaced map[string]string `json:"replaced,omitempty"`
}

// Known reports whether the binary's symbols were read.
func (b *SymbolTable) Known() bool { return b != nil && b.Problem == "" && len(b.Symbols) > 0 }

// HasPackage reports whether any function of package pkg is in the binary.
func (b *SymbolTable) HasPackage(pkg string) bool {
	if b == nil {
		return false
	}
	_, ok := b.Symbols[pkg]
	return ok
}

// Has reports whether the function sym of package pkg is in the binary.
func (b *SymbolTable) Has(pkg, sym string) bool {
	if b == nil {
		return false
	}
	s := b.Symbols[pkg]
	i := sort.SearchStrings(s, sym)
	return i < len(s) && s[i] == sym
}

// SymbolCount is the number of (package, function) pairs held.
func (b *SymbolTable) SymbolCount() int {
	if b == nil {
		return 0
	}
	n := 0
	for _, s := range b.Symbols {
		n += len(s)
	}
	return n
}
