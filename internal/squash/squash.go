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
// that expands past its limits (size, entry count, compression ratio, path
// length and depth, recorded paths) all stop the walk with an error naming the
// layer and the path.
//
// # Verification
//
// Every layer is verified while it is read, in the same pass: the
// uncompressed stream is hashed and compared with the diffID the image config
// claims, and the blob as stored is hashed and compared with its digest when
// the caller knows it (a manifest's layer descriptor). A mismatch is a
// *DigestError once the layer has been read to its end, so a caller must not
// trust anything derived from a layer (a cache entry, say) before the walk of
// that layer returned without error. Errors caused by the bytes of the image
// (limits, digests, hostile names, corrupt streams) report Permanent() ==
// true: the same input always fails the same way. An error of the reader
// underneath (storage or network I/O) does not.
//
// # Cost
//
// Checking whether an upper layer hides an entry is linear in the length of
// its name: blocking marks (whiteouts, non-directories, opaque directories)
// are found by hashing the name's prefixes incrementally, not by re-hashing
// each parent path. Names are bounded by Limits.MaxPathLength and
// MaxPathDepth, and the paths recorded over all layers by MaxPaths and
// MaxNameBytes, so memory does not grow with anything an image can repeat
// for free.
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
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Layer is one layer to squash. Open returns its blob as stored (gzip, zstd
// or a plain tar are recognised by their magic bytes).
type Layer struct {
	// DiffID is the digest ("sha256:…") that the image config claims for the
	// uncompressed layer. It names the layer in results and errors, and the
	// uncompressed stream is verified against it.
	DiffID string
	// Digest, when set, is the digest of the blob as stored (the manifest's
	// layer descriptor); the blob is verified against it.
	Digest string
	// NoVerify skips both checks and lets DiffID be any label. Only for
	// inputs that are not image layers (tests, replays of verified records).
	NoVerify bool
	Open     func() (io.ReadCloser, error)
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

// DigestError is a layer whose content does not have the digest the image
// claims for it.
type DigestError struct {
	Layer string // the layer's claimed diffID
	// What is "diffID" (the uncompressed stream, against the image config)
	// or "digest" (the blob as stored, against the manifest).
	What    string
	Claimed string
	Actual  string
}

func (e *DigestError) Error() string {
	if e.What == "digest" {
		return fmt.Sprintf("layer %s: the manifest names blob %s, but the blob's content is %s", e.Layer, e.Claimed, e.Actual)
	}
	return fmt.Sprintf("layer %s: the image config claims diffID %s, but the layer's uncompressed content is %s", e.Layer, e.Claimed, e.Actual)
}

// Permanent implements the retry classification described in the package doc.
func (e *DigestError) Permanent() bool { return true }

// InputError is a problem with the bytes of a layer: a hostile name or link,
// a corrupt or truncated stream.
type InputError struct {
	Layer string
	Err   error
}

func (e *InputError) Error() string   { return "layer " + e.Layer + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error   { return e.Err }
func (e *InputError) Permanent() bool { return true }

func inputErr(layer string, format string, args ...any) error {
	return &InputError{Layer: layer, Err: fmt.Errorf(format, args...)}
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
	w.next()
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
)

// blocker is a path that hides what lower layers hold under it: a whiteout,
// a non-directory, or an opaque directory (whose own entry stays visible).
type blocker struct {
	path  string
	order uint32
	next  *blocker // another path with the same hash
}

type walker struct {
	opts  Options
	lim   Limits
	fs    *FS
	order uint32
	seen  map[string]mark // visible entries and whiteouts, by path
	// blocks holds the blockers by the maphash of their path, so that the
	// parents of a name are looked up while hashing it once.
	blocks map[uint64]*blocker
	// upperBlocks is set when a layer above the current one recorded a
	// blocker; until then no parent lookup is needed.
	upperBlocks bool
	seed        maphash.Seed
	nameBytes   int64
	buf         []byte
	kept        int64
}

func newWalker(opts Options) *walker {
	if opts.Want == nil {
		opts.Want = func(string, fs.FileInfo) Want { return Skip }
	}
	lim := opts.Limits.withDefaults()
	return &walker{
		opts:   opts,
		lim:    lim,
		fs:     newFS(lim.MaxSymlinkHops, lim.MaxPathLength),
		seen:   map[string]mark{},
		blocks: map[uint64]*blocker{},
		seed:   maphash.MakeSeed(),
	}
}

// next starts the next layer down.
func (w *walker) next() {
	w.order++
	w.upperBlocks = len(w.blocks) > 0
}

// countingReader counts (and optionally hashes) the bytes read through it,
// and remembers an error of the reader underneath. With a compressed layer
// it is read by the decompressing goroutine (see ahead), so the count and
// the error are atomic.
type countingReader struct {
	r   io.Reader
	n   atomic.Int64
	h   hash.Hash
	err atomicError
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if c.h != nil && n > 0 {
		c.h.Write(p[:n])
	}
	if err != nil && err != io.EOF {
		c.err.set(err)
	}
	return n, err
}

// ratioReader enforces MaxLayerBytes and the compression-ratio limit, and
// hashes the uncompressed stream.
type ratioReader struct {
	r          io.Reader
	compressed *countingReader
	n          int64
	h          hash.Hash
	lim        Limits
	layer      string
}

func (r *ratioReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.h != nil && n > 0 {
		r.h.Write(p[:n])
	}
	if r.n > r.lim.MaxLayerBytes {
		return n, &LimitError{What: "uncompressed layer size", Path: "layer " + r.layer, Limit: r.lim.MaxLayerBytes, Got: r.n}
	}
	if r.compressed != nil && r.n > r.lim.RatioFloor {
		if c := r.compressed.n.Load(); c > 0 && r.n/c > r.lim.MaxRatio {
			ratio := r.n / c
			return n, &LimitError{What: "compression ratio", Path: "layer " + r.layer, Limit: r.lim.MaxRatio, Got: ratio, Floor: r.lim.RatioFloor}
		}
	}
	return n, err
}

func (w *walker) layer(ctx context.Context, l Layer) error {
	w.next()
	st, err := openLayer(l, w.lim)
	if err != nil {
		return err
	}
	defer st.close()
	if err := w.entries(ctx, st.iter, l.DiffID); err != nil {
		return st.explain(err)
	}
	return st.finish()
}

// layerStream is an open layer: its tar entries, and finish, which reads the
// blob to its end and verifies its digests.
type layerStream struct {
	iter   *tarIter
	finish func() error
	close  func()
	// explain turns an error met while reading entries into a transient
	// read error when the reader underneath failed.
	explain func(error) error
}

// hasher returns a hash for a digest string ("sha256:<hex>").
func hasher(d string) (hash.Hash, string, error) {
	algo, hexPart, ok := strings.Cut(d, ":")
	var h hash.Hash
	size := 0
	switch algo {
	case "sha256":
		h, size = sha256.New(), sha256.Size
	case "sha512":
		h, size = sha512.New(), sha512.Size
	default:
		return nil, "", fmt.Errorf("digest %q: unsupported algorithm (want sha256 or sha512)", d)
	}
	if !ok || len(hexPart) != 2*size {
		return nil, "", fmt.Errorf("digest %q is malformed", d)
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return nil, "", fmt.Errorf("digest %q is malformed: %w", d, err)
	}
	return h, algo, nil
}

func sum(h hash.Hash, algo string) string {
	return algo + ":" + hex.EncodeToString(h.Sum(nil))
}

// openLayer opens a layer blob, recognises its compression by magic bytes,
// wraps it in the size and ratio limits and sets up its verification.
func openLayer(l Layer, lim Limits) (*layerStream, error) {
	var diffH, blobH hash.Hash
	var diffAlgo, blobAlgo string
	if !l.NoVerify {
		var err error
		if diffH, diffAlgo, err = hasher(l.DiffID); err != nil {
			return nil, &InputError{Layer: l.DiffID, Err: fmt.Errorf("diffID: %w", err)}
		}
		if l.Digest != "" {
			if blobH, blobAlgo, err = hasher(l.Digest); err != nil {
				return nil, &InputError{Layer: l.DiffID, Err: fmt.Errorf("blob digest: %w", err)}
			}
		}
	}
	rc, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("layer %s: open: %w", l.DiffID, err)
	}
	var closeOnce sync.Once
	closeRC := func() { closeOnce.Do(func() { rc.Close() }) }
	closers := []func(){closeRC}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	counted := &countingReader{r: rc, h: blobH}
	br := bufio.NewReaderSize(counted, 1<<20)
	magic, _ := br.Peek(4)
	var plain io.Reader = br
	var compressed *countingReader
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			closeAll()
			return nil, inputErr(l.DiffID, "gzip: %w", err)
		}
		closers = append(closers, func() { zr.Close() })
		plain, compressed = zr, counted
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			closeAll()
			return nil, inputErr(l.DiffID, "zstd: %w", err)
		}
		closers = append(closers, zr.Close)
		plain, compressed = zr, counted
	default:
		// A plain tar: the blob is the uncompressed stream, hashed once.
		if blobH != nil && diffH != nil {
			counted.h = nil
			if l.Digest == l.DiffID {
				blobH = nil
			}
		}
	}
	var pipe *ahead
	if compressed != nil {
		pipe = newAhead(plain)
		plain = pipe
		closers = append(closers, func() { pipe.stop(closeRC) })
	}
	rr := &ratioReader{r: plain, compressed: compressed, h: diffH, lim: lim, layer: l.DiffID}
	explain := func(err error) error {
		if rerr := counted.err.get(); rerr != nil {
			return fmt.Errorf("layer %s: read blob: %w", l.DiffID, rerr)
		}
		return err
	}
	return &layerStream{
		iter: &tarIter{tr: tar.NewReader(rr), layer: l.DiffID},
		// Read to the end so that the whole blob is verified and truncation
		// is noticed.
		finish: func() error {
			if _, err := io.Copy(io.Discard, rr); err != nil {
				var le *LimitError
				if errors.As(err, &le) {
					return err
				}
				return explain(inputErr(l.DiffID, "read to end: %w", err))
			}
			if pipe != nil {
				pipe.wait() // the decompressor is done with the blob
			}
			if _, err := io.Copy(io.Discard, br); err != nil {
				return explain(inputErr(l.DiffID, "read blob to end: %w", err))
			}
			if diffH != nil {
				if got := sum(diffH, diffAlgo); got != l.DiffID {
					return &DigestError{Layer: l.DiffID, What: "diffID", Claimed: l.DiffID, Actual: got}
				}
			}
			if blobH != nil {
				h := blobH
				if compressed == nil && counted.h == nil {
					h = diffH // a plain tar hashed once, as its diffID
				}
				if got := sum(h, blobAlgo); got != l.Digest {
					return &DigestError{Layer: l.DiffID, What: "digest", Claimed: l.Digest, Actual: got}
				}
			}
			return nil
		},
		close:   closeAll,
		explain: explain,
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
		return "", fmt.Errorf("entry %q climbs out of the image root", shortPath(name))
	}
	return strings.TrimPrefix(p, "/"), nil
}

// checkName enforces the path limits on a cleaned entry name and on a link
// target.
func checkName(lim Limits, layer, p, link string) error {
	if len(p) > lim.MaxPathLength {
		return &LimitError{What: "path length", Path: "layer " + layer + ": entry " + shortPath(p), Limit: int64(lim.MaxPathLength), Got: int64(len(p))}
	}
	if len(link) > lim.MaxPathLength {
		return &LimitError{What: "link target length", Path: "layer " + layer + ": entry " + shortPath(p), Limit: int64(lim.MaxPathLength), Got: int64(len(link))}
	}
	if d := strings.Count(p, "/") + 1; d > lim.MaxPathDepth {
		return &LimitError{What: "path depth", Path: "layer " + layer + ": entry " + shortPath(p), Limit: int64(lim.MaxPathDepth), Got: int64(d)}
	}
	return nil
}

// hidden reports whether an entry at p from the current layer is hidden by an
// upper layer. It hashes p once: the parents' hashes are its prefixes'.
func (w *walker) hidden(p string) bool {
	if m, ok := w.seen[p]; ok && m.order < w.order {
		return true
	}
	if !w.upperBlocks {
		return false // the top layer, or nothing above blocks
	}
	var h maphash.Hash
	h.SetSeed(w.seed)
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		h.WriteString(p[start:i])
		start = i
		for b := w.blocks[h.Sum64()]; b != nil; b = b.next {
			if b.order < w.order && b.path == p[:i] {
				return true // deleted, replaced by a non-directory, or opaque
			}
		}
	}
	return false
}

// block records p as hiding what lower layers hold under it.
func (w *walker) block(p string) {
	k := maphash.String(w.seed, p)
	for b := w.blocks[k]; b != nil; b = b.next {
		if b.path == p {
			return // the upper (earlier) mark stands
		}
	}
	w.blocks[k] = &blocker{path: p, order: w.order, next: w.blocks[k]}
}

// setSeen records the mark of a new path, within the recorded-paths limits.
func (w *walker) setSeen(p string, m mark, layerID string) error {
	if _, existed := w.seen[p]; !existed {
		w.nameBytes += int64(len(p))
		if w.nameBytes > w.lim.MaxNameBytes {
			return &LimitError{What: "total length of recorded paths", Path: "layer " + layerID, Limit: w.lim.MaxNameBytes, Got: w.nameBytes}
		}
		if len(w.seen)+1 > w.lim.MaxPaths {
			return &LimitError{What: "recorded paths", Path: "layer " + layerID, Limit: int64(w.lim.MaxPaths), Got: int64(len(w.seen) + 1)}
		}
	}
	w.seen[p] = m
	if m.kind != markDir {
		w.block(p)
	}
	return nil
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
			var ie *InputError
			var le *LimitError
			if errors.As(err, &ie) || errors.As(err, &le) {
				return err
			}
			return fmt.Errorf("layer %s: %w", layerID, err)
		}
		n++
		if n > w.lim.MaxEntries {
			return &LimitError{What: "entry count", Path: "layer " + layerID, Limit: int64(w.lim.MaxEntries), Got: int64(n)}
		}
		p, err := cleanName(e.Name)
		if err != nil {
			return &InputError{Layer: layerID, Err: err}
		}
		if p == "" {
			continue
		}
		if err := checkName(w.lim, layerID, p, e.Linkname); err != nil {
			return err
		}
		dir, base := path.Dir(p), path.Base(p)
		if base == ".wh..wh..opq" {
			if dir != "." {
				w.block(dir)
			}
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			target := path.Join(dir, strings.TrimPrefix(base, ".wh."))
			if !w.hidden(target) {
				if _, ok := w.seen[target]; !ok {
					if err := w.setSeen(target, mark{order: w.order, kind: markDeleted}, layerID); err != nil {
						return err
					}
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
		if err := w.setSeen(p, mark{order: w.order, kind: kind}, layerID); err != nil {
			return err
		}
		switch e.Type {
		case tar.TypeDir:
			w.fs.addDir(p, e.info(base), layerID)
		case tar.TypeSymlink:
			w.fs.addSymlink(p, e.Linkname, e.info(base), layerID)
		case tar.TypeLink:
			if _, err := cleanName(e.Linkname); err != nil {
				return inputErr(layerID, "hard link %s: %w", shortPath(p), err)
			}
		case tar.TypeReg, tar.TypeGNUSparse, '\x00':
			if err := w.file(ctx, p, e, layerID); err != nil {
				return err
			}
		}
		if w.fs.size() > w.lim.MaxPaths {
			return &LimitError{What: "recorded paths", Path: "layer " + layerID, Limit: int64(w.lim.MaxPaths), Got: int64(w.fs.size())}
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
		var le *LimitError
		if errors.As(err, &le) {
			return err
		}
		return inputErr(layerID, "read %s: %w", p, err)
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
