package match

import (
	"sort"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Key is one (namespace, package) lookup that Match makes in the DB.
type Key struct {
	Namespace string `json:"namespace"`
	Package   string `json:"package"`
}

// Keys returns, sorted and without duplicates, every (namespace, package)
// pair that Match queries Candidates with for inv under opts. A DB change
// that touches none of these pairs leaves inv's matches unchanged; what it
// can still change is the severity or text of existing findings (NVD
// enrichment of a CVE) and, for Ubuntu, a CVE judged by the tracker under
// another package (judgedElsewhere). Continuous rescans use Keys to find
// the stored inventories a DB change affects.
func Keys(inv *inventory.Inventory, opts Options) []Key {
	osNS := ""
	if d := inv.Distro; d != nil && d.Status == inventory.OSSupported {
		osNS = feedNamespace(d.Namespace())
	}
	seen := map[Key]bool{}
	var out []Key
	for i := range inv.Packages {
		p := &inv.Packages[i]
		ns := osNS
		if !p.Type.IsOS() {
			if !opts.Language || p.Type.Ecosystem() == "" {
				continue
			}
			ns = "osv:" + p.Type.Ecosystem()
		}
		if ns == "" {
			continue
		}
		for _, name := range lookupNames(p) {
			k := Key{Namespace: ns, Package: name}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Package < out[j].Package
	})
	return out
}
