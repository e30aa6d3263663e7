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
//   - One malformed record costs that record, never the file: a library
//     or dependency of the wrong shape, or one without a name, is dropped
//     with a warning; one without a version is kept with an empty version
//     and a warning. Versions are kept as written; the matcher reports the
//     ones it cannot compare as degraded. At most warn.Max warnings are
//     listed per file.
//   - A file that cannot be parsed at all is a warning naming it, never an
//     error.
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
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
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
func (Cataloger) Version() int { return 2 }

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
	var (
		pkgs  []inventory.Package
		warns []string
	)
	r, err := langutil.Open(f, MaxFileSize)
	if err == nil {
		if isDeps(f.Path) {
			pkgs, warns, err = ParseDepsJSON(r)
		} else {
			pkgs, warns, err = ParsePackagesLock(r)
		}
	}
	return langutil.Finish(ctx, c.Name(), f, pkgs, langutil.Prefix(c.Name(), f.Path, warns), err)
}

// ParseDepsJSON parses a .NET *.deps.json and returns its NuGet packages,
// and a warning for each library it could not read fully: a key with no
// name is dropped, one with no version ("Name/" or "Name") is kept with an
// empty version.
func ParseDepsJSON(r io.Reader) ([]inventory.Package, []string, error) {
	var doc struct {
		Libraries map[string]json.RawMessage `json:"libraries"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("parse deps.json: %w", err)
	}
	if doc.Libraries == nil {
		return nil, nil, errors.New("parse deps.json: no \"libraries\" object")
	}
	var (
		pkgs []inventory.Package
		w    warn.List
	)
	for _, k := range sortedKeys(doc.Libraries) {
		var lib struct {
			Type json.RawMessage `json:"type"`
		}
		if err := json.Unmarshal(doc.Libraries[k], &lib); err != nil {
			w.Addf("library %q: not an object; skipped", trunc(k))
			continue
		}
		typ, _ := langutil.JSONText(lib.Type)
		if !strings.EqualFold(typ, "package") {
			continue
		}
		name, version, _ := strings.Cut(k, "/")
		if i := strings.LastIndexByte(k, '/'); i >= 0 {
			name, version = k[:i], k[i+1:]
		}
		name, version = strings.TrimSpace(name), strings.TrimSpace(version)
		switch {
		case name == "":
			w.Addf("library key %q names no package; skipped", trunc(k))
			continue
		case version == "":
			w.Addf("library key %q is not \"Name/Version\"; kept with an empty version", trunc(k))
		}
		pkgs = append(pkgs, inventory.Package{Name: name, Version: version, Type: nuget.Type})
	}
	return pkgs, w.Strings(""), nil
}

// ParsePackagesLock parses a NuGet packages.lock.json, and warns about each
// dependency it could not read fully: one without a name is dropped, one
// without a resolved version is kept with an empty version.
func ParsePackagesLock(r io.Reader) ([]inventory.Package, []string, error) {
	var doc struct {
		Version      json.RawMessage            `json:"version"`
		Dependencies map[string]json.RawMessage `json:"dependencies"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("parse packages.lock.json: %w", err)
	}
	if doc.Version == nil || doc.Dependencies == nil {
		return nil, nil, errors.New("parse packages.lock.json: no \"version\" or \"dependencies\"")
	}
	var (
		pkgs []inventory.Package
		w    warn.List
	)
	for _, fw := range sortedKeys(doc.Dependencies) {
		var deps map[string]json.RawMessage
		if err := json.Unmarshal(doc.Dependencies[fw], &deps); err != nil {
			w.Addf("framework %q: not an object of dependencies; skipped", trunc(fw))
			continue
		}
		for _, name := range sortedKeys(deps) {
			var d struct {
				Type     json.RawMessage `json:"type"`
				Resolved json.RawMessage `json:"resolved"`
			}
			if err := json.Unmarshal(deps[name], &d); err != nil {
				w.Addf("%s: %q: not an object; skipped", trunc(fw), trunc(name))
				continue
			}
			typ, _ := langutil.JSONText(d.Type)
			if strings.EqualFold(typ, "Project") {
				continue
			}
			n := strings.TrimSpace(name)
			if n == "" {
				w.Addf("%s: a dependency with an empty name; skipped", trunc(fw))
				continue
			}
			v, ok := langutil.JSONText(d.Resolved)
			switch {
			case !ok:
				w.Addf("%s: %q: \"resolved\" is not a string; kept with an empty version", trunc(fw), trunc(n))
			case v == "":
				w.Addf("%s: %q: no resolved version; kept with an empty version", trunc(fw), trunc(n))
			}
			pkgs = append(pkgs, inventory.Package{Name: n, Version: v, Type: nuget.Type})
		}
	}
	return pkgs, w.Strings(""), nil
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
