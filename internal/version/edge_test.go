package version

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// edgeCase is one line of testdata/edge-cases.txt.
type edgeCase struct {
	scheme  Scheme
	a, b    string
	want    int
	invalid bool // a must be rejected
}

func readEdgeCases(t testing.TB) []edgeCase {
	t.Helper()
	f, err := os.Open("testdata/edge-cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []edgeCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		switch {
		case len(fs) == 2 && strings.HasPrefix(fs[1], "!"):
			out = append(out, edgeCase{scheme: Scheme(fs[0]), a: fs[1][1:], invalid: true})
		case len(fs) == 4:
			c := edgeCase{scheme: Scheme(fs[0]), a: fs[1], b: fs[3]}
			switch fs[2] {
			case "<":
				c.want = -1
			case ">":
				c.want = 1
			case "=":
			default:
				t.Fatalf("edge-cases.txt:%d: bad operator %q", n, fs[2])
			}
			out = append(out, c)
		default:
			t.Fatalf("edge-cases.txt:%d: bad line %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEdgeCases(t *testing.T) {
	for _, c := range readEdgeCases(t) {
		cmpr, err := For(c.scheme)
		if err != nil {
			t.Fatal(err)
		}
		if c.invalid {
			if _, err := cmpr.Compare(c.a, c.a); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Compare(%q, %q) error = %v, want ErrInvalid", c.scheme, c.a, c.a, err)
			}
			continue
		}
		got, err := cmpr.Compare(c.a, c.b)
		if err != nil {
			t.Errorf("%s: Compare(%q, %q): %v", c.scheme, c.a, c.b, err)
			continue
		}
		back, err := cmpr.Compare(c.b, c.a)
		if err != nil {
			t.Errorf("%s: Compare(%q, %q): %v", c.scheme, c.b, c.a, err)
			continue
		}
		if diff := cmp.Diff([2]int{c.want, -c.want}, [2]int{got, back}); diff != "" {
			t.Errorf("%s: Compare(%q, %q), Compare(%q, %q) (-want +got):\n%s", c.scheme, c.a, c.b, c.b, c.a, diff)
		}
	}
}

// TestEveryScheme checks that every scheme has a comparator, rejects the
// inputs every scheme rejects, and orders each scheme's edge cases.
func TestEveryScheme(t *testing.T) {
	seen := map[Scheme]bool{}
	for _, c := range readEdgeCases(t) {
		seen[c.scheme] = true
	}
	for _, s := range allSchemes {
		if !seen[s] {
			t.Errorf("testdata/edge-cases.txt has no case for %s", s)
		}
		c, err := For(s)
		if err != nil {
			t.Fatalf("For(%s): %v", s, err)
		}
		for _, bad := range []string{"", " 1.0", "1.0\n", "1\x00", strings.Repeat("1", MaxLen+1)} {
			if _, err := c.Compare(bad, "1"); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Compare(%q, \"1\") error = %v, want ErrInvalid", s, bad, err)
			}
			if _, err := c.Compare("1", bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Compare(\"1\", %q) error = %v, want ErrInvalid", s, bad, err)
			}
		}
	}
	if _, err := For("cobol"); err == nil {
		t.Error(`For("cobol") succeeded`)
	}
}

// allSchemes lists every Scheme constant.
var allSchemes = []Scheme{SchemeDpkg, SchemeAPK, SchemeRPM, SchemePEP440, SchemeSemVer, SchemeGo, SchemeMaven, SchemeRubyGems, SchemeNuGet, SchemeComposer}

func TestGoBuildInfoVersion(t *testing.T) {
	c := Go{}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"go1.22.0 X:boringcrypto", "1.22.0", 0},
		{"go1.22.0 X:boringcrypto", "1.22.1", -1},
	} {
		got, err := c.Compare(tc.a, tc.b)
		if err != nil {
			t.Fatalf("Compare(%q, %q): %v", tc.a, tc.b, err)
		}
		if got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
