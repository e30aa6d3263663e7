package match

import (
	"sort"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
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
// enrichment of a CVE) and a CVE judged by a higher-ranked feed under
// another package (judgedElsewhere). Continuous rescans use Keys to find
// the stored inventories a DB change affects.
func Keys(inv *inventory.Inventory, opts Options) []Key {
	osNS := inventoryNamespace(inv, opts.Distros)
	seen := map[Key]bool{}
	var out []Key
	for i := range inv.Packages {
		for _, k := range packageKeys(osNS, &inv.Packages[i], opts) {
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

// Touching returns a copy of inv holding only the packages Match looks up
// under at least one of keys: after a DB change confined to keys, matching
// it gives every finding that can have changed, and the other packages'
// findings are as before.
func Touching(inv *inventory.Inventory, opts Options, keys map[Key]bool) *inventory.Inventory {
	osNS := inventoryNamespace(inv, opts.Distros)
	out := *inv
	out.Packages = nil
	for i := range inv.Packages {
		for _, k := range packageKeys(osNS, &inv.Packages[i], opts) {
			if keys[k] {
				out.Packages = append(out.Packages, inv.Packages[i])
				break
			}
		}
	}
	return &out
}

// inventoryNamespace is the feed namespace of inv's OS packages ("" when
// the OS is not matched).
func inventoryNamespace(inv *inventory.Inventory, distros distro.List) string {
	if d := inv.Distro; d != nil && d.Status == inventory.OSSupported {
		return distros.FeedNamespace(d.Namespace())
	}
	return ""
}

// packageKeys are the lookups Match makes for p.
func packageKeys(osNS string, p *inventory.Package, opts Options) []Key {
	ns := osNS
	var eco *ecosystem.Descriptor
	if !p.Type.IsOS() {
		e, ok := opts.Ecosystems.ByType(p.Type)
		if !opts.Language || !ok {
			return nil
		}
		eco, ns = e, e.Namespace()
	}
	if ns == "" {
		return nil
	}
	names := lookupNames(p, eco)
	out := make([]Key, len(names))
	for i, n := range names {
		out[i] = Key{Namespace: ns, Package: n}
	}
	return out
}
