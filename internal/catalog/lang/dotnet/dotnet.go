// Package dotnet catalogs NuGet packages from .NET dependency manifests:
// *.deps.json (written next to every published app) and packages.lock.json
// (NuGet's restore lock).
//
// Policy choices:
//
//   - deps.json: only "libraries" of type "package" are packages; "project"
//     (the app itself and its project references) and "reference" entries
//     are not. The name and version come from the "Name/Version" key.
//   - packages.lock.json: every framework's dependencies, Direct,
//     Transitive and CentralTransitive alike, at their "resolved" version;
//     "Project" entries are skipped. A package locked for several
//     frameworks at one version is reported once.
//   - A malformed file is a warning naming it, never an error.
package dotnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// MaxFileSize bounds a deps.json or packages.lock.json.
const MaxFileSize = 64 << 20

// Cataloger is the .NET cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the .NET cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "dotnet" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 1 }

func isDeps(p string) bool {
	b := langutil.Base(p)
	return strings.HasSuffix(b, ".deps.json") && len(b) > len(".deps.json")
}

func isLock(p string) bool { return langutil.Base(p) == "packages.lock.json" }

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	return langutil.IsRegular(info) && (isDeps(p) || isLock(p))
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Result{}, err
	}
	var pkgs []inventory.Package
	r, err := langutil.Open(f, MaxFileSize)
	if err == nil {
		if isDeps(f.Path) {
			pkgs, err = ParseDepsJSON(r)
		} else {
			pkgs, err = ParsePackagesLock(r)
		}
	}
	return langutil.Finish(ctx, c.Name(), f, pkgs, nil, err)
}

// ParseDepsJSON parses a .NET *.deps.json and returns its NuGet packages.
func ParseDepsJSON(r io.Reader) ([]inventory.Package, error) {
	var doc struct {
		Libraries map[string]struct {
			Type string `json:"type"`
		} `json:"libraries"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse deps.json: %w", err)
	}
	if doc.Libraries == nil {
		return nil, errors.New("parse deps.json: no \"libraries\" object")
	}
	var pkgs []inventory.Package
	for _, k := range sortedKeys(doc.Libraries) {
		if !strings.EqualFold(doc.Libraries[k].Type, "package") {
			continue
		}
		i := strings.LastIndexByte(k, '/')
		if i <= 0 || i == len(k)-1 {
			return nil, fmt.Errorf("parse deps.json: library key %q is not \"Name/Version\"", trunc(k))
		}
		pkgs = append(pkgs, inventory.Package{Name: k[:i], Version: k[i+1:], Type: inventory.TypeNuGet})
	}
	return pkgs, nil
}

// ParsePackagesLock parses a NuGet packages.lock.json.
func ParsePackagesLock(r io.Reader) ([]inventory.Package, error) {
	var doc struct {
		Version      *int `json:"version"`
		Dependencies map[string]map[string]struct {
			Type     string `json:"type"`
			Resolved string `json:"resolved"`
		} `json:"dependencies"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse packages.lock.json: %w", err)
	}
	if doc.Version == nil || doc.Dependencies == nil {
		return nil, errors.New("parse packages.lock.json: no \"version\" or \"dependencies\"")
	}
	var pkgs []inventory.Package
	for _, fw := range sortedKeys(doc.Dependencies) {
		deps := doc.Dependencies[fw]
		for _, name := range sortedKeys(deps) {
			d := deps[name]
			if strings.EqualFold(d.Type, "Project") {
				continue
			}
			if name == "" || d.Resolved == "" {
				return nil, fmt.Errorf("parse packages.lock.json: %s: %q has no name or no resolved version", trunc(fw), trunc(name))
			}
			pkgs = append(pkgs, inventory.Package{Name: name, Version: d.Resolved, Type: inventory.TypeNuGet})
		}
	}
	return pkgs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
