package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"sort"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Dir is a feed.Source over a local mirror directory laid out like the
// upstream. Paths never resolve outside the directory, symlinks included.
type Dir struct {
	root string
	opts Options
}

// NewDir returns a source reading files below root.
func NewDir(root string, opts Options) *Dir {
	return &Dir{root: root, opts: opts.withDefaults()}
}

// Root is the mirror directory.
func (d *Dir) Root() string { return d.root }

// Get opens p. The validator's ETag is size+mtime; when it equals prev's the
// answer is feed.ErrNotModified without reading the file. When size or mtime
// changed but the content's SHA-256 equals prev.SHA256, it is
// feed.ErrNotModified as well.
func (d *Dir) Get(ctx context.Context, p string, prev feed.Validator) (io.ReadCloser, feed.Validator, error) {
	if err := ctx.Err(); err != nil {
		return nil, feed.Validator{}, err
	}
	clean, err := cleanPath(p)
	if err != nil {
		return nil, feed.Validator{}, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: %w", d.root, err)
	}
	defer root.Close()
	f, err := root.Open(clean)
	if err != nil {
		return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: %w", d.root, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: %w", d.root, err)
	}
	name := path.Join(d.root, clean)
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: not a regular file", name)
	}
	if fi.Size() > d.opts.MaxFileSize {
		f.Close()
		return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: %w: %d > %d bytes", name, ErrTooLarge, fi.Size(), d.opts.MaxFileSize)
	}
	v := feed.Validator{
		ETag:         fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano()),
		LastModified: fi.ModTime().UTC().Format(http.TimeFormat),
		FetchedAt:    time.Now().UTC(),
	}
	if prev.ETag != "" && prev.ETag == v.ETag {
		f.Close()
		return nil, feed.Validator{}, feed.ErrNotModified
	}
	if prev.SHA256 != "" {
		h := sha256.New()
		if _, err := io.Copy(h, io.LimitReader(f, d.opts.MaxFileSize+1)); err != nil {
			f.Close()
			return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: hash: %w", name, err)
		}
		v.SHA256 = hex.EncodeToString(h.Sum(nil))
		if v.SHA256 == prev.SHA256 {
			f.Close()
			return nil, feed.Validator{}, feed.ErrNotModified
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, feed.Validator{}, fmt.Errorf("source: mirror %s: %w", name, err)
		}
	}
	return &limitedBody{rc: f, r: io.LimitReader(f, d.opts.MaxFileSize+1), max: d.opts.MaxFileSize, name: name, cancel: func() {}}, v, nil
}

// List names the regular files directly under dir (slash separated, relative
// to the mirror root), sorted. Symlinks count when they resolve to a regular
// file inside the root.
func (d *Dir) List(ctx context.Context, dir string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	clean := path.Clean(dir)
	if clean != "." {
		var err error
		if clean, err = cleanPath(dir); err != nil {
			return nil, err
		}
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, fmt.Errorf("source: mirror %s: %w", d.root, err)
	}
	defer root.Close()
	f, err := root.Open(clean)
	if err != nil {
		return nil, fmt.Errorf("source: mirror %s: list: %w", d.root, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("source: mirror %s: list %s: %w", d.root, clean, err)
	}
	var out []string
	for _, e := range entries {
		p := path.Join(clean, e.Name())
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, err := root.Stat(p)
			if err != nil {
				continue // dangling, unreadable or escaping the root: not a mirror file
			}
			mode = fi.Mode()
		}
		if mode.IsRegular() {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}
