package python

import (
	"bytes"
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
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
		{"usr/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA", false, true},
		{"usr/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA", true, false},
		{"usr/lib/python3.11/site-packages/requests-2.19.1.dist-info/RECORD", false, false},
		{"usr/lib/python3.11/site-packages/pycrypto-2.6.1.egg-info/PKG-INFO", false, true},
		{"usr/lib/python3.11/site-packages/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO", false, true},
		{"usr/lib/python3/dist-packages/python_apt-2.4.0.egg-info", false, true},
		{"usr/share/doc/x.egg-info", false, false},
		{"srv/PKG-INFO", false, false},
		{"METADATA", false, false},
		{"srv/app/requirements.txt", false, true},
		{"requirements-dev.txt", false, true},
		{"srv/app/requirements.in", false, false},
		{"srv/app/poetry.lock", false, true},
		{"srv/app/Pipfile.lock", false, true},
		{"srv/app/Pipfile", false, false},
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

func TestParseRequirementLine(t *testing.T) {
	tests := []struct {
		line    string
		want    string // name@version, "" when skipped
		wantErr bool
	}{
		{"requests==2.19.1", "requests@2.19.1", false},
		{"  requests == 2.19.1  ", "requests@2.19.1", false},
		{"Django[argon2]==2.2;python_version>'3'", "Django@2.2", false},
		{"a===1.0+local", "a@1.0+local", false},
		{"a==1.0 --hash=sha256:00", "a@1.0", false},
		{"a==1.*", "", false},
		{"a==2.10.0 beta", "a@2.10.0 beta", false},
		{"a==1.0,<2", "a@1.0", false},
		{"a==", "a@", true},
		{"a>=1,<2", "", false},
		{"a", "", false},
		{"a @ https://x/a.whl", "", false},
		{"# comment==1", "", false},
		{"--index-url https://x", "", false},
		{"??", "", true},
		{"a b", "", true},
	}
	for _, tt := range tests {
		p, ok, err := parseRequirement(tt.line)
		got := ""
		if ok {
			got = p.Name + "@" + p.Version
		}
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseRequirement(%q) = %q, %v; want %q, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseMetadataErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"", "no Name header"},
		{"garbage line\nName: x\n", "not a \"Field: value\" header"},
	}
	for _, tt := range tests {
		_, _, err := ParseMetadata(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseMetadata(%.20q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
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
	sp := "usr/lib/python3.11/site-packages/"
	langtest.Expect(t, got,
		"requests@2.19.1 "+sp+"requests-2.19.1.dist-info/METADATA",
		"urllib3@1.24.1 "+sp+"urllib3-1.24.1.dist-info/METADATA",
		"Django@2.2 "+sp+"Django-2.2.dist-info/METADATA",
		"Jinja2@2.10 "+sp+"Jinja2-2.10.dist-info/METADATA",
		"PyYAML@5.3 "+sp+"PyYAML-5.3.dist-info/METADATA",
		"pycrypto@2.6.1 "+sp+"pycrypto-2.6.1.egg-info/PKG-INFO",
		"requests@2.19.1 srv/pyapp/requirements.txt",
		"Django@2.2 srv/pyapp/requirements.txt",
	)
	for p, r := range got {
		if len(r.Warnings) > 0 || r.Error != "" {
			t.Errorf("%s: warnings %q, error %q", p, r.Warnings, r.Error)
		}
	}
}

func TestSharedLockfiles(t *testing.T) {
	got := langtest.Image(t, New(), "lang-lockfiles.tar")
	want := []string{"flask@0.12.2", "pyyaml@5.3", "werkzeug@0.14.1"}
	if d := cmp.Diff(want, names(got["src/python/Pipfile.lock"].Packages)); d != "" {
		t.Errorf("Pipfile.lock (-want +got):\n%s", d)
	}
}

// TestSharedWhiteout checks the squashed view: the opaque site-packages
// directory of layer 2 hides layer 1's requests and urllib3.
func TestSharedWhiteout(t *testing.T) {
	got := langtest.Image(t, New(), "multilayer-whiteout.tar")
	var all []inventory.Package
	for _, r := range got {
		all = append(all, r.Packages...)
	}
	if d := cmp.Diff([]string{"requests@2.31.0", "urllib3@2.0.7"}, names(all)); d != "" {
		t.Errorf("squashed python packages (-want +got):\n%s", d)
	}
}

func fuzzSeeds(f *testing.F, keep func(string) bool) {
	for _, b := range langtest.Seeds(f, keep) {
		f.Add(b)
	}
}

func FuzzParseMetadata(f *testing.F) {
	fuzzSeeds(f, func(p string) bool { return strings.HasSuffix(p, "METADATA") || strings.Contains(p, "egg-info") })
	f.Fuzz(func(t *testing.T, b []byte) {
		p, warns, err := ParseMetadata(bytes.NewReader(b))
		if err == nil && (p.Name == "" || (p.Version == "") != (len(warns) == 1)) {
			t.Errorf("no error but an empty name, or a version and warnings that disagree: %+v, %q", p, warns)
		}
	})
}

// checkPkgs is the invariant of every parser: each package has a name and
// a trimmed version, and the warnings are capped.
func checkPkgs(t *testing.T, pkgs []inventory.Package, warns []string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Name == "" || p.Version != strings.TrimSpace(p.Version) || p.Type != pypi.Type {
			t.Errorf("bad package %+v", p)
		}
	}
	if len(warns) > warn.Max+1 {
		t.Errorf("%d warnings, more than the cap", len(warns))
	}
}

func FuzzParseRequirements(f *testing.F) {
	fuzzSeeds(f, func(p string) bool { return strings.Contains(p, "requirements") })
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParseRequirements(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, pkgs, warns)
		}
	})
}

func FuzzParsePoetryLock(f *testing.F) {
	fuzzSeeds(f, func(p string) bool { return strings.HasSuffix(p, "poetry.lock") })
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, rels, warns, err := parsePoetryLock(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, pkgs, warns)
			langtest.CheckGraph(t, pkgs, rels)
		}
	})
}

func FuzzParsePipfileLock(f *testing.F) {
	fuzzSeeds(f, func(p string) bool { return strings.HasSuffix(p, "Pipfile.lock") })
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParsePipfileLock(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, pkgs, warns)
		}
	})
}

// TestMalformedRecords mixes malformed records with good ones in each
// lockfile format: the good ones are kept, the bad ones dropped (no name)
// or kept with the version as written, each with its exact warning.
func TestMalformedRecords(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) ([]inventory.Package, []string, error)
		in    string
		want  []string
		warns []string
	}{
		{"poetry: no version, wrong types, no name", poetry,
			"[[package]]\nname = \"good1\"\nversion = \"1.0\"\n\n[[package]]\nname = \"nover\"\n\n[[package]]\nname = \"tablever\"\nversion = {a = 1}\n\n[[package]]\nversion = \"3\"\n\n[[package]]\nname = \"beta\"\nversion = \"2.10.0 beta\"\n\n[[package]]\nname = \"good2\"\nversion = \"2.0\"\n",
			[]string{"good1@1.0", "nover@", "tablever@", "beta@2.10.0 beta", "good2@2.0"},
			[]string{`package #2 ("nover"): no version; kept with an empty version`, `package #3 ("tablever"): version is not a string; kept with an empty version`, "package #4: no name; skipped"}},
		{"pipfile: every kind of bad entry", pipfile,
			`{"default": {"good1": {"version": "==1.0"}, "notobject": "==1.0", "nover": {"index": "pypi"}, "vcs": {"git": "https://x/y.git"}, "numver": {"version": 5}, "range": {"version": ">=1"}, "empty": {"version": "=="}, "beta": {"version": "==2.10.0 beta"}, "good2": {"version": "===2.0"}, " ": {"version": "==1"}}}`,
			[]string{"beta@2.10.0 beta", "empty@", "good1@1.0", "good2@2.0", "notobject@", "nover@", "numver@5", "range@>=1"},
			[]string{"default: entry with an empty name; skipped", `default: "empty": empty version; kept with an empty version`, `default: "notobject": not an object; kept with an empty version`,
				`default: "nover": no version; kept with an empty version`, `default: "numver": version "5" is not an == pin; kept as written`, `default: "range": version ">=1" is not an == pin; kept as written`}},
		{"requirements", requirements, "good1==1.0\n??\nbeta==2.10.0 beta\nempty==\ngood2===2.0\n",
			[]string{"good1@1.0", "beta@2.10.0 beta", "empty@", "good2@2.0"},
			[]string{`line 2: not a requirement: "??"`, `line 4: package "empty": == with no version; kept with an empty version`}},
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

func poetry(s string) ([]inventory.Package, []string, error) {
	return ParsePoetryLock(strings.NewReader(s))
}

func pipfile(s string) ([]inventory.Package, []string, error) {
	return ParsePipfileLock(strings.NewReader(s))
}

func requirements(s string) ([]inventory.Package, []string, error) {
	return ParseRequirements(strings.NewReader(s))
}

// TestLongLines: a line over MaxLineSize costs that line only.
func TestLongLines(t *testing.T) {
	long := strings.Repeat("1", MaxLineSize+10)
	p, warns, err := ParseMetadata(strings.NewReader("Name: x\nSummary: " + long + "\nVersion: 1.0\n"))
	want := []string{fmt.Sprintf("line 2: %d bytes, longer than the %d byte limit; skipped", len("Summary: ")+len(long), MaxLineSize)}
	if err != nil || p.Name != "x" || p.Version != "1.0" || !cmp.Equal(want, warns) {
		t.Errorf("METADATA: %+v, %q, %v", p, warns, err)
	}
	pkgs, warns, err := ParseRequirements(strings.NewReader("a==1\n" + long + "\nb==2\n"))
	want = []string{fmt.Sprintf("line 2: %d bytes, longer than the %d byte limit; skipped", len(long), MaxLineSize)}
	if err != nil || len(pkgs) != 2 || !cmp.Equal(want, warns) {
		t.Errorf("requirements: %+v, %q, %v", pkgs, warns, err)
	}
}

func TestParseMetadataNoVersion(t *testing.T) {
	p, warns, err := ParseMetadata(strings.NewReader("Metadata-Version: 2.1\nName: x\n\nbody"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inventory.Package{Name: "x", Type: pypi.Type}, p); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`package "x" (line 2) has no Version header; kept with an empty version`}, warns); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
}

func TestPoetryGraph(t *testing.T) {
	const lock = `[[package]]
name = "Flask"
version = "2.0.0"

[package.dependencies]
Werkzeug = ">=2.0"
jinja2 = {version = ">=3.0", optional = true}
missing = "*"

[[package]]
name = "werkzeug"
version = "2.0.1"

[[package]]
name = "Jinja2"
version = "3.0.0"

[package.dependencies]
MarkupSafe = ">=2.0"
flask = "*"

[[package]]
name = "markupsafe"
version = "2.0.1"
`
	pkgs, rels, _, err := parsePoetryLock(strings.NewReader(lock))
	if err != nil {
		t.Fatal(err)
	}
	langtest.CheckGraph(t, pkgs, rels)
	want := []string{"Flask@2.0.0 -> Jinja2@3.0.0", "Flask@2.0.0 -> werkzeug@2.0.1", "Jinja2@3.0.0 -> Flask@2.0.0", "Jinja2@3.0.0 -> markupsafe@2.0.1"}
	if d := cmp.Diff(want, langtest.Edges(rels)); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
}
