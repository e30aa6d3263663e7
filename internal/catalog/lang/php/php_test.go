package php

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

func check(t *testing.T, pkgs []inventory.Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Type != inventory.TypeComposer {
			t.Errorf("bad package %+v", p)
		}
	}
}

func FuzzParseComposerLock(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "composer.lock") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseComposerLock(bytes.NewReader(b))
		check(t, pkgs)
	})
}

func FuzzParseInstalledJSON(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "installed.json") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseInstalledJSON(bytes.NewReader(b))
		check(t, pkgs)
	})
}
