package php

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
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
		{"app/composer.lock", false, true},
		{"app/composer.lock", true, false},
		{"composer.lock", false, true},
		{"app/composer.json", false, false},
		{"app/vendor/foo/bar/composer.lock", false, false},
		{"vendor/foo/bar/composer.lock", false, false},
		{"app/vendor/composer/installed.json", false, true},
		{"vendor/composer/installed.json", false, true},
		{"app/vendor/composer/installed.php", false, false},
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
	f := " src/php/composer.lock"
	langtest.Expect(t, got, "guzzlehttp/guzzle@6.5.5"+f, "symfony/http-kernel@v4.4.0"+f, "twig/twig@v2.12.0"+f)
	if n := len(langtest.Packages(got)); n != 3 {
		t.Errorf("got %d packages, want 3: %q", n, langtest.Packages(got))
	}
}

func check(t *testing.T, pkgs []inventory.Package, warns []string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Name == "" || p.Version != strings.TrimSpace(p.Version) || p.Type != composer.Type {
			t.Errorf("bad package %+v", p)
		}
	}
	if len(warns) > warn.Max+1 {
		t.Errorf("%d warnings, more than the cap", len(warns))
	}
}

func FuzzParseComposerLock(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "composer.lock") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parseComposerLock(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
			langtest.CheckGraph(t, pkgs, rels)
		}
	})
}

func FuzzParseInstalledJSON(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "installed.json") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParseInstalledJSON(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
		}
	})
}

// TestMalformedRecords mixes malformed packages with good ones: the good
// ones are kept, the bad ones dropped (no name) or kept with the version as
// written, each with its exact warning.
func TestMalformedRecords(t *testing.T) {
	const list = `[{"name": "good/one", "version": "v1.0.0"}, {"name": "no/version"}, {"version": "1.0"}, "not an object", {"name": 5, "version": "1"},
		{"name": "num/version", "version": 2}, {"name": "obj/version", "version": {}}, {"name": "dev/branch", "version": "dev-main"}, {"name": "good/two", "version": "2.0.0"}]`
	want := []string{"good/one@v1.0.0", "no/version@", "num/version@2", "obj/version@", "dev/branch@dev-main", "good/two@2.0.0"}
	warns := []string{`package #2 ("no/version"): no version; kept with an empty version`, "package #3: no name; skipped", "package #4: not an object; skipped",
		"package #5: no name; skipped", `package #7 ("obj/version"): "version" is not a string; kept with an empty version`}
	for _, tt := range []struct {
		name  string
		parse func(string) ([]inventory.Package, []string, error)
		in    string
	}{
		{"composer.lock", func(s string) ([]inventory.Package, []string, error) { return ParseComposerLock(strings.NewReader(s)) }, `{"packages": ` + list + `}`},
		{"installed.json v1", func(s string) ([]inventory.Package, []string, error) { return ParseInstalledJSON(strings.NewReader(s)) }, list},
		{"installed.json v2", func(s string) ([]inventory.Package, []string, error) { return ParseInstalledJSON(strings.NewReader(s)) }, `{"packages": ` + list + `, "dev": true}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, ws, err := tt.parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+"@"+p.Version)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(warns, ws); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

func TestComposerGraph(t *testing.T) {
	const lock = `{"packages": [
		{"name": "guzzlehttp/guzzle", "version": "6.5.5", "require": {"php": ">=5.5", "ext-json": "*", "GuzzleHttp/Psr7": "^1.6", "guzzlehttp/promises": "^1.0"}},
		{"name": "guzzlehttp/psr7", "version": "1.6.1", "require": "not an object"},
		{"name": "guzzlehttp/promises", "version": "1.3.1", "require": {"guzzlehttp/guzzle": "*"}}
	], "packages-dev": []}`
	pkgs, rels, _, err := parseComposerLock(strings.NewReader(lock))
	if err != nil {
		t.Fatal(err)
	}
	langtest.CheckGraph(t, pkgs, rels)
	want := []string{"guzzlehttp/guzzle@6.5.5 -> guzzlehttp/promises@1.3.1", "guzzlehttp/guzzle@6.5.5 -> guzzlehttp/psr7@1.6.1", "guzzlehttp/promises@1.3.1 -> guzzlehttp/guzzle@6.5.5"}
	if d := cmp.Diff(want, langtest.Edges(rels)); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
}
