// Package squash streams an image's layers, top layer first, into the final
// (squashed) view of its filesystem without extracting anything to disk.
//
// For every regular file that is visible in the squashed image, the caller's
// Want function decides from the path and header alone whether the file is
// streamed to a callback right away (Stream), kept in memory for later (Keep),
// or skipped. Because layers are read top first, the first visible occurrence
// of a path is its final content: files hidden by a whiteout (.wh.NAME), an
// opaque directory (.wh..wh..opq) or an upper-layer entry of the same path (or
// of a parent that is not a directory) are never handed out.
//
// Symlinks and directories are always recorded, so the returned FS resolves
// links among the kept files with chroot semantics. A link that would leave
// the image root, a link loop, an entry whose name climbs out of the root, a
// hard link to outside the root, a truncated or corrupt stream, and a layer
// that expands past its limits (size, entry count, compression ratio) all stop
// the walk with an error naming the layer and the path.
//
// Known simplification: when one layer holds the same path twice, the first
// entry wins (tar extraction would keep the last). Hard links are not handed
// out: their target is, under its own path.
package squash

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Layer is one layer to squash. Open returns its blob as stored (gzip, zstd
// or a plain tar are recognised by their magic bytes).
type Layer struct {
	DiffID string
	Open   func() (io.ReadCloser, error)
}

// Want says what to do with one visible regular file.
type Want uint8

// Want flags; Stream and Keep may be combined.
const (
	Skip   Want = 0
	Stream Want = 1 << iota
	Keep
)

// File is a visible regular file handed to the stream callback. R is only valid
// during the callback.
type File struct {
	Path  string
	Info  fs.FileInfo
	Layer string
	R     io.ReaderAt
	Size  int64
}

// Options configure a walk.
type Options struct {
	Limits Limits
	// Want is called for every visible regular file (required).
	Want func(path string, info fs.FileInfo) Want
	// OnFile receives Stream files. An error stops the walk.
	OnFile func(ctx context.Context, f File) error
	// OnOversize is called for a wanted file larger than MaxFileSize. When it
	// returns nil the file is skipped; otherwise the error stops the walk.
	// When unset, an oversize file is an error.
	OnOversize func(path string, size int64, err error) error
}

// Squash streams layers (given bottom first, as in the image config) top
// layer first and returns the squashed view of the kept files, symlinks and
// directories.
func Squash(ctx context.Context, layers []Layer, opts Options) (*FS, error) {
	w := newWalker(opts)
	for i := len(layers) - 1; i >= 0; i-- {
		if err := w.layer(ctx, layers[i]); err != nil {
			return nil, err
		}
	}
	return w.fs, nil
}

// SquashEntries is Squash for a single source of entries, such as a root
// directory (see DirEntries).
func SquashEntries(ctx context.Context, it EntryIter, layerID string, opts Options) (*FS, error) {
	if c, ok := it.(io.Closer); ok {
		defer c.Close()
	}
	w := newWalker(opts)
	w.order++
	if err := w.entries(ctx, it, layerID); err != nil {
		return nil, err
	}
	return w.fs, nil
}

type mark struct {
	order uint32 // processing order of the layer that set it (1 = top)
	kind  uint8
}

const (
	markDir uint8 = iota + 1
	markNonDir
	markDeleted
	markOpaque
)

type walker struct {
	opts   Options
	lim    Limits
	fs     *FS
	order  uint32
	seen   map[string]mark // visible entries and whiteouts, by path
	opaque map[string]uint32
	buf    []byte
	kept   int64
}

func newWalker(opts Options) *walker {
	if opts.Want == nil {
		opts.Want = func(string, fs.FileInfo) Want { return Skip }
	}
	return &walker{
		opts:   opts,
		lim:    opts.Limits.withDefaults(),
		fs:     newFS(opts.Limits.withDefaults().MaxSymlinkHops),
		seen:   map[string]mark{},
		opaque: map[string]uint32{},
	}
}

// countingReader counts bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ratioReader enforces MaxLayerBytes and the compression-ratio limit.
type ratioReader struct {
	r          io.Reader
	compressed *countingReader
	n          int64
	lim        Limits
	layer      string
}

func (r *ratioReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.n > r.lim.MaxLayerBytes {
		return n, &LimitError{What: "uncompressed layer size", Path: "layer " + r.layer, Limit: r.lim.MaxLayerBytes, Got: r.n}
	}
	if r.compressed != nil && r.n > r.lim.RatioFloor && r.compressed.n > 0 {
		if ratio := r.n / r.compressed.n; ratio > r.lim.MaxRatio {
			return n, &LimitError{What: "compression ratio", Path: "layer " + r.layer, Limit: r.lim.MaxRatio, Got: ratio}
		}
	}
	return n, err
}

func (w *walker) layer(ctx context.Context, l Layer) error {
	w.order++
	st, err := openLayer(l, w.lim)
	if err != nil {
		return err
	}
	defer st.close()
	if err := w.entries(ctx, st.iter, l.DiffID); err != nil {
		return err
	}
	return st.finish()
}

// layerStream is an open layer: its tar entries, and finish, which reads the
// blob to its end.
type layerStream struct {
	iter   *tarIter
	finish func() error
	close  func()
}

// openLayer opens a layer blob, recognises its compression by magic bytes
// and wraps it in the size and ratio limits.
func openLayer(l Layer, lim Limits) (*layerStream, error) {
	rc, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("layer %s: open: %w", l.DiffID, err)
	}
	closers := []func(){func() { rc.Close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	counted := &countingReader{r: rc}
	br := bufio.NewReaderSize(counted, 1<<20)
	magic, _ := br.Peek(4)
	var plain io.Reader = br
	var compressed *countingReader
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("layer %s: gzip: %w", l.DiffID, err)
		}
		closers = append(closers, func() { zr.Close() })
		plain, compressed = zr, counted
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("layer %s: zstd: %w", l.DiffID, err)
		}
		closers = append(closers, zr.Close)
		plain, compressed = zr, counted
	}
	rr := &ratioReader{r: plain, compressed: compressed, lim: lim, layer: l.DiffID}
	return &layerStream{
		iter: &tarIter{tr: tar.NewReader(rr)},
		// Read to the end so that verifying readers (registry, OCI layout)
		// check the blob digest, and so that truncation is noticed.
		finish: func() error {
			if _, err := io.Copy(io.Discard, rr); err != nil {
				return fmt.Errorf("layer %s: read to end: %w", l.DiffID, err)
			}
			if _, err := io.Copy(io.Discard, br); err != nil {
				return fmt.Errorf("layer %s: verify blob: %w", l.DiffID, err)
			}
			return nil
		},
		close: closeAll,
	}, nil
}

// cleanName turns a tar entry name into a root-relative slash path. It
// returns "" for the root itself and an error for names that leave the root.
func cleanName(name string) (string, error) {
	p := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	// path.Clean of an absolute path never keeps "..", so compare with the
	// lexical result of the relative name to catch climbing names.
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("entry %q climbs out of the image root", name)
	}
	return strings.TrimPrefix(p, "/"), nil
}

// hidden reports whether an entry at p from the current layer is hidden by an
// upper layer.
func (w *walker) hidden(p string) bool {
	if m, ok := w.seen[p]; ok && m.order < w.order {
		return true
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		if m, ok := w.seen[dir]; ok && m.order < w.order && m.kind != markDir {
			return true // deleted, or replaced by a file or symlink
		}
		if o, ok := w.opaque[dir]; ok && o < w.order {
			return true
		}
	}
	return false
}

func (w *walker) entries(ctx context.Context, it EntryIter, layerID string) error {
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("layer %s: %w", layerID, err)
		}
		n++
		if n > w.lim.MaxEntries {
			return &LimitError{What: "entry count", Path: "layer " + layerID, Limit: int64(w.lim.MaxEntries), Got: int64(n)}
		}
		p, err := cleanName(e.Name)
		if err != nil {
			return fmt.Errorf("layer %s: %w", layerID, err)
		}
		if p == "" {
			continue
		}
		dir, base := path.Dir(p), path.Base(p)
		if base == ".wh..wh..opq" {
			if _, ok := w.opaque[dir]; !ok {
				w.opaque[dir] = w.order
			}
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			target := path.Join(dir, strings.TrimPrefix(base, ".wh."))
			if !w.hidden(target) {
				if _, ok := w.seen[target]; !ok {
					w.seen[target] = mark{order: w.order, kind: markDeleted}
				}
			}
			continue
		}
		if w.hidden(p) {
			continue
		}
		if m, ok := w.seen[p]; ok && m.order == w.order && m.kind != markDeleted {
			continue // duplicate within one layer: first wins
		}
		kind := markNonDir
		if e.Type == tar.TypeDir {
			kind = markDir
		}
		w.seen[p] = mark{order: w.order, kind: kind}
		switch e.Type {
		case tar.TypeDir:
			w.fs.addDir(p, e.info(base), layerID)
		case tar.TypeSymlink:
			w.fs.addSymlink(p, e.Linkname, e.info(base), layerID)
		case tar.TypeLink:
			if _, err := cleanName(e.Linkname); err != nil {
				return fmt.Errorf("layer %s: hard link %s: %w", layerID, p, err)
			}
		case tar.TypeReg, tar.TypeGNUSparse, '\x00':
			if err := w.file(ctx, p, e, layerID); err != nil {
				return err
			}
		}
	}
}

func (w *walker) file(ctx context.Context, p string, e *Entry, layerID string) error {
	info := e.info(path.Base(p))
	want := w.opts.Want(p, info)
	if want == Skip {
		return nil
	}
	if e.Size > w.lim.MaxFileSize {
		err := &LimitError{What: "file size", Path: p, Limit: w.lim.MaxFileSize, Got: e.Size}
		if w.opts.OnOversize != nil {
			return w.opts.OnOversize(p, e.Size, err)
		}
		return fmt.Errorf("layer %s: %w", layerID, err)
	}
	r, err := e.Open()
	if err != nil {
		return fmt.Errorf("layer %s: open %s: %w", layerID, p, err)
	}
	if cap(w.buf) < int(e.Size) {
		w.buf = make([]byte, e.Size)
	}
	buf := w.buf[:e.Size]
	_, err = io.ReadFull(r, buf)
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
	if err != nil {
		return fmt.Errorf("layer %s: read %s: %w", layerID, p, err)
	}
	if want&Keep != 0 {
		w.kept += e.Size
		if w.kept > w.lim.MaxKept {
			return &LimitError{What: "total size of kept files", Path: p, Limit: w.lim.MaxKept, Got: w.kept}
		}
		w.fs.addFile(p, bytes.Clone(buf), info, layerID)
	}
	if want&Stream != 0 && w.opts.OnFile != nil {
		f := File{Path: p, Info: info, Layer: layerID, R: bytes.NewReader(buf), Size: e.Size}
		if err := w.opts.OnFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}
