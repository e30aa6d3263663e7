package node

import (
	"bytes"
	"context"
	"flag"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.json")

func TestRequired(t *testing.T) {
	fsys := fstest.MapFS{"f": {Mode: 0o644}, "d": {Mode: 0o755 | 1<<31}}
	file, _ := fsys.Stat("f")
	dir, _ := fsys.Stat("d")
	tests := []struct {
		path string
		dir  bool
		want bool
	}{
		{"app/node_modules/lodash/package.json", false, true},
		{"node_modules/lodash/package.json", false, true},
		{"app/node_modules/lodash/package.json", true, false},
		{"app/node_modules/@babel/core/package.json", false, true},
		{"app/node_modules/a/node_modules/b/package.json", false, true},
		{"app/node_modules/a/node_modules/@s/b/package.json", false, true},
		{"app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json", false, true},
		{"app/node_modules/lodash/test/package.json", false, false},
		{"app/node_modules/lodash/test/fixtures/package.json", false, false},
		{"app/node_modules/@babel/package.json", false, false},
		{"app/node_modules/@/x/package.json", false, false},
		{"app/node_modules/.bin/package.json", false, false},
		{"app/node_modules/.package-lock.json", false, false},
		{"app/package.json", false, false},
		{"package.json", false, false},
		{"app/package-lock.json", false, true},
		{"package-lock.json", false, true},
		{"app/npm-shrinkwrap.json", false, true},
		{"app/yarn.lock", false, true},
		{"app/pnpm-lock.yaml", false, true},
		{"app/node_modules/foo/package-lock.json", false, false},
		{"app/node_modules/foo/yarn.lock", false, false},
		{"app/yarn.lock.bak", false, false},
	}
	for _, tt := range tests {
		info := file
		if tt.dir {
			info = dir
		}
		if got := New().Required(tt.path, info); got != tt.want {
			t.Errorf("Required(%q, dir=%v) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
}

func TestCases(t *testing.T) {
	for _, dir := range langtest.Cases(t) {
		t.Run(dir, func(t *testing.T) { langtest.Case(t, New(), dir, *update) })
	}
}

func TestYarnEntryName(t *testing.T) {
	tests := []struct{ in, want string }{
		{`lodash@^4.17.13`, "lodash"},
		{`"@babel/core@^7.0.0", "@babel/core@^7.1.0"`, "@babel/core"},
		{`lodash@4.17.15, lodash@^4.17.13`, "lodash"},
		{`"string-width-cjs@npm:string-width@^4.2.0"`, "string-width"},
		{`"@my/alias@npm:@scope/real@^1.0.0"`, "@scope/real"},
		{`"lodash@npm:^4.0.0"`, "lodash"},
		{`lodash`, "lodash"},
		{`"x@file:../x"`, "x"},
	}
	for _, tt := range tests {
		got, err := yarnEntryName(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("yarnEntryName(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPnpmKey(t *testing.T) {
	tests := []struct {
		key   string
		major int
		want  string // name@version or "" when not ok
	}{
		{"/lodash/4.17.15", 5, "lodash@4.17.15"},
		{"/@babel/core/7.1.0_supports-color@5.5.0", 5, "@babel/core@7.1.0"},
		{"registry.example.com/private/1.0.0", 5, ""},
		{"/lodash/", 5, ""},
		{"/minimist@1.2.0", 6, "minimist@1.2.0"},
		{"/@babel/core@7.20.0(supports-color@5.5.0)", 6, "@babel/core@7.20.0"},
		{"handlebars@4.5.0", 9, "handlebars@4.5.0"},
		{"@types/node@20.0.0(x@1)(y@2)", 9, "@types/node@20.0.0"},
		{"@types/node", 9, ""},
	}
	for _, tt := range tests {
		n, v, ok := pnpmKey(tt.key, tt.major)
		got := ""
		if ok {
			got = n + "@" + v
		}
		if got != tt.want {
			t.Errorf("pnpmKey(%q, %d) = %q, want %q", tt.key, tt.major, got, tt.want)
		}
	}
}

func names(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name+"@"+p.Version)
	}
	sort.Strings(out)
	return out
}

func TestSharedPythonNode(t *testing.T) {
	got := langtest.Image(t, New(), "lang-python-node.oci")
	nm := "srv/nodeapp/node_modules/"
	langtest.Expect(t, got,
		"lodash@4.17.15 "+nm+"lodash/package.json",
		"minimist@1.2.0 "+nm+"minimist/package.json",
		"axios@0.21.0 "+nm+"axios/package.json",
		"follow-redirects@1.13.0 "+nm+"follow-redirects/package.json",
		"handlebars@4.5.0 "+nm+"handlebars/package.json",
		"node-fetch@2.6.0 "+nm+"node-fetch/package.json",
	)
	all := []string{"axios@0.21.0", "follow-redirects@1.13.0", "handlebars@4.5.0", "lodash@4.17.15", "minimist@1.2.0", "node-fetch@2.6.0"}
	if d := cmp.Diff(all, names(got["srv/nodeapp/package-lock.json"].Packages)); d != "" {
		t.Errorf("package-lock.json (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"lodash@4.17.15", "minimist@1.2.0"}, names(got["srv/nodeapp/yarn.lock"].Packages)); d != "" {
		t.Errorf("yarn.lock (-want +got):\n%s", d)
	}
	if _, ok := got["srv/nodeapp/package.json"]; ok {
		t.Error("the project's own package.json was cataloged")
	}
	for p, r := range got {
		if len(r.Warnings) > 0 || r.Error != "" {
			t.Errorf("%s: warnings %q, error %q", p, r.Warnings, r.Error)
		}
	}
}

// TestSharedWhiteout: layer 2 whites out minimist and replaces lodash's
// package.json with 4.17.21.
func TestSharedWhiteout(t *testing.T) {
	got := langtest.Image(t, New(), "multilayer-whiteout.tar")
	var all []inventory.Package
	for _, r := range got {
		all = append(all, r.Packages...)
	}
	if d := cmp.Diff([]string{"lodash@4.17.21"}, names(all)); d != "" {
		t.Errorf("squashed npm packages (-want +got):\n%s", d)
	}
}

func seeds(f *testing.F, suffix string) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, suffix) }) {
		f.Add(b)
	}
}

// checkPkgs is every parser's invariant: each package has a name and a
// trimmed version, no project-local reference is a package, and the
// warnings are capped.
func checkPkgs(t *testing.T, pkgs []inventory.Package, warns []string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Name == "" || p.Version != strings.TrimSpace(p.Version) || localReference(p.Version) || p.Type != npm.Type {
			t.Errorf("bad package %+v", p)
		}
	}
	if len(warns) > warn.Max+1 {
		t.Errorf("%d warnings, more than the cap", len(warns))
	}
}

func FuzzParsePackageJSON(f *testing.F) {
	seeds(f, "package.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, warns, err := ParsePackageJSON(bytes.NewReader(b))
		if err != nil {
			return
		}
		if p.Version != strings.TrimSpace(p.Version) || p.Type != npm.Type || (p.Version == "" && len(warns) == 0) {
			t.Errorf("bad package %+v, warnings %q", p, warns)
		}
	})
}

func FuzzParsePackageLock(f *testing.F) {
	seeds(f, "package-lock.json")
	seeds(f, "npm-shrinkwrap.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parsePackageLock(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, pkgs, warns)
			langtest.CheckGraph(t, pkgs, rels)
		}
	})
}

func FuzzParseYarnLock(f *testing.F) {
	seeds(f, "yarn.lock")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parseYarnLock(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, pkgs, warns)
			langtest.CheckGraph(t, pkgs, rels)
		}
	})
}

func FuzzParsePnpmLock(f *testing.F) {
	seeds(f, "pnpm-lock.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parsePnpmLock(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, pkgs, warns)
			langtest.CheckGraph(t, pkgs, rels)
		}
	})
}

// TestMalformedRecords mixes malformed records with good ones in each
// format: the good ones are kept, the bad ones dropped (no name) or kept
// with the version as written, each with its exact warning.
func TestMalformedRecords(t *testing.T) {
	lock := func(s string) ([]inventory.Package, []string, error) { return ParsePackageLock(strings.NewReader(s)) }
	yarn := func(s string) ([]inventory.Package, []string, error) { return ParseYarnLock(strings.NewReader(s)) }
	pnpm := func(s string) ([]inventory.Package, []string, error) { return ParsePnpmLock(strings.NewReader(s)) }
	tests := []struct {
		name  string
		parse func(string) ([]inventory.Package, []string, error)
		in    string
		want  []string
		warns []string
	}{
		{"package-lock v3", lock, `{"lockfileVersion": 3, "packages": {
			"": {"name": "app", "version": "1.0.0"},
			"node_modules/good1": {"version": "1.0.0"},
			"node_modules/latest": {"version": "latest"},
			"node_modules/gitdep": {"version": "git+https://github.com/x/gitdep.git#abc", "resolved": "git+https://github.com/x/gitdep.git#abc"},
			"node_modules/forked": {"version": "4.17.15", "resolved": "git+ssh://git@github.com/x/lodash.git#abc"},
			"node_modules/nover": {"resolved": "https://registry.npmjs.org/nover/-/nover-1.0.0.tgz"},
			"node_modules/numver": {"version": 5},
			"node_modules/objver": {"version": {"a": 1}},
			"node_modules/notobject": "1.0.0",
			"node_modules/linked": {"resolved": "packages/linked", "link": true},
			"node_modules/alias": {"version": "npm:real@2.0.0"},
			"node_modules/good2": {"version": "2.0.0"}}}`,
			[]string{"good1@1.0.0", "latest@latest", "gitdep@git+https://github.com/x/gitdep.git#abc", "forked@4.17.15", "nover@", "numver@5", "objver@", "real@2.0.0", "good2@2.0.0"},
			[]string{`packages: "node_modules/nover": no version; kept with an empty version`,
				`packages: "node_modules/objver": "version" is not a string; kept with an empty version`,
				`packages: "node_modules/objver": no version; kept with an empty version`,
				`packages: "node_modules/notobject": not an object; skipped`}},
		{"package-lock v1", lock, `{"lockfileVersion": 1, "dependencies": {
			"good1": {"version": "1.0.0"},
			"gitdep": {"version": "github:x/gitdep#abc"},
			"nover": {"resolved": "x"},
			"arrver": {"version": [1], "dependencies": {"inner": {"version": "3.0.0"}}},
			"notobject": "1.0.0",
			"good2": {"version": "2.0.0"}}}`,
			[]string{"good1@1.0.0", "gitdep@github:x/gitdep#abc", "nover@", "inner@3.0.0", "arrver@", "good2@2.0.0"},
			[]string{`dependencies: "nover": no version; kept with an empty version`,
				`dependencies: "arrver": "version" is not a string; kept with an empty version`,
				`dependencies: "arrver": no version; kept with an empty version`,
				`dependencies: "notobject": not an object; skipped`}},
		{"yarn v1", yarn, "# yarn lockfile v1\n\ngood1@^1.0.0:\n  version \"1.0.0\"\n\nthis is not a header\n  version \"9\"\n\nnover@^1:\n  resolved \"x\"\n\n\"bad header\":\n  version \"1\"\n\nlatest@latest:\n  version \"latest\"\n\nempty@1:\n  version \"\"\n\ngood2@^2.0.0:\n  version \"2.0.0\"\n",
			[]string{"good1@1.0.0", "nover@", "latest@latest", "empty@", "good2@2.0.0"},
			[]string{`line 6: want an entry header ending in ':', got "this is not a header"; entry skipped`,
				`entry "nover" at line 9 has no version; kept with an empty version`,
				`line 12: bad entry header "\"bad header\""; entry skipped`,
				`line 19: entry "empty": empty version; kept with an empty version`}},
		{"yarn berry", yarn, "__metadata:\n  version: 6\n\n\"good1@npm:^1.0.0\":\n  version: 1.0.0\n  resolution: \"good1@npm:1.0.0\"\n\n\"gitdep@https://github.com/x/gitdep.git\":\n  version: 3.1.0\n  resolution: \"gitdep@https://github.com/x/gitdep.git#commit=abc\"\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n\n\"lodash@patch:lodash@npm%3A4.17.15#./fix.patch\":\n  version: 4.17.15\n  resolution: \"lodash@patch:lodash@npm%3A4.17.15#./fix.patch::version=4.17.15\"\n\n\"nores@npm:^1\":\n  version: 1.2.0\n\n\"typed@npm:^1\":\n  version: [1]\n  resolution: \"typed@npm:1.0.0\"\n",
			[]string{"gitdep@3.1.0", "good1@1.0.0", "lodash@4.17.15", "nores@1.2.0", "typed@1.0.0"},
			[]string{"line 24: cannot unmarshal !!seq into string; that value is ignored",
				`entry "nores@npm:^1" has no resolution; kept as nores@1.2.0`}},
		{"pnpm v9", pnpm, "lockfileVersion: '9.0'\npackages:\n  good1@1.0.0:\n    resolution: {integrity: sha512-x}\n  gitdep@https://codeload.github.com/x/gitdep/tar.gz/abc:\n    resolution: {tarball: https://codeload.github.com/x/gitdep/tar.gz/abc}\n    version: 3.1.0\n    name: gitdep\n  local@file:../local:\n    resolution: {directory: ../local, type: directory}\n    version: 1.0.0\n    name: local\n  typed@2.0.0:\n    resolution: {integrity: sha512-x}\n    version: [2]\n  good2@2.0.0:\n    resolution: {integrity: sha512-x}\n",
			[]string{"gitdep@3.1.0", "good1@1.0.0", "good2@2.0.0", "typed@2.0.0"},
			[]string{"line 15: cannot unmarshal !!seq into string; that value is ignored"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, warns, err := tt.parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+"@"+p.Version)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, warns); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestYarnLongLine: a yarn.lock line over MaxLineSize costs that line, or
// the entry whose header it is.
func TestYarnLongLine(t *testing.T) {
	long := strings.Repeat("x", MaxLineSize+1)
	in := "a@^1:\n  version \"1.0.0\"\n  resolved \"" + long + "\"\n\n" + long + ":\n  version \"9\"\n\nb@^2:\n  version \"2.0.0\"\n"
	pkgs, warns, err := ParseYarnLock(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a@1.0.0", "b@2.0.0"}, names(pkgs)); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	if len(warns) != 2 || !strings.HasPrefix(warns[0], "line 3: ") || !strings.HasPrefix(warns[1], "line 5: ") {
		t.Errorf("warnings %q", warns)
	}
}

// TestPackageJSONDegraded: an installed package.json without a usable
// name is named after its folder, and one without a version is kept.
func TestPackageJSONDegraded(t *testing.T) {
	tests := []struct {
		path, in string
		want     string
		warns    []string
	}{
		{"app/node_modules/lodash/package.json", `{"version": "4.17.15"}`, "lodash@4.17.15",
			[]string{`node: app/node_modules/lodash/package.json: no usable "name"; named "lodash" after its folder`}},
		{"app/node_modules/@s/pkg/package.json", `{"name": 5, "version": "1.0.0"}`, "@s/pkg@1.0.0",
			[]string{`node: app/node_modules/@s/pkg/package.json: "name" is not a string: 5`, `node: app/node_modules/@s/pkg/package.json: no usable "name"; named "@s/pkg" after its folder`}},
		{"app/node_modules/nover/package.json", `{"name": "nover"}`, "nover@",
			[]string{`node: app/node_modules/nover/package.json: no "version"; kept with an empty version`}},
		{"app/node_modules/latest/package.json", `{"name": "latest", "version": " latest "}`, "latest@latest", nil},
	}
	for _, tt := range tests {
		res, err := New().CatalogFile(context.Background(), catalog.File{Path: tt.path, R: strings.NewReader(tt.in), Size: int64(len(tt.in))})
		if err != nil || len(res.Packages) != 1 {
			t.Fatalf("%s: %+v, %v", tt.path, res, err)
		}
		if got := res.Packages[0].Name + "@" + res.Packages[0].Version; got != tt.want {
			t.Errorf("%s: %s, want %s", tt.path, got, tt.want)
		}
		if d := cmp.Diff(tt.warns, res.Warnings); d != "" {
			t.Errorf("%s: warnings (-want +got):\n%s", tt.path, d)
		}
	}
}
