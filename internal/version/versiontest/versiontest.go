// Package versiontest holds the checks every version comparator's tests run,
// wherever the comparator lives (package version for the schemes several
// distributions and ecosystems share, the ecosystem packages for their own):
// the edge-case files, the shared test vectors with their allow-lists, the
// inputs every scheme rejects, the total-order fuzz target and the
// longest-version benchmark. It is for tests only.
package versiontest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// EdgeCase is one line of an edge-case file.
type EdgeCase struct {
	Scheme  string
	A, B    string
	Want    int
	Invalid bool // A must be rejected
}

// ReadEdgeCases reads an edge-case file: "<scheme> <a> <op> <b>" lines with
// op one of <, >, =, "<scheme> !<version>" lines for a version the scheme
// rejects, blank lines and "#" comments.
func ReadEdgeCases(t testing.TB, path string) []EdgeCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name := filepath.Base(path)
	var out []EdgeCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		switch {
		case len(fs) == 2 && strings.HasPrefix(fs[1], "!"):
			out = append(out, EdgeCase{Scheme: fs[0], A: fs[1][1:], Invalid: true})
		case len(fs) == 4:
			c := EdgeCase{Scheme: fs[0], A: fs[1], B: fs[3]}
			switch fs[2] {
			case "<":
				c.Want = -1
			case ">":
				c.Want = 1
			case "=":
			default:
				t.Fatalf("%s:%d: bad operator %q", name, n, fs[2])
			}
			out = append(out, c)
		default:
			t.Fatalf("%s:%d: bad line %q", name, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Of returns the cases of one scheme.
func Of(cases []EdgeCase, scheme string) []EdgeCase {
	var out []EdgeCase
	for _, c := range cases {
		if c.Scheme == scheme {
			out = append(out, c)
		}
	}
	return out
}

// CheckEdgeCases checks that c orders every case as it says, both ways, and
// rejects the invalid ones with an error wrapping version.ErrInvalid. It
// fails when there are no cases: a scheme without edge cases is untested.
func CheckEdgeCases(t *testing.T, c version.Comparator, cases []EdgeCase) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("no edge cases")
	}
	for _, ec := range cases {
		if ec.Invalid {
			if _, err := c.Compare(ec.A, ec.A); !errors.Is(err, version.ErrInvalid) {
				t.Errorf("%s: Compare(%q, %q) error = %v, want ErrInvalid", ec.Scheme, ec.A, ec.A, err)
			}
			continue
		}
		got, err := c.Compare(ec.A, ec.B)
		if err != nil {
			t.Errorf("%s: Compare(%q, %q): %v", ec.Scheme, ec.A, ec.B, err)
			continue
		}
		back, err := c.Compare(ec.B, ec.A)
		if err != nil {
			t.Errorf("%s: Compare(%q, %q): %v", ec.Scheme, ec.B, ec.A, err)
			continue
		}
		if diff := cmp.Diff([2]int{ec.Want, -ec.Want}, [2]int{got, back}); diff != "" {
			t.Errorf("%s: Compare(%q, %q), Compare(%q, %q) (-want +got):\n%s", ec.Scheme, ec.A, ec.B, ec.B, ec.A, diff)
		}
	}
}

// CheckCommonInvalid checks that c rejects, on either side, the versions
// every scheme rejects: empty, with a space or control character, longer
// than version.MaxLen; and that its errors start with the scheme's name.
func CheckCommonInvalid(t *testing.T, c version.Comparator, scheme string) {
	t.Helper()
	for _, bad := range []string{"", " 1.0", "1.0\n", "1\x00", strings.Repeat("1", version.MaxLen+1)} {
		for _, pair := range [][2]string{{bad, "1"}, {"1", bad}} {
			_, err := c.Compare(pair[0], pair[1])
			if !errors.Is(err, version.ErrInvalid) {
				t.Errorf("Compare(%q, %q) error = %v, want ErrInvalid", pair[0], pair[1], err)
				continue
			}
			if !strings.HasPrefix(err.Error(), scheme+": ") {
				t.Errorf("Compare(%q, %q) error %q does not start with %q", pair[0], pair[1], err, scheme+": ")
			}
		}
	}
}

// FuzzOrder checks that a comparator is a consistent total order on
// whatever it accepts: no panics, Compare(x, x) == 0, antisymmetry, and
// transitivity on the triple; errors wrap version.ErrInvalid and come
// exactly when one of the versions is invalid on its own. The edge cases
// seed the corpus.
func FuzzOrder(f *testing.F, cmpr version.Comparator, seeds []EdgeCase) {
	for _, c := range seeds {
		if c.Invalid {
			f.Add(c.A, c.A, c.A)
			continue
		}
		f.Add(c.A, c.B, c.A)
		f.Add(c.B, c.A, c.B+"1")
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		vs := []string{a, b, c}
		valid := make([]bool, 3)
		for i, v := range vs {
			r, err := cmpr.Compare(v, v)
			if err != nil {
				if !errors.Is(err, version.ErrInvalid) {
					t.Fatalf("Compare(%q, %q): error %v does not wrap ErrInvalid", v, v, err)
				}
				continue
			}
			if r != 0 {
				t.Fatalf("Compare(%q, %q) = %d, want 0", v, v, r)
			}
			valid[i] = true
		}
		var r [3][3]int
		for i := range vs {
			for j := range vs {
				n, err := cmpr.Compare(vs[i], vs[j])
				if (err == nil) != (valid[i] && valid[j]) {
					t.Fatalf("Compare(%q, %q) error = %v, but the versions' validity is %v, %v", vs[i], vs[j], err, valid[i], valid[j])
				}
				if n < -1 || n > 1 {
					t.Fatalf("Compare(%q, %q) = %d, want -1, 0 or 1", vs[i], vs[j], n)
				}
				r[i][j] = n
			}
		}
		if !valid[0] || !valid[1] || !valid[2] {
			return
		}
		for i := range vs {
			for j := range vs {
				if r[i][j] != -r[j][i] {
					t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", vs[i], vs[j], r[i][j], vs[j], vs[i], r[j][i])
				}
				for k := range vs {
					if r[i][j] <= 0 && r[j][k] <= 0 && r[i][k] > 0 {
						t.Fatalf("not transitive: %q <= %q <= %q but %q > %q", vs[i], vs[j], vs[k], vs[i], vs[k])
					}
				}
			}
		}
	})
}

// longestShapes build versions of MaxLen bytes in shapes that make parsers
// work per byte: many components, separators, pre-release identifiers. An
// image author controls installed versions, so these bound the cost of one
// comparison (each comparator is linear in the length).
var longestShapes = []struct {
	name string
	unit string // repeated after a leading "1"
}{
	{"dots", ".1"}, {"dashes", "-1"}, {"alnum", "a1"}, {"tildes", "~a"},
	{"colons", ":1"}, {"underscores", "_p1"}, {"prerelease", ".0.0-a"},
}

func longest(unit string) string {
	v := "1"
	for len(v)+len(unit) <= version.MaxLen {
		v += unit
	}
	return v
}

// BenchmarkLongest compares two MaxLen-byte versions that differ in their
// last byte, per shape (an invalid shape measures the rejection).
func BenchmarkLongest(b *testing.B, c version.Comparator) {
	for _, sh := range longestShapes {
		x := longest(sh.unit)
		z := x[:len(x)-1] + "2"
		b.Run(sh.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = c.Compare(x, z)
			}
		})
	}
}

// Allowed groups vector lines ("file: line", the line without its comment)
// that a comparator deliberately disagrees with, with the reason.
type Allowed struct {
	Reason string
	Lines  []string
}

// CheckVectors runs every applicable line of the named files of
// ../shared/testvectors/versions against c (skipping when ../shared is
// absent). Lines in allow must disagree with c (else the entry is stale) and
// must each match a line; every other line must agree.
func CheckVectors(t *testing.T, c version.Comparator, files []string, allow []Allowed) {
	t.Helper()
	dir := testutil.Shared(t, "testvectors/versions")
	allowed := map[string]string{}
	for _, g := range allow {
		for _, l := range g.Lines {
			allowed[l] = g.Reason
		}
	}
	used := map[string]bool{}
	var pass, allowedN, fuzzy int
	for _, file := range files {
		vs, err := parseVectors(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			reason, isAllowed := allowed[v.key()]
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
				allowedN++
			default:
				t.Errorf("%s:%d: %q: %s", v.file, v.line, v.text, problem)
			}
		}
	}
	for k := range allowed {
		if !used[k] {
			t.Errorf("allow-list entry %q matches no vector line", k)
		}
	}
	if pass == 0 {
		t.Errorf("no vector line of %v agrees", files)
	}
	t.Logf("%d lines agree, %d allow-listed, %d fuzzy-match lines not applicable", pass, allowedN, fuzzy)
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

// checkVector returns "" when c agrees with v, "n/a" for lines that are not
// comparisons, or what went wrong.
func checkVector(c version.Comparator, v vector) string {
	if v.validity {
		_, err := c.Compare(v.a, v.a)
		switch {
		case v.valid && err != nil:
			return fmt.Sprintf("want valid, got %v", err)
		case !v.valid && err == nil:
			return "want invalid, got valid"
		case err != nil && !errors.Is(err, version.ErrInvalid):
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
