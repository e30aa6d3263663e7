package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// cacheFormat versions the cached value layout.
const cacheFormat = "v1"

// cachedLayer is the cached value of one layer: its recorded entries (with
// the release files' content) and, per file, the cataloger results.
type cachedLayer struct {
	Index *squash.LayerIndex      `json:"index"`
	Files map[string][]fileResult `json:"files"`
	// Warnings are oversize files skipped in this layer.
	Warnings []string `json:"warnings,omitempty"`
}

// cacheKey is the layer's diffID with the names and versions of the
// catalogers (and of OS detection's file set), so that a new cataloger
// version misses the cache.
func (r *run) cacheKey(diffID string) string {
	var parts []string
	for _, p := range r.plugins {
		parts = append(parts, fmt.Sprintf("%s@%d", p.c.Name(), p.c.Version()))
	}
	sort.Strings(parts)
	parts = append(parts, "osdetect@1", cacheFormat)
	h := sha256.Sum256([]byte(strings.Join(parts, ";")))
	return "layer/" + diffID + "/" + hex.EncodeToString(h[:12])
}

// cached indexes every layer on its own (or takes it from the cache), then
// merges the layers' entries top first and keeps the results of the files
// that the squashed image shows.
func (r *run) cached(ctx context.Context, layers []squash.Layer) (*squash.FS, error) {
	results := make([]*cachedLayer, len(layers))
	idxs := make([]*squash.LayerIndex, len(layers))
	for i, l := range layers {
		key := r.cacheKey(l.DiffID)
		b, ok, err := r.opts.Cache.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("layer cache get %s: %w", l.DiffID, err)
		}
		var cl cachedLayer
		if ok {
			if err := json.Unmarshal(b, &cl); err != nil || cl.Index == nil || cl.Index.DiffID != l.DiffID {
				ok = false // a corrupt entry is a miss, then overwritten
				cl = cachedLayer{}
			}
		}
		if ok {
			if r.opts.OnCacheHit != nil {
				r.opts.OnCacheHit(l.DiffID)
			}
		} else {
			cl = cachedLayer{Files: map[string][]fileResult{}}
			warnBefore := len(r.inv.Warnings)
			opts := r.squashOptions(func(ctx context.Context, f squash.File) error {
				frs, err := r.catalogFile(ctx, f)
				if err != nil {
					return err
				}
				cl.Files[f.Path] = frs
				return nil
			})
			idx, err := squash.IndexLayer(ctx, l, opts)
			if err != nil {
				return nil, err
			}
			cl.Index = idx
			cl.Warnings = append(cl.Warnings, r.inv.Warnings[warnBefore:]...)
			r.inv.Warnings = r.inv.Warnings[:warnBefore]
			b, err := json.Marshal(&cl)
			if err != nil {
				return nil, fmt.Errorf("layer cache encode %s: %w", l.DiffID, err)
			}
			if err := r.opts.Cache.Put(ctx, key, b); err != nil {
				return nil, fmt.Errorf("layer cache put %s: %w", l.DiffID, err)
			}
		}
		results[i], idxs[i] = &cl, cl.Index
	}
	visible := map[string]string{}
	fs, err := squash.Merge(ctx, idxs, r.opts.Limits, func(p, layer string) { visible[p] = layer })
	if err != nil {
		return nil, err
	}
	for _, cl := range results {
		r.inv.Warnings = append(r.inv.Warnings, cl.Warnings...)
		paths := make([]string, 0, len(cl.Files))
		for p := range cl.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if visible[p] == cl.Index.DiffID {
				r.add(cl.Files[p], cl.Index.DiffID)
			}
		}
	}
	return fs, nil
}
