package registry

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
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
//   - Sweep, in batches of gcBatch: every blob under blobs/ that is not
//     marked and whose data file is older than the grace period is moved
//     to the trash (trashRoot/<sweep>/<algorithm>/<hex>/data, with the
//     list of repositories that linked it in .../links), and those
//     repositories' layer links to it are removed, so HEAD, mounts and
//     manifest PUTs answer 404 and clients upload the blob again. Then the
//     shared table of blob references (store.RecordBlobRefs) is read
//     again: a moved blob some manifest PUT named since the sweep began
//     (less gcRefMargin) is put back with its links; the others are
//     deleted from the trash.
//
// Why this never removes a blob a live image needs, with any number of
// replicas sharing the blob storage and the store:
//
//   - A blob of any manifest linked in any repository when the mark
//     passes is marked.
//   - A manifest PUT, on any replica, records the blobs it names (and its
//     own digest) in the store before distribution checks that they
//     exist, and its storage work after that is bounded by gcPutBound.
//     So a manifest the mark missed was written after the sweep began,
//     and was recorded at most gcPutBound earlier: at or after the
//     sweep's start less gcRefMargin, as long as the replicas' clocks
//     agree within (gcRefMargin-gcPutBound)/2. Either its record is
//     there when the sweep re-reads the table (the blob is put back), or
//     it was made after the re-read, when the blob was already in the
//     trash: the PUT's existence check fails (MANIFEST_BLOB_UNKNOWN) and
//     the client uploads the blob again.
//   - The sweep never deletes under blobs/ nor removes a layer link after
//     its re-read: a blob uploaded again meanwhile stays.
//   - A collection stopped between the move and the decision (a crash)
//     leaves its trash behind; the next collection, on any replica, puts
//     all of it back (data and links) before it marks, then sweeps what
//     is still garbage as above. Until then, a manifest PUT that passed
//     its existence check just before the move has blobs in the trash.
//     A collection that fails (an error, a cancelled context) puts its
//     batch back before it returns.
//   - Uploads in progress live under _uploads/, which the sweep never
//     touches. A finished upload moves its data under blobs/ with the
//     upload's modification time: blobs younger than the grace period are
//     never swept, so layers uploaded for a manifest not yet PUT survive.

// GCStats reports one collection.
type GCStats struct {
	Manifests    int   // manifests marked
	Marked       int   // blobs marked (manifests included)
	Swept        int   // blobs removed
	BytesFreed   int64 // bytes of removed blobs
	KeptForGrace int   // unreferenced blobs kept because younger than the grace period
	// Restored counts blobs moved to the trash and put back because a
	// manifest PUT named them during the collection.
	Restored int
	// Recovered counts the blobs other collections (interrupted ones)
	// had left in the trash, put back before the mark (and swept again
	// if still garbage).
	Recovered int
	// RefsPruned counts blob references older than the prune bound that
	// were deleted from the store.
	RefsPruned int64
}

// gcState serialises this replica's collections.
type gcState struct {
	running sync.Mutex
}

const (
	blobsRoot = "/docker/registry/v2/blobs"
	// trashRoot holds the blobs a sweep moved out of blobs/ until it
	// decides on them: outside blobs/ and repositories/, so neither
	// distribution nor the mark ever sees them.
	trashRoot = "/docker/registry/v2/stowaway-trash"
	// gcRefMargin: a sweep keeps every blob a manifest PUT named at or
	// after the sweep's start less gcRefMargin. It covers gcPutBound and
	// clock skew between replicas of up to 1.5 minutes.
	gcRefMargin = 5 * time.Minute
	// gcPutBound bounds the storage work of a manifest PUT after it
	// recorded its blob references (its context's deadline).
	gcPutBound = 2 * time.Minute
	// gcRefKeep: a sweep prunes the references older than its start less
	// the larger of gcRefKeep and twice the grace period. Rows are one per
	// blob digest, so the table stays smaller than the blob storage's
	// index; keeping a day of them covers a sweep that runs for hours on
	// another replica while this one starts.
	gcRefKeep = 24 * time.Hour
	// gcBatch is how many blobs a sweep moves to the trash before it
	// re-reads the references: one query per batch, and a short window
	// during which those blobs answer 404.
	gcBatch = 256
	// maxTrashLinks bounds the links file of one trash entry.
	maxTrashLinks = 64 << 20
	// settleTimeout bounds putting a failed collection's batch back.
	settleTimeout = 2 * time.Minute
)

// The stages at which Options.gcHook runs.
const (
	gcStageMarked  = "marked"  // marked, candidates listed, nothing moved
	gcStageTrashed = "trashed" // a batch is in the trash, links removed
	gcStageDecided = "decided" // the references of a batch re-read, nothing put back or deleted
)

// candidate is a blob the sweep may remove.
type candidate struct {
	d    digest.Digest
	size int64
}

// CollectGarbage removes blobs no manifest in any repository references and
// that are older than grace (measured against the registry clock).
func (r *Registry) CollectGarbage(ctx context.Context, grace time.Duration) (GCStats, error) {
	var st GCStats
	r.gc.running.Lock()
	defer r.gc.running.Unlock()

	t0 := r.opts.Now()
	since := t0.Add(-gcRefMargin)
	sweepID, err := newSweepID(t0)
	if err != nil {
		return st, err
	}

	if err := r.recoverTrash(ctx, sweepID, &st); err != nil {
		return st, err
	}
	marked, manifests, err := r.mark(ctx)
	if err != nil {
		return st, err
	}
	st.Manifests, st.Marked = manifests, len(marked)

	var sweep []candidate
	cutoff := t0.Add(-grace)
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
	if err := r.gcStage(ctx, gcStageMarked); err != nil {
		return st, err
	}
	var links map[digest.Digest][]string
	if len(sweep) > 0 {
		want := make(map[digest.Digest]bool, len(sweep))
		for _, c := range sweep {
			want[c.d] = true
		}
		if links, err = r.layerLinks(ctx, want); err != nil {
			return st, err
		}
	}
	for start := 0; start < len(sweep); start += gcBatch {
		batch := sweep[start:min(start+gcBatch, len(sweep))]
		if err := r.sweepBatch(ctx, sweepID, batch, links, since, &st); err != nil {
			return st, err
		}
	}
	if err := r.driver.Delete(ctx, path.Join(trashRoot, sweepID)); err != nil && !isPathNotFound(err) {
		return st, fmt.Errorf("registry: gc: remove the trash of sweep %s: %w", sweepID, err)
	}
	// A sweep reads references back to its own start less gcRefMargin;
	// gcRefKeep leaves them to a sweep still running on another replica.
	st.RefsPruned, err = r.opts.Store.PruneBlobRefs(ctx, t0.Add(-max(2*grace, gcRefKeep)))
	if err != nil {
		return st, fmt.Errorf("registry: gc: %w", err)
	}
	return st, nil
}

func (r *Registry) gcStage(ctx context.Context, stage string) error {
	if r.opts.gcHook == nil {
		return nil
	}
	if err := r.opts.gcHook(ctx, stage); err != nil {
		return fmt.Errorf("registry: gc: stage %s: %w", stage, err)
	}
	return nil
}

// newSweepID names a sweep's trash directory: its start time, then random
// bytes, so two sweeps never share one.
func newSweepID(t0 time.Time) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("registry: gc: sweep id: %w", err)
	}
	return fmt.Sprintf("%d-%s", t0.UnixMilli(), hex.EncodeToString(b)), nil
}

// sweepBatch moves a batch to the trash, removes its links, re-reads the
// references, then puts back what was named and deletes the rest. On an
// error after the move it puts the whole batch back.
func (r *Registry) sweepBatch(ctx context.Context, sweepID string, batch []candidate, links map[digest.Digest][]string, since time.Time, st *GCStats) error {
	var moved []candidate
	settle := func(err error) error {
		// Putting back is always safe; the sweep stops here.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		for _, c := range moved {
			if rerr := r.restore(sctx, sweepID, c.d, links[c.d]); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return err
	}
	for _, c := range batch {
		entry := trashEntry(sweepID, c.d)
		if ls := links[c.d]; len(ls) > 0 {
			if err := r.driver.PutContent(ctx, path.Join(entry, "links"), []byte(strings.Join(ls, "\n"))); err != nil {
				return settle(fmt.Errorf("registry: gc: trash the links of %s: %w", c.d, err))
			}
		}
		if err := r.driver.Move(ctx, blobDataPath(c.d), path.Join(entry, "data")); err != nil {
			if isPathNotFound(err) {
				// Gone already (another collection): nothing to decide.
				_ = r.driver.Delete(ctx, entry)
				continue
			}
			return settle(fmt.Errorf("registry: gc: move blob %s to the trash: %w", c.d, err))
		}
		moved = append(moved, c)
	}
	vacuum := storage.NewVacuum(ctx, r.driver)
	for _, c := range moved {
		for _, repo := range links[c.d] {
			if err := vacuum.RemoveLayer(repo, c.d); err != nil && !isPathNotFound(err) {
				return settle(fmt.Errorf("registry: gc: remove layer link %s of %q: %w", c.d, repo, err))
			}
		}
	}
	if err := r.gcStage(ctx, gcStageTrashed); err != nil {
		return settle(err)
	}
	ds := make([]string, len(moved))
	for i, c := range moved {
		ds[i] = c.d.String()
	}
	named, err := r.opts.Store.BlobRefsSince(ctx, ds, since)
	if err != nil {
		return settle(fmt.Errorf("registry: gc: %w", err))
	}
	if err := r.gcStage(ctx, gcStageDecided); err != nil {
		return settle(err)
	}
	for i, c := range moved {
		if named[c.d.String()] {
			if err := r.restore(ctx, sweepID, c.d, links[c.d]); err != nil {
				moved = moved[i:]
				return settle(err)
			}
			st.Restored++
			continue
		}
		if err := r.driver.Delete(ctx, trashEntry(sweepID, c.d)); err != nil && !isPathNotFound(err) {
			moved = moved[i:]
			return settle(fmt.Errorf("registry: gc: remove blob %s from the trash: %w", c.d, err))
		}
		r.removeEmptyDirs(path.Dir(blobDataPath(c.d)))
		st.Swept++
		st.BytesFreed += c.size
	}
	return nil
}

func trashEntry(sweepID string, d digest.Digest) string {
	return path.Join(trashRoot, sweepID, d.Algorithm().String(), d.Encoded())
}

// restore puts a trash entry back: its data under blobs/ (unless it is
// no longer in the trash: another collection settled it) and the layer
// links of repos, then removes the entry. Re-creating a link is safe
// whatever became of the data: a link to missing data answers 404.
func (r *Registry) restore(ctx context.Context, sweepID string, d digest.Digest, repos []string) error {
	entry := trashEntry(sweepID, d)
	if err := r.driver.Move(ctx, path.Join(entry, "data"), blobDataPath(d)); err != nil && !isPathNotFound(err) {
		return fmt.Errorf("registry: gc: restore blob %s: %w", d, err)
	}
	for _, repo := range repos {
		if err := r.driver.PutContent(ctx, layerLinkPath(repo, d), []byte(d.String())); err != nil {
			return fmt.Errorf("registry: gc: restore layer link %s of %q: %w", d, repo, err)
		}
	}
	if err := r.driver.Delete(ctx, entry); err != nil && !isPathNotFound(err) {
		return fmt.Errorf("registry: gc: restore blob %s: remove the trash entry: %w", d, err)
	}
	return nil
}

func layerLinkPath(repo string, d digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_layers", d.Algorithm().String(), d.Encoded(), "link")
}

// trashLinks reads the repositories of a trash entry's links file (none
// when it has none); lines that are not repository names are skipped.
func (r *Registry) trashLinks(ctx context.Context, entry string) ([]string, error) {
	rc, err := r.driver.Reader(ctx, path.Join(entry, "links"), 0)
	if isPathNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trashed links: %w", err)
	}
	defer rc.Close()
	var repos []string
	sc := bufio.NewScanner(io.LimitReader(rc, maxTrashLinks+1))
	sc.Buffer(make([]byte, 0, 4096), 4096)
	n := 0
	for sc.Scan() {
		n += len(sc.Bytes()) + 1
		if n > maxTrashLinks {
			return nil, fmt.Errorf("trashed links: larger than %d bytes", maxTrashLinks)
		}
		name := sc.Text()
		if _, err := reference.WithName(name); err != nil {
			// Not written by a sweep: skipped, so that one bad line
			// does not stop every collection.
			r.opts.Logger.Warn("registry: gc: trashed links: not a repository name, skipped", "entry", entry, "err", err)
			continue
		}
		repos = append(repos, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trashed links: %w", err)
	}
	return repos, nil
}

// recoverTrash puts back every trash entry of other collections
// (interrupted, or running now on another replica) with the links its
// links file lists, before the mark: the mark must read a manifest whose
// blob an interrupted collection left in the trash, and putting back is
// always safe. What is still garbage is swept again, fenced as any
// candidate. A collection that later finds its entry gone (put back by
// another) re-creates the entry's links from memory.
func (r *Registry) recoverTrash(ctx context.Context, sweepID string, st *GCStats) error {
	type entry struct {
		sweep string
		d     digest.Digest
	}
	var entries []entry
	seen := map[string]bool{}
	err := r.driver.Walk(ctx, trashRoot, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			return nil
		}
		rel := strings.Split(strings.TrimPrefix(fi.Path(), trashRoot+"/"), "/")
		if len(rel) != 4 || rel[0] == sweepID {
			return nil
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(rel[1]), rel[2])
		if d.Validate() != nil {
			return nil
		}
		if k := rel[0] + "/" + d.String(); !seen[k] {
			seen[k] = true
			entries = append(entries, entry{rel[0], d})
		}
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return fmt.Errorf("registry: gc: list the trash: %w", err)
	}
	for _, e := range entries {
		repos, err := r.trashLinks(ctx, trashEntry(e.sweep, e.d))
		if err != nil {
			return fmt.Errorf("registry: gc: restore blob %s: %w", e.d, err)
		}
		if err := r.restore(ctx, e.sweep, e.d, repos); err != nil {
			return err
		}
		st.Recovered++
	}
	// The sweep directories go only if empty: the collection that made
	// one may be running still.
	for _, e := range entries {
		r.removeEmptyDirs(path.Join(trashRoot, e.sweep, e.d.Algorithm().String()))
	}
	return nil
}

// removeEmptyDirs removes dir and then its parents while they are empty,
// on the filesystem driver (an object store has no directories). It never
// removes anything that is not an empty directory, so it is safe against a
// concurrent upload or move into it, which at worst fails and is retried.
func (r *Registry) removeEmptyDirs(dir string) {
	if r.fsRoot == "" {
		return
	}
	for p := dir; strings.HasPrefix(p, "/docker/registry/v2/") && p != blobsRoot && p != trashRoot; p = path.Dir(p) {
		if os.Remove(filepath.Join(r.fsRoot, filepath.FromSlash(p))) != nil {
			return
		}
	}
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

// layerLinks lists, for each blob of want, the repositories whose _layers
// link it. It walks every repository's _layers directory, not the
// repositories distribution enumerates: that needs a _manifests directory,
// and on an object store a repository whose last manifest was deleted has
// none (no object left under it) while its layer links remain.
func (r *Registry) layerLinks(ctx context.Context, want map[digest.Digest]bool) (map[digest.Digest][]string, error) {
	out := map[digest.Digest][]string{}
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
			if want[d] {
				out[d] = append(out[d], name)
			}
		}
		return storagedriver.ErrSkipDir
	})
	if err != nil && !isPathNotFound(err) {
		errs = errors.Join(errs, err)
	}
	if errs != nil {
		return nil, fmt.Errorf("registry: gc: %w", errs)
	}
	return out, nil
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
