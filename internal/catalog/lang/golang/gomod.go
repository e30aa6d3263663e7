package golang

import (
	"fmt"
	"io"

	"golang.org/x/mod/modfile"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParseGoMod parses a go.mod and returns its required modules with replace
// directives applied. A go.mod the strict parser rejects but the lenient
// one (which ignores unknown and main-module-only directives, replace
// included) accepts is returned with lax set to the strict error.
func ParseGoMod(r io.Reader) (pkgs []inventory.Package, lax, err error) {
	b, err := langutil.ReadAll(r, MaxGoModSize)
	if err != nil {
		return nil, nil, fmt.Errorf("parse go.mod: %w", err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		var lerr error
		f, lerr = modfile.ParseLax("go.mod", b, nil)
		if lerr != nil {
			return nil, nil, fmt.Errorf("parse go.mod: %w", err)
		}
		lax = fmt.Errorf("go.mod parsed leniently, replace directives ignored: %w", err)
	}
	for _, req := range f.Require {
		path, version := req.Mod.Path, req.Mod.Version
		if rep := replacement(f.Replace, path, version); rep != nil {
			if rep.New.Version == "" {
				continue // replaced by a local directory
			}
			path, version = rep.New.Path, rep.New.Version
		}
		if path == "" || version == "" {
			continue
		}
		pkgs = append(pkgs, inventory.Package{Name: path, Version: version, Type: inventory.TypeGolang})
	}
	return pkgs, lax, nil
}

// replacement returns the replace directive that applies to path@version:
// one naming that exact version wins over one for every version of the path.
func replacement(reps []*modfile.Replace, path, version string) *modfile.Replace {
	var wide *modfile.Replace
	for _, rep := range reps {
		switch {
		case rep.Old.Path != path:
		case rep.Old.Version == version:
			return rep
		case rep.Old.Version == "":
			wide = rep
		}
	}
	return wide
}
