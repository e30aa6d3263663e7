package version

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// vectorFiles lists, per scheme, the files of ../shared/testvectors/versions
// whose lines apply to it.
var vectorFiles = []struct {
	scheme Scheme
	files  []string
}{
	{SchemeDpkg, []string{"debian-versions.txt", "debian-versions-generated.txt"}},
	{SchemeAPK, []string{"alpine-versions.txt", "alpine-versions-generated.txt", "apk-tools-version.data"}},
	{SchemeRPM, []string{"redhat-versions.txt", "rpmvercmp.txt"}},
	{SchemePEP440, []string{"pypi-versions.txt", "pypi-versions-generated.txt"}},
	{SchemeSemVer, []string{"semver-versions.txt"}},
	{SchemeGo, []string{"semver-versions.txt"}},
	{SchemeMaven, []string{"maven-versions.txt", "maven-versions-generated.txt"}},
	{SchemeRubyGems, []string{"rubygems-versions.txt", "rubygems-versions-generated.txt"}},
	{SchemeNuGet, []string{"nuget-versions.txt"}},
	{SchemeComposer, []string{"packagist-versions.txt", "packagist-versions-generated.txt"}},
}

// vector is one line of a vector file.
type vector struct {
	file string
	line int
	text string // the line without its comment
	a, b string
	want int // for comparisons
	op   string
	// valid is set for apk-tools' one-version lines: true for "x", false
	// for "!x".
	validity bool
	valid    bool
}

func (v vector) key() string { return v.file + ": " + v.text }

// parseVectors reads a vector file: "a OP b" lines with OP one of <, >, =,
// ==; apk-tools' file adds fuzzy operators (~, !~, <~, >~), which are
// returned with their op and no want, and one-version validity lines.
// Blank lines and "#" or "//" comments are skipped.
func parseVectors(path string) ([]vector, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if i := strings.Index(text, "#"); i >= 0 && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t') {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "//") {
			continue
		}
		v := vector{file: filepath.Base(path), line: n, text: text}
		fs := strings.Fields(text)
		switch len(fs) {
		case 1:
			v.validity = true
			v.a, v.valid = strings.TrimPrefix(fs[0], "!"), !strings.HasPrefix(fs[0], "!")
		case 3:
			v.a, v.op, v.b = fs[0], fs[1], fs[2]
			switch v.op {
			case "<":
				v.want = -1
			case ">":
				v.want = 1
			case "=", "==":
				v.want = 0
			case "~", "!~", "<~", ">~":
			default:
				return nil, fmt.Errorf("%s:%d: unknown operator %q", path, n, v.op)
			}
		default:
			return nil, fmt.Errorf("%s:%d: want \"a OP b\" or one version, got %q", path, n, text)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// TestVectors runs every applicable line of the shared test vectors. Lines
// in allowList must disagree with us; every other line must agree.
func TestVectors(t *testing.T) {
	dir := testutil.Shared(t, "testvectors/versions")
	allowed := map[Scheme]map[string]string{}
	for _, g := range allowList {
		if allowed[g.scheme] == nil {
			allowed[g.scheme] = map[string]string{}
		}
		for _, l := range g.lines {
			allowed[g.scheme][l] = g.reason
		}
	}
	for _, vf := range vectorFiles {
		t.Run(string(vf.scheme), func(t *testing.T) {
			c, err := For(vf.scheme)
			if err != nil {
				t.Fatal(err)
			}
			used := map[string]bool{}
			var pass, allow, fuzzy int
			for _, file := range vf.files {
				vs, err := parseVectors(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					reason, isAllowed := allowed[vf.scheme][v.key()]
					if isAllowed {
						used[v.key()] = true
					}
					problem := checkVector(c, v)
					if problem == "n/a" {
						fuzzy++
						continue
					}
					switch {
					case problem == "" && isAllowed:
						t.Errorf("%s:%d: %q agrees now; drop it from the allow-list (%s)", v.file, v.line, v.text, reason)
					case problem == "":
						pass++
					case isAllowed:
						allow++
					default:
						t.Errorf("%s:%d: %q: %s", v.file, v.line, v.text, problem)
					}
				}
			}
			for k := range allowed[vf.scheme] {
				if !used[k] {
					t.Errorf("allow-list entry %q matches no vector line", k)
				}
			}
			t.Logf("%s: %d lines agree, %d allow-listed, %d fuzzy-match lines not applicable", vf.scheme, pass, allow, fuzzy)
		})
	}
}

// checkVector returns "" when c agrees with v, "n/a" for lines that are not
// comparisons, or what went wrong.
func checkVector(c Comparator, v vector) string {
	if v.validity {
		_, err := c.Compare(v.a, v.a)
		switch {
		case v.valid && err != nil:
			return fmt.Sprintf("want valid, got %v", err)
		case !v.valid && err == nil:
			return "want invalid, got valid"
		case err != nil && !errors.Is(err, ErrInvalid):
			return fmt.Sprintf("error %v does not wrap ErrInvalid", err)
		}
		return ""
	}
	if v.op != "<" && v.op != ">" && v.op != "=" && v.op != "==" {
		return "n/a"
	}
	got, err := c.Compare(v.a, v.b)
	if err != nil {
		return fmt.Sprintf("error: %v", err)
	}
	if got != v.want {
		return fmt.Sprintf("Compare = %d, want %d", got, v.want)
	}
	if back, err := c.Compare(v.b, v.a); err != nil || back != -got {
		return fmt.Sprintf("reversed Compare = %d, %v, want %d", back, err, -got)
	}
	return ""
}
