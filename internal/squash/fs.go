package squash

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// ErrEscape is returned when a symlink would lead out of the image root.
var ErrEscape = errors.New("symlink leads out of the image root")

// ErrLoop is returned when resolving a path meets too many symlinks.
var ErrLoop = errors.New("too many levels of symbolic links")

// ErrNameTooLong is returned when resolving a path through symlinks makes it
// longer than Limits.MaxPathLength (ENAMETOOLONG).
var ErrNameTooLong = errors.New("file name too long")

type node struct {
	info   fs.FileInfo
	data   []byte // regular files that were kept
	target string // symlinks
	layer  string
	kids   map[string]struct{} // directories
}

// FS is the squashed view of an image: the kept regular files, every symlink
// and every directory. It implements fs.FS, fs.ReadFileFS, fs.StatFS and
// fs.ReadDirFS; symlinks are followed with chroot semantics (absolute targets
// start at the image root) and a link that climbs above the root is an
// error, not silently clamped.
type FS struct {
	nodes  map[string]*node
	hops   int
	maxLen int
}

func newFS(hops, maxLen int) *FS {
	f := &FS{nodes: map[string]*node{}, hops: hops, maxLen: maxLen}
	f.nodes["."] = &node{info: fileInfo{name: ".", mode: fs.ModeDir | 0o755}, kids: map[string]struct{}{}}
	return f
}

// size is the number of nodes, implied parent directories included.
func (f *FS) size() int { return len(f.nodes) }

func (f *FS) link(p string) {
	for p != "." {
		dir := path.Dir(p)
		parent, ok := f.nodes[dir]
		if !ok {
			parent = &node{info: fileInfo{name: path.Base(dir), mode: fs.ModeDir | 0o755}, kids: map[string]struct{}{}}
			f.nodes[dir] = parent
		}
		if parent.kids == nil {
			return // parent is not a directory in the squashed view
		}
		if _, ok := parent.kids[path.Base(p)]; ok {
			return
		}
		parent.kids[path.Base(p)] = struct{}{}
		p = dir
	}
}

func (f *FS) addDir(p string, info fs.FileInfo, layer string) {
	if n, ok := f.nodes[p]; ok && n.kids != nil {
		n.info, n.layer = info, layer
		return
	}
	f.nodes[p] = &node{info: info, layer: layer, kids: map[string]struct{}{}}
	f.link(p)
}

func (f *FS) addSymlink(p, target string, info fs.FileInfo, layer string) {
	f.nodes[p] = &node{info: info, target: target, layer: layer}
	f.link(p)
}

func (f *FS) addFile(p string, data []byte, info fs.FileInfo, layer string) {
	f.nodes[p] = &node{info: info, data: data, layer: layer}
	f.link(p)
}

// resolve follows symlinks in every component of name. It returns the
// resolved path and its node (nil when it does not exist).
func (f *FS) resolve(name string, followLast bool) (string, *node, error) {
	hops := 0
	var walk func(p string, followLast bool) (string, *node, error)
	walk = func(p string, followLast bool) (string, *node, error) {
		parts := strings.Split(p, "/")
		cur := "."
		for i, part := range parts {
			if part == "" || part == "." {
				continue
			}
			if part == ".." {
				if cur == "." {
					return "", nil, ErrEscape
				}
				cur = path.Dir(cur)
				continue
			}
			next := path.Join(cur, part)
			n, ok := f.nodes[next]
			if !ok {
				// Not in the view: what the rest of the name would be.
				return path.Join(append([]string{next}, parts[i+1:]...)...), nil, nil
			}
			last := i == len(parts)-1
			if n.info.Mode()&fs.ModeSymlink != 0 && (!last || followLast) {
				hops++
				if hops > f.hops {
					return "", nil, ErrLoop
				}
				var joined string
				if strings.HasPrefix(n.target, "/") {
					joined = path.Clean(n.target) // chroot: "/.." is "/"
				} else {
					joined = path.Join(cur, n.target)
					if joined == ".." || strings.HasPrefix(joined, "../") {
						return "", nil, fmt.Errorf("%s -> %s: %w", next, n.target, ErrEscape)
					}
				}
				rest := strings.Join(parts[i+1:], "/")
				next := strings.Trim(joined+"/"+rest, "/")
				if len(next) > f.maxLen {
					return "", nil, ErrNameTooLong
				}
				return walk(next, followLast)
			}
			cur = next
		}
		return cur, f.nodes[cur], nil
	}
	return walk(name, followLast)
}

func (f *FS) lookup(op, name string, followLast bool) (string, *node, error) {
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p, n, err := f.resolve(name, followLast)
	if err != nil {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if n == nil {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return p, n, nil
}

// Open opens a kept file or a directory.
func (f *FS) Open(name string) (fs.File, error) {
	p, n, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.kids != nil {
		return &dirFile{fs: f, path: p, n: n}, nil
	}
	if n.data == nil && n.info.Size() > 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: file content was not kept by the squasher", fs.ErrNotExist)}
	}
	return &openFile{n: n, r: bytes.NewReader(n.data)}, nil
}

// ReadFile returns a kept file's content.
func (f *FS) ReadFile(name string) ([]byte, error) {
	fl, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	of, ok := fl.(*openFile)
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return bytes.Clone(of.n.data), nil
}

// Stat follows symlinks.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	_, n, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return n.info, nil
}

// Lstat does not follow a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	_, n, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return n.info, nil
}

// ReadLink returns a symlink's target.
func (f *FS) ReadLink(name string) (string, error) {
	_, n, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.info.Mode()&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

// ReadDir lists a directory of the squashed view (kept files, symlinks and
// directories only).
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, n, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.kids == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return f.entriesOf(p, n), nil
}

func (f *FS) entriesOf(p string, n *node) []fs.DirEntry {
	names := make([]string, 0, len(n.kids))
	for k := range n.kids {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]fs.DirEntry, 0, len(names))
	for _, k := range names {
		if c, ok := f.nodes[path.Join(p, k)]; ok {
			out = append(out, fs.FileInfoToDirEntry(c.info))
		}
	}
	return out
}

// Layer returns the diffID of the layer that holds name in the squashed view
// (symlinks in parent directories are followed, not the final one), or "".
func (f *FS) Layer(name string) string {
	_, n, err := f.resolve(name, false)
	if err != nil || n == nil {
		return ""
	}
	return n.layer
}

type openFile struct {
	n *node
	r *bytes.Reader
}

func (o *openFile) Stat() (fs.FileInfo, error) { return o.n.info, nil }
func (o *openFile) Read(p []byte) (int, error) { return o.r.Read(p) }
func (o *openFile) ReadAt(p []byte, off int64) (int, error) {
	return o.r.ReadAt(p, off)
}
func (o *openFile) Seek(off int64, whence int) (int64, error) { return o.r.Seek(off, whence) }
func (o *openFile) Close() error                              { return nil }

type dirFile struct {
	fs   *FS
	path string
	n    *node
	list []fs.DirEntry
	read bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.n.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.list, d.read = d.fs.entriesOf(d.path, d.n), true
	}
	if n <= 0 {
		out := d.list
		d.list = nil
		return out, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	if n > len(d.list) {
		n = len(d.list)
	}
	out := d.list[:n]
	d.list = d.list[n:]
	return out, nil
}

var _ fs.ReadDirFS = (*FS)(nil)
var _ fs.ReadFileFS = (*FS)(nil)
var _ fs.StatFS = (*FS)(nil)

// Resolve follows every symlink of name, the last one included, and returns
// the path inside the image root that it leads to; the file there need not
// be kept (or exist): past the first missing component the rest of name is
// taken as it is. It fails with ErrEscape, ErrLoop or ErrNameTooLong.
func (f *FS) Resolve(name string) (string, error) {
	p, _, err := f.resolve(name, true)
	return p, err
}

// FirstLink returns the first component of name (name itself included)
// that is a symlink in the squashed view, and its target.
func (f *FS) FirstLink(name string) (link, target string, ok bool) {
	cur := ""
	for _, part := range strings.Split(name, "/") {
		if part == "" {
			continue
		}
		if cur == "" {
			cur = part
		} else {
			cur += "/" + part
		}
		n, found := f.nodes[cur]
		if !found {
			return "", "", false
		}
		if n.info.Mode()&fs.ModeSymlink != 0 {
			return cur, n.target, true
		}
	}
	return "", "", false
}
