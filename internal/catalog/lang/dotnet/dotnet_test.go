package dotnet

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"testing/fstest"

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
		{"app/App.deps.json", false, true},
		{"app/App.deps.json", true, false},
		{"App.deps.json", false, true},
		{"app/.deps.json", false, false},
		{"app/App.runtimeconfig.json", false, false},
		{"src/packages.lock.json", false, true},
		{"src/package-lock.json", false, false},
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

func TestSharedLockfiles(t *testing.T) {
	got := langtest.Image(t, New(), "lang-lockfiles.tar")
	f := " src/dotnet/FixtureApp.deps.json"
	langtest.Expect(t, got, "Newtonsoft.Json@12.0.1"+f, "System.Text.Encodings.Web@4.5.0"+f, "Microsoft.Data.SqlClient@1.0.19269.1"+f)
	if n := len(langtest.Packages(got)); n != 3 {
		t.Errorf("got %d packages, want 3 (the project itself is not a package): %q", n, langtest.Packages(got))
	}
}

func check(t *testing.T, pkgs []inventory.Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Type != inventory.TypeNuGet {
			t.Errorf("bad package %+v", p)
		}
	}
}

func FuzzParseDepsJSON(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, ".deps.json") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseDepsJSON(bytes.NewReader(b))
		check(t, pkgs)
	})
}

func FuzzParsePackagesLock(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "packages.lock.json") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePackagesLock(bytes.NewReader(b))
		check(t, pkgs)
	})
}
