package lang

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
)

// TestSharedImages runs every language cataloger over each language image
// of ../shared/images and checks the number of packages each finds and
// that no file gives a warning or an error. The per-ecosystem packages are
// checked by name in the subpackages' tests.
func TestSharedImages(t *testing.T) {
	want := map[string]map[string]int{
		"lang-python-node.oci": {
			// 8 dist-info + 1 egg-info + 5 requirements.txt pins
			"python": 14,
			// 6 node_modules + 6 package-lock + 2 yarn.lock
			"node": 14,
		},
		// 4 jars + 3 nested; vulnapp: main module, 12 deps, stdlib
		"lang-java-go.tar": {"java": 7, "golang": 14},
		"lang-lockfiles.tar": {
			"python": 3, "dotnet": 3, "ruby": 7, "rust": 3, "php": 3,
			"golang": 15, // go.mod require lines
		},
		"multilayer-whiteout.tar": {"python": 2, "node": 1},
		// A real minbase rootfs: hundreds of real, non-Go ELF executables
		// that the binary catalogers must pass over silently.
		"debian-12.tar": {},
	}
	for img, counts := range want {
		t.Run(img, func(t *testing.T) {
			got := map[string]int{}
			for name, res := range langtest.Images(t, Catalogers(), img) {
				for p, r := range res {
					got[name] += len(r.Packages)
					if len(r.Warnings) > 0 || r.Error != "" {
						t.Errorf("%s: %s: warnings %q, error %q", name, p, r.Warnings, r.Error)
					}
				}
				if got[name] == 0 {
					delete(got, name)
				}
			}
			if d := cmp.Diff(counts, got); d != "" {
				t.Errorf("packages per cataloger (-want +got):\n%s", d)
			}
			var names []string
			for n, c := range got {
				names = append(names, fmt.Sprintf("%s=%d", n, c))
			}
			sort.Strings(names)
			t.Logf("%s: %v", img, names)
		})
	}
}
