package golang

import (
	"bytes"
	"flag"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	ecogolang "github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.json")

func TestRequired(t *testing.T) {
	fsys := fstest.MapFS{"exec": {Mode: 0o755}, "file": {Mode: 0o644}, "ux": {Mode: 0o744}, "d": {Mode: 0o755 | 1<<31}}
	info := func(n string) os.FileInfo { i, _ := fsys.Stat(n); return i }
	tests := []struct {
		path, info string
		want       bool
	}{
		{"usr/local/bin/vulnapp", "exec", true},
		{"usr/local/bin/vulnapp", "ux", true},
		{"usr/local/bin/vulnapp", "file", false},
		{"usr/local/bin", "d", false},
		{"src/app/go.mod", "file", true},
		{"go.mod", "file", true},
		{"src/app/go.mod", "d", false},
		{"root/go/pkg/mod/github.com/x/y@v1.0.0/go.mod", "file", false},
		{"pkg/mod/github.com/x/y@v1.0.0/go.mod", "file", false},
		{"src/app/go.sum", "file", false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, info(tt.info)); got != tt.want {
			t.Errorf("Required(%q, %s) = %v, want %v", tt.path, tt.info, got, tt.want)
		}
	}
	if New().Required("usr/local/bin/vulnapp", nil) {
		t.Error("Required without file info must not guess that a file is executable")
	}
}

func TestCases(t *testing.T) {
	for _, dir := range langtest.Cases(t) {
		t.Run(dir, func(t *testing.T) { langtest.Case(t, New(), dir, *update) })
	}
}

func TestStdlibVersion(t *testing.T) {
	for in, want := range map[string]string{
		"go1.26.8":                    "go1.26.8",
		"go1.22.0 X:boringcrypto":     "go1.22.0",
		"go1.22.0+auto":               "go1.22.0",
		"go1.21rc2":                   "go1.21rc2",
		"devel go1.23-abcdef Mon Jan": "",
		"":                            "",
	} {
		if got := StdlibVersion(in); got != want {
			t.Errorf("StdlibVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromBuildInfo(t *testing.T) {
	bi, err := debug.ParseBuildInfo(strings.Join([]string{
		"path\texample.com/app/cmd/app",
		"mod\texample.com/app\t(devel)\t",
		"dep\tgithub.com/gin-gonic/gin\tv1.6.0\th1:x=",
		"dep\tgithub.com/old/x\tv1.0.0\t",
		"=>\tgithub.com/new/x\tv1.2.0\th1:y=",
		"dep\tgithub.com/local/y\tv0.1.0\t",
		"=>\t../y\t\t",
		"build\t-trimpath=true",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	bi.GoVersion = "go1.22.0 X:boringcrypto"
	// A dependency without a version (build info a tool wrote by hand) is
	// kept: the matcher reports it as degraded.
	bi.Deps = append(bi.Deps, &debug.Module{Path: "github.com/no/version"})
	var got []string
	for _, p := range FromBuildInfo(bi) {
		got = append(got, p.Name+"@"+p.Version)
	}
	want := []string{"example.com/app@", "github.com/gin-gonic/gin@v1.6.0", "github.com/new/x@v1.2.0", "github.com/no/version@", "stdlib@go1.22.0"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FromBuildInfo (-want +got):\n%s", d)
	}
}

// TestTestBinary reads the build info of this test binary: a real Go ELF
// executable (on Linux) built from this module. Test binaries record the
// main module and toolchain but no dependencies.
func TestTestBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := ParseBinary(f)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, p := range pkgs {
		have[p.Name] = p.Version
	}
	if _, ok := have["github.com/stowaway-scanner/stowaway"]; !ok {
		t.Errorf("main module missing; got %v", have)
	}
	if v := have["stdlib"]; v != StdlibVersion(runtime.Version()) {
		t.Errorf("stdlib version %q, want %q", v, StdlibVersion(runtime.Version()))
	}
}

func TestSharedJavaGo(t *testing.T) {
	got := langtest.Image(t, New(), "lang-java-go.tar")
	bin := " usr/local/bin/vulnapp"
	langtest.Expect(t, got,
		"example.com/vulnfixture@"+bin,
		"github.com/gin-gonic/gin@v1.6.0"+bin,
		"golang.org/x/text@v0.3.5"+bin,
		"gopkg.in/yaml.v2@v2.2.8"+bin,
		"github.com/golang/protobuf@v1.3.3"+bin,
		"stdlib@go1.26.8"+bin,
	)
	if n := len(got["usr/local/bin/vulnapp"].Packages); n != 14 {
		t.Errorf("vulnapp: %d packages, want 14 (main, 12 deps, stdlib)", n)
	}
	for p, r := range got {
		if len(r.Warnings) > 0 || r.Error != "" {
			t.Errorf("%s: warnings %q, error %q", p, r.Warnings, r.Error)
		}
	}
}

func TestSharedLockfiles(t *testing.T) {
	got := langtest.Image(t, New(), "lang-lockfiles.tar")
	f := " src/go/go.mod"
	langtest.Expect(t, got, "github.com/gin-gonic/gin@v1.6.0"+f, "golang.org/x/text@v0.3.5"+f, "gopkg.in/yaml.v2@v2.2.8"+f,
		"golang.org/x/sys@v0.0.0-20200116001909-b77594299b42"+f)
	if n := len(got["src/go/go.mod"].Packages); n != 15 {
		t.Errorf("go.mod: %d packages, want the 15 require lines", n)
	}
}

func check(t *testing.T, pkgs []inventory.Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Type != ecogolang.Type {
			t.Errorf("bad package %+v", p)
		}
	}
}

func FuzzParseGoMod(f *testing.F) {
	for _, b := range langtest.Seeds(f, func(p string) bool { return strings.HasSuffix(p, "go.mod") }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parseGoMod(bytes.NewReader(b))
		if err == nil {
			check(t, pkgs)
			langtest.CheckGraph(t, pkgs, rels)
			if len(warns) > warn.Max+1 {
				t.Errorf("%d warnings, more than the cap", len(warns))
			}
		}
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

// TestGoModMalformed mixes malformed require lines with good ones: the good
// ones are kept, the bad ones kept with the version as written (or dropped
// when they name no module), each with its exact warning.
func TestGoModMalformed(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string
		warns []string
	}{
		{"versions that are no module versions", "module m\n\ngo 1.22\n\nrequire (\n\tgood/one v1.0.0\n\tbeta/mod \"v1.2 beta\"\n\tlatest/mod latest // indirect\n\tgood/two v2.0.0+incompatible\n)\n",
			[]string{"good/one@v1.0.0", "good/two@v2.0.0+incompatible", "beta/mod@v1.2 beta", "latest/mod@latest"},
			[]string{`line 7: version "v1.2 beta" invalid: should be v0 or v1, not ; beta/mod kept with the version as written`,
				`line 8: version "latest" invalid: should be v0 or v1, not ; latest/mod kept with the version as written`}},
		{"a require without a version", "module m\n\nrequire (\n\tgood/one v1.0.0\n\tno.example/version\n\tgood/two v1.1.0\n)\n",
			[]string{"good/one@v1.0.0", "good/two@v1.1.0", "no.example/version@"},
			[]string{"line 5: usage: require module/path v1.2.3; no.example/version kept with the version as written"}},
		{"a major version the path does not carry", "module m\n\nrequire good/one v1.0.0\nrequire bad/major v2.0.0\n",
			[]string{"good/one@v1.0.0", "bad/major@v2.0.0"},
			[]string{`line 4: version "v2.0.0" invalid: should be v0 or v1, not v2; bad/major kept with the version as written`}},
		{"a directive that is no require", "module m\n\nrequire good/one v1.0.0\nreplace good/one => \n",
			[]string{"good/one@v1.0.0"},
			[]string{"go.mod parsed leniently, replace directives ignored: go.mod:4: usage: replace module/path [v1.2.3] => other/module v1.4\n\t or replace module/path [v1.2.3] => ../local/directory"}},
		{"canonicalized as before", "module m\nrequire short.example/v v1.2\n", []string{"short.example/v@v1.2.0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, warns, err := ParseGoMod(strings.NewReader(tt.in))
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
