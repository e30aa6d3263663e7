package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Blob garbage collection.
//
// CollectGarbage is a mark and sweep over blob storage, not over the store:
// storage is what GET serves, so it is the authority on what is referenced.
//
//   - Mark: every manifest revision linked in every repository is marked,
//     with everything it references (config, layers, index children,
//     subject-less artifact layers; referrers are manifests of their own and
//     are marked when enumerated). A referenced manifest that exists in the
//     repository is followed recursively (an index's children).
//   - Sweep: every blob under blobs/ that is not marked and whose data file
//     is older than the grace period is removed, then the repositories'
//     layer links to it, so HEAD and mounts answer 404 and clients upload
//     the blob again instead of trusting a link to deleted data.
//
// Why this never removes a blob a live image needs:
//
//   - A blob of any manifest still linked in any repository is marked.
//   - Manifest PUTs (which is when a blob becomes referenced) hold gcMu for
//     reading; mark and sweep hold it for writing. A PUT that completed
//     before the mark is marked; a PUT after the sweep finds the blob gone
//     and fails with MANIFEST_BLOB_UNKNOWN (distribution checks every
//     referenced blob), so no image ever points at deleted data.
//   - Uploads in progress live under _uploads/, which the sweep never
//     touches. A finished upload moves its data under blobs/ with the
//     upload's modification time: blobs younger than the grace period are
//     never swept, so layers uploaded for a manifest not yet PUT survive.
//   - Replicas sharing the blob directory: gcMu is per process. The lease
//     elects one collector, but a PUT on another replica during the sweep
//     could reference an old, unreferenced blob (one whose last image was
//     just deleted) that the sweep then removes. The grace period does not
//     cover that case; run replicas with the collector on one of them, or
//     accept it (DESIGN's replicas share a Postgres lease; see docs/lifecycle.md).

// GCStats reports one collection.
type GCStats struct {
	Manifests    int   // manifests marked
	Marked       int   // blobs marked (manifests included)
	Swept        int   // blobs removed
	BytesFreed   int64 // bytes of removed blobs
	KeptForGrace int   // unreferenced blobs kept because younger than the grace period
}

// gcState is the registry's collector lock: manifest PUTs take it for
// reading, a collection for writing; running serialises collections.
type gcState struct {
	mu      sync.RWMutex
	running sync.Mutex
}

const blobsRoot = "/docker/registry/v2/blobs"

// CollectGarbage removes blobs no manifest in any repository references and
// that are older than grace (measured against the registry clock).
func (r *Registry) CollectGarbage(ctx context.Context, grace time.Duration) (GCStats, error) {
	var st GCStats
	r.gc.running.Lock()
	defer r.gc.running.Unlock()
	r.gc.mu.Lock()
	defer r.gc.mu.Unlock()

	marked, manifests, err := r.mark(ctx)
	if err != nil {
		return st, err
	}
	st.Manifests, st.Marked = manifests, len(marked)

	type candidate struct {
		d    digest.Digest
		size int64
	}
	var sweep []candidate
	cutoff := r.opts.Now().Add(-grace)
	err = r.ns.Blobs().Enumerate(ctx, func(d digest.Digest) error {
		if _, ok := marked[d]; ok {
			return nil
		}
		fi, err := r.driver.Stat(ctx, blobDataPath(d))
		if err != nil {
			if isPathNotFound(err) {
				return nil
			}
			return fmt.Errorf("registry: gc: stat blob %s: %w", d, err)
		}
		if fi.ModTime().After(cutoff) {
			st.KeptForGrace++
			return nil
		}
		sweep = append(sweep, candidate{d, fi.Size()})
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return st, fmt.Errorf("registry: gc: enumerate blobs: %w", err)
	}
	vacuum := storage.NewVacuum(ctx, r.driver)
	for _, c := range sweep {
		if err := vacuum.RemoveBlob(c.d.String()); err != nil && !isPathNotFound(err) {
			return st, fmt.Errorf("registry: gc: remove blob %s: %w", c.d, err)
		}
		st.Swept++
		st.BytesFreed += c.size
	}
	if len(sweep) > 0 {
		gone := make(map[digest.Digest]bool, len(sweep))
		for _, c := range sweep {
			gone[c.d] = true
		}
		if err := r.removeLayerLinks(ctx, gone); err != nil {
			return st, err
		}
	}
	return st, nil
}

func blobDataPath(d digest.Digest) string {
	return path.Join(blobsRoot, d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

// mark returns every blob digest referenced from any repository.
func (r *Registry) mark(ctx context.Context) (map[digest.Digest]struct{}, int, error) {
	marked := map[digest.Digest]struct{}{}
	manifests := 0
	repos, ok := r.ns.(distribution.RepositoryEnumerator)
	if !ok {
		return nil, 0, errors.New("registry: gc: storage cannot enumerate repositories")
	}
	err := repos.Enumerate(ctx, func(name string) error {
		named, err := reference.WithName(name)
		if err != nil {
			return fmt.Errorf("registry: gc: repository name %q: %w", name, err)
		}
		rp, err := r.ns.Repository(ctx, named)
		if err != nil {
			return fmt.Errorf("registry: gc: open %q: %w", name, err)
		}
		ms, err := rp.Manifests(ctx)
		if err != nil {
			return fmt.Errorf("registry: gc: manifests of %q: %w", name, err)
		}
		en, ok := ms.(distribution.ManifestEnumerator)
		if !ok {
			return errors.New("registry: gc: storage cannot enumerate manifests")
		}
		err = en.Enumerate(ctx, func(d digest.Digest) error {
			manifests++
			return markManifest(ctx, ms, d, marked)
		})
		if err != nil && !isPathNotFound(err) {
			return fmt.Errorf("registry: gc: mark %q: %w", name, err)
		}
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return nil, 0, err
	}
	return marked, manifests, nil
}

func markManifest(ctx context.Context, ms distribution.ManifestService, d digest.Digest, marked map[digest.Digest]struct{}) error {
	marked[d] = struct{}{}
	m, err := ms.Get(ctx, d)
	if err != nil {
		// A revision link whose manifest blob is gone cannot reference
		// anything; anything else is an error (marking must be complete).
		if isUnknown(err) {
			return nil
		}
		return fmt.Errorf("manifest %s: %w", d, err)
	}
	for _, ref := range m.References() {
		if _, seen := marked[ref.Digest]; seen {
			continue
		}
		marked[ref.Digest] = struct{}{}
		if ok, _ := ms.Exists(ctx, ref.Digest); ok {
			if err := markManifest(ctx, ms, ref.Digest, marked); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeLayerLinks deletes repositories' _layers links to swept blobs. It
// walks every repository's _layers directory, not the repositories
// distribution enumerates: that needs a _manifests directory, and on an
// object store a repository whose last manifest was deleted has none (no
// object left under it) while its layer links remain.
func (r *Registry) removeLayerLinks(ctx context.Context, gone map[digest.Digest]bool) error {
	vacuum := storage.NewVacuum(ctx, r.driver)
	var errs error
	err := r.driver.Walk(ctx, repositoriesRoot, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			return nil
		}
		p := fi.Path()
		switch path.Base(p) {
		case "_manifests", "_uploads":
			return storagedriver.ErrSkipDir
		case "_layers":
		default:
			return nil
		}
		name := strings.TrimPrefix(path.Dir(p), repositoriesRoot+"/")
		entries, err := r.driver.List(ctx, path.Join(p, "sha256"))
		if err != nil {
			if !isPathNotFound(err) {
				errs = errors.Join(errs, fmt.Errorf("list layer links of %q: %w", name, err))
			}
			return storagedriver.ErrSkipDir
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.SHA256, path.Base(e))
			if !gone[d] {
				continue
			}
			if err := vacuum.RemoveLayer(name, d); err != nil && !isPathNotFound(err) {
				errs = errors.Join(errs, fmt.Errorf("remove layer link %s of %q: %w", d, name, err))
			}
		}
		return storagedriver.ErrSkipDir
	})
	if err != nil && !isPathNotFound(err) {
		errs = errors.Join(errs, err)
	}
	if errs != nil {
		return fmt.Errorf("registry: gc: %w", errs)
	}
	return nil
}

// ManifestChildren lists the manifests an index references (nil for other
// manifests), so lifecycle evaluation can leave an index's children alone.
func (r *Registry) ManifestChildren(ctx context.Context, repo, dgst string) ([]string, error) {
	_, m, mt, _, err := r.storedManifest(ctx, repo, dgst)
	if isUnknown(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !strings.Contains(mt, "index") && !strings.Contains(mt, "manifest.list") {
		return nil, nil
	}
	var out []string
	for _, ref := range m.References() {
		out = append(out, ref.Digest.String())
	}
	return out, nil
}

// putManifestLocked serves a manifest PUT under the collector's read lock,
// so a collection never marks and sweeps in the middle of one.
func (r *Registry) putManifestLocked(w http.ResponseWriter, req *http.Request, rt route, principal string) {
	r.gc.mu.RLock()
	defer r.gc.mu.RUnlock()
	r.putManifest(w, req, rt, principal)
}
