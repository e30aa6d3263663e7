package golang

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	ecogolang "github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// maxRetries bounds how many times ParseGoMod drops the lines the parser
// rejected and parses again.
const maxRetries = 3

// ParseGoMod parses a go.mod and returns its required modules with replace
// directives applied, and warnings:
//
//   - A version that is no canonical module version ("v1.2 beta", "latest")
//     is kept as written: the matcher reports it as degraded.
//   - A line the parser still rejects is dropped and the file parsed again
//     without it (a require line that names a module path is kept, with
//     the version as written, or an empty one).
//   - A go.mod the strict parser rejects but the lenient one (which ignores
//     unknown and main-module-only directives, replace included) accepts is
//     read leniently, with a warning.
func ParseGoMod(r io.Reader) (pkgs []inventory.Package, warns []string, err error) {
	pkgs, _, warns, err = parseGoMod(r)
	return pkgs, warns, err
}

// parseGoMod is ParseGoMod with what go.mod says of the dependency graph:
// a require without "// indirect" is the main module's direct dependency
// (an edge from the root); an indirect one is transitive, through modules
// go.mod does not name, so it has no edge.
func parseGoMod(r io.Reader) (pkgs []inventory.Package, rels []inventory.Relationship, warns []string, err error) {
	b, err := langutil.ReadAll(r, MaxGoModSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse go.mod: %w", err)
	}
	var w warn.List
	// Non-canonical versions are kept as written rather than rejected.
	raw := map[string]string{} // path: version kept as written
	fix := func(path, v string) (string, error) {
		if cv := module.CanonicalVersion(v); cv != "" {
			return cv, nil
		}
		raw[path] = v
		return v, nil
	}
	var (
		f       *modfile.File
		dropped []inventory.Package
		lines   = bytes.SplitAfter(b, []byte("\n"))
	)
	for try := 0; ; try++ {
		data := bytes.Join(lines, nil)
		var perr error
		if f, perr = modfile.Parse("go.mod", data, fix); perr == nil {
			break
		}
		var lerr error
		if f, lerr = modfile.ParseLax("go.mod", data, fix); lerr == nil {
			w.Addf("go.mod parsed leniently, replace directives ignored: %v", perr)
			break
		}
		var el modfile.ErrorList
		if try == maxRetries || !errors.As(lerr, &el) || len(el) == 0 {
			return nil, nil, nil, fmt.Errorf("parse go.mod: %w", lerr)
		}
		// Drop the rejected lines and try again.
		blanked := 0
		for _, e := range el {
			n := e.Pos.Line
			if n < 1 || n > len(lines) || len(bytes.TrimSpace(lines[n-1])) == 0 {
				continue
			}
			if p, ok := requireLine(string(lines[n-1]), e); ok {
				dropped = append(dropped, p)
				w.Addf("line %d: %v; %s kept with the version as written", n, e.Err, trunc(p.Name))
			} else {
				w.Addf("line %d: %v; line skipped", n, errText(e))
			}
			lines[n-1] = []byte("\n")
			blanked++
		}
		if blanked == 0 {
			return nil, nil, nil, fmt.Errorf("parse go.mod: %w", lerr)
		}
	}
	var edges inventory.Edges
	for _, req := range f.Require {
		path, version := req.Mod.Path, req.Mod.Version
		if rep := replacement(f.Replace, path, version); rep != nil {
			if rep.New.Version == "" {
				continue // replaced by a local directory
			}
			path, version = rep.New.Path, rep.New.Version
		}
		if path == "" {
			continue
		}
		if v, ok := raw[path]; ok && v == version {
			w.Addf("%s: version %q is not a module version; kept as written", trunc(path), trunc(v))
		}
		pkgs = append(pkgs, inventory.Package{Name: path, Version: strings.TrimSpace(version), Type: ecogolang.Type})
		if !req.Indirect {
			edges.Add(inventory.PackageRef{}, inventory.RefOf(pkgs[len(pkgs)-1]))
		}
	}
	pkgs = append(pkgs, dropped...)
	return pkgs, edges.List(), w.Strings(""), nil
}

// errText is a modfile error without its file and line prefix.
func errText(e modfile.Error) string {
	e.Filename, e.Pos = "", modfile.Position{}
	return e.Error()
}

// requireLine reads the module path and version of a rejected require line
// ("require path v" or "path v" inside a block): the path the parser named,
// or, for a require without a version, the line's only word.
func requireLine(line string, e modfile.Error) (inventory.Package, bool) {
	fields := strings.Fields(line)
	if i := slices.Index(fields, "//"); i >= 0 {
		fields = fields[:i]
	}
	if len(fields) > 0 && fields[0] == "require" {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return inventory.Package{}, false
	}
	path := strings.Trim(fields[0], `"`)
	switch {
	case e.ModPath != "" && path == e.ModPath:
	case e.ModPath == "" && len(fields) == 1 && strings.HasPrefix(e.Err.Error(), "usage: require") && module.CheckImportPath(path) == nil:
	default:
		return inventory.Package{}, false
	}
	p := inventory.Package{Name: path, Type: ecogolang.Type}
	if len(fields) > 1 {
		p.Version = strings.Trim(strings.Join(fields[1:], " "), `"`)
	}
	return p, true
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

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
