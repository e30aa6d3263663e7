package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/osdetect"
	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// cacheFormat versions the cached value layout and the key scheme. Bumped to
// v2 when keys became verified digests: entries written under v1 keys (the
// config's unverified claim) are never read again; v3 when cataloger
// results gained dependency relationships.
const cacheFormat = "v3"

// cachedLayer is the cached value of one layer: its recorded entries (with
// the release files' content) and, per file, the cataloger results.
type cachedLayer struct {
	Index *squash.LayerIndex      `json:"index"`
	Files map[string][]fileResult `json:"files"`
	// Warnings are oversize files skipped in this layer.
	Warnings []string `json:"warnings,omitempty"`
}

// stageKey names everything besides the layer's bytes that a cached layer
// result depends on: each cataloger's name and version, OS detection's
// version (it chooses the kept release files), the squash limits (a file
// skipped as oversize under one limit is read under another) and the cache
// format.
func (r *run) stageKey() string {
	var parts []string
	for _, p := range r.plugins {
		parts = append(parts, fmt.Sprintf("%s@%d", p.c.Name(), p.c.Version()))
	}
	sort.Strings(parts)
	parts = append(parts, fmt.Sprintf("osdetect@%d", osdetect.Version), "release-files:"+strings.Join(r.opts.Distros.ReleaseFiles(), ","), "limits:"+r.opts.Limits.Key(), cacheFormat)
	h := sha256.Sum256([]byte(strings.Join(parts, ";")))
	return hex.EncodeToString(h[:12])
}

// layerKey is where a layer's result lives: under its verified diffID.
func layerKey(diffID, stage string) string { return "layer/" + diffID + "/" + stage }

// blobKey records that a blob (by its digest as stored) was read and found
// to decompress to a diffID. It is a fact about content, written only after
// both digests verified, so it holds for every image that names the blob.
func blobKey(digest string) string { return "blob/" + cacheFormat + "/" + digest }

// cached indexes every layer on its own (or takes it from the cache), then
// merges the layers' entries top first and keeps the results of the files
// that the squashed image shows.
//
// A layer is served from the cache only when its blob's digest (from the
// manifest, or computed here for a docker archive) is known to decompress to
// the diffID the config claims: the config's claim alone is never a key. A
// blob known to decompress to another diffID fails the scan. Anything else
// is read, verified against both digests while it is indexed, and only then
// written to the cache. See the package doc for the argument.
func (r *run) cached(ctx context.Context, layers []squash.Layer) (*squash.FS, error) {
	stage := r.stageKey()
	results := make([]*cachedLayer, len(layers))
	idxs := make([]*squash.LayerIndex, len(layers))
	for i, l := range layers {
		if l.Digest == "" {
			d, err := hashBlob(l)
			if err != nil {
				return nil, fmt.Errorf("layer %d of %d: %w", i+1, len(layers), err)
			}
			l.Digest = d // verified again when the layer is read
		}
		cl, hit, err := r.lookup(ctx, l, stage)
		if err != nil {
			return nil, fmt.Errorf("layer %d of %d: %w", i+1, len(layers), err)
		}
		if hit {
			if r.opts.OnCacheHit != nil {
				r.opts.OnCacheHit(l.DiffID)
			}
		} else {
			if cl, err = r.indexLayer(ctx, l); err != nil {
				return nil, layerErr(i, len(layers), err)
			}
			b, err := json.Marshal(cl)
			if err != nil {
				return nil, fmt.Errorf("layer cache encode %s: %w", l.DiffID, err)
			}
			if err := r.opts.Cache.Put(ctx, layerKey(l.DiffID, stage), b); err != nil {
				return nil, fmt.Errorf("layer cache put %s: %w", l.DiffID, err)
			}
			if err := r.opts.Cache.Put(ctx, blobKey(l.Digest), []byte(l.DiffID)); err != nil {
				return nil, fmt.Errorf("layer cache put %s: %w", l.Digest, err)
			}
		}
		results[i], idxs[i] = cl, cl.Index
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

// lookup returns the cached result of l when its blob is known to hold the
// claimed diffID. A blob known to hold another diffID is an error.
func (r *run) lookup(ctx context.Context, l squash.Layer, stage string) (*cachedLayer, bool, error) {
	b, ok, err := r.opts.Cache.Get(ctx, blobKey(l.Digest))
	if err != nil {
		return nil, false, fmt.Errorf("layer cache get %s: %w", l.Digest, err)
	}
	if !ok {
		return nil, false, nil
	}
	if known := string(b); known != l.DiffID {
		if strings.HasPrefix(known, "sha256:") || strings.HasPrefix(known, "sha512:") {
			return nil, false, &squash.DigestError{Layer: l.DiffID, What: "diffID", Claimed: l.DiffID, Actual: known}
		}
		return nil, false, nil // a corrupt entry is a miss, then overwritten
	}
	b, ok, err = r.opts.Cache.Get(ctx, layerKey(l.DiffID, stage))
	if err != nil {
		return nil, false, fmt.Errorf("layer cache get %s: %w", l.DiffID, err)
	}
	if !ok {
		return nil, false, nil
	}
	var cl cachedLayer
	if err := json.Unmarshal(b, &cl); err != nil || cl.Index == nil || cl.Index.DiffID != l.DiffID {
		return nil, false, nil // a corrupt entry is a miss, then overwritten
	}
	return &cl, true, nil
}

// indexLayer reads and verifies one layer on its own.
func (r *run) indexLayer(ctx context.Context, l squash.Layer) (*cachedLayer, error) {
	cl := &cachedLayer{Files: map[string][]fileResult{}}
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
	return cl, nil
}

// hashBlob computes the digest of a layer's blob as stored, for sources that
// do not name it (docker archives). Hashing is several times cheaper than
// decompressing, and it is what makes the cached result usable.
func hashBlob(l squash.Layer) (string, error) {
	rc, err := l.Open()
	if err != nil {
		return "", fmt.Errorf("open blob: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("hash blob: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
