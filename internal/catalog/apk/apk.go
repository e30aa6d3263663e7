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
//   - A malformed database is an error naming the line (apk itself refuses
//     to start on one, and a silently shortened inventory would hide
//     vulnerabilities). A record without P: or V: is an error too.
//   - Reads are bounded: MaxFileSize for the file and MaxLineSize per line.
package apk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
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
func (Cataloger) Version() int { return 1 }

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
	pkgs, owned, err := Parse(io.NewSectionReader(f.R, 0, f.Size))
	if err != nil {
		return catalog.Result{}, fmt.Errorf("apk: %s: %w", f.Path, err)
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
		pkgs[i].Cataloger = c.Name()
	}
	return catalog.Result{Packages: pkgs, Owned: owned}, nil
}

// ParseAPK parses an apk installed database and returns its packages. Path,
// Cataloger, PURL and Layer are left empty.
func ParseAPK(r io.Reader) ([]inventory.Package, error) {
	pkgs, _, err := Parse(r)
	return pkgs, err
}

// Parse parses an apk installed database and returns its packages and the
// root-relative files they own.
func Parse(r io.Reader) (pkgs []inventory.Package, owned []string, err error) {
	var (
		rec  record
		dir  string // the current F: directory
		n    int
		errs = func(format string, a ...any) error {
			return fmt.Errorf("parse installed: line %d: "+format, append([]any{n}, a...)...)
		}
	)
	flush := func() error {
		if rec.line == 0 {
			return nil
		}
		if rec.p.Name == "" {
			return fmt.Errorf("parse installed: record at line %d: no P: (name) line", rec.line)
		}
		if rec.p.Version == "" {
			return fmt.Errorf("parse installed: record at line %d: package %q has no V: (version) line", rec.line, rec.p.Name)
		}
		if rec.p.SourceName == "" {
			rec.p.SourceName = rec.p.Name
		}
		rec.p.SourceVersion = rec.p.Version
		pkgs = append(pkgs, rec.p)
		owned = append(owned, rec.files...)
		rec, dir = record{}, ""
		return nil
	}
	sc := bufio.NewScanner(&limitedReader{r: r, n: MaxFileSize})
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			if err := flush(); err != nil {
				return nil, nil, err
			}
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			return nil, nil, errs("want \"K:value\", got %q", truncate(line))
		}
		if rec.line == 0 {
			rec = record{line: n, p: inventory.Package{Type: inventory.TypeAPK}}
		}
		key, value := line[0], line[2:]
		switch key {
		case 'P':
			rec.p.Name = value
		case 'V':
			rec.p.Version = value
		case 'A':
			rec.p.Arch = value
		case 'o':
			rec.p.SourceName = value
		case 'L':
			if value != "" {
				rec.p.Licenses = []string{value}
			}
		case 'F':
			dir = strings.Trim(path.Clean("/"+value), "/")
		case 'R':
			if value == "" || strings.Contains(value, "/") {
				return nil, nil, errs("bad R: file name %q", truncate(value))
			}
			rec.files = append(rec.files, path.Join(dir, value))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", MaxLineSize)
		}
		return nil, nil, fmt.Errorf("parse installed: line %d: %w", n+1, err)
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	return pkgs, owned, nil
}

// record is the package being read.
type record struct {
	line  int // where it starts; 0 when no record is open
	p     inventory.Package
	files []string
}

// errTooBig is returned once a reader passes MaxFileSize.
var errTooBig = fmt.Errorf("input larger than %d bytes", MaxFileSize)

// limitedReader is io.LimitReader that fails, rather than ending quietly,
// when the limit is passed.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe one byte: exactly the limit is fine.
		var b [1]byte
		n, err := l.r.Read(b[:])
		if n > 0 {
			return 0, errTooBig
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
