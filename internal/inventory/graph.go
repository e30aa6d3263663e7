package inventory

import (
	"cmp"
	"path"
	"slices"
	"strings"
)

// The dependency graph.
//
// A cataloger that reads a file recording which package depends on which
// (a lockfile, a package database) returns the edges as Relationships, each
// naming the file and two packages of it by name and version. A
// Relationship whose From is the zero PackageRef starts at the file's root:
// the project whose lockfile it is (not itself a package of the inventory),
// so its To is a direct dependency. The graph is kept beside the packages
// (Inventory.Relationships) rather than on each of them, and it may name
// packages the inventory does not hold (an OS-owned copy dropped, an entry
// skipped as a link to the project's own folder): users of the graph ignore
// those ends, or walk through them.

// Bounds of the graph, against hostile files.
const (
	// MaxRelationshipsPerFile bounds the edges kept of one file; the rest
	// are dropped with a warning (see CapRelationships).
	MaxRelationshipsPerFile = 200_000
	// MaxIntroducedThrough bounds the length of a dependency path
	// reported for a finding: a longer path keeps its first
	// MaxIntroducedThrough-2 packages, then "...", then the package.
	MaxIntroducedThrough = 32
)

// PackageRef names a package within the file it was read from.
type PackageRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// RefOf is p's PackageRef.
func RefOf(p Package) PackageRef { return PackageRef{Name: p.Name, Version: p.Version} }

// IsRoot reports whether r is the zero PackageRef: a file's root project.
func (r PackageRef) IsRoot() bool { return r == PackageRef{} }

// String is "name@version" ("name" when the version is empty).
func (r PackageRef) String() string {
	if r.Version == "" {
		return r.Name
	}
	return r.Name + "@" + r.Version
}

// Relationship is one edge of the dependency graph: From depends on To,
// as the file at Path records it. A zero From is the file's root project.
type Relationship struct {
	Path string     `json:"path,omitempty"`
	From PackageRef `json:"from,omitzero"`
	To   PackageRef `json:"to"`
}

func compareRelationships(a, b Relationship) int {
	return cmp.Or(
		strings.Compare(a.Path, b.Path),
		strings.Compare(a.From.Name, b.From.Name),
		strings.Compare(a.From.Version, b.From.Version),
		strings.Compare(a.To.Name, b.To.Name),
		strings.Compare(a.To.Version, b.To.Version),
	)
}

// SortRelationships sorts rs by path, from and to, drops repeats and
// self-edges, cleans their text (see CleanText) and returns the result.
func SortRelationships(rs []Relationship) []Relationship {
	for i := range rs {
		r := &rs[i]
		r.Path = CleanText(r.Path)
		r.From.Name, r.From.Version = CleanText(r.From.Name), CleanText(r.From.Version)
		r.To.Name, r.To.Version = CleanText(r.To.Name), CleanText(r.To.Version)
	}
	rs = slices.DeleteFunc(rs, func(r Relationship) bool { return r.From == r.To || r.To.IsRoot() })
	slices.SortFunc(rs, compareRelationships)
	return slices.Compact(rs)
}

// CapRelationships keeps at most MaxRelationshipsPerFile edges of rs (one
// file's), reporting how many it dropped.
func CapRelationships(rs []Relationship) ([]Relationship, int) {
	if len(rs) <= MaxRelationshipsPerFile {
		return rs, 0
	}
	return rs[:MaxRelationshipsPerFile], len(rs) - MaxRelationshipsPerFile
}

// Edges collects one file's relationships, dropping repeats as they come.
// The zero value is ready to use.
type Edges struct {
	seen map[[2]PackageRef]struct{}
	list []Relationship
	// Dropped counts the Add calls over MaxRelationshipsPerFile (a repeat
	// of a dropped edge counts again).
	Dropped int
}

// Add records that from depends on to (a zero from: the root project).
// Self-edges and edges to the root are ignored.
func (e *Edges) Add(from, to PackageRef) {
	if from == to || to.IsRoot() {
		return
	}
	k := [2]PackageRef{from, to}
	if _, ok := e.seen[k]; ok {
		return
	}
	if len(e.list) >= MaxRelationshipsPerFile {
		e.Dropped++
		return
	}
	if e.seen == nil {
		e.seen = map[[2]PackageRef]struct{}{}
	}
	e.seen[k] = struct{}{}
	e.list = append(e.list, Relationship{From: from, To: to})
}

// List returns the edges added (Path empty: the indexer fills it in).
func (e *Edges) List() []Relationship { return e.list }

// Scope says how a package came into its project.
type Scope string

// Scopes.
const (
	// ScopeDirect: the project itself depends on the package.
	ScopeDirect Scope = "direct"
	// ScopeTransitive: the package is there because another one needs it.
	ScopeTransitive Scope = "transitive"
)

// Dependency is where a package sits in its project's dependency graph.
type Dependency struct {
	Scope Scope `json:"scope"`
	// IntroducedThrough is a shortest path from the project to the
	// package: name@version of each package on it, the package last (one
	// element for a direct dependency). Empty when the file says the
	// package is transitive but not through which (go.mod's
	// "// indirect"). At most MaxIntroducedThrough elements.
	IntroducedThrough []string `json:"introducedThrough,omitempty"`
	// Path is the file whose graph says so: the package's own, or for a
	// package read from a file without a graph (an installed
	// node_modules/x/package.json), the nearest lockfile of an enclosing
	// directory that records the same package.
	Path string `json:"path"`
}

// Graph answers where packages sit in the dependency graphs of their
// files. Build it once per inventory with NewGraph; it computes each
// file's shortest paths on first use, in time linear in that file's edges.
// A Graph is not safe for concurrent use.
type Graph struct {
	files map[string]*fileGraph
	// byDir lists, per directory, the files of it that have a graph.
	byDir map[string][]string
}

type fileGraph struct {
	typ      Type // the type of the file's packages, "" when it holds none
	edges    map[PackageRef][]PackageRef
	nodes    map[PackageRef]struct{} // every package an edge names
	roots    []PackageRef            // the root's direct dependencies
	inferred bool                    // no root edges: roots are the packages nothing depends on
	needed   map[PackageRef]bool     // when inferred: the packages something depends on
	// parent is the BFS tree from the root: each reached node's
	// predecessor on a shortest path (the zero ref for a direct one).
	parent map[PackageRef]PackageRef
}

// NewGraph indexes the relationships of inv.
func NewGraph(inv *Inventory) *Graph {
	g := &Graph{files: map[string]*fileGraph{}, byDir: map[string][]string{}}
	for _, r := range inv.Relationships {
		f := g.files[r.Path]
		if f == nil {
			f = &fileGraph{edges: map[PackageRef][]PackageRef{}, nodes: map[PackageRef]struct{}{}}
			g.files[r.Path] = f
			d := path.Dir(r.Path)
			g.byDir[d] = append(g.byDir[d], r.Path)
		}
		f.nodes[r.To] = struct{}{}
		if r.From.IsRoot() {
			f.roots = append(f.roots, r.To)
		} else {
			f.edges[r.From] = append(f.edges[r.From], r.To)
			f.nodes[r.From] = struct{}{}
		}
	}
	for _, p := range inv.Packages {
		if f := g.files[p.Path]; f != nil && f.typ == "" {
			f.typ = p.Type
		}
	}
	for _, fs := range g.byDir {
		slices.Sort(fs)
	}
	return g
}

// Empty reports whether the graph has no edges at all.
func (g *Graph) Empty() bool { return g == nil || len(g.files) == 0 }

// Dependency says whether p is a direct or a transitive dependency of its
// project and through which packages; ok is false when neither p's file
// nor a lockfile of an enclosing directory records p in a graph. OS
// packages have no project: for them ok is always false.
func (g *Graph) Dependency(p Package) (Dependency, bool) {
	if g.Empty() || p.Type.IsOS() {
		return Dependency{}, false
	}
	ref := RefOf(p)
	file := p.Path
	if i := strings.IndexByte(file, '!'); i >= 0 {
		file = file[:i]
	}
	if f := g.files[file]; f != nil {
		return f.dependency(ref, file), true
	}
	// A package read from a file without a graph: the nearest enclosing
	// directory's lockfile that records it.
	for d := path.Dir(file); ; d = path.Dir(d) {
		for _, lf := range g.byDir[d] {
			f := g.files[lf]
			if f.typ == p.Type && f.has(ref) {
				return f.dependency(ref, lf), true
			}
		}
		if d == "." || d == "/" {
			return Dependency{}, false
		}
	}
}

// has reports whether the file's graph names ref.
func (f *fileGraph) has(ref PackageRef) bool {
	_, ok := f.nodes[ref]
	return ok
}

func (f *fileGraph) dependency(ref PackageRef, file string) Dependency {
	f.bfs()
	d := Dependency{Scope: ScopeTransitive, Path: file}
	parent, ok := f.parent[ref]
	if !ok {
		if f.inferred && !f.needed[ref] {
			// Nothing depends on it: the project does.
			d.Scope, d.IntroducedThrough = ScopeDirect, []string{ref.String()}
		}
		// Otherwise not reachable from the root: on a cycle of its own,
		// or (a file that lists the root's dependencies, go.mod) not one
		// of them.
		return d
	}
	if parent.IsRoot() {
		d.Scope = ScopeDirect
	}
	var rev []string
	for n, steps := ref, 0; ; steps++ {
		rev = append(rev, n.String())
		pn := f.parent[n]
		if pn.IsRoot() || steps > len(f.parent) {
			break
		}
		n = pn
	}
	slices.Reverse(rev)
	if len(rev) > MaxIntroducedThrough {
		rev = append(append(rev[:MaxIntroducedThrough-2:MaxIntroducedThrough-2], "..."), rev[len(rev)-1])
	}
	d.IntroducedThrough = rev
	return d
}

// bfs computes the shortest-path tree from the root once.
func (f *fileGraph) bfs() {
	if f.parent != nil {
		return
	}
	f.parent = map[PackageRef]PackageRef{}
	roots := f.roots
	if len(roots) == 0 {
		// The file does not say what the project depends on (yarn.lock
		// v1): the packages no other package depends on are taken as the
		// direct ones.
		f.inferred = true
		f.needed = map[PackageRef]bool{}
		for _, tos := range f.edges {
			for _, t := range tos {
				f.needed[t] = true
			}
		}
		for from := range f.edges {
			if !f.needed[from] {
				roots = append(roots, from)
			}
		}
		slices.SortFunc(roots, comparePackageRefs)
	}
	queue := make([]PackageRef, 0, len(roots))
	for _, r := range roots {
		if _, ok := f.parent[r]; !ok {
			f.parent[r] = PackageRef{}
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range f.edges[n] {
			if _, ok := f.parent[t]; ok || t.IsRoot() {
				continue
			}
			f.parent[t] = n
			queue = append(queue, t)
		}
	}
}

func comparePackageRefs(a, b PackageRef) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
}

// PruneRelationships drops the relationships of inv whose ends are not
// packages of inv read from the relationship's file (a package dropped
// after cataloging, or a hostile file's dangling name), and sorts the
// rest (SortRelationships, which also cleans their text: compare them
// with cleaned packages).
func (inv *Inventory) PruneRelationships() {
	if len(inv.Relationships) == 0 {
		inv.Relationships = nil
		return
	}
	type key struct{ path, name, version string }
	have := make(map[key]struct{}, len(inv.Packages))
	for _, p := range inv.Packages {
		file, _, _ := strings.Cut(p.Path, "!")
		have[key{file, p.Name, p.Version}] = struct{}{}
	}
	kept := make([]Relationship, 0, len(inv.Relationships))
	for _, r := range SortRelationships(inv.Relationships) {
		if _, ok := have[key{r.Path, r.To.Name, r.To.Version}]; !ok {
			continue
		}
		if _, ok := have[key{r.Path, r.From.Name, r.From.Version}]; !ok && !r.From.IsRoot() {
			continue
		}
		kept = append(kept, r)
	}
	inv.Relationships = kept
	if len(inv.Relationships) == 0 {
		inv.Relationships = nil
	}
}
