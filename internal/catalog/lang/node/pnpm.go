package node

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePnpmLock parses a pnpm-lock.yaml. Package keys come in three shapes:
// "/name/1.0.0_peer@2" (lockfile v5), "/name@1.0.0(peer@2)" (v6) and
// "name@1.0.0" (v9); scoped names ("@scope/name") work in all three. An
// entry's own name and version fields win over its key. Local directory
// dependencies are skipped; git and tarball ones are kept with their
// version as written.
func ParsePnpmLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parsePnpmLock(r)
	return pkgs, warns, err
}

// pnpmDeps are the dependency maps of a project or a package: name to a
// version (v5, v6, packages and snapshots of v9) or to {specifier,
// version} (v9 importers).
type pnpmDeps struct {
	Dependencies         map[string]any `yaml:"dependencies"`
	OptionalDependencies map[string]any `yaml:"optionalDependencies"`
	DevDependencies      map[string]any `yaml:"devDependencies"`
}

// each calls fn for every dependency, sorted by name.
func (d pnpmDeps) each(fn func(name, version string)) {
	for _, m := range []map[string]any{d.Dependencies, d.OptionalDependencies, d.DevDependencies} {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			switch v := m[n].(type) {
			case string:
				fn(n, strings.TrimSpace(v))
			case map[string]any:
				if s, ok := v["version"].(string); ok {
					fn(n, strings.TrimSpace(s))
				}
			}
		}
	}
}

// parsePnpmLock is ParsePnpmLock with the dependency graph: the importers'
// (or, in a single-project lockfile before v6, the top level's)
// dependencies are the project's, and each package's (v9: each
// snapshot's) resolve through the key its version spells.
func parsePnpmLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	b, err := langutil.ReadAll(r, MaxYAMLSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse pnpm-lock.yaml: %w", err)
	}
	var doc struct {
		LockfileVersion any `yaml:"lockfileVersion"`
		pnpmDeps        `yaml:",inline"`
		Importers       map[string]pnpmDeps `yaml:"importers"`
		Snapshots       map[string]pnpmDeps `yaml:"snapshots"`
		Packages        map[string]struct {
			Name       string `yaml:"name"`
			Version    string `yaml:"version"`
			Resolution struct {
				Type      string `yaml:"type"`
				Directory string `yaml:"directory"`
			} `yaml:"resolution"`
			pnpmDeps `yaml:",inline"`
		} `yaml:"packages"`
	}
	var w warn.List
	if err := yaml.Unmarshal(b, &doc); err != nil {
		// A value of the wrong type costs that value: yaml.v3 decodes the
		// rest and lists the mismatches.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, nil, nil, fmt.Errorf("parse pnpm-lock.yaml: %w", err)
		}
		for _, e := range te.Errors {
			w.Addf("%s; that value is ignored", e)
		}
	}
	if doc.LockfileVersion == nil {
		return nil, nil, nil, fmt.Errorf("parse pnpm-lock.yaml: no lockfileVersion")
	}
	major, err := lockMajor(doc.LockfileVersion)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse pnpm-lock.yaml: %w", err)
	}
	refs := map[string]inventory.PackageRef{} // package or snapshot key: its package
	keys := make([]string, 0, len(doc.Packages))
	for k := range doc.Packages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s set
	for _, k := range keys {
		e := doc.Packages[k]
		if e.Resolution.Type == "directory" || e.Resolution.Directory != "" {
			continue // a local directory of the project
		}
		name, version, ok := pnpmKey(k, major)
		if e.Name != "" {
			name = strings.TrimSpace(e.Name)
		}
		// The entry's version wins when it has its own name, or when the
		// key holds no plain version (a tarball URL, a git host path).
		if e.Version != "" && (e.Name != "" || !ok || strings.ContainsAny(version, ":/")) {
			version = e.Version
		}
		version = strings.TrimSpace(version)
		switch {
		case name == "":
			w.Addf("package %q: no name in the key or the entry; skipped", trunc(k))
			continue
		case localReference(version):
			continue
		case version == "":
			w.Addf("package %q: no version; kept with an empty version", trunc(k))
		}
		s.add(name, version)
		refs[k] = inventory.PackageRef{Name: name, Version: version}
	}
	for k := range doc.Snapshots {
		if name, version, ok := pnpmKey(k, major); ok {
			refs[k] = inventory.PackageRef{Name: name, Version: version}
		}
	}
	var edges inventory.Edges
	resolve := func(from inventory.PackageRef) func(name, version string) {
		return func(name, version string) {
			for _, k := range []string{version, "/" + name + "/" + version, "/" + name + "@" + version, name + "@" + version} {
				if t, ok := refs[k]; ok {
					edges.Add(from, t)
					return
				}
			}
		}
	}
	root := resolve(inventory.PackageRef{})
	doc.pnpmDeps.each(root)
	importers := make([]string, 0, len(doc.Importers))
	for k := range doc.Importers {
		importers = append(importers, k)
	}
	sort.Strings(importers)
	for _, k := range importers {
		doc.Importers[k].each(root)
	}
	for _, k := range keys {
		if ref, ok := refs[k]; ok {
			doc.Packages[k].pnpmDeps.each(resolve(ref))
		}
	}
	snaps := make([]string, 0, len(doc.Snapshots))
	for k := range doc.Snapshots {
		snaps = append(snaps, k)
	}
	sort.Strings(snaps)
	for _, k := range snaps {
		if ref, ok := refs[k]; ok {
			doc.Snapshots[k].each(resolve(ref))
		}
	}
	return s.list, edges.List(), w.Strings(""), nil
}

// lockMajor reads lockfileVersion: 5.4, '6.0', '9.0'.
func lockMajor(v any) (int, error) {
	s := strings.TrimSpace(fmt.Sprint(v))
	major, _, _ := strings.Cut(s, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad lockfileVersion %q", trunc(s))
	}
	return n, nil
}

// pnpmKey splits a packages key into name and version.
func pnpmKey(k string, major int) (name, version string, ok bool) {
	if major < 9 {
		var hadSlash bool
		k, hadSlash = strings.CutPrefix(k, "/")
		if !hadSlash {
			return "", "", false // a registry-host key or a non-registry one
		}
	}
	if i := strings.IndexByte(k, '('); i >= 0 {
		k = k[:i] // v6/v9 peer suffix
	}
	if major >= 6 {
		return splitNameVersion(k)
	}
	// v5: name/version[_peers], name may be @scope/name.
	segs := strings.SplitN(k, "/", 3)
	switch {
	case strings.HasPrefix(k, "@") && len(segs) == 3:
		name, version = segs[0]+"/"+segs[1], segs[2]
	case !strings.HasPrefix(k, "@") && len(segs) == 2:
		name, version = segs[0], segs[1]
	default:
		return "", "", false
	}
	if i := strings.IndexByte(version, '_'); i >= 0 {
		version = version[:i]
	}
	return name, version, name != "" && version != ""
}
