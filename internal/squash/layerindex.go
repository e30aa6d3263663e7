package squash

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
)

// LayerIndex records one layer on its own, independent of the layers above
// and below it: every entry in tar order, with the content of the files that
// Want asked to Keep. It is what a per-layer cache stores: replaying the
// indexes of an image through Merge gives the same squashed view as Squash,
// without reading the layers again.
type LayerIndex struct {
	DiffID  string          `json:"diffId"`
	Entries []RecordedEntry `json:"entries"`
}

// RecordedEntry is one recorded tar entry.
type RecordedEntry struct {
	Name     string      `json:"n"`
	Type     byte        `json:"t"`
	Mode     fs.FileMode `json:"m,omitempty"`
	Size     int64       `json:"s,omitempty"`
	Linkname string      `json:"l,omitempty"`
	// Data is the content of a kept file.
	Data []byte `json:"d,omitempty"`
}

// IndexLayer reads one layer and records it. Every regular file that Want
// asks for is handed to OnFile (Stream) or kept in the index (Keep), whether
// or not an upper layer hides it: visibility is decided later, by Merge. The
// limits and the errors for hostile input are those of Squash.
func IndexLayer(ctx context.Context, l Layer, opts Options) (*LayerIndex, error) {
	lim := opts.Limits.withDefaults()
	want := opts.Want
	if want == nil {
		want = func(string, fs.FileInfo) Want { return Skip }
	}
	st, err := openLayer(l, lim)
	if err != nil {
		return nil, err
	}
	defer st.close()
	idx := &LayerIndex{DiffID: l.DiffID}
	if err := indexEntries(ctx, st, l, lim, want, opts, idx); err != nil {
		return nil, st.explain(err)
	}
	if err := st.finish(); err != nil {
		return nil, err
	}
	return idx, nil
}

func indexEntries(ctx context.Context, st *layerStream, l Layer, lim Limits, want func(string, fs.FileInfo) Want, opts Options, idx *LayerIndex) error {
	var kept, nameBytes int64
	var buf []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := st.iter.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n > lim.MaxEntries {
			return &LimitError{What: "entry count", Path: "layer " + l.DiffID, Limit: int64(lim.MaxEntries), Got: int64(n)}
		}
		p, err := cleanName(e.Name)
		if err != nil {
			return &InputError{Layer: l.DiffID, Err: err}
		}
		if err := checkName(lim, l.DiffID, p, e.Linkname); err != nil {
			return err
		}
		// The recorded names are what a cached layer costs to hold.
		nameBytes += int64(len(p) + len(e.Linkname))
		if nameBytes > lim.MaxNameBytes {
			return &LimitError{What: "total length of recorded paths", Path: "layer " + l.DiffID, Limit: lim.MaxNameBytes, Got: nameBytes}
		}
		if e.Type == tar.TypeLink {
			if _, err := cleanName(e.Linkname); err != nil {
				return inputErr(l.DiffID, "hard link %s: %w", shortPath(p), err)
			}
		}
		rec := RecordedEntry{Name: p, Type: e.Type, Mode: e.Mode, Linkname: e.Linkname}
		if e.Type == tar.TypeReg || e.Type == tar.TypeGNUSparse || e.Type == '\x00' {
			rec.Size = e.Size
			w := want(p, e.info(path.Base(p)))
			if w != Skip {
				if e.Size > lim.MaxFileSize {
					lerr := &LimitError{What: "file size", Path: p, Limit: lim.MaxFileSize, Got: e.Size}
					if opts.OnOversize == nil {
						return fmt.Errorf("layer %s: %w", l.DiffID, lerr)
					}
					if err := opts.OnOversize(p, e.Size, lerr); err != nil {
						return err
					}
					w = Skip
				}
			}
			if w != Skip {
				r, _ := e.Open()
				if cap(buf) < int(e.Size) {
					buf = make([]byte, e.Size)
				}
				b := buf[:e.Size]
				if _, err := io.ReadFull(r, b); err != nil {
					var le *LimitError
					if errors.As(err, &le) {
						return err
					}
					return inputErr(l.DiffID, "read %s: %w", p, err)
				}
				if w&Keep != 0 {
					kept += e.Size
					if kept > lim.MaxKept {
						return &LimitError{What: "total size of kept files", Path: p, Limit: lim.MaxKept, Got: kept}
					}
					rec.Data = bytes.Clone(b)
				}
				if w&Stream != 0 && opts.OnFile != nil {
					f := File{Path: p, Info: e.info(path.Base(p)), Layer: l.DiffID, R: bytes.NewReader(b), Size: e.Size}
					if err := opts.OnFile(ctx, f); err != nil {
						return err
					}
				}
			}
		}
		idx.Entries = append(idx.Entries, rec)
	}
}

// Merge replays layer indexes (bottom first, as in the image config) top
// first through Squash's visibility rules. It returns the squashed view of the
// kept files, symlinks and directories, and calls visible for every regular
// file that the squashed image shows, with the layer that holds it.
func Merge(ctx context.Context, layers []*LayerIndex, limits Limits, visible func(path, layer string)) (*FS, error) {
	var kept map[string]bool // files of the layer being replayed whose content was recorded
	w := newWalker(Options{
		Limits: limits,
		Want: func(p string, _ fs.FileInfo) Want {
			if kept[p] {
				return Stream | Keep
			}
			return Stream
		},
		OnFile: func(_ context.Context, f File) error {
			if visible != nil {
				visible(f.Path, f.Layer)
			}
			return nil
		},
	})
	for i := len(layers) - 1; i >= 0; i-- {
		kept = map[string]bool{}
		for _, e := range layers[i].Entries {
			if e.Data != nil {
				kept[e.Name] = true
			}
		}
		w.next()
		if err := w.entries(ctx, &recordedIter{idx: layers[i]}, layers[i].DiffID); err != nil {
			return nil, err
		}
	}
	return w.fs, nil
}

// recordedIter replays a LayerIndex as entries. A file whose content was
// not recorded reads as empty.
type recordedIter struct {
	idx *LayerIndex
	i   int
}

func (r *recordedIter) Next() (*Entry, error) {
	if r.i >= len(r.idx.Entries) {
		return nil, io.EOF
	}
	e := r.idx.Entries[r.i]
	r.i++
	data := e.Data
	return &Entry{
		Name: e.Name, Type: e.Type, Mode: e.Mode, Linkname: e.Linkname,
		Size: int64(len(data)),
		Open: func() (io.Reader, error) { return bytes.NewReader(data), nil },
	}, nil
}
