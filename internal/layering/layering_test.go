package layering

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/modfile"
)

// layer is a set of packages (paths relative to the module; "x/..." is x and
// every package under it) and the lower layers its packages may import.
// Packages of one layer may not import each other, except within one "x/..."
// tree (the catalogers and their helpers, the feeds and their list, ...).
type layer struct {
	name    string
	pkgs    []string
	imports []string
}

// layers is Stowaway's import graph as it is meant to be, bottom first: a
// layer may import only the layers named in its imports, and only layers
// listed before it. The table was derived from the real graph of
// non-test imports (go list -f '{{.Imports}}' ./...) and found no back-edge.
// Test files are not checked: a test may reach up (sbom's tests build images
// with the indexer).
var layers = []layer{
	// Vocabulary and self-contained machinery: no internal imports.
	{"testutil", []string{"internal/testutil"}, nil},
	// A SeaweedFS S3 server for tests and the harness (not a test-only
	// helper: bench/harness starts one too).
	{"s3test", []string{"internal/s3test"}, nil},
	{"hostile", []string{"internal/hostile"}, nil},
	{"inventory", []string{"internal/inventory"}, nil},
	{"severity", []string{"internal/severity"}, nil},
	{"advisory", []string{"internal/advisory"}, []string{"severity"}},
	{"scanstatus", []string{"internal/scanstatus"}, nil},
	{"wildcard", []string{"internal/wildcard"}, nil},
	{"server/iampolicy", []string{"internal/server/iampolicy"}, []string{"wildcard"}},
	{"image", []string{"internal/source", "internal/squash"}, nil},
	{"events", []string{"internal/events"}, []string{"wildcard", "severity"}},
	{"server-base", []string{"internal/server/store/...", "internal/server/auth", "internal/server/metrics", "internal/server/tlsconf/..."}, []string{"wildcard", "severity", "server/iampolicy"}},
	{"server/policyeval", []string{"internal/server/policyeval"}, []string{"server-base", "server/iampolicy"}},
	{"tools", []string{"internal/tools/..."}, nil},
	{"layering", []string{"internal/layering"}, nil},

	// The scanner, from inventories and advisories up to one whole scan.
	{"version", []string{"internal/version"}, []string{"advisory"}},
	{"versiontest", []string{"internal/version/versiontest"}, []string{"testutil", "version"}},
	{"distro", []string{"internal/distro/..."}, []string{"version", "advisory"}},
	{"ecosystem", []string{"internal/ecosystem/..."}, []string{"inventory", "version"}},
	{"names", []string{"internal/names"}, []string{"inventory", "advisory", "distro", "ecosystem"}},
	{"osdetect", []string{"internal/osdetect"}, []string{"inventory", "distro"}},
	{"catalog", []string{"internal/catalog/..."}, []string{"inventory", "advisory", "testutil", "ecosystem"}},
	{"feeds", []string{"internal/feed/..."}, []string{"advisory", "severity"}},
	{"vulndb", []string{"internal/vulndb"}, []string{"advisory", "severity", "feeds"}},
	{"testdb", []string{"internal/testdb"}, []string{"testutil", "distro", "feeds", "vulndb"}},
	{"sbom", []string{"internal/sbom/..."}, []string{"inventory", "distro", "names", "osdetect", "testutil"}},
	{"indexer", []string{"internal/indexer"}, []string{"inventory", "image", "distro", "ecosystem", "names", "osdetect", "catalog"}},
	{"match", []string{"internal/match"}, []string{"inventory", "advisory", "severity", "version", "distro", "ecosystem"}},
	{"policy", []string{"internal/policy"}, []string{"advisory", "severity", "match", "names"}},
	// The ECR findings shape the server stores; report converts scans to it.
	{"server/scanning", []string{"internal/server/scanning"}, []string{"inventory", "scanstatus", "wildcard", "severity"}},
	{"report", []string{"internal/report"}, []string{"inventory", "advisory", "scanstatus", "severity", "sbom", "match", "server/scanning", "names"}},
	{"scan", []string{"internal/scan"}, []string{"inventory", "advisory", "image", "distro", "ecosystem", "catalog", "vulndb", "indexer", "match", "report", "scanstatus", "names"}},

	// The server: its parts, then the assembly.
	{"server/audit", []string{"internal/server/audit"}, []string{"server-base"}},
	{"server/registry", []string{"internal/server/registry"}, []string{"server-base", "server/audit", "server/scanning"}},
	{"server/jobs", []string{"internal/server/jobs"}, []string{"server-base", "server/scanning"}},
	{"server/lifecycle", []string{"internal/server/lifecycle"}, []string{"wildcard", "server-base", "server/audit", "server/registry"}},
	{"server/sbomref", []string{"internal/server/sbomref"}, []string{"inventory", "sbom", "server-base", "server/scanning", "server/registry", "names"}},
	{"server/rescan", []string{"internal/server/rescan"}, []string{"inventory", "advisory", "severity", "vulndb", "match", "report", "scan", "server-base", "server/scanning"}},
	{"server/notify", []string{"internal/server/notify"}, []string{"severity", "events", "server-base", "server/scanning"}},
	{"server/admission", []string{"internal/server/admission"}, []string{"severity", "server-base", "server/scanning"}},
	{"server/replication", []string{"internal/server/replication"}, []string{"events", "server-base", "server/registry"}},
	{"server/ecrapi", []string{"internal/server/ecrapi"}, []string{"severity", "server-base", "server/audit", "server/iampolicy", "server/scanning", "server/lifecycle", "server/registry", "server/replication"}},
	{"server/console", []string{"internal/server/console"}, []string{"inventory", "severity", "sbom", "match", "server-base", "server/audit", "server/scanning", "server/rescan", "names"}},
	{"server", []string{"internal/server"}, []string{"server-base", "server/audit", "server/scanning", "server/registry", "server/jobs", "server/lifecycle", "server/sbomref", "server/rescan", "server/notify", "server/admission", "server/ecrapi", "server/console", "server/policyeval", "server/replication", "names"}},

	// Commands and benchmarks at the top.
	{"cli", []string{"internal/cli"}, []string{"inventory", "image", "distro", "catalog", "feeds", "vulndb", "sbom", "severity", "indexer", "policy", "report", "scan", "server/sbomref", "server/rescan", "server/notify", "server/admission", "server", "ecosystem", "names"}},
	{"cmd", []string{"cmd/..."}, []string{"cli"}},
	// The image builder needs no internal package.
	{"build", []string{"build/..."}, nil},
	{"bench", []string{"bench/..."}, []string{"s3test", "inventory", "severity", "version", "vulndb", "match", "scan", "server-base", "server/scanning", "server/rescan", "server/ecrapi", "server/console"}},
}

// testHelpers are packages for tests only: no other package may import them
// outside its test files.
var testHelpers = []string{
	"internal/testutil",
	"internal/testdb",
	"internal/hostile",
	"internal/version/versiontest",
	"internal/catalog/lang/internal/langtest",
	"internal/feed/feedtest",
	"internal/feed/bz2/bz2test",
	"internal/sbom/sbomtest",
	"internal/server/store/storetest",
	"internal/server/tlsconf/tlstest",
}

func TestLayering(t *testing.T) {
	root := filepath.Join("..", "..")
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := modfile.ModulePath(gomod)
	if mod == "" {
		t.Fatal("go.mod names no module")
	}
	graph, err := importGraph(root, mod)
	if err != nil {
		t.Fatal(err)
	}
	// A walk that found next to nothing would pass vacuously.
	for _, p := range []string{"internal/cli", "internal/match", "internal/server"} {
		if _, ok := graph[p]; !ok {
			t.Fatalf("import graph has no %s (found %d packages): is the walk rooted at the module?", p, len(graph))
		}
	}
	for _, v := range check(graph, layers, testHelpers) {
		t.Error(v)
	}
}

// TestCheck shows that check finds each kind of violation on a small graph.
func TestCheck(t *testing.T) {
	small := []layer{
		{"base", []string{"a", "b"}, nil},
		{"tree", []string{"t/..."}, []string{"base"}},
		{"top", []string{"top"}, []string{"tree", "base"}},
	}
	clean := map[string][]string{
		"a": nil, "b": nil, "t": {"a"}, "t/x": {"t", "b"}, "top": {"t/x", "a"},
	}
	with := func(edits map[string][]string) map[string][]string {
		g := map[string][]string{}
		for k, v := range clean {
			g[k] = v
		}
		for k, v := range edits {
			g[k] = v
		}
		return g
	}
	tests := []struct {
		name    string
		graph   map[string][]string
		layers  []layer
		helpers []string
		want    []string
	}{
		{name: "clean", graph: clean, layers: small},
		{
			name:   "back-edge",
			graph:  with(map[string][]string{"a": {"top"}}),
			layers: small,
			want:   []string{`a (layer base) imports top (layer top): base may import only []`},
		},
		{
			name:   "same layer, two trees",
			graph:  with(map[string][]string{"b": {"a"}}),
			layers: small,
			want:   []string{`b imports a: both are in layer base, which may not import itself outside one tree`},
		},
		{
			name:   "package in no layer",
			graph:  with(map[string][]string{"new": {"a"}}),
			layers: small,
			want:   []string{`new is in no layer: add it to the table`},
		},
		{
			name:    "production code imports a test helper",
			graph:   with(map[string][]string{"helper": nil, "t/x": {"helper"}}),
			layers:  append(slices.Clone(small[:1]), layer{"helpers", []string{"helper"}, nil}, small[1], layer{"top", []string{"top"}, []string{"tree", "base"}}),
			helpers: []string{"helper"},
			want:    []string{`t/x (layer tree) imports helper (layer helpers): tree may import only [base]`, `t/x imports the test helper helper outside its tests`},
		},
		{
			name:   "table names a higher layer",
			graph:  clean,
			layers: []layer{small[0], {"tree", []string{"t/..."}, []string{"base", "top"}}, small[2]},
			want:   []string{`table: layer tree may import top, which is not below it`},
		},
		{
			name:   "stale table row",
			graph:  clean,
			layers: append(slices.Clone(small), layer{"gone", []string{"gone"}, nil}),
			want:   []string{`table: gone (layer gone) matches no package`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.graph, tt.layers, tt.helpers)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("check() (-want +got):\n%s", diff)
			}
		})
	}
}

// check returns every import in graph (package → module-relative imports)
// that layers or helpers forbid, and every inconsistency of the table.
func check(graph map[string][]string, layers []layer, helpers []string) []string {
	var out []string
	index := map[string]int{}
	for i, l := range layers {
		index[l.name] = i
		for _, imp := range l.imports {
			if j, ok := index[imp]; !ok || j >= i {
				out = append(out, fmt.Sprintf("table: layer %s may import %s, which is not below it", l.name, imp))
			}
		}
	}
	type place struct {
		layer   int
		pattern string
	}
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	where := map[string]place{}
	used := map[string]bool{}
	for _, p := range pkgs {
		var found []place
		for i, l := range layers {
			for _, pat := range l.pkgs {
				if matches(pat, p) {
					found = append(found, place{i, pat})
				}
			}
		}
		switch len(found) {
		case 0:
			out = append(out, fmt.Sprintf("%s is in no layer: add it to the table", p))
		case 1:
			where[p] = found[0]
			used[found[0].pattern] = true
		default:
			out = append(out, fmt.Sprintf("table: %s matches %d patterns", p, len(found)))
		}
	}
	for _, l := range layers {
		for _, pat := range l.pkgs {
			if !used[pat] {
				out = append(out, fmt.Sprintf("table: %s (layer %s) matches no package", pat, l.name))
			}
		}
	}
	for _, p := range pkgs {
		from, ok := where[p]
		if !ok {
			continue
		}
		fl := layers[from.layer]
		for _, imp := range graph[p] {
			to, ok := where[imp]
			if !ok {
				continue // reported above, or not a package of the module
			}
			tl := layers[to.layer]
			switch {
			case from.layer == to.layer && from.pattern != to.pattern:
				out = append(out, fmt.Sprintf("%s imports %s: both are in layer %s, which may not import itself outside one tree", p, imp, fl.name))
			case from.layer != to.layer && !slices.Contains(fl.imports, tl.name):
				out = append(out, fmt.Sprintf("%s (layer %s) imports %s (layer %s): %s may import only %v", p, fl.name, imp, tl.name, fl.name, fl.imports))
			}
			if slices.Contains(helpers, imp) && !slices.Contains(helpers, p) {
				out = append(out, fmt.Sprintf("%s imports the test helper %s outside its tests", p, imp))
			}
		}
	}
	return out
}

func matches(pattern, pkg string) bool {
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == tree || strings.HasPrefix(pkg, tree+"/")
	}
	return pkg == pattern
}

// importGraph reads the imports of every non-test Go file under root, whatever
// its build constraints, and returns each package directory (relative to
// the module) with the module's packages it imports, the same way.
func importGraph(root, mod string) (map[string][]string, error) {
	graph := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("layering: parse %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if _, ok := graph[pkg]; !ok {
			graph[pkg] = nil
		}
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return fmt.Errorf("layering: %s: import %s: %w", path, spec.Path.Value, err)
			}
			if rest, ok := strings.CutPrefix(imp, mod+"/"); ok && !slices.Contains(graph[pkg], rest) {
				graph[pkg] = append(graph[pkg], rest)
			}
		}
		return nil
	})
	return graph, err
}
