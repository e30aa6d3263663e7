package node

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

func TestGraph(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) ([]inventory.Package, []inventory.Relationship, []string, error)
		in    string
		want  []string
	}{
		{
			name: "package-lock v3: nested folders win over hoisted ones, links and workspaces",
			parse: func(s string) ([]inventory.Package, []inventory.Relationship, []string, error) {
				return parsePackageLock(strings.NewReader(s))
			},
			in: `{"lockfileVersion":3,"packages":{
				"":{"name":"app","dependencies":{"a":"^1","w":"*"}},
				"node_modules/a":{"version":"1.0.0","dependencies":{"b":"^2","c":"^1"}},
				"node_modules/a/node_modules/b":{"version":"2.0.0","dependencies":{"c":"^1","a":"^1"}},
				"node_modules/b":{"version":"1.0.0"},
				"node_modules/c":{"version":"1.1.0","optionalDependencies":{"gone":"*"},"peerDependencies":{"b":"1"}},
				"node_modules/w":{"resolved":"packages/w","link":true},
				"packages/w":{"name":"w","version":"0.1.0","dependencies":{"b":"^1","d":"1"}},
				"packages/w/node_modules/d":{"version":"3.0.0","dependencies":"not an object"}
			}}`,
			want: []string{
				" -> a@1.0.0", " -> b@1.0.0", " -> d@3.0.0",
				"a@1.0.0 -> b@2.0.0", "a@1.0.0 -> c@1.1.0",
				"b@2.0.0 -> a@1.0.0", "b@2.0.0 -> c@1.1.0",
				"c@1.1.0 -> b@1.0.0",
			},
		},
		{
			name: "package-lock v1: requires resolve through the nested scopes",
			parse: func(s string) ([]inventory.Package, []inventory.Relationship, []string, error) {
				return parsePackageLock(strings.NewReader(s))
			},
			in: `{"lockfileVersion":1,"dependencies":{
				"a":{"version":"1.0.0","requires":{"b":"^2"},"dependencies":{"b":{"version":"2.0.0","requires":{"c":"1"}}}},
				"b":{"version":"1.0.0"},
				"c":{"version":"1.0.0","requires":{"missing":"1"}}
			}}`,
			want: []string{"a@1.0.0 -> b@2.0.0", "b@2.0.0 -> c@1.0.0"},
		},
		{
			name: "yarn v1: specs resolve to the entry whose header lists them",
			parse: func(s string) ([]inventory.Package, []inventory.Relationship, []string, error) {
				return parseYarnLock(strings.NewReader(s))
			},
			in: `# yarn lockfile v1

axios@0.21.0:
  version "0.21.0"
  dependencies:
    follow-redirects "^1.10.0"

follow-redirects@^1.10.0, follow-redirects@^1.13.0:
  version "1.13.0"
  optionalDependencies:
    "@s/x" "~1"
    unknown "1"

"@s/x@~1":
  version "1.0.1"
  dependencies:
    axios "0.21.0"
`,
			want: []string{"@s/x@1.0.1 -> axios@0.21.0", "axios@0.21.0 -> follow-redirects@1.13.0", "follow-redirects@1.13.0 -> @s/x@1.0.1"},
		},
		{
			name: "yarn berry: the workspace's dependencies are the root's",
			parse: func(s string) ([]inventory.Package, []inventory.Relationship, []string, error) {
				return parseYarnLock(strings.NewReader(s))
			},
			in: `__metadata:
  version: 6

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  dependencies:
    axios: ^0.21.0
  languageName: unknown

"axios@npm:^0.21.0":
  version: 0.21.0
  resolution: "axios@npm:0.21.0"
  dependencies:
    follow-redirects: "npm:^1.10.0"

"follow-redirects@npm:^1.10.0":
  version: 1.13.0
  resolution: "follow-redirects@npm:1.13.0"
`,
			want: []string{" -> axios@0.21.0", "axios@0.21.0 -> follow-redirects@1.13.0"},
		},
		{
			name: "pnpm v9: importers and snapshots",
			parse: func(s string) ([]inventory.Package, []inventory.Relationship, []string, error) {
				return parsePnpmLock(strings.NewReader(s))
			},
			in: `lockfileVersion: '9.0'
importers:
  .:
    dependencies:
      axios:
        specifier: ^0.21.0
        version: 0.21.0
packages:
  axios@0.21.0:
    resolution: {integrity: sha512-x}
  follow-redirects@1.13.0(debug@4.0.0):
    resolution: {integrity: sha512-y}
  debug@4.0.0:
    resolution: {integrity: sha512-z}
snapshots:
  axios@0.21.0:
    dependencies:
      follow-redirects: 1.13.0(debug@4.0.0)
  follow-redirects@1.13.0(debug@4.0.0):
    optionalDependencies:
      debug: 4.0.0
  debug@4.0.0: {}
`,
			want: []string{" -> axios@0.21.0", "axios@0.21.0 -> follow-redirects@1.13.0", "follow-redirects@1.13.0 -> debug@4.0.0"},
		},
		{
			name: "pnpm v5: top-level dependencies and slash keys",
			parse: func(s string) ([]inventory.Package, []inventory.Relationship, []string, error) {
				return parsePnpmLock(strings.NewReader(s))
			},
			in: `lockfileVersion: 5.4
specifiers:
  a: ^1.0.0
dependencies:
  a: 1.0.0
packages:
  /a/1.0.0:
    resolution: {integrity: sha512-x}
    dependencies:
      '@s/b': 2.0.0_a@1.0.0
  /@s/b/2.0.0_a@1.0.0:
    resolution: {integrity: sha512-y}
    dependencies:
      a: 1.0.0
`,
			want: []string{" -> a@1.0.0", "@s/b@2.0.0 -> a@1.0.0", "a@1.0.0 -> @s/b@2.0.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, rels, _, err := tt.parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			langtest.CheckGraph(t, pkgs, rels)
			if d := cmp.Diff(tt.want, langtest.Edges(rels)); d != "" {
				t.Errorf("edges (-want +got):\n%s", d)
			}
		})
	}
}

// TestGraphRealLockfiles reads lang-python-node's package-lock.json (v2,
// which names the project's dependencies) and yarn.lock (v1, which does
// not) through the cataloger.
func TestGraphRealLockfiles(t *testing.T) {
	got := langtest.Image(t, New(), "lang-python-node.oci")
	for file, want := range map[string][]string{
		"srv/nodeapp/package-lock.json": {" -> axios@0.21.0", " -> handlebars@4.5.0", " -> lodash@4.17.15", " -> minimist@1.2.0", " -> node-fetch@2.6.0", "axios@0.21.0 -> follow-redirects@1.13.0"},
		// Its two entries (lodash, minimist) depend on nothing.
		"srv/nodeapp/yarn.lock": nil,
	} {
		fr, ok := got[file]
		if !ok {
			t.Fatalf("%s not cataloged; got %v", file, langtest.Packages(got))
		}
		langtest.CheckGraph(t, fr.Packages, fr.Relationships)
		if d := cmp.Diff(want, langtest.Edges(fr.Relationships)); d != "" {
			t.Errorf("%s edges (-want +got):\n%s", file, d)
		}
	}
}

// TestGraphHostile: a lockfile whose every package depends on every other
// (a complete graph: cycles everywhere, n² edges) is read in bounded time
// with its edges capped at inventory.MaxRelationshipsPerFile.
func TestGraphHostile(t *testing.T) {
	const n = 600 // 359,400 edges
	var b strings.Builder
	b.WriteString(`{"lockfileVersion":3,"packages":{"":{"dependencies":{"p0":"*"}}`)
	deps := make([]string, n)
	for i := range n {
		deps[i] = fmt.Sprintf(`"p%d":"*"`, i)
	}
	all := strings.Join(deps, ",")
	for i := range n {
		fmt.Fprintf(&b, `,"node_modules/p%d":{"version":"1.0.0","dependencies":{%s}}`, i, all)
	}
	b.WriteString("}}")
	pkgs, rels, _, err := parsePackageLock(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != n || len(rels) != inventory.MaxRelationshipsPerFile {
		t.Errorf("%d packages, %d relationships; want %d and the cap %d", len(pkgs), len(rels), n, inventory.MaxRelationshipsPerFile)
	}
	langtest.CheckGraph(t, pkgs, rels)
	for i := range rels {
		rels[i].Path = "l"
	}
	for i := range pkgs {
		pkgs[i].Path = "l"
	}
	inv := &inventory.Inventory{Packages: pkgs, Relationships: rels}
	inv.PruneRelationships()
	g := inventory.NewGraph(inv)
	d, ok := g.Dependency(pkgs[n-1])
	if !ok || d.Scope != inventory.ScopeTransitive || len(d.IntroducedThrough) != 2 {
		t.Errorf("p%d: %+v %v; want transitive through p0", n-1, d, ok)
	}
}

func TestDepKeys(t *testing.T) {
	for in, want := range map[string][]string{
		`{"a": "^1", "\u0062": {"x": [1, {"y": "}"}], "z": "\"]"}, "c" : null , "d":true}`: {"a", "b", "c", "d"},
		`{}`:          nil,
		` null `:      nil,
		`"string"`:    nil,
		`[1, 2]`:      nil,
		`{"a\"q": 1}`: {`a"q`},
	} {
		var got []string
		w := &walker{}
		if err := (depKeys{w: w, names: &got}).UnmarshalJSON([]byte(in)); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", in, d)
		}
	}
}
