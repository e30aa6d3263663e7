package rust

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
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
	if _, err := ParseBinary(bytes.NewReader(big)); err == nil || !strings.Contains(err.Error(), "input too large") {
		t.Errorf("oversized .dep-v0: error %v, want a size-limit error", err)
	}
	for _, b := range [][]byte{nil, []byte("\x7fEL"), []byte("#!/bin/sh\n"), []byte("\x7fELF\x02\x01\x01garbage")} {
		if pkgs, err := ParseBinary(bytes.NewReader(b)); err != nil || pkgs != nil {
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

func check(t *testing.T, pkgs []inventory.Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Type != inventory.TypeCargo {
			t.Errorf("bad package %+v", p)
		}
	}
}

func FuzzParseCargoLock(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "Cargo.lock") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseCargoLock(bytes.NewReader(b))
		check(t, pkgs)
	})
}

func FuzzParseBinary(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.Contains(p, "/bin/") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseBinary(bytes.NewReader(b))
		check(t, pkgs)
	})
}

func FuzzParseAuditableJSON(f *testing.F) {
	f.Add([]byte(auditJSON))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseAuditableJSON(bytes.NewReader(b))
		check(t, pkgs)
	})
}
