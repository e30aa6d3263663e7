package node

import (
	"bytes"
	"flag"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
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

func checkPkgs(t *testing.T, pkgs []inventory.Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Type != inventory.TypeNPM {
			t.Errorf("bad package %+v", p)
		}
	}
}

func FuzzParsePackageJSON(f *testing.F) {
	seeds(f, "package.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok, err := ParsePackageJSON(bytes.NewReader(b))
		if ok && err == nil {
			checkPkgs(t, []inventory.Package{p})
		}
	})
}

func FuzzParsePackageLock(f *testing.F) {
	seeds(f, "package-lock.json")
	seeds(f, "npm-shrinkwrap.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePackageLock(bytes.NewReader(b))
		checkPkgs(t, pkgs)
	})
}

func FuzzParseYarnLock(f *testing.F) {
	seeds(f, "yarn.lock")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseYarnLock(bytes.NewReader(b))
		checkPkgs(t, pkgs)
	})
}

func FuzzParsePnpmLock(f *testing.F) {
	seeds(f, "pnpm-lock.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePnpmLock(bytes.NewReader(b))
		checkPkgs(t, pkgs)
	})
}
