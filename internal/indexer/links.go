package indexer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// locator is an OS cataloger that says where its package database lives:
// file paths, and directories (ending in "/") whose files it reads.
type locator interface {
	Locations() []string
}

// alias is a package-database location that the image makes a symlink.
type alias struct {
	loc    string // the location, without a trailing slash
	dir    bool
	target string // the resolved path inside the root
	link   string // the first symlink on loc, and its target, for messages
	to     string
	pl     plugin
	found  bool
}

// followLinks reads package databases that the image reached through a
// symlink (var/lib/dpkg/status -> somewhere else), as the package manager
// itself would: the squasher streams regular files only, so without this an
// author could hide every OS package behind one link. A link that leaves the
// root, loops or leads nowhere is a warning naming it, never a silent "no
// package database". reread walks the image again with other options.
func (r *run) followLinks(ctx context.Context, sq *squash.FS, reread func(context.Context, squash.Options) error) error {
	var aliases []*alias
	for _, pl := range r.plugins {
		lc, ok := pl.c.(locator)
		if !pl.os || !ok {
			continue
		}
		for _, loc := range lc.Locations() {
			dir := strings.HasSuffix(loc, "/")
			loc = strings.TrimSuffix(loc, "/")
			link, to, ok := sq.FirstLink(loc)
			if !ok {
				continue
			}
			target, err := sq.Resolve(loc)
			switch {
			case errors.Is(err, squash.ErrEscape):
				r.problemf("%s is a symlink to %s, which leads out of the image root: not followed, so OS packages from it cannot be scanned", link, to)
				continue
			case err != nil:
				r.problemf("%s is a symlink to %s that cannot be resolved (%v): not followed, so OS packages from it cannot be scanned", link, to, unwrapPath(err))
				continue
			}
			// The link leads to another location the cataloger reads: the
			// file there was cataloged under its own path already.
			if (!dir && pl.c.Required(target, nil)) || (dir && pl.c.Required(target+"/x", nil)) || target == loc {
				continue
			}
			// Where the directory that would hold it is missing there is
			// nothing to read. That is only worth a word when the location
			// itself is the link (a usr-merge "lib" link is not).
			holder := path.Dir(target)
			if dir {
				holder = target
			}
			if fi, err := sq.Stat(holder); holder != "." && (err != nil || !fi.IsDir()) {
				if link == loc {
					r.problemf("%s is a symlink to %s, which is not a file in the image: OS packages from it cannot be scanned", link, to)
				}
				continue
			}
			aliases = append(aliases, &alias{loc: loc, dir: dir, target: target, link: link, to: to, pl: pl})
		}
	}
	if len(aliases) == 0 {
		return nil
	}
	match := func(p string) (*alias, string) {
		for _, a := range aliases {
			if !a.dir && p == a.target {
				return a, a.loc
			}
			if a.dir && path.Dir(p) == a.target {
				return a, a.loc + "/" + path.Base(p)
			}
		}
		return nil, ""
	}
	opts := squash.Options{
		Limits: r.opts.Limits,
		Want: func(p string, _ fs.FileInfo) squash.Want {
			if a, _ := match(p); a != nil {
				return squash.Stream
			}
			return squash.Skip
		},
		OnOversize: func(p string, _ int64, err error) error { return err },
		OnFile: func(ctx context.Context, f squash.File) error {
			a, as := match(f.Path)
			if a == nil || !a.pl.c.Required(as, f.Info) {
				return nil
			}
			a.found = true
			res, err := a.pl.c.CatalogFile(ctx, catalog.File{Path: as, Info: f.Info, R: f.R, Size: f.Size})
			if err != nil {
				return fmt.Errorf("catalog %s: %s (through the link %s): %w", a.pl.c.Name(), as, a.link, err)
			}
			r.add([]fileResult{resultOf(a.pl, as, res)}, f.Layer)
			return nil
		},
	}
	if err := reread(ctx, opts); err != nil {
		return fmt.Errorf("read through symlinks: %w", err)
	}
	for _, a := range aliases {
		if a.found {
			r.warnf("%s is a symlink to %s: read through the link", a.link, a.to)
		} else {
			r.problemf("%s is a symlink to %s, which is not a file in the image: OS packages from it cannot be scanned", a.link, a.to)
		}
	}
	return nil
}

func (r *run) warnf(format string, args ...any) {
	r.inv.Warnings = append(r.inv.Warnings, fmt.Sprintf(format, args...))
}

// problemf is a warning that a package database could not be read. When
// no OS package was found in the end, it explains why (see Index).
func (r *run) problemf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.inv.Warnings = append(r.inv.Warnings, msg)
	r.problems = append(r.problems, msg)
}

// unwrapPath drops the fs.PathError wrapper, whose path the message names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
