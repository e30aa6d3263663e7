package all

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// sharedPackages hold no distribution's or ecosystem's name: what they know
// of one comes from the descriptors handed to them.
var sharedPackages = []string{
	"internal/osdetect",
	"internal/inventory",
	"internal/version",
	"internal/match",
	"internal/scan",
	"internal/report",
	"internal/sbom",
	"internal/indexer",
	"internal/policy",
	"internal/names",
	"internal/server/console",
	"internal/server/scanning",
}

// notNames are words that name a distribution or an ecosystem but mean
// something else in shared code: the package formats, and "arch" (Arch
// Linux's id), which is also a package's architecture.
var notNames = []string{"deb", "apk", "rpm", "dpkg", "arch"}

// nameExceptions are hits allowed, as "package/file.go: word", each with
// the reason beside it. There are none: keep it that way.
var nameExceptions []string

// words splits s into lower-case words at every character that is not a
// letter or digit and at camelCase boundaries ("TypePyPI" is type, py, pi;
// "NPMName" is npm, name).
func words(s string) []string {
	var out []string
	rs := []rune(s)
	start := -1
	flush := func(i int) {
		if start >= 0 {
			out = append(out, strings.ToLower(string(rs[start:i])))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start >= 0 && unicode.IsUpper(r) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush(i)
			}
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(rs))
	return out
}

// forbiddenNames are the names of every listed distribution and
// ecosystem, each as a sequence of words.
func forbiddenNames() [][]string {
	var raw []string
	for _, d := range Distros() {
		raw = append(raw, d.ID, d.Name, d.PURLNamespace)
		raw = append(raw, d.OSReleaseIDs...)
	}
	for _, e := range ecoall.Ecosystems() {
		raw = append(raw, string(e.Type), e.OSV, e.PackageManager)
		for _, m := range e.ManagerFiles {
			raw = append(raw, m.Manager)
		}
	}
	seen := map[string]bool{}
	var out [][]string
	for _, r := range raw {
		for _, ws := range [][]string{words(r), {strings.ToLower(r)}} {
			key := strings.Join(ws, " ")
			if r == "" || seen[key] || (len(ws) == 1 && slices.Contains(notNames, ws[0])) {
				continue
			}
			seen[key] = true
			out = append(out, ws)
		}
	}
	return out
}

// hits lists the names found in text, as their words joined by spaces.
func hits(text string, names [][]string) []string {
	ws := words(text)
	var out []string
	for _, n := range names {
		for i := 0; i+len(n) <= len(ws); i++ {
			if slices.Equal(ws[i:i+len(n)], n) {
				out = append(out, strings.Join(n, " "))
				break
			}
		}
	}
	return out
}

// TestNoNamesInSharedCode fails when a string literal or an identifier of a
// shared package's non-test code names a distribution or an ecosystem:
// their names belong in their own packages (internal/distro/<name>,
// internal/ecosystem/<name>) and the lists. Comments are not checked.
func TestNoNamesInSharedCode(t *testing.T) {
	names := forbiddenNames()
	root := testutil.RepoRoot(t)
	var found []string
	for _, pkg := range sharedPackages {
		ents, err := os.ReadDir(filepath.Join(root, pkg))
		if err != nil {
			t.Fatal(err)
		}
		files := 0
		for _, ent := range ents {
			n := ent.Name()
			if ent.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			files++
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, pkg, n), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			perFile := map[string]bool{}
			ast.Inspect(f, func(node ast.Node) bool {
				text := ""
				switch x := node.(type) {
				case *ast.Ident:
					text = x.Name
				case *ast.ImportSpec:
					// Another module's import path ("go-containerregistry")
					// is not ours to rename; one of ours is checked.
					p, _ := strconv.Unquote(x.Path.Value)
					if rest, ok := strings.CutPrefix(p, module); ok {
						text = rest
					}
					if x.Name != nil {
						text += " " + x.Name.Name
					}
					for _, h := range hits(text, names) {
						perFile[h] = true
					}
					return false
				case *ast.BasicLit:
					if x.Kind == token.STRING {
						text, _ = strconv.Unquote(x.Value)
					}
				}
				for _, h := range hits(text, names) {
					perFile[h] = true
				}
				return true
			})
			for h := range perFile {
				found = append(found, fmt.Sprintf("%s/%s: %s", pkg, n, h))
			}
		}
		if files == 0 {
			t.Errorf("%s: no Go files (is the list out of date?)", pkg)
		}
	}
	sort.Strings(found)
	var unexpected []string
	for _, h := range found {
		if !slices.Contains(nameExceptions, h) {
			unexpected = append(unexpected, h)
		}
	}
	for _, e := range nameExceptions {
		if !slices.Contains(found, e) {
			t.Errorf("exception %q no longer needed: remove it", e)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("distribution or ecosystem names in shared code (use the descriptors):\n%s", strings.Join(unexpected, "\n"))
	}
}

// TestWordsAndHits pins the splitting and matching the name test relies on.
func TestWordsAndHits(t *testing.T) {
	if d := cmp.Diff([]string{"type", "py", "pi", "npm", "name", "x", "crates", "io", "v2"}, words("TypePyPI NPMName x_crates.io v2")); d != "" {
		t.Errorf("words (-want +got):\n%s", d)
	}
	names := [][]string{{"py", "pi"}, {"red", "hat"}, {"ol"}}
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"TypePyPI", []string{"py pi"}},
		{"Red Hat", []string{"red hat"}},
		{"redHat", []string{"red hat"}},
		{"red", nil},
		{"olive", nil},
		{"ol:8", []string{"ol"}},
		{"pypiish", nil},
	} {
		if d := cmp.Diff(tc.want, hits(tc.text, names)); d != "" {
			t.Errorf("hits(%q) (-want +got):\n%s", tc.text, d)
		}
	}
}
