// Package indexer turns a source into an Inventory: it squashes the image's
// layers as a stream, hands each required file to the catalogers that asked
// for it, detects the operating system and finishes the packages (PURLs,
// layers, de-duplication of language packages that an OS package installed).
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
	"github.com/stowaway-scanner/stowaway/internal/inventory"
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
	// Now stamps the inventory (tests).
	Now func() time.Time
}

// Index builds the inventory of src.
func Index(ctx context.Context, src *source.Source, opts Options) (*inventory.Inventory, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inv := &inventory.Inventory{
		Source:    inventory.Source{Ref: src.Ref, Kind: src.Kind, Digest: src.Digest, Tags: src.Tags},
		CreatedAt: opts.Now().UTC(),
		Packages:  []inventory.Package{},
	}
	type plugin struct {
		c  catalog.FileCataloger
		os bool
	}
	var plugins []plugin
	for _, c := range opts.OS {
		plugins = append(plugins, plugin{c, true})
	}
	for _, c := range opts.Language {
		plugins = append(plugins, plugin{c, false})
	}
	for _, p := range plugins {
		inv.Catalogers = append(inv.Catalogers, inventory.CatalogerInfo{Name: p.c.Name(), Version: p.c.Version()})
	}
	owned := map[string]struct{}{}
	sopts := squash.Options{
		Limits: opts.Limits,
		Want: func(p string, info fs.FileInfo) squash.Want {
			w := squash.Skip
			if osdetect.Wanted(p) {
				w |= squash.Keep
			}
			for _, pl := range plugins {
				if pl.c.Required(p, info) {
					w |= squash.Stream
					break
				}
			}
			return w
		},
		OnOversize: func(p string, size int64, err error) error {
			for _, pl := range plugins {
				if pl.os && pl.c.Required(p, nil) {
					return err
				}
			}
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("%v; file skipped", err))
			return nil
		},
		OnFile: func(ctx context.Context, f squash.File) error {
			for _, pl := range plugins {
				if !pl.c.Required(f.Path, f.Info) {
					continue
				}
				res, err := pl.c.CatalogFile(ctx, catalog.File{Path: f.Path, Info: f.Info, R: f.R, Size: f.Size})
				if err != nil {
					if pl.os {
						return fmt.Errorf("catalog %s: %s: %w", pl.c.Name(), f.Path, err)
					}
					inv.Warnings = append(inv.Warnings, fmt.Sprintf("%s: %s: %v", pl.c.Name(), f.Path, err))
					continue
				}
				for _, p := range res.Packages {
					p.Layer = f.Layer
					if p.Path == "" {
						p.Path = f.Path
					}
					if p.Cataloger == "" {
						p.Cataloger = pl.c.Name()
					}
					inv.Packages = append(inv.Packages, p)
				}
				for _, o := range res.Owned {
					owned[strings.TrimPrefix(path.Clean("/"+o), "/")] = struct{}{}
				}
				inv.Warnings = append(inv.Warnings, res.Warnings...)
			}
			return nil
		},
	}
	var (
		sq  *squash.FS
		err error
	)
	if src.Kind == source.KindDir {
		it, ierr := squash.DirEntries(src.Dir)
		if ierr != nil {
			return nil, fmt.Errorf("index %s: %w", src.Ref, ierr)
		}
		sq, err = squash.SquashEntries(ctx, it, "", sopts)
	} else {
		layers, lerr := imageLayers(src, inv)
		if lerr != nil {
			return nil, fmt.Errorf("index %s: %w", src.Ref, lerr)
		}
		sq, err = squash.Squash(ctx, layers, sopts)
	}
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Ref, err)
	}
	d, err := osdetect.Detect(sq)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Ref, err)
	}
	inv.Distro = d
	finish(inv, owned)
	if d.ID != "" && len(opts.OS) > 0 && !hasOSPackages(inv) {
		inv.Warnings = append(inv.Warnings, fmt.Sprintf("%s %s detected but no OS package database was found (dpkg status, apk installed or rpmdb): OS packages cannot be scanned", d.ID, d.VersionID))
	}
	return inv, nil
}

func hasOSPackages(inv *inventory.Inventory) bool {
	for _, p := range inv.Packages {
		if p.Type.IsOS() {
			return true
		}
	}
	return false
}

// finish drops language packages installed by OS packages, fills PURLs and
// sorts the packages into a stable order.
func finish(inv *inventory.Inventory, owned map[string]struct{}) {
	kept := inv.Packages[:0]
	for _, p := range inv.Packages {
		if !p.Type.IsOS() {
			file := p.Path
			if i := strings.IndexByte(file, '!'); i >= 0 {
				file = file[:i]
			}
			if _, ok := owned[file]; ok {
				continue
			}
		}
		if p.PURL == "" {
			p.PURL = inventory.PURL(p, inv.Distro)
		}
		kept = append(kept, p)
	}
	inv.Packages = kept
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
	cfgDiffIDs := cf.RootFS.DiffIDs
	if len(cfgDiffIDs) != len(ls) {
		cfgDiffIDs = nil
	}
	out := make([]squash.Layer, 0, len(ls))
	for i, l := range ls {
		var diffID v1.Hash
		if cfgDiffIDs != nil {
			diffID = cfgDiffIDs[i]
		} else if diffID, err = l.DiffID(); err != nil {
			return nil, fmt.Errorf("layer %d: read diffID (the layer is truncated or corrupt?): %w", i, err)
		}
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
		out = append(out, squash.Layer{DiffID: diffID.String(), Open: opener(src, l, mt)})
	}
	return out, nil
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
