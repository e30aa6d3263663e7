package rust

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/cargo"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.json and the generated executables")

func TestRequired(t *testing.T) {
	fsys := fstest.MapFS{"exec": {Mode: 0o755}, "file": {Mode: 0o644}, "d": {Mode: 0o755 | 1<<31}}
	info := func(n string) os.FileInfo { i, _ := fsys.Stat(n); return i }
	tests := []struct {
		path, info string
		want       bool
	}{
		{"usr/local/bin/app", "exec", true},
		{"usr/local/bin/app", "file", false},
		{"usr/local/bin", "d", false},
		{"src/app/Cargo.lock", "file", true},
		{"Cargo.lock", "file", true},
		{"src/app/Cargo.toml", "file", false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, info(tt.info)); got != tt.want {
			t.Errorf("Required(%q, %s) = %v, want %v", tt.path, tt.info, got, tt.want)
		}
	}
}

func TestCases(t *testing.T) {
	for _, dir := range langtest.Cases(t) {
		t.Run(dir, func(t *testing.T) { langtest.Case(t, New(), dir, *update) })
	}
}

func TestParseBinaryLimits(t *testing.T) {
	big := minimalELF(section{".dep-v0", make([]byte, MaxSectionSize+1)})
	if _, _, err := ParseBinary(bytes.NewReader(big)); err == nil || !strings.Contains(err.Error(), "input too large") {
		t.Errorf("oversized .dep-v0: error %v, want a size-limit error", err)
	}
	for _, b := range [][]byte{nil, []byte("\x7fEL"), []byte("#!/bin/sh\n"), []byte("\x7fELF\x02\x01\x01garbage")} {
		if pkgs, _, err := ParseBinary(bytes.NewReader(b)); err != nil || pkgs != nil {
			t.Errorf("ParseBinary(%q) = %v, %v; want nothing", b, pkgs, err)
		}
	}
}

func TestSharedLockfiles(t *testing.T) {
	got := langtest.Image(t, New(), "lang-lockfiles.tar")
	var names []string
	for _, p := range got["src/rust/Cargo.lock"].Packages {
		names = append(names, p.Name+"@"+p.Version)
	}
	// fixture-rs is the workspace crate (no source).
	if d := cmp.Diff([]string{"regex@1.5.4", "smallvec@0.6.13", "time@0.1.43"}, names); d != "" {
		t.Errorf("Cargo.lock (-want +got):\n%s", d)
	}
}

func check(t *testing.T, pkgs []inventory.Package, warns []string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Name == "" || p.Version != strings.TrimSpace(p.Version) || p.Type != cargo.Type {
			t.Errorf("bad package %+v", p)
		}
	}
	if len(warns) > warn.Max+1 {
		t.Errorf("%d warnings, more than the cap", len(warns))
	}
}

func FuzzParseCargoLock(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "Cargo.lock") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parseCargoLock(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
			langtest.CheckGraph(t, pkgs, rels)
		}
	})
}

func FuzzParseBinary(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.Contains(p, "/bin/") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParseBinary(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
		}
	})
}

func FuzzParseAuditableJSON(f *testing.F) {
	f.Add([]byte(auditJSON))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParseAuditableJSON(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs, warns)
		}
	})
}

// TestMalformedRecords mixes malformed packages with good ones: the good
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
		{"Cargo.lock", func(s string) ([]inventory.Package, []string, error) { return ParseCargoLock(strings.NewReader(s)) },
			"version = 3\n\n[[package]]\nname = \"good1\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n" +
				"[[package]]\nname = \"nover\"\nsource = \"registry+x\"\n\n[[package]]\nversion = \"1.0.0\"\nsource = \"registry+x\"\n\n" +
				"[[package]]\nname = \"arrver\"\nversion = [1]\nsource = \"registry+x\"\n\n[[package]]\nname = \"gitdep\"\nversion = \"0.1.0\"\nsource = \"git+https://github.com/x/y#abc\"\n\n" +
				"[[package]]\nname = \"workspace\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"good2\"\nversion = \"2.0.0\"\nsource = \"registry+x\"\n",
			[]string{"good1@1.0.0", "nover@", "arrver@", "gitdep@0.1.0", "good2@2.0.0"},
			[]string{`package #2 ("nover"): no version; kept with an empty version`, "package #3: no name; skipped", `package #4 ("arrver"): version is not a string; kept with an empty version`}},
		{".dep-v0 JSON", func(s string) ([]inventory.Package, []string, error) { return ParseAuditableJSON(strings.NewReader(s)) },
			`{"packages": [{"name": "good1", "version": "1.0.0", "source": "crates.io"}, {"name": "nover", "source": "crates.io"}, {"version": "1"}, 7,
			{"name": "objver", "version": {}, "source": "crates.io"}, {"name": "app", "version": "0.1.0", "source": "local"}, {"name": "good2", "version": "2.0.0", "source": "crates.io"}]}`,
			[]string{"good1@1.0.0", "nover@", "objver@", "good2@2.0.0"},
			[]string{`package #2 ("nover"): no version; kept with an empty version`, "package #3: no name; skipped", "package #4: not an object; skipped",
				`package #5 ("objver"): version is not a string; kept with an empty version`}},
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
