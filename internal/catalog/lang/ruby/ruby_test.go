package ruby

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
		{"usr/local/lib/ruby/gems/3.1.0/specifications/rack-2.0.6.gemspec", false, true},
		{"usr/local/lib/ruby/gems/3.1.0/specifications/rack-2.0.6.gemspec", true, false},
		{"usr/local/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec", false, true},
		{"specifications/rack-2.0.6.gemspec", false, true},
		{"usr/local/lib/ruby/gems/3.1.0/gems/rack-2.0.6/rack.gemspec", false, false},
		{"usr/local/lib/ruby/gems/3.1.0/specifications/x/rack.gemspec", false, false},
		{"app/Gemfile.lock", false, true},
		{"Gemfile.lock", false, true},
		{"app/gems.locked", false, true},
		{"app/Gemfile", false, false},
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
	lock := " src/ruby/Gemfile.lock"
	langtest.Expect(t, got, "nokogiri@1.10.3"+lock, "rack@2.0.6"+lock, "sinatra@2.0.5"+lock,
		"mini_portile2@2.4.0"+lock, "rack-protection@2.0.5"+lock, "mustermann@1.0.3"+lock, "tilt@2.0.9"+lock)
	if n := len(langtest.Packages(got)); n != 7 {
		t.Errorf("got %d packages, want 7: %q", n, langtest.Packages(got))
	}
}

func seeds(f *testing.F, keep func(string) bool) {
	for _, b := range langtest.Seeds(f, keep) {
		f.Add(b)
	}
}

func FuzzParseGemspec(f *testing.F) {
	seeds(f, func(p string) bool { return strings.HasSuffix(p, ".gemspec") })
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseGemspec(bytes.NewReader(b))
		if err == nil && (p.Name == "" || p.Version == "" || p.Type != inventory.TypeGem) {
			t.Errorf("bad package %+v", p)
		}
	})
}

func FuzzParseGemfileLock(f *testing.F) {
	seeds(f, func(p string) bool { return strings.HasSuffix(p, "Gemfile.lock") })
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseGemfileLock(bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || strings.Contains(p.Version, "-") {
				t.Errorf("bad package %+v", p)
			}
		}
	})
}
