package ruby

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
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
		p, warns, err := ParseGemspec(bytes.NewReader(b))
		if err == nil && (p.Name == "" || p.Type != rubygems.Type || (p.Version == "") != (len(warns) == 1)) {
			t.Errorf("bad package %+v, warnings %q", p, warns)
		}
	})
}

func FuzzParseGemfileLock(f *testing.F) {
	seeds(f, func(p string) bool { return strings.HasSuffix(p, "Gemfile.lock") })
	f.Add([]byte("GEM\n  specs:\n    rack (-)\n    rake (13.0.6)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parseGemfileLock(bytes.NewReader(b))
		if err != nil {
			return
		}
		langtest.CheckGraph(t, pkgs, rels)
		if len(warns) > warn.Max+1 {
			t.Errorf("%d warnings, more than the cap", len(warns))
		}
		again, warns2, err := ParseGemfileLock(bytes.NewReader(b))
		if err != nil || !cmp.Equal(pkgs, again) || !cmp.Equal(warns, warns2) {
			t.Errorf("second parse differs: %v", err)
		}
		for _, p := range pkgs {
			if p.Name == "" || strings.ContainsAny(p.Name, " ()") || p.Version != strings.TrimSpace(p.Version) {
				t.Errorf("bad package %+v", p)
			}
		}
	})
}

// TestParseGemfileLockMalformed mixes malformed spec lines with good ones:
// the good ones are kept, the bad ones dropped (no name) or kept with the
// version as written, each with its exact warning.
func TestParseGemfileLockMalformed(t *testing.T) {
	gem := func(name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: rubygems.Type}
	}
	tests := []struct {
		name  string
		line  string // a spec line between two good ones
		want  []inventory.Package
		warns []string
	}{
		{"empty version after the platform cut", "    rack (-)", []inventory.Package{gem("good1", "1.0"), gem("rack", "-"), gem("good2", "2.0")}, nil},
		{"empty parentheses", "    rack ()", []inventory.Package{gem("good1", "1.0"), gem("rack", ""), gem("good2", "2.0")},
			[]string{`line 5: gem "rack": empty version; kept with an empty version`}},
		{"no version", "    rack", []inventory.Package{gem("good1", "1.0"), gem("rack", ""), gem("good2", "2.0")},
			[]string{`line 5: gem "rack": no version; kept with an empty version`}},
		{"unparseable version", "    rack (2.0 beta)", []inventory.Package{gem("good1", "1.0"), gem("rack", "2.0 beta"), gem("good2", "2.0")}, nil},
		{"no parentheses", "    rack 2.0.6", []inventory.Package{gem("good1", "1.0"), gem("rack", "2.0.6"), gem("good2", "2.0")},
			[]string{`line 5: gem "rack": want "name (version)", got version "2.0.6"; kept as written`}},
		{"platform", "    nokogiri (1.10.3-x86_64-linux)", []inventory.Package{gem("good1", "1.0"), gem("nokogiri", "1.10.3"), gem("good2", "2.0")}, nil},
		{"a line over the limit", "    " + strings.Repeat("x", MaxLineSize), []inventory.Package{gem("good1", "1.0"), gem("good2", "2.0")},
			[]string{fmt.Sprintf("line 5: %d bytes, longer than the %d byte limit; skipped", MaxLineSize+4, MaxLineSize)}},
		{"no name", "    (broken line", []inventory.Package{gem("good1", "1.0"), gem("good2", "2.0")},
			[]string{`line 5: want "    name (version)", got "    (broken line"; skipped`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "GEM\n  remote: https://rubygems.org/\n  specs:\n    good1 (1.0)\n" + tt.line + "\n    good2 (2.0)\n      dep (>= 1)\n\nPLATFORMS\n  ruby\n"
			pkgs, warns, err := ParseGemfileLock(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, pkgs); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, warns); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseGemspecNoVersion(t *testing.T) {
	p, warns, err := ParseGemspec(strings.NewReader("Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\nend\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inventory.Package{Name: "rack", Type: rubygems.Type}, p); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`gem "rack" has no version assignment; kept with an empty version`}, warns); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	if _, _, err := ParseGemspec(strings.NewReader("s.summary = 'x'\n")); err == nil || err.Error() != `parse gemspec: no name assignment (version "")` {
		t.Errorf("no name: error %v", err)
	}
}
