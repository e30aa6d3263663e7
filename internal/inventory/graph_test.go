package inventory

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ref(s string) PackageRef {
	if s == "" {
		return PackageRef{}
	}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == '@' {
			return PackageRef{Name: s[:i], Version: s[i+1:]}
		}
	}
	return PackageRef{Name: s}
}

func rel(path, from, to string) Relationship {
	return Relationship{Path: path, From: ref(from), To: ref(to)}
}

func npmPkg(path, nv string) Package {
	r := ref(nv)
	return Package{Name: r.Name, Version: r.Version, Type: "npm", Path: path}
}

func TestGraphDependency(t *testing.T) {
	const lock, yarn, gomod = "app/package-lock.json", "web/yarn.lock", "go/go.mod"
	inv := &Inventory{
		Packages: []Package{
			npmPkg(lock, "a@1"), npmPkg(lock, "b@1"), npmPkg(lock, "c@1"), npmPkg(lock, "x@1"), npmPkg(lock, "y@1"),
			npmPkg("app/node_modules/c/package.json", "c@1"),
			npmPkg("app/node_modules/z/package.json", "z@1"),
			npmPkg("other/node_modules/c/package.json", "c@1"),
			npmPkg(yarn, "p@1"), npmPkg(yarn, "q@1"), npmPkg(yarn, "lone@1"),
			{Name: "d/direct", Version: "v1", Type: "golang", Path: gomod},
			{Name: "d/indirect", Version: "v1", Type: "golang", Path: gomod},
			{Name: "libc6", Version: "2.36", Type: TypeDeb, Path: "var/lib/dpkg/status"},
		},
		Relationships: SortRelationships([]Relationship{
			rel(lock, "", "a@1"), rel(lock, "a@1", "b@1"), rel(lock, "b@1", "c@1"), rel(lock, "a@1", "c@1"),
			rel(lock, "c@1", "a@1"),                          // a cycle back to the root's child
			rel(lock, "x@1", "y@1"), rel(lock, "y@1", "x@1"), // a cycle nothing reaches
			rel(yarn, "p@1", "q@1"), // no root edges: inferred
			rel(gomod, "", "d/direct@v1"),
			rel("var/lib/dpkg/status", "libc6@2.36", "libgcc-s1@12"),
			rel(lock, "a@1", "a@1"), // self-edge, dropped
		}),
	}
	g := NewGraph(inv)
	tests := []struct {
		pkg  Package
		want Dependency
		ok   bool
	}{
		{inv.Packages[0], Dependency{Scope: ScopeDirect, IntroducedThrough: []string{"a@1"}, Path: lock}, true},
		{inv.Packages[1], Dependency{Scope: ScopeTransitive, IntroducedThrough: []string{"a@1", "b@1"}, Path: lock}, true},
		{inv.Packages[2], Dependency{Scope: ScopeTransitive, IntroducedThrough: []string{"a@1", "c@1"}, Path: lock}, true},
		{inv.Packages[3], Dependency{Scope: ScopeTransitive, Path: lock}, true},
		// An installed copy takes the enclosing directory's lockfile.
		{inv.Packages[5], Dependency{Scope: ScopeTransitive, IntroducedThrough: []string{"a@1", "c@1"}, Path: lock}, true},
		{inv.Packages[6], Dependency{}, false},
		{inv.Packages[7], Dependency{}, false},
		{inv.Packages[8], Dependency{Scope: ScopeDirect, IntroducedThrough: []string{"p@1"}, Path: yarn}, true},
		{inv.Packages[9], Dependency{Scope: ScopeTransitive, IntroducedThrough: []string{"p@1", "q@1"}, Path: yarn}, true},
		{inv.Packages[10], Dependency{Scope: ScopeDirect, IntroducedThrough: []string{"lone@1"}, Path: yarn}, true},
		{inv.Packages[11], Dependency{Scope: ScopeDirect, IntroducedThrough: []string{"d/direct@v1"}, Path: gomod}, true},
		{inv.Packages[12], Dependency{Scope: ScopeTransitive, Path: gomod}, true},
		{inv.Packages[13], Dependency{}, false},
	}
	for _, tt := range tests {
		got, ok := g.Dependency(tt.pkg)
		if ok != tt.ok || !cmp.Equal(got, tt.want) {
			t.Errorf("Dependency(%s %s) = %+v, %v; want %+v, %v", tt.pkg.Path, RefOf(tt.pkg), got, ok, tt.want, tt.ok)
		}
	}
}

// TestGraphLongChain: a chain far longer than the reported bound costs
// linear time and reports a bounded path.
func TestGraphLongChain(t *testing.T) {
	const n = 100_000
	inv := &Inventory{}
	prev := ""
	for i := range n {
		cur := fmt.Sprintf("p%d@1", i)
		inv.Relationships = append(inv.Relationships, rel("l", prev, cur))
		prev = cur
	}
	inv.Packages = []Package{npmPkg("l", prev)}
	d, ok := NewGraph(inv).Dependency(inv.Packages[0])
	if !ok || d.Scope != ScopeTransitive || len(d.IntroducedThrough) != MaxIntroducedThrough {
		t.Fatalf("got %v %v, %d elements", ok, d.Scope, len(d.IntroducedThrough))
	}
	if d.IntroducedThrough[0] != "p0@1" || d.IntroducedThrough[MaxIntroducedThrough-2] != "..." || d.IntroducedThrough[MaxIntroducedThrough-1] != prev {
		t.Errorf("path %q", d.IntroducedThrough)
	}
}

func TestEdgesBound(t *testing.T) {
	var e Edges
	for i := range MaxRelationshipsPerFile + 10 {
		e.Add(PackageRef{}, PackageRef{Name: fmt.Sprint(i)})
		e.Add(PackageRef{}, PackageRef{Name: fmt.Sprint(i)}) // a repeat
	}
	e.Add(PackageRef{Name: "a"}, PackageRef{Name: "a"})
	if len(e.List()) != MaxRelationshipsPerFile || e.Dropped != 20 {
		t.Errorf("kept %d, dropped %d", len(e.List()), e.Dropped)
	}
}
