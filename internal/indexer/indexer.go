// Package indexer turns a source into an Inventory: it squashes the image's
// layers as a stream, hands each required file to the catalogers that asked
// for it, detects the operating system and finishes the packages (PURLs,
// layers, de-duplication of language packages that an OS package installed).
//
// # Trusting what an image claims
//
// An image's config claims a diffID for each layer, and its manifest names
// each layer's blob by digest. Nothing the indexer relies on is keyed by a
// claim it has not checked:
//
//   - Every layer read is verified in the same pass (internal/squash): the
//     uncompressed stream against the config's diffID, the blob against the
//     manifest's digest where there is one (registry, OCI layout, `serve`'s
//     storage). A mismatch fails the scan, naming the layer's position and
//     both digests; a config that lists more or fewer diffIDs than the
//     manifest has layers fails too.
//   - The per-layer cache holds two kinds of entries. "blob/<digest>" says
//     that the blob with that digest was read and decompressed to a diffID;
//     "layer/<diffID>/<stages>" holds the layer's recorded entries and
//     cataloger results. Both are written only after the layer verified, so
//     both are facts about content, not about whoever pushed it.
//   - A layer is served from the cache only when the blob its manifest names
//     (for a docker archive, which names none, the digest computed by
//     hashing the stored blob, several times cheaper than decompressing it)
//     is known to decompress to the claimed diffID. A blob known to hold
//     another diffID fails the scan; an unknown blob is read.
//   - <stages> hashes every stage that shapes a cached result: each
//     cataloger's name@version, OS detection's version, the squash limits
//     and the cache format. A cataloger whose output changes bumps its
//     version (internal/catalog/all checks this against its golden files).
//
// In `serve` the cache is shared by every repository. The argument for it:
// distribution verifies a blob's content against its digest before it
// commits an upload, so every blob in storage is the preimage of its digest,
// whoever pushed it, and two concurrent pushes of one digest store the same
// bytes (the cache's writes are rename-atomic, so the later identical entry
// simply replaces the earlier). A mount from another repository shares the
// same content. An attacker can therefore choose what a config claims,
// but not what a digest's content is; the claim is checked against the
// content before anything is cached under it, and the cache is consulted
// under the digest, never the claim. The cost of the check is one SHA-256
// of each stream, overlapped with decompression.
//
// # Package databases behind symlinks
//
// The squasher streams regular files only. An OS package database that the
// image reaches through a symlink (var/lib/dpkg/status -> elsewhere) is read
// through the link in a second, targeted walk, as the package manager
// would; a link that leaves the root, loops or leads to nothing is a
// warning naming it, and when no OS package is found in the end the
// reasons go to Inventory.OSDatabaseProblems, which a scan's status
// description carries.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/binary"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/osdetect"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// Options configure indexing.
type Options struct {
	// OS catalogers read package databases; their failures fail the index.
	OS []catalog.FileCataloger
	// Language catalogers; a file they cannot parse is a warning.
	Language []catalog.FileCataloger
	Limits   squash.Limits
	Logger   *slog.Logger
	// Distros are the distributions OS detection knows (internal/distro/all
	// lists Stowaway's); with none, every OS is UNKNOWN_OS.
	Distros distro.List
	// Ecosystems are the language ecosystems whose name rules build the
	// package URLs of language packages (internal/ecosystem/all lists
	// Stowaway's); with none, a name is kept whole.
	Ecosystems ecosystem.List
	// Now stamps the inventory (tests).
	Now func() time.Time
	// Cache, when set, stores each layer's recorded entries and cataloger
	// results under (layer diffID, catalogers' names and versions), so that a
	// layer seen before is never read again. Directory sources are not cached.
	Cache LayerCache
	// OnCacheHit is called for every layer served from the cache.
	OnCacheHit func(diffID string)
}

// LayerCache stores per-layer results as opaque values.
type LayerCache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
}

type plugin struct {
	c  catalog.FileCataloger
	os bool
}

// fileResult is what one cataloger made of one file.
type fileResult struct {
	Cataloger string              `json:"cataloger"`
	Packages  []inventory.Package `json:"packages,omitempty"`
	Owned     []string            `json:"owned,omitempty"`
	// Relationships carry their file's path.
	Relationships []inventory.Relationship `json:"relationships,omitempty"`
	Warnings      []string                 `json:"warnings,omitempty"`
	// SymbolTable is a Go binary's symbol table (cached with the layer, so a
	// cache hit keeps symbol presence).
	SymbolTable *inventory.SymbolTable `json:"symbolTable,omitempty"`
}

// run is one indexing run.
type run struct {
	opts    Options
	plugins []plugin
	inv     *inventory.Inventory
	owned   map[string]struct{}
	// problems are the package databases that could not be read.
	problems []string
}

// Index builds the inventory of src.
func Index(ctx context.Context, src *source.Source, opts Options) (*inventory.Inventory, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &run{opts: opts, owned: map[string]struct{}{}}
	r.inv = &inventory.Inventory{
		Source:    inventory.Source{Ref: src.Ref, Kind: src.Kind, Digest: src.Digest, Tags: src.Tags},
		CreatedAt: opts.Now().UTC(),
		Packages:  []inventory.Package{},
	}
	for _, c := range opts.OS {
		r.plugins = append(r.plugins, plugin{c, true})
	}
	for _, c := range opts.Language {
		r.plugins = append(r.plugins, plugin{c, false})
	}
	for _, p := range r.plugins {
		r.inv.Catalogers = append(r.inv.Catalogers, inventory.CatalogerInfo{Name: p.c.Name(), Version: p.c.Version()})
	}
	// A docker archive's manifest digest costs a hash of its layers:
	// computed beside the walk.
	type digestResult struct {
		d   string
		err error
	}
	digest := make(chan digestResult, 1)
	go func() {
		d, err := src.ImageDigest()
		digest <- digestResult{d, err}
	}()
	var (
		sq     *squash.FS
		err    error
		reread func(context.Context, squash.Options) error
	)
	if src.Kind == source.KindDir {
		it, ierr := squash.DirEntries(src.Dir)
		if ierr != nil {
			return nil, fmt.Errorf("index %s: %w", src.Ref, ierr)
		}
		sq, err = squash.SquashEntries(ctx, it, "", r.squashOptions(r.apply))
		reread = func(ctx context.Context, o squash.Options) error {
			it, err := squash.DirEntries(src.Dir)
			if err != nil {
				return err
			}
			_, err = squash.SquashEntries(ctx, it, "", o)
			return err
		}
	} else {
		layers, lerr := imageLayers(src, r.inv)
		if lerr != nil {
			return nil, fmt.Errorf("index %s: %w", src.Ref, lerr)
		}
		if opts.Cache != nil {
			sq, err = r.cached(ctx, layers)
		} else {
			sq, err = squash.Squash(ctx, layers, r.squashOptions(r.apply))
			err = locate(layers, err)
		}
		reread = func(ctx context.Context, o squash.Options) error {
			_, err := squash.Squash(ctx, layers, o)
			return locate(layers, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Ref, err)
	}
	if err := r.followLinks(ctx, sq, reread); err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Ref, err)
	}
	dr := <-digest
	if dr.err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Ref, dr.err)
	}
	r.inv.Source.Digest = dr.d
	d, err := osdetect.Detect(sq, opts.Distros)
	if err != nil {
		// The release files are the image's: the same image fails the same way.
		return nil, fmt.Errorf("index %s: %w", src.Ref, &imageError{err})
	}
	r.inv.Distro = d
	finish(r.inv, r.owned, names.Names{Distros: r.opts.Distros, Ecosystems: r.opts.Ecosystems})
	if d.ID != "" && len(opts.OS) > 0 && !hasOSPackages(r.inv) {
		r.problemf("%s %s detected but no OS package database was found (dpkg status, apk installed or rpmdb): OS packages cannot be scanned", d.ID, d.VersionID)
		r.inv.OSDatabaseProblems = r.problems
	}
	return r.inv, nil
}

// squashOptions asks for the release files (kept) and for every file a
// cataloger requires (streamed to onFile).
func (r *run) squashOptions(onFile func(ctx context.Context, f squash.File) error) squash.Options {
	return squash.Options{
		Limits: r.opts.Limits,
		Want: func(p string, info fs.FileInfo) squash.Want {
			w := squash.Skip
			if r.opts.Distros.Wanted(p) {
				w |= squash.Keep
			}
			for _, pl := range r.plugins {
				if pl.c.Required(p, info) {
					w |= squash.Stream
					break
				}
			}
			return w
		},
		OnOversize: func(p string, size int64, err error) error {
			for _, pl := range r.plugins {
				if pl.os && pl.c.Required(p, nil) {
					return err
				}
			}
			r.inv.Warnings = append(r.inv.Warnings, fmt.Sprintf("%v; file skipped", err))
			return nil
		},
		OnFile: onFile,
	}
}

// catalogFile runs every cataloger that requires f. An OS cataloger's
// failure is an error; a language cataloger's is a warning.
func (r *run) catalogFile(ctx context.Context, f squash.File) ([]fileResult, error) {
	var out []fileResult
	for _, pl := range r.plugins {
		if !pl.c.Required(f.Path, f.Info) {
			continue
		}
		res, err := pl.c.CatalogFile(ctx, catalog.File{Path: f.Path, Info: f.Info, R: f.R, Size: f.Size})
		if err != nil {
			if pl.os {
				err = fmt.Errorf("catalog %s: %s: %w", pl.c.Name(), f.Path, err)
				if ctx.Err() == nil {
					err = &imageError{err} // a package DB that cannot be read
				}
				return nil, err
			}
			out = append(out, fileResult{Cataloger: pl.c.Name(), Warnings: []string{fmt.Sprintf("%s: %s: %v", pl.c.Name(), f.Path, err)}})
			continue
		}
		out = append(out, resultOf(pl, f.Path, res))
	}
	return out, nil
}

// resultOf is what pl made of the file at path.
func resultOf(pl plugin, path string, res catalog.Result) fileResult {
	fr := fileResult{Cataloger: pl.c.Name(), Owned: res.Owned, Warnings: res.Warnings, SymbolTable: res.SymbolTable}
	if fr.SymbolTable != nil && fr.SymbolTable.Path == "" {
		fr.SymbolTable.Path = path
	}
	for _, p := range res.Packages {
		if p.Path == "" {
			p.Path = path
		}
		if p.Cataloger == "" {
			p.Cataloger = pl.c.Name()
		}
		fr.Packages = append(fr.Packages, p)
	}
	for _, rel := range res.Relationships {
		if rel.Path == "" {
			rel.Path = path
		}
		fr.Relationships = append(fr.Relationships, rel)
	}
	if rels, dropped := inventory.CapRelationships(fr.Relationships); dropped > 0 {
		fr.Relationships = rels
		fr.Warnings = append(fr.Warnings, fmt.Sprintf("%s: %s: %d dependency relationships beyond the first %d dropped", pl.c.Name(), path, dropped, inventory.MaxRelationshipsPerFile))
	}
	return fr
}

// apply catalogs a visible file straight into the inventory.
func (r *run) apply(ctx context.Context, f squash.File) error {
	frs, err := r.catalogFile(ctx, f)
	if err != nil {
		return err
	}
	r.add(frs, f.Layer)
	return nil
}

func (r *run) add(frs []fileResult, layer string) {
	for _, fr := range frs {
		for _, p := range fr.Packages {
			p.Layer = layer
			r.inv.Packages = append(r.inv.Packages, p)
		}
		r.inv.Relationships = append(r.inv.Relationships, fr.Relationships...)
		for _, o := range fr.Owned {
			r.owned[strings.TrimPrefix(path.Clean("/"+o), "/")] = struct{}{}
		}
		r.inv.Warnings = append(r.inv.Warnings, fr.Warnings...)
		if fr.SymbolTable != nil {
			if r.inv.SymbolTables == nil {
				r.inv.SymbolTables = map[string]*inventory.SymbolTable{}
			}
			r.inv.SymbolTables[fr.SymbolTable.Path] = fr.SymbolTable
		}
	}
}

func hasOSPackages(inv *inventory.Inventory) bool {
	for _, p := range inv.Packages {
		if p.Type.IsOS() {
			return true
		}
	}
	return false
}

// isOwned reports whether an OS package installed file, allowing for the
// usr-merge aliases (dpkg lists /lib/x while the image holds usr/lib/x).
func isOwned(owned map[string]struct{}, file string) bool {
	if _, ok := owned[file]; ok {
		return true
	}
	for _, d := range []string{"lib/", "lib64/", "lib32/", "bin/", "sbin/"} {
		var alias string
		switch {
		case strings.HasPrefix(file, "usr/"+d):
			alias = strings.TrimPrefix(file, "usr/")
		case strings.HasPrefix(file, d):
			alias = "usr/" + file
		default:
			continue
		}
		if _, ok := owned[alias]; ok {
			return true
		}
	}
	return false
}

// attributed returns the files the language packages of inv were read
// from (a Go binary, a jar): a classified binary there is that package's.
// A library merely lying in a language tree (a wheel's bundled libssl under
// site-packages/<pkg>.libs, a node_modules prebuild) is not: no advisory of
// the language package covers it, and an image author could otherwise hide
// a vulnerable copy by placing a package's metadata beside it.
func attributed(inv *inventory.Inventory) map[string]bool {
	files := map[string]bool{}
	for _, p := range inv.Packages {
		if p.Type.IsOS() || p.Cataloger == binary.Name {
			continue
		}
		file := p.Path
		if i := strings.IndexByte(file, '!'); i >= 0 {
			file = file[:i]
		}
		files[file] = true
	}
	return files
}

// finish drops language packages installed by OS packages (and the
// dependency relationships that named them) and classified binaries that
// an OS or language package accounts for (see internal/catalog/binary),
// fills PURLs (named by purls) and sorts the packages into a stable order.
func finish(inv *inventory.Inventory, owned map[string]struct{}, purls names.Names) {
	files := attributed(inv)
	kept := inv.Packages[:0]
	for _, p := range inv.Packages {
		p.Clean()
		if !p.Type.IsOS() {
			file := p.Path
			if i := strings.IndexByte(file, '!'); i >= 0 {
				file = file[:i]
			}
			if isOwned(owned, file) {
				continue
			}
			if p.Cataloger == binary.Name && files[file] {
				continue
			}
		}
		if p.PURL == "" {
			p.PURL = inventory.CleanText(purls.PURL(p, inv.Distro))
		}
		kept = append(kept, p)
	}
	inv.Packages = kept
	// The edges of dropped packages go with them.
	inv.PruneRelationships()
	sort.SliceStable(inv.Packages, func(i, j int) bool {
		a, b := inv.Packages[i], inv.Packages[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Path < b.Path
	})
}

// imageLayers describes the image in inv and returns its layers.
func imageLayers(src *source.Source, inv *inventory.Inventory) ([]squash.Layer, error) {
	img := src.Image
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if id, err := img.ConfigName(); err == nil {
		inv.Source.ImageID = id.String()
	}
	inv.Source.OS, inv.Source.Architecture, inv.Source.Variant = cf.OS, cf.Architecture, cf.Variant
	inv.Source.Author = inventory.CleanText(cf.Author)
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	if len(ls) == 0 {
		return nil, errors.New("the image has no layers")
	}
	// The config lists the diffIDs in layer order. Taking them from there
	// avoids a full decompression per layer that computing them would cost
	// (go-containerregistry does that for docker archives).
	// They are claims: each layer is verified against its diffID while it
	// is read, so a config that does not describe its layers fails the scan.
	cfgDiffIDs := cf.RootFS.DiffIDs
	if len(cfgDiffIDs) != len(ls) {
		return nil, &imageError{fmt.Errorf("the image config lists %d diffIDs for the manifest's %d layers", len(cfgDiffIDs), len(ls))}
	}
	out := make([]squash.Layer, 0, len(ls))
	for i, l := range ls {
		diffID := cfgDiffIDs[i]
		info := inventory.Layer{DiffID: diffID.String()}
		mt, _ := l.MediaType()
		info.MediaType = string(mt)
		// A docker archive stores no compressed digests: computing them
		// would hash every layer once more just for this report.
		if src.Kind != source.KindDockerArchive {
			if d, err := l.Digest(); err == nil {
				info.Digest = d.String()
			}
			if sz, err := l.Size(); err == nil {
				info.Size = sz
			}
		}
		inv.Source.Layers = append(inv.Source.Layers, info)
		// The blob digest is the manifest's (the registry and OCI layouts
		// address blobs by it); a docker archive names none.
		out = append(out, squash.Layer{DiffID: diffID.String(), Digest: info.Digest, Open: opener(src, l, mt)})
	}
	return out, nil
}

// imageError is a problem with the image's own description: the same image
// always fails the same way.
type imageError struct{ err error }

func (e *imageError) Error() string   { return e.err.Error() }
func (e *imageError) Unwrap() error   { return e.err }
func (e *imageError) Permanent() bool { return true }

// layerErr names the layer (by position) that a digest error is about.
func layerErr(i, n int, err error) error {
	var de *squash.DigestError
	if errors.As(err, &de) {
		return fmt.Errorf("layer %d of %d: %w", i+1, n, err)
	}
	return err
}

// locate is layerErr for an error of a walk over all layers.
func locate(layers []squash.Layer, err error) error {
	var de *squash.DigestError
	if err == nil || !errors.As(err, &de) {
		return err
	}
	for i, l := range layers {
		if l.DiffID == de.Layer {
			return layerErr(i, len(layers), err)
		}
	}
	return err
}

// opener returns the layer's blob as stored when that is cheap to read, so the
// squasher decompresses it with the fast decoder; an uncompressed docker
// archive layer is read raw rather than recompressed.
func opener(src *source.Source, l v1.Layer, mt types.MediaType) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		if src.Kind == source.KindDockerArchive && src.LayersUncompressed {
			return l.Uncompressed()
		}
		switch mt {
		case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer:
			return l.Uncompressed()
		}
		return l.Compressed()
	}
}
