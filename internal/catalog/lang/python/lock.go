package python

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePoetryLock parses a poetry.lock file and returns every locked
// package, and a warning for each [[package]] it could not read fully: one
// without a name is dropped, one without a usable version is kept with an
// empty version.
func ParsePoetryLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parsePoetryLock(r)
	return pkgs, warns, err
}

// parsePoetryLock is ParsePoetryLock with the dependency graph: each
// package's [package.dependencies] names resolve (PEP 503 normalized) to
// the lock's packages. poetry.lock does not say what the project itself
// depends on (pyproject.toml does), so the packages nothing depends on
// count as direct.
func parsePoetryLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	b, err := langutil.ReadAll(r, MaxLockSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse poetry.lock: %w", err)
	}
	// Decoded loosely, so that one package of the wrong shape cannot make
	// the whole file fail to decode.
	var lock struct {
		Package []map[string]any `toml:"package"`
	}
	if _, err := toml.Decode(string(b), &lock); err != nil {
		return nil, nil, nil, fmt.Errorf("parse poetry.lock: %w", err)
	}
	var (
		pkgs  []inventory.Package
		w     warn.List
		res   langutil.Resolver
		froms []inventory.PackageRef
		deps  []map[string]any
	)
	for i, p := range lock.Package {
		name, _ := langutil.TOMLText(p["name"])
		if name == "" {
			w.Addf("package #%d: no name; skipped", i+1)
			continue
		}
		version, ok := langutil.TOMLText(p["version"])
		switch {
		case !ok:
			w.Addf("package #%d (%q): version is not a string; kept with an empty version", i+1, trunc(name))
		case version == "":
			w.Addf("package #%d (%q): no version; kept with an empty version", i+1, trunc(name))
		}
		pkgs = append(pkgs, inventory.Package{Name: name, Version: version, Type: pypi.Type})
		ref := inventory.PackageRef{Name: name, Version: version}
		res.AddAs(normalize(name), ref)
		d, _ := p["dependencies"].(map[string]any)
		froms, deps = append(froms, ref), append(deps, d)
	}
	var e inventory.Edges
	for i, from := range froms {
		names := make([]string, 0, len(deps[i]))
		for n := range deps[i] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if t, ok := res.Find(normalize(n), ""); ok {
				e.Add(from, t)
			}
		}
	}
	return pkgs, e.List(), w.Strings(""), nil
}

// normalize is a name as PEP 503 compares it.
func normalize(name string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(strings.TrimSpace(name)))
}

// ParsePipfileLock parses a Pipfile.lock and returns the pinned packages of
// its "default" and "develop" sections. An entry without a "version" that
// is a VCS, path or file install (it has git, hg, svn, bzr, path, file or
// editable) is skipped: it names no published release. Any other entry is
// kept with its version as written (a leading "==" or "===" removed), with
// a warning when that version is missing or not a pin. Pipfile.lock
// records no dependency graph: neither which package needs which nor
// which of them the project itself asked for (that is the Pipfile's).
func ParsePipfileLock(r io.Reader) ([]inventory.Package, []string, error) {
	var lock struct {
		Meta    *json.RawMessage           `json:"_meta"`
		Default map[string]json.RawMessage `json:"default"`
		Develop map[string]json.RawMessage `json:"develop"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&lock); err != nil {
		return nil, nil, fmt.Errorf("parse Pipfile.lock: %w", err)
	}
	if lock.Meta == nil && lock.Default == nil && lock.Develop == nil {
		return nil, nil, errors.New("parse Pipfile.lock: no _meta, default or develop section")
	}
	var (
		pkgs []inventory.Package
		w    warn.List
	)
	for _, sec := range []struct {
		name    string
		entries map[string]json.RawMessage
	}{{"default", lock.Default}, {"develop", lock.Develop}} {
		names := make([]string, 0, len(sec.entries))
		for n := range sec.entries {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			name := strings.TrimSpace(n)
			if name == "" {
				w.Addf("%s: entry with an empty name; skipped", sec.name)
				continue
			}
			var e map[string]json.RawMessage
			if err := json.Unmarshal(sec.entries[n], &e); err != nil {
				w.Addf("%s: %q: not an object; kept with an empty version", sec.name, trunc(name))
				pkgs = append(pkgs, inventory.Package{Name: name, Type: pypi.Type})
				continue
			}
			raw, has := e["version"]
			if !has {
				local := false
				for _, k := range []string{"git", "hg", "svn", "bzr", "path", "file", "editable"} {
					_, ok := e[k]
					local = local || ok
				}
				if local {
					continue
				}
				w.Addf("%s: %q: no version; kept with an empty version", sec.name, trunc(name))
				pkgs = append(pkgs, inventory.Package{Name: name, Type: pypi.Type})
				continue
			}
			v, ok := langutil.JSONText(raw)
			pin, pinned := strings.CutPrefix(v, "==")
			pin = strings.TrimSpace(strings.TrimPrefix(pin, "="))
			switch {
			case !ok:
				w.Addf("%s: %q: version is not a string; kept with an empty version", sec.name, trunc(name))
				pin = ""
			case !pinned:
				w.Addf("%s: %q: version %q is not an == pin; kept as written", sec.name, trunc(name), trunc(v))
				pin = v
			case pin == "":
				w.Addf("%s: %q: empty version; kept with an empty version", sec.name, trunc(name))
			}
			pkgs = append(pkgs, inventory.Package{Name: name, Version: pin, Type: pypi.Type})
		}
	}
	return pkgs, w.Strings(""), nil
}
