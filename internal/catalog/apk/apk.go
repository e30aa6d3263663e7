// Package apk catalogs Alpine packages from the apk database
// (lib/apk/db/installed, or usr/lib/apk/db/installed for newer apk-tools).
//
// The database is a text file of records separated by blank lines; each
// line is "K:value" with a one-letter key. Kept: P (name), V (version), A
// (arch), o (origin, the source package that Alpine advisories are keyed
// by) and L (license). apk has no separate origin version, so SourceVersion
// is the package version; a record without o: is its own origin.
//
// Policy choices:
//
//   - L: is kept whole as a single license expression ("MIT AND BSD-2-Clause",
//     or an older space-separated list); it is not split.
//   - Owned files are every R: (file) line joined to the F: (directory) line
//     before it; directories themselves are not listed.
//   - Malformed input degrades one record, never the database, so that one
//     bad record (placed first by a hostile image author) cannot hide the
//     real ones. Each problem is a warning naming the line or the record
//     (and its package when known). A line that is not "K:value", or longer
//     than MaxLineSize, is skipped; an R: file name holding a '/' is left
//     out of the owned files. A record without P: is dropped (it names
//     nothing); one without V: is kept with an empty version, and any V:
//     is kept as written (the matcher reports versions it cannot compare
//     as degraded rather than dropping the package). A repeated P: or V:
//     keeps its first value. At most warn.Max warnings are listed per file.
//   - Only a read error, a file over MaxFileSize, or a file that is wholly
//     not an apk database (problems, and not one record with a P: line) is
//     an error.
//   - Reads are bounded: MaxFileSize for the file and MaxLineSize per line.
package apk

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/lines"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

const (
	// MaxFileSize bounds the installed database.
	MaxFileSize = 512 << 20
	// MaxLineSize bounds one line of it.
	MaxLineSize = 1 << 20
)

// Cataloger is the apk cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the apk cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "apk" }

// Version implements catalog.Cataloger. Bump it whenever the output for the
// same input changes.
func (Cataloger) Version() int { return 3 }

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	return p == "lib/apk/db/installed" || p == "usr/lib/apk/db/installed"
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Result{}, err
	}
	if f.Size > MaxFileSize {
		return catalog.Result{}, fmt.Errorf("apk: %s: file is %d bytes, more than the %d byte limit", f.Path, f.Size, MaxFileSize)
	}
	pkgs, owned, rels, warnings, err := parse(io.NewSectionReader(f.R, 0, f.Size))
	if err != nil {
		return catalog.Result{}, fmt.Errorf("apk: %s: %w", f.Path, err)
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
		pkgs[i].Cataloger = c.Name()
	}
	for i := range warnings {
		warnings[i] = "apk: " + f.Path + ": " + warnings[i]
	}
	return catalog.Result{Packages: pkgs, Owned: owned, Relationships: rels, Warnings: warnings}, nil
}

// ParseAPK parses an apk installed database and returns its packages and
// the warnings about malformed records. Path, Cataloger, PURL and Layer are
// left empty.
func ParseAPK(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warnings, err := Parse(r)
	return pkgs, warnings, err
}

// Parse parses an apk installed database and returns its packages, the
// root-relative files they own, and a warning for every malformed line or
// record (see the package doc for what is dropped and what is kept). The
// error is for a read error, input over MaxFileSize, or a file that is
// wholly not an apk database.
func Parse(r io.Reader) (pkgs []inventory.Package, owned, warnings []string, err error) {
	pkgs, owned, _, warnings, err = parse(r)
	return pkgs, owned, warnings, err
}

// parse is Parse with the dependency graph: each package's D: entries
// resolved among the database's packages (see resolveDepends).
func parse(r io.Reader) (pkgs []inventory.Package, owned []string, rels []inventory.Relationship, warnings []string, err error) {
	var (
		rec      record
		dir      string // the current F: directory
		w        warn.List
		records  int // records with a P: line
		depends  []string
		provides []string
		files    [][]string
	)
	flush := func() {
		if rec.line == 0 {
			return
		}
		switch {
		case rec.p.Name == "":
			w.Addf("record at line %d: no P: (name) line; dropped", rec.line)
		default:
			records++
			if !rec.hasVersion {
				w.Addf("record at line %d (package %q): no V: (version) line; kept with an empty version", rec.line, truncate(rec.p.Name))
			}
			if rec.p.SourceName == "" {
				rec.p.SourceName = rec.p.Name
			}
			rec.p.SourceVersion = rec.p.Version
			pkgs = append(pkgs, rec.p)
			owned = append(owned, rec.files...)
			depends, provides, files = append(depends, rec.depends), append(provides, rec.provides), append(files, rec.files)
		}
		rec, dir = record{}, ""
	}
	sc := lines.NewScanner(r, MaxFileSize, MaxLineSize)
	for sc.Scan() {
		n, line := sc.Line(), sc.Text()
		if size, long := sc.TooLong(); long {
			w.Addf("line %d: %d bytes, longer than the %d byte limit; skipped", n, size, MaxLineSize)
			continue
		}
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			w.Addf("line %d: want \"K:value\", got %q; skipped", n, truncate(line))
			continue
		}
		if rec.line == 0 {
			rec = record{line: n, p: inventory.Package{Type: inventory.TypeAPK}}
		}
		key, value := line[0], line[2:]
		switch key {
		case 'P':
			if rec.p.Name != "" {
				w.Addf("line %d: repeated P: %q in the record of %q (a missing blank line?); the first is kept", n, truncate(value), truncate(rec.p.Name))
				continue
			}
			rec.p.Name = strings.TrimSpace(value)
		case 'V':
			if rec.hasVersion {
				w.Addf("line %d: repeated V: %q in the record at line %d; the first is kept", n, truncate(value), rec.line)
				continue
			}
			rec.p.Version, rec.hasVersion = strings.TrimSpace(value), true
		case 'A':
			rec.p.Arch = value
		case 'D':
			rec.depends = value
		case 'p':
			rec.provides = value
		case 'o':
			rec.p.SourceName = value
		case 'L':
			if value != "" {
				rec.p.Licenses = []string{value}
			}
		case 'F':
			dir = strings.Trim(path.Clean("/"+value), "/")
		case 'R':
			if value == "" || value == "." || value == ".." || strings.Contains(value, "/") {
				w.Addf("line %d: bad R: file name %q; not listed as owned", n, truncate(value))
				continue
			}
			rec.files = append(rec.files, path.Join(dir, value))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("parse installed: line %d: %w", sc.Line()+1, err)
	}
	flush()
	if records == 0 && w.Len() > 0 {
		return nil, nil, nil, nil, fmt.Errorf("parse installed: not an apk database (no record has a P: line): %s", w.First())
	}
	return pkgs, owned, resolveDepends(pkgs, depends, provides, files), w.Strings(""), nil
}

// resolveDepends turns D: entries into edges between the database's
// packages, as apk satisfies them: a name (its version constraint dropped)
// is the installed package of that name, else the first one whose p:
// provides it ("so:libc.musl-x86_64.so.1", "cmd:sh"); a path ("/bin/sh")
// is the package that installs the file. Conflicts ("!name") and what
// nothing installed satisfies make no edge.
func resolveDepends(pkgs []inventory.Package, depends, provides []string, files [][]string) []inventory.Relationship {
	byName, provided, owner := map[string]inventory.PackageRef{}, map[string]inventory.PackageRef{}, map[string]inventory.PackageRef{}
	first := func(m map[string]inventory.PackageRef, k string, r inventory.PackageRef) {
		if _, ok := m[k]; !ok {
			m[k] = r
		}
	}
	for i, p := range pkgs {
		r := inventory.RefOf(p)
		first(byName, p.Name, r)
		for _, pr := range strings.Fields(provides[i]) {
			first(provided, depName(pr), r)
		}
		for _, f := range files[i] {
			first(owner, f, r)
		}
	}
	var e inventory.Edges
	for i, p := range pkgs {
		from := inventory.RefOf(p)
		for _, d := range strings.Fields(depends[i]) {
			if strings.HasPrefix(d, "!") {
				continue
			}
			n := depName(d)
			t, ok := byName[n]
			if !ok {
				t, ok = provided[n]
			}
			if !ok && strings.HasPrefix(n, "/") {
				t, ok = owner[strings.TrimPrefix(path.Clean(n), "/")]
			}
			if ok {
				e.Add(from, t)
			}
		}
	}
	return e.List()
}

// depName is an apk dependency or provide without its version
// constraint ("busybox>=1.36" is "busybox", "so:libz.so.1=1.3" is
// "so:libz.so.1").
func depName(s string) string {
	if i := strings.IndexAny(s, "=<>~"); i >= 0 {
		return s[:i]
	}
	return s
}

// record is the package being read.
type record struct {
	line       int // where it starts; 0 when no record is open
	p          inventory.Package
	hasVersion bool
	files      []string
	// depends and provides are its D: and p: lines.
	depends, provides string
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
