package rescan

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/scan"
)

// Decoding a stored inventory (zstd, then JSON into 300 packages) costs
// more than a change pass spends on the image otherwise. A Rescanner keeps
// the inventories it decoded as views: the inventory without its packages
// and the ids of its packages in a table of the distinct packages seen
// (a fleet shares most of them), keyed by the SHA-256 of the stored bytes,
// so a view is exactly what decoding those bytes gives. The cache is
// bounded by the package references it holds (MaxViewRefs); when full it
// is emptied and filled again.

// DefaultViewRefs is the default bound of the view cache: package
// references over all cached images (4 bytes each, plus each distinct
// package once).
const DefaultViewRefs = 8 << 20

// view is one decoded inventory: head without Packages, and the ids of
// its packages in order in table (the cache's table when the view was
// made: ids index it). Both are shared and read-only. A view that is not
// kept holds its packages in head and no ids.
type view struct {
	head  *inventory.Inventory
	ids   []uint32
	table []inventory.Package
	// gen is the cache generation of ids; dist the id of head.Distro.
	gen, dist uint32
	// distinct: no two packages share a PURL and path (matching merges
	// the findings of such packages).
	distinct bool
}

// viewCache holds views and the package table they index.
type viewCache struct {
	max int
	// opts are the match options of basic and enhanced scans.
	opts [2]match.Options

	mu      sync.Mutex
	gen     uint32
	views   map[[32]byte]*view
	ids     map[string]uint32 // a package's JSON -> its id
	pkgs    []inventory.Package
	distros map[string]uint32
	refs    int
	// keys memoizes match keys by package, distro and enhanced.
	keys map[pkgKey][]match.Key
}

// pkgKey names a package of the table in an image of one distro, matched
// basic or enhanced.
type pkgKey struct {
	gen, id, dist uint32
	enhanced      bool
}

func newViewCache(max int) *viewCache {
	c := &viewCache{max: max}
	for i, enhanced := range []bool{false, true} {
		c.opts[i] = scan.Options{Enhanced: enhanced}.WithLists().MatchOptions()
	}
	c.reset()
	return c
}

func (c *viewCache) reset() {
	c.gen++
	c.views, c.ids, c.pkgs, c.distros, c.refs, c.keys = map[[32]byte]*view{}, map[string]uint32{}, nil, map[string]uint32{}, 0, map[pkgKey][]match.Key{}
}

// get returns the view of data, decoding it when it is not cached.
func (c *viewCache) get(codec *Codec, data []byte) (*view, error) {
	sum := sha256.Sum256(data)
	c.mu.Lock()
	v, ok := c.views[sum]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	inv, err := codec.Decode(data)
	if err != nil {
		return nil, err
	}
	return c.put(sum, inv)
}

// put interns inv's packages and caches its view, unless it would hold
// more than max references or carries symbol tables (kept per image):
// then the view holds its own packages and is not kept.
func (c *viewCache) put(sum [32]byte, inv *inventory.Inventory) (*view, error) {
	head := *inv
	head.Packages = nil
	cost := 1 + len(inv.Packages) + len(inv.Relationships)
	if len(inv.SymbolTables) > 0 || cost > c.max {
		head.Packages = inv.Packages
		return &view{head: &head}, nil
	}
	keys := make([]string, len(inv.Packages))
	for i := range inv.Packages {
		b, err := json.Marshal(&inv.Packages[i])
		if err != nil {
			return nil, fmt.Errorf("rescan: package identity: %w", err)
		}
		keys[i] = string(b)
	}
	d, err := json.Marshal(inv.Distro)
	if err != nil {
		return nil, fmt.Errorf("rescan: distro identity: %w", err)
	}
	idents := make(map[[2]string]bool, len(inv.Packages))
	distinct := true
	for i := range inv.Packages {
		k := [2]string{inv.Packages[i].PURL, inv.Packages[i].Path}
		distinct = distinct && !idents[k]
		idents[k] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs+cost > c.max {
		c.reset()
	}
	v := &view{head: &head, ids: make([]uint32, len(keys)), gen: c.gen, distinct: distinct}
	for i, k := range keys {
		id, ok := c.ids[k]
		if !ok {
			id = uint32(len(c.pkgs))
			c.ids[k] = id
			c.pkgs = append(c.pkgs, inv.Packages[i])
		}
		v.ids[i] = id
	}
	dist, ok := c.distros[string(d)]
	if !ok {
		dist = uint32(len(c.distros))
		c.distros[string(d)] = dist
	}
	v.dist, v.table = dist, c.pkgs
	c.views[sum] = v
	c.refs += cost
	return v, nil
}

// inventory materializes v: a fresh Inventory whose Packages are copies.
func (v *view) inventory() *inventory.Inventory {
	inv := *v.head
	if len(v.ids) == 0 {
		return &inv
	}
	inv.Packages = make([]inventory.Package, len(v.ids))
	for i, id := range v.ids {
		inv.Packages[i] = v.table[id]
	}
	return &inv
}

// touching is match.Touching of v's inventory: the packages of v looked up
// under any of keys, in order, with each package's keys memoized.
func (c *viewCache) touching(v *view, enhanced bool, keys map[match.Key]bool) *inventory.Inventory {
	opts := c.opts[b2i(enhanced)]
	if v.ids == nil {
		return match.Touching(v.head, opts, keys)
	}
	out := *v.head
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range v.ids {
		k := pkgKey{gen: v.gen, id: id, dist: v.dist, enhanced: enhanced}
		ks, ok := c.keys[k]
		if !ok && k.gen == c.gen {
			ks = match.Keys(&inventory.Inventory{Distro: v.head.Distro, Packages: []inventory.Package{v.table[id]}}, opts)
			c.keys[k] = ks
		} else if !ok {
			// A view of an emptied generation: not memoized.
			ks = match.Keys(&inventory.Inventory{Distro: v.head.Distro, Packages: []inventory.Package{v.table[id]}}, opts)
		}
		for _, key := range ks {
			if keys[key] {
				out.Packages = append(out.Packages, v.table[id])
				break
			}
		}
	}
	return &out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
