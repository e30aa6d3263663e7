package squash

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Entry is one filesystem entry of a layer, in tar terms.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, ...
	Size     int64
	Mode     fs.FileMode
	ModTime  time.Time
	Linkname string
	// Open returns the content of a regular file; it is valid until the next
	// call to Next.
	Open func() (io.Reader, error)
}

// EntryIter yields entries; Next returns io.EOF at the end.
type EntryIter interface {
	Next() (*Entry, error)
}

func (e *Entry) info(base string) fs.FileInfo {
	return fileInfo{name: base, size: e.Size, mode: e.Mode, mod: e.ModTime}
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi fileInfo) ModTime() time.Time { return fi.mod }
func (fi fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi fileInfo) Sys() any           { return nil }

type tarIter struct {
	tr    *tar.Reader
	layer string
}

func (t *tarIter) Next() (*Entry, error) {
	h, err := t.tr.Next()
	if err != nil {
		var le *LimitError
		switch {
		case errors.Is(err, io.EOF):
			return nil, io.EOF
		case errors.As(err, &le):
			return nil, err
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, inputErr(t.layer, "truncated tar stream: %w", err)
		}
		return nil, inputErr(t.layer, "corrupt tar stream: %w", err)
	}
	fi := h.FileInfo()
	return &Entry{
		Name:     h.Name,
		Type:     h.Typeflag,
		Size:     h.Size,
		Mode:     fi.Mode(),
		ModTime:  h.ModTime,
		Linkname: h.Linkname,
		Open:     func() (io.Reader, error) { return t.tr, nil },
	}, nil
}

// DirEntries walks a root directory as one layer. Symlinks are reported as
// links, never followed, and files are opened without following a final
// symlink, so nothing outside root is ever read.
func DirEntries(root string) (EntryIter, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dir %s: not a directory", root)
	}
	d := &dirIter{root: root, ch: make(chan dirItem, 64), done: make(chan struct{})}
	go d.walk()
	return d, nil
}

type dirItem struct {
	e   *Entry
	err error
}

type dirIter struct {
	root string
	ch   chan dirItem
	done chan struct{}
	once sync.Once
}

// Close stops the walk early.
func (d *dirIter) Close() error {
	d.once.Do(func() { close(d.done) })
	for range d.ch {
	}
	return nil
}

func (d *dirIter) walk() {
	defer close(d.ch)
	err := filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		e := &Entry{Name: filepath.ToSlash(rel), Mode: fi.Mode(), ModTime: fi.ModTime()}
		switch {
		case fi.IsDir():
			e.Type = tar.TypeDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type = tar.TypeSymlink
			if e.Linkname, err = os.Readlink(p); err != nil {
				return fmt.Errorf("readlink %s: %w", p, err)
			}
		case fi.Mode().IsRegular():
			e.Type = tar.TypeReg
			e.Size = fi.Size()
			path := p
			e.Open = func() (io.Reader, error) { return openNoFollow(path) }
		default:
			return nil // devices, sockets, fifos
		}
		select {
		case d.ch <- dirItem{e: e}:
			return nil
		case <-d.done:
			return fs.SkipAll
		}
	})
	if err != nil {
		select {
		case d.ch <- dirItem{err: err}:
		case <-d.done:
		}
	}
}

func (d *dirIter) Next() (*Entry, error) {
	it, ok := <-d.ch
	if !ok {
		return nil, io.EOF
	}
	if it.err != nil {
		return nil, it.err
	}
	return it.e, nil
}
