package dotnet

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
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

func check(t *testing.T, pkgs []inventory.Package, warns []string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Name == "" || p.Version != strings.TrimSpace(p.Version) || p.Type != nuget.Type {
			t.Errorf("bad package %+v", p)
		}
	}
	if len(warns) > warn.Max+1 {
		t.Errorf("%d warnings, more than the cap", len(warns))
	}
}

func FuzzParseDepsJSON(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, ".deps.json") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParseDepsJSON(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
		}
	})
}

func FuzzParsePackagesLock(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "packages.lock.json") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParsePackagesLock(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
		}
	})
}

// TestMalformedRecords mixes malformed records with good ones: the good
// ones are kept, the bad ones dropped (no name) or kept with the version as
// written, each with its exact warning.
func TestMalformedRecords(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) ([]inventory.Package, []string, error)
		in    string
		want  []string
		warns []string
	}{
		{"deps.json", func(s string) ([]inventory.Package, []string, error) { return ParseDepsJSON(strings.NewReader(s)) },
			`{"libraries": {"Good1/1.0.0": {"type": "package"}, "NoVersion": {"type": "package"}, "Slash/": {"type": "package"}, "/1.0": {"type": "package"},
			"NotObject/1.0": "package", "Typed/1.0": {"type": 5}, "Odd/1.0 beta": {"type": "package"}, "App/1.0.0": {"type": "project"}, "Good2/2.0.0": {"type": "Package"}}}`,
			[]string{"Good1@1.0.0", "Good2@2.0.0", "NoVersion@", "Odd@1.0 beta", "Slash@"},
			[]string{`library key "/1.0" names no package; skipped`, `library key "NoVersion" is not "Name/Version"; kept with an empty version`,
				`library "NotObject/1.0": not an object; skipped`, `library key "Slash/" is not "Name/Version"; kept with an empty version`}},
		{"packages.lock.json", func(s string) ([]inventory.Package, []string, error) { return ParsePackagesLock(strings.NewReader(s)) },
			`{"version": 1, "dependencies": {"net6.0": {"Good1": {"type": "Direct", "resolved": "1.0.0"}, "NoResolved": {"type": "Direct"}, "NumResolved": {"resolved": 2},
			"ObjResolved": {"resolved": {}}, "NotObject": "1.0", " ": {"resolved": "1"}, "Proj": {"type": "Project"}, "Good2": {"type": "Transitive", "resolved": "2.0.0"}}, "net7.0": []}}`,
			[]string{"Good1@1.0.0", "Good2@2.0.0", "NoResolved@", "NumResolved@2", "ObjResolved@"},
			[]string{`net6.0: a dependency with an empty name; skipped`, `net6.0: "NoResolved": no resolved version; kept with an empty version`,
				`net6.0: "NotObject": not an object; skipped`, `net6.0: "ObjResolved": "resolved" is not a string; kept with an empty version`,
				`framework "net7.0": not an object of dependencies; skipped`}},
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
