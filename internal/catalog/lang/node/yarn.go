package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/lines"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// berryMetadata marks a yarn berry (v2+) lockfile, which is YAML.
var berryMetadata = regexp.MustCompile(`(?m)^"?__metadata"?:`)

// ParseYarnLock parses a yarn.lock, classic (v1) or berry (v2 and later).
// An entry it cannot read is skipped with a warning; an entry without a
// version is kept with an empty version and a warning.
func ParseYarnLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parseYarnLock(r)
	return pkgs, warns, err
}

// parseYarnLock is ParseYarnLock with the dependency graph: each entry's
// dependencies and optionalDependencies ("name" "range") resolve to the
// entry whose header lists name@range. Berry records the project's own
// dependencies (its workspace entries) as the root's; classic yarn.lock
// does not (they are in package.json), so there the packages nothing
// depends on count as direct.
func parseYarnLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	b, err := langutil.ReadAll(r, MaxYarnLockSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse yarn.lock: %w", err)
	}
	if berryMetadata.Match(b) {
		if len(b) > MaxYAMLSize {
			return nil, nil, nil, fmt.Errorf("parse yarn.lock: %w: berry lockfile is %d bytes, the YAML limit is %d", langutil.ErrTooLarge, len(b), MaxYAMLSize)
		}
		return parseBerry(b)
	}
	return parseYarnV1(b)
}

// yarnGraph resolves "name@range" dependency specs to the entries whose
// headers list them.
type yarnGraph struct {
	specs map[string]inventory.PackageRef // header spec: its entry's package
	from  []inventory.PackageRef          // per dependency: the entry ...
	to    []string                        // ... and the spec it needs
	edges inventory.Edges
}

func (g *yarnGraph) spec(s string, ref inventory.PackageRef) {
	if g.specs == nil {
		g.specs = map[string]inventory.PackageRef{}
	}
	if _, ok := g.specs[s]; !ok {
		g.specs[s] = ref
	}
}

func (g *yarnGraph) dep(from inventory.PackageRef, spec string) {
	if len(g.to) >= inventory.MaxRelationshipsPerFile {
		g.edges.Dropped++
		return
	}
	g.from, g.to = append(g.from, from), append(g.to, spec)
}

// resolve returns the edges: a spec no header lists is dropped.
func (g *yarnGraph) resolve(alt func(string) string) []inventory.Relationship {
	for i, spec := range g.to {
		t, ok := g.specs[spec]
		if !ok && alt != nil {
			t, ok = g.specs[alt(spec)]
		}
		if ok {
			g.edges.Add(g.from[i], t)
		}
	}
	return g.edges.List()
}

// headerSpecs splits an entry header into its "name@range" specs.
func headerSpecs(header string) []string {
	var out []string
	for _, s := range strings.Split(header, ",") {
		if s = strings.Trim(strings.TrimSpace(s), `"'`); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseYarnV1 reads the classic format:
//
//	"@babel/core@^7.0.0", "@babel/core@^7.1.0":
//	  version "7.1.0"
//	  resolved "https://..."
func parseYarnV1(b []byte) ([]inventory.Package, []inventory.Relationship, []string, error) {
	sc := lines.NewScanner(bytes.NewReader(b), MaxYarnLockSize, MaxLineSize)
	var (
		s          set
		w          warn.List
		g          yarnGraph
		n          int
		name       string // the open entry's package
		version    string
		specs      []string // its header's specs
		deps       []string // its dependencies' specs
		inDeps     bool     // inside its dependencies block
		entryLine  int
		hasVersion bool
		skipping   bool // inside an entry whose header could not be read
	)
	closeEntry := func() {
		if name != "" && !hasVersion {
			w.Addf("entry %q at line %d has no version; kept with an empty version", trunc(name), entryLine)
			s.add(name, "")
		}
		if name != "" {
			ref := inventory.PackageRef{Name: name, Version: version}
			for _, sp := range specs {
				g.spec(sp, ref)
			}
			for _, d := range deps {
				g.dep(ref, d)
			}
		}
		name, version, specs, deps, inDeps, hasVersion, skipping = "", "", nil, nil, false, false, false
	}
	for sc.Scan() {
		n = sc.Line()
		if size, long := sc.TooLong(); long {
			w.Addf("line %d: %d bytes, longer than the %d byte limit; skipped", n, size, MaxLineSize)
			if line := sc.Text(); line != "" && line[0] != ' ' && line[0] != '\t' {
				closeEntry() // a header: the entry it opens cannot be read
				skipping = true
			}
			continue
		}
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			closeEntry()
			if !strings.HasSuffix(trimmed, ":") {
				w.Addf("line %d: want an entry header ending in ':', got %q; entry skipped", n, trunc(trimmed))
				skipping = true
				continue
			}
			nm, err := yarnEntryName(strings.TrimSuffix(trimmed, ":"))
			if err != nil {
				w.Addf("line %d: %v; entry skipped", n, err)
				skipping = true
				continue
			}
			name, entryLine = nm, n
			specs = headerSpecs(strings.TrimSuffix(trimmed, ":"))
			continue
		}
		if skipping {
			continue
		}
		if name == "" {
			w.Addf("line %d: indented line outside an entry; skipped", n)
			skipping = true
			continue
		}
		// The entry's own fields have a two-space indent; the lines of
		// its dependencies blocks four.
		if strings.HasPrefix(line, "    ") {
			if inDeps && !strings.HasPrefix(line, "     ") {
				dn, dr, _ := strings.Cut(trimmed, " ")
				dn = strings.Trim(dn, `"'`)
				dr = strings.Trim(strings.TrimSpace(dr), `"'`)
				if dn != "" {
					deps = append(deps, dn+"@"+dr)
				}
			}
			continue
		}
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			continue
		}
		k, v, _ := strings.Cut(trimmed, " ")
		inDeps = false
		switch strings.Trim(k, `"`) {
		case "dependencies:", "optionalDependencies:":
			inDeps = true
			continue
		}
		if k != "version" && k != `"version"` {
			continue
		}
		if hasVersion {
			continue
		}
		hasVersion = true
		v = strings.TrimSpace(strings.Trim(strings.TrimSpace(v), `"'`))
		if v == "" {
			w.Addf("line %d: entry %q: empty version; kept with an empty version", n, trunc(name))
		}
		version = v
		s.add(name, v)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("parse yarn.lock: line %d: %w", n+1, err)
	}
	closeEntry()
	return s.list, g.resolve(nil), w.Strings(""), nil
}

// yarnEntryName returns the package named by an entry header such as
// `"@babel/core@^7.0.0", "@babel/core@^7.1.0"` or `alias@npm:real@^1.0.0`.
func yarnEntryName(header string) (string, error) {
	first, _, _ := strings.Cut(header, ",")
	first = strings.Trim(strings.TrimSpace(first), `"'`)
	name, _, ok := splitNameVersion(first)
	if !ok {
		// A bare name with no range ("lodash:") is legal but rare.
		if first == "" || strings.ContainsAny(first, " \"") {
			return "", fmt.Errorf("bad entry header %q", trunc(header))
		}
		return first, nil
	}
	// "alias@npm:real@range": the installed package is real. The '@' we
	// split on may be the one inside the npm: part.
	if i := strings.Index(first, "@npm:"); i > 0 {
		name = first[:i]
		if real, _, ok := splitNameVersion(first[i+len("@npm:"):]); ok {
			name = real
		} else if rest := first[i+len("@npm:"):]; rest != "" && !strings.ContainsAny(rest[:1], "^~<>=*0123456789") {
			name = rest
		}
	}
	if name == "" {
		return "", fmt.Errorf("bad entry header %q", trunc(header))
	}
	return name, nil
}

// parseBerry reads a yarn berry lockfile: YAML entries with a resolution
// "name@<reference>".
func parseBerry(b []byte) ([]inventory.Package, []inventory.Relationship, []string, error) {
	var doc map[string]struct {
		Version              string            `yaml:"version"`
		Resolution           string            `yaml:"resolution"`
		Dependencies         map[string]string `yaml:"dependencies"`
		OptionalDependencies map[string]string `yaml:"optionalDependencies"`
		PeerDependencies     map[string]string `yaml:"peerDependencies"`
	}
	var w warn.List
	if err := yaml.Unmarshal(b, &doc); err != nil {
		// A value of the wrong type costs that value: yaml.v3 decodes the
		// rest and lists the mismatches.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, nil, nil, fmt.Errorf("parse yarn.lock (berry): %w", err)
		}
		for _, e := range te.Errors {
			w.Addf("%s; that value is ignored", e)
		}
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var (
		s set
		g yarnGraph
	)
	// node records the entry k as ref (the zero ref: the project's own
	// folder) with its dependencies.
	node := func(k string, ref inventory.PackageRef) {
		for _, sp := range headerSpecs(k) {
			g.spec(sp, ref)
		}
		e := doc[k]
		for _, m := range []map[string]string{e.Dependencies, e.OptionalDependencies, e.PeerDependencies} {
			names := make([]string, 0, len(m))
			for d := range m {
				names = append(names, d)
			}
			sort.Strings(names)
			for _, d := range names {
				g.dep(ref, d+"@"+strings.TrimSpace(m[d]))
			}
		}
	}
	for _, k := range keys {
		if k == "__metadata" {
			continue
		}
		e := doc[k]
		version := strings.TrimSpace(e.Version)
		if e.Resolution == "" {
			if localReference(version) {
				node(k, inventory.PackageRef{})
				continue // the project's own folder, as with a resolution
			}
			name, err := yarnEntryName(k)
			if err != nil {
				w.Addf("entry %q has no resolution and names no package; skipped", trunc(k))
				continue
			}
			w.Addf("entry %q has no resolution; kept as %s@%s", trunc(k), trunc(name), trunc(version))
			s.add(name, version)
			node(k, inventory.PackageRef{Name: name, Version: version})
			continue
		}
		name, ref, ok := splitResolution(e.Resolution)
		if !ok {
			w.Addf("entry %q: resolution %q names no package; skipped", trunc(k), trunc(e.Resolution))
			continue
		}
		switch {
		case localReference(ref):
			node(k, inventory.PackageRef{})
			continue // the project's own folder
		case strings.HasPrefix(ref, "npm:"):
			version = strings.TrimPrefix(ref, "npm:")
		case strings.HasPrefix(ref, "patch:"):
			// "patch:name@npm%3A1.0.0#./fix.patch::...": the patched package.
			inner, _, _ := strings.Cut(strings.TrimPrefix(ref, "patch:"), "#")
			if u, err := url.PathUnescape(inner); err == nil {
				inner = u
			}
			if n, r, ok := splitResolution(inner); ok && strings.HasPrefix(r, "npm:") {
				name, version = n, strings.TrimPrefix(r, "npm:")
			} else if _, r, ok := splitResolution(inner); ok && localReference(r) {
				node(k, inventory.PackageRef{})
				continue
			}
		default:
			// git, a tarball URL, file: ... kept with the version of its
			// package.json as the lockfile records it, else as written.
			if version == "" {
				version = ref
			}
		}
		version = strings.TrimSpace(version) // as every other version, kept trimmed
		if version == "" {
			w.Addf("entry %q: no version; kept with an empty version", trunc(k))
		}
		s.add(name, version)
		node(k, inventory.PackageRef{Name: name, Version: version})
	}
	// Berry's dependency ranges leave out the npm: protocol its headers
	// carry ("lodash: ^4.0.0" needs "lodash@npm:^4.0.0").
	alt := func(spec string) string {
		if n, r, ok := splitResolution(spec); ok && !strings.Contains(r, ":") {
			return n + "@npm:" + r
		}
		return spec
	}
	return s.list, g.resolve(alt), w.Strings(""), nil
}

// splitResolution splits a berry resolution "name@reference" (the name may
// be scoped, "@s/n@npm:1.0.0") at the first '@' after the name.
func splitResolution(r string) (name, ref string, ok bool) {
	i := strings.IndexByte(r[min(1, len(r)):], '@')
	if i < 0 {
		return "", "", false
	}
	i++
	name, ref = r[:i], r[i+1:]
	return name, ref, name != "" && ref != ""
}
