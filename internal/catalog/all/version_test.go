package all

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/versions.json for catalogers whose Version() was bumped (and record new golden entries)")

// versionsFile is the checked-in table of each cataloger's Version() and the
// hashes of its golden outputs.
const versionsFile = "testdata/versions.json"

// versionEntry is one cataloger's row of the table.
type versionEntry struct {
	Version int `json:"version"`
	// Golden maps "<file relative to the cataloger's package>#<top-level
	// key>" to the sha256 of that value, re-encoded compactly.
	Golden map[string]string `json:"golden"`
}

// TestVersionBumps fails when a cataloger's golden output changed while its
// Version() (part of the per-layer cache key) did not: a stale cache entry
// would then replay the old output. A golden entry is one top-level key of
// a golden file (testdata/golden/*.json, testdata/**/want.json): a file's
// result in the path-keyed goldens. A changed or removed entry needs a
// bump; a new entry (a new fixture file) does not, but must be recorded with
// -update. -update never records a change without a bump.
func TestVersionBumps(t *testing.T) {
	root := testutil.RepoRoot(t)
	b, err := os.ReadFile(versionsFile)
	if err != nil && !(*update && os.IsNotExist(err)) {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	table := map[string]versionEntry{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &table); err != nil {
			t.Fatalf("%s: %v", versionsFile, err)
		}
	}
	next := map[string]versionEntry{}
	dirty := false
	for _, c := range append(OS(), Language()...) {
		dir := packageDir(root, c)
		got := goldenHashes(t, dir)
		if len(got) == 0 {
			t.Errorf("%s: no golden file under %s/testdata (testdata/golden/*.json or want.json)", c.Name(), dir)
		}
		old, known := table[c.Name()]
		n, problems, d := decide(c.Name(), old, known, versionEntry{Version: c.Version(), Golden: got}, *update)
		for _, p := range problems {
			t.Error(p)
		}
		next[c.Name()] = n
		dirty = dirty || d
	}
	for name := range table {
		if _, ok := next[name]; !ok {
			dirty = true // a cataloger was removed
		}
	}
	if *update && dirty {
		out, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(versionsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(versionsFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// decide compares a cataloger's recorded row old (known is false when it
// has none) with its current row now. It returns the row to record, the
// problems that fail the test, and whether the table needs rewriting.
func decide(name string, old versionEntry, known bool, now versionEntry, update bool) (next versionEntry, problems []string, dirty bool) {
	if !known {
		if !update {
			problems = append(problems, fmt.Sprintf("%s: not in %s; run go test ./internal/catalog/all -run TestVersionBumps -update", name, versionsFile))
		}
		return now, problems, true
	}
	changed, added := diffGolden(old.Golden, now.Golden)
	switch {
	case now.Version < old.Version:
		return old, []string{fmt.Sprintf("%s: Version() went down from %d to %d", name, old.Version, now.Version)}, false
	case now.Version == old.Version && len(changed) > 0:
		problems = append(problems, fmt.Sprintf("%s: golden output changed (%s) but Version() is still %d: bump Version() (it is part of the per-layer cache key), then rerun with -update",
			name, strings.Join(changed, ", "), now.Version))
		// Keep the old hashes of the changed entries, so -update cannot
		// launder the change; record only what is new.
		kept := versionEntry{Version: old.Version, Golden: map[string]string{}}
		for k, v := range old.Golden {
			kept.Golden[k] = v
		}
		for _, k := range added {
			kept.Golden[k] = now.Golden[k]
		}
		return kept, problems, len(added) > 0
	case now.Version > old.Version || len(added) > 0:
		if !update {
			problems = append(problems, fmt.Sprintf("%s: version %d→%d, new golden entries %q: rerun with -update to record them", name, old.Version, now.Version, added))
		}
		return now, problems, true
	}
	return old, nil, false
}

// diffGolden returns the entries of old that are missing or different in
// got, and the entries of got that old does not have, both sorted.
func diffGolden(old, got map[string]string) (changed, added []string) {
	for k, v := range old {
		if g, ok := got[k]; !ok {
			changed = append(changed, k+" removed")
		} else if g != v {
			changed = append(changed, k)
		}
	}
	for k := range got {
		if _, ok := old[k]; !ok {
			added = append(added, k)
		}
	}
	sort.Strings(changed)
	sort.Strings(added)
	return changed, added
}

// packageDir is the source directory of c's package.
func packageDir(root string, c catalog.Cataloger) string {
	t := reflect.TypeOf(c)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	rel := strings.TrimPrefix(t.PkgPath(), "github.com/stowaway-scanner/stowaway/")
	return filepath.Join(root, filepath.FromSlash(rel))
}

// goldenHashes hashes every top-level entry of the golden files under
// dir/testdata (fuzz corpora are skipped).
func goldenHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(filepath.Join(dir, "testdata"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "fuzz" || d.Name() == "root" {
				return filepath.SkipDir
			}
			return nil
		}
		if !isGolden(p) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		entries, err := goldenEntries(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for k, v := range entries {
			out[filepath.ToSlash(rel)+"#"+k] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isGolden(p string) bool {
	return filepath.Base(p) == "want.json" || (filepath.Base(filepath.Dir(p)) == "golden" && strings.HasSuffix(p, ".json"))
}

// goldenEntries splits a golden JSON document into its top-level keys (the
// whole document is the entry "" when it is not an object), each hashed in
// a canonical compact encoding so that re-indenting changes nothing.
func goldenEntries(b []byte) (map[string]string, error) {
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		obj = map[string]any{"": v}
	}
	out := map[string]string{}
	for k, v := range obj {
		c, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(c)
		out[k] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

func TestDiffGolden(t *testing.T) {
	old := map[string]string{"a": "1", "b": "2", "c": "3"}
	got := map[string]string{"a": "1", "b": "9", "d": "4"}
	changed, added := diffGolden(old, got)
	if d := cmp.Diff([]string{"b", "c removed"}, changed); d != "" {
		t.Errorf("changed (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"d"}, added); d != "" {
		t.Errorf("added (-want +got):\n%s", d)
	}
	e1, err := goldenEntries([]byte(`{"x": {"b": 1, "a": [1, 2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	e2, err := goldenEntries([]byte("{\n  \"x\": {\"a\": [1,2],\n \"b\": 1}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(e1, e2); d != "" {
		t.Errorf("re-indenting changed the hashes:\n%s", d)
	}
	e3, _ := goldenEntries([]byte(`{"x": {"b": 2, "a": [1, 2]}}`))
	if cmp.Equal(e1, e3) {
		t.Error("a changed value kept its hash")
	}
}

func TestDecide(t *testing.T) {
	v := func(n int, kv ...string) versionEntry {
		e := versionEntry{Version: n, Golden: map[string]string{}}
		for i := 0; i < len(kv); i += 2 {
			e.Golden[kv[i]] = kv[i+1]
		}
		return e
	}
	tests := []struct {
		name      string
		old       versionEntry
		known     bool
		now       versionEntry
		update    bool
		wantNext  versionEntry
		wantProbs int
		wantDirty bool
	}{
		{"unchanged", v(1, "a", "h1"), true, v(1, "a", "h1"), false, v(1, "a", "h1"), 0, false},
		{"changed without a bump", v(1, "a", "h1"), true, v(1, "a", "h2"), false, v(1, "a", "h1"), 1, false},
		{"changed without a bump, -update keeps the old hash", v(1, "a", "h1"), true, v(1, "a", "h2", "b", "h3"), true, v(1, "a", "h1", "b", "h3"), 1, true},
		{"removed without a bump", v(1, "a", "h1", "b", "h2"), true, v(1, "a", "h1"), true, v(1, "a", "h1", "b", "h2"), 1, false},
		{"changed with a bump, no -update", v(1, "a", "h1"), true, v(2, "a", "h2"), false, v(2, "a", "h2"), 1, true},
		{"changed with a bump, -update", v(1, "a", "h1"), true, v(2, "a", "h2"), true, v(2, "a", "h2"), 0, true},
		{"new entry only, -update", v(1, "a", "h1"), true, v(1, "a", "h1", "b", "h2"), true, v(1, "a", "h1", "b", "h2"), 0, true},
		{"new entry only, no -update", v(1, "a", "h1"), true, v(1, "a", "h1", "b", "h2"), false, v(1, "a", "h1", "b", "h2"), 1, true},
		{"version down", v(2, "a", "h1"), true, v(1, "a", "h1"), true, v(2, "a", "h1"), 1, false},
		{"unknown cataloger, -update", versionEntry{}, false, v(1, "a", "h1"), true, v(1, "a", "h1"), 0, true},
		{"unknown cataloger", versionEntry{}, false, v(1, "a", "h1"), false, v(1, "a", "h1"), 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, probs, dirty := decide("x", tt.old, tt.known, tt.now, tt.update)
			if d := cmp.Diff(tt.wantNext, next); d != "" {
				t.Errorf("next (-want +got):\n%s", d)
			}
			if len(probs) != tt.wantProbs || dirty != tt.wantDirty {
				t.Errorf("problems %q, dirty %v; want %d problems, dirty %v", probs, dirty, tt.wantProbs, tt.wantDirty)
			}
		})
	}
}
