package all

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

const module = "github.com/stowaway-scanner/stowaway/"

// TestAllListed finds every package under internal/ecosystem that declares a
// Descriptor or Descriptors function and checks that all.go calls it.
func TestAllListed(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "internal", "ecosystem")
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && (fn.Name.Name == "Descriptor" || fn.Name.Name == "Descriptors") {
				rel, _ := filepath.Rel(filepath.Join(testutil.RepoRoot(t)), filepath.Dir(p))
				found = append(found, filepath.ToSlash(rel)+"."+fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "all.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]string{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		imports[p[strings.LastIndex(p, "/")+1:]] = strings.TrimPrefix(p, module)
	}
	var listed []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && imports[x.Name] != "" && (sel.Sel.Name == "Descriptor" || sel.Sel.Name == "Descriptors") {
			listed = append(listed, imports[x.Name]+"."+sel.Sel.Name)
		}
		return true
	})
	sort.Strings(found)
	sort.Strings(listed)
	if d := cmp.Diff(found, listed); d != "" {
		t.Errorf("descriptors found in internal/ecosystem vs listed in all.go (-found +listed):\n%s", d)
	}
}

// TestDescriptors checks what every descriptor must have.
func TestDescriptors(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Ecosystems() {
		if d.Type == "" || d.Namespace() == "osv:" || d.PackageManager == "" || seen[d.Namespace()] || seen[string(d.Type)] {
			t.Errorf("%+v: a type, an advisory namespace (an OSV name) and a package manager are required, and each once", d)
		}
		seen[d.Namespace()], seen[string(d.Type)] = true, true
		if d.Version == nil {
			t.Errorf("%s: no version comparator", d.OSV)
		} else if _, err := d.Version.Compare("", ""); !errors.Is(err, version.ErrInvalid) {
			t.Errorf("%s: comparing empty versions: error %v, want ErrInvalid", d.OSV, err)
		}
	}
}
