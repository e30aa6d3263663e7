package scan_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// TestDependencyPaths scans lang-python-node with the real DB: the npm
// findings of the lockfile and of the installed node_modules copies say
// whether the package is direct or transitive and through which packages
// (package-lock.json: axios brings follow-redirects in), and no OS
// finding has a dependency path.
func TestDependencyPaths(t *testing.T) {
	db := realDB(t)
	fs := enhancedScan(t, db, "lang-python-node.oci", true)
	want := map[string]inventory.Dependency{
		"srv/nodeapp/package-lock.json follow-redirects@1.13.0": {Scope: inventory.ScopeTransitive, IntroducedThrough: []string{"axios@0.21.0", "follow-redirects@1.13.0"}, Path: "srv/nodeapp/package-lock.json"},
		// The installed copy takes its project's lockfile.
		"srv/nodeapp/node_modules/follow-redirects/package.json follow-redirects@1.13.0": {Scope: inventory.ScopeTransitive, IntroducedThrough: []string{"axios@0.21.0", "follow-redirects@1.13.0"}, Path: "srv/nodeapp/package-lock.json"},
		"srv/nodeapp/package-lock.json axios@0.21.0":                                     {Scope: inventory.ScopeDirect, IntroducedThrough: []string{"axios@0.21.0"}, Path: "srv/nodeapp/package-lock.json"},
		"srv/nodeapp/package-lock.json lodash@4.17.15":                                   {Scope: inventory.ScopeDirect, IntroducedThrough: []string{"lodash@4.17.15"}, Path: "srv/nodeapp/package-lock.json"},
	}
	got := map[string]inventory.Dependency{}
	for _, f := range fs {
		k := f.Package.Path + " " + f.Package.Name + "@" + f.Package.Version
		switch {
		case f.Package.Type.IsOS():
			if f.Dependency != nil {
				t.Errorf("OS finding %s %s has a dependency %+v", f.ID, k, f.Dependency)
			}
		case f.Package.Type == "npm":
			if f.Dependency == nil {
				t.Errorf("npm finding %s %s has no dependency context", f.ID, k)
				continue
			}
			if prev, ok := got[k]; ok && !cmp.Equal(prev, *f.Dependency) {
				t.Errorf("%s: findings disagree: %+v and %+v", k, prev, *f.Dependency)
			}
			got[k] = *f.Dependency
		}
	}
	for k, w := range want {
		if d := cmp.Diff(w, got[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
	t.Logf("%d npm packages with findings and dependency context", len(got))
}
