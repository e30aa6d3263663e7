package lang

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
)

// TestSharedImageGraphs checks the dependency edges the catalogers read
// from the shared language images' lockfiles ("" is the project).
// Pipfile.lock and .NET's deps.json record none that we read; the
// installed node_modules and dist-info files are per-package files with no
// graph of their own.
func TestSharedImageGraphs(t *testing.T) {
	want := map[string][]string{
		"lang-lockfiles.tar": {
			"golang src/go/go.mod:  -> github.com/gin-gonic/gin@v1.6.0",
			"golang src/go/go.mod:  -> golang.org/x/text@v0.3.5",
			"ruby src/ruby/Gemfile.lock:  -> nokogiri@1.10.3",
			"ruby src/ruby/Gemfile.lock:  -> sinatra@2.0.5",
			"ruby src/ruby/Gemfile.lock: nokogiri@1.10.3 -> mini_portile2@2.4.0",
			"ruby src/ruby/Gemfile.lock: rack-protection@2.0.5 -> rack@2.0.6",
			"ruby src/ruby/Gemfile.lock: sinatra@2.0.5 -> mustermann@1.0.3",
			"ruby src/ruby/Gemfile.lock: sinatra@2.0.5 -> rack-protection@2.0.5",
			"ruby src/ruby/Gemfile.lock: sinatra@2.0.5 -> rack@2.0.6",
			"ruby src/ruby/Gemfile.lock: sinatra@2.0.5 -> tilt@2.0.9",
			"rust src/rust/Cargo.lock:  -> regex@1.5.4",
			"rust src/rust/Cargo.lock:  -> smallvec@0.6.13",
			"rust src/rust/Cargo.lock:  -> time@0.1.43",
		},
		"lang-python-node.oci": {
			"node srv/nodeapp/package-lock.json:  -> axios@0.21.0",
			"node srv/nodeapp/package-lock.json:  -> handlebars@4.5.0",
			"node srv/nodeapp/package-lock.json:  -> lodash@4.17.15",
			"node srv/nodeapp/package-lock.json:  -> minimist@1.2.0",
			"node srv/nodeapp/package-lock.json:  -> node-fetch@2.6.0",
			"node srv/nodeapp/package-lock.json: axios@0.21.0 -> follow-redirects@1.13.0",
		},
	}
	for img, w := range want {
		t.Run(img, func(t *testing.T) {
			var got []string
			for name, res := range langtest.Images(t, Catalogers(), img) {
				for p, r := range res {
					for _, e := range r.Relationships {
						got = append(got, name+" "+p+": "+e.From.String()+" -> "+e.To.String())
					}
				}
			}
			sort.Strings(got)
			if d := cmp.Diff(w, got); d != "" {
				t.Errorf("edges (-want +got):\n%s", d)
			}
		})
	}
}
