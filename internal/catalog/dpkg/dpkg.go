// Package dpkg catalogs Debian and Ubuntu packages from the dpkg database.
//
// It reads var/lib/dpkg/status and the distroless var/lib/dpkg/status.d/*
// files (one or more deb822 stanzas each; *.md5sums files are skipped), and
// the var/lib/dpkg/info/<pkg>[:arch].list file lists, which only contribute
// owned files.
//
// Policy choices:
//
//   - Which packages count. A package is reported when its files are on
//     disk: the third word of Status is installed, triggers-pending,
//     triggers-awaited, half-configured, unpacked or half-installed. This is
//     what `dpkg-query -W` lists minus config-files (only conffiles remain,
//     no code) and not-installed. A half-configured or half-installed
//     package still has (possibly vulnerable) code on disk, so for a
//     scanner reporting it is the safer error. A stanza without Status (as
//     some distroless status.d files are written) counts as installed.
//   - Versions are kept whole, epoch included ("1:2.3-4"); Epoch repeats the
//     epoch as a number.
//   - Source: "Source: name (version)" sets SourceName and SourceVersion;
//     "Source: name" sets SourceName and leaves the binary version as the
//     source version; no Source field means both equal the binary package's.
//     Debian and Ubuntu advisories are keyed by source package.
//   - Licenses come from a License field when the stanza has one; the dpkg
//     database normally has none (licenses live in copyright files).
//   - A malformed status file is an error naming the line: dpkg itself
//     refuses to run on one, and a silently shortened inventory would hide
//     vulnerabilities. A malformed .list file only yields a warning, since
//     owned files only de-duplicate language packages.
//
// Reads are bounded: MaxFileSize for a whole file and MaxLineSize for a
// single line.
package dpkg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

const (
	// MaxFileSize bounds one status, status.d or .list file.
	MaxFileSize = 256 << 20
	// MaxLineSize bounds one line of those files.
	MaxLineSize = 1 << 20

	statusPath = "var/lib/dpkg/status"
	statusDir  = "var/lib/dpkg/status.d/"
	infoDir    = "var/lib/dpkg/info/"
)

// Cataloger is the dpkg cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the dpkg cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "dpkg" }

// Version implements catalog.Cataloger. Bump it whenever the output for the
// same input changes.
func (Cataloger) Version() int { return 1 }

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	return isStatus(p) || isList(p)
}

func isStatus(p string) bool {
	if p == statusPath {
		return true
	}
	name, ok := strings.CutPrefix(p, statusDir)
	return ok && name != "" && !strings.Contains(name, "/") &&
		!strings.HasSuffix(name, ".md5sums") && !strings.HasPrefix(name, ".")
}

func isList(p string) bool {
	name, ok := strings.CutPrefix(p, infoDir)
	return ok && len(name) > len(".list") && strings.HasSuffix(name, ".list") && !strings.Contains(name, "/")
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Result{}, err
	}
	if f.Size > MaxFileSize {
		return catalog.Result{}, fmt.Errorf("dpkg: %s: file is %d bytes, more than the %d byte limit", f.Path, f.Size, MaxFileSize)
	}
	r := io.NewSectionReader(f.R, 0, f.Size)
	if isList(f.Path) {
		owned, err := ParseList(r)
		res := catalog.Result{Owned: owned}
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("dpkg: %s: %v", f.Path, err))
		}
		return res, nil
	}
	pkgs, err := ParseStatus(r)
	if err != nil {
		return catalog.Result{}, fmt.Errorf("dpkg: %s: %w", f.Path, err)
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
		pkgs[i].Cataloger = c.Name()
	}
	return catalog.Result{Packages: pkgs}, nil
}

// ParseList reads a var/lib/dpkg/info/*.list file and returns its absolute
// paths made root-relative ("/usr/bin/x" becomes "usr/bin/x"). Directories
// cannot be told from files in a .list, so they are returned too; the root
// itself ("/.") is dropped. Lines that are not absolute paths are skipped.
// On error the paths read so far are returned with it.
func ParseList(r io.Reader) ([]string, error) {
	sc := newScanner(r)
	var owned []string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if !strings.HasPrefix(line, "/") {
			continue
		}
		p := strings.TrimPrefix(path.Clean(line), "/")
		if p == "" {
			continue
		}
		owned = append(owned, p)
	}
	if err := scanErr(sc); err != nil {
		return owned, fmt.Errorf("parse list: %w", err)
	}
	return owned, nil
}

// ParseStatus parses a dpkg status file (or one distroless status.d file) and
// returns the packages whose files are on disk (see the package doc). Path,
// Cataloger, PURL and Layer are left empty.
func ParseStatus(r io.Reader) ([]inventory.Package, error) {
	var (
		pkgs []inventory.Package
		st   stanza
	)
	flush := func() error {
		if st.empty() {
			return nil
		}
		p, ok, err := st.pkg()
		if err != nil {
			return fmt.Errorf("parse status: stanza at line %d: %w", st.line, err)
		}
		if ok {
			pkgs = append(pkgs, p)
		}
		st = stanza{}
		return nil
	}
	sc := newScanner(r)
	n := 0
	last := "" // the field continuation lines belong to
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			if err := flush(); err != nil {
				return nil, err
			}
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("parse status: line %d: continuation line outside a field", n)
			}
			// Continuation of a multiline field (Description, Conffiles...):
			// none of the fields kept here is multiline, so it is skipped.
		case line[0] == '#':
			// deb822 comment.
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("parse status: line %d: want \"Field: value\", got %q", n, truncate(line))
			}
			if st.empty() {
				st.line = n
			}
			st.set(name, strings.TrimSpace(value))
			last = name
		}
	}
	if err := scanErr(sc); err != nil {
		return nil, fmt.Errorf("parse status: line %d: %w", n+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// stanza holds the fields of one deb822 paragraph that we keep.
type stanza struct {
	line                                         int
	fields                                       int
	name, version, arch, status, source, license string
	hasStatus                                    bool
}

func (s *stanza) empty() bool { return s.fields == 0 }

func (s *stanza) set(name, value string) {
	s.fields++
	switch strings.ToLower(name) {
	case "package":
		s.name = value
	case "version":
		s.version = value
	case "architecture":
		s.arch = value
	case "status":
		s.status, s.hasStatus = value, true
	case "source":
		s.source = value
	case "license":
		s.license = value
	}
}

// onDisk lists the dpkg package states in which the package's files are
// unpacked on disk.
var onDisk = map[string]bool{
	"installed":        true,
	"triggers-pending": true,
	"triggers-awaited": true,
	"half-configured":  true,
	"unpacked":         true,
	"half-installed":   true,
}

// pkg turns the stanza into a package; ok is false for a package that is not
// on disk.
func (s *stanza) pkg() (p inventory.Package, ok bool, err error) {
	if s.hasStatus {
		words := strings.Fields(s.status)
		if len(words) != 3 {
			return p, false, fmt.Errorf("package %q: Status %q does not have three words", s.name, truncate(s.status))
		}
		if !onDisk[words[2]] {
			return p, false, nil
		}
	}
	if s.name == "" {
		return p, false, errors.New("no Package field")
	}
	if s.version == "" {
		return p, false, fmt.Errorf("package %q: no Version field", s.name)
	}
	epoch, err := epochOf(s.version)
	if err != nil {
		return p, false, fmt.Errorf("package %q: %w", s.name, err)
	}
	p = inventory.Package{
		Name:          s.name,
		Version:       s.version,
		Type:          inventory.TypeDeb,
		Epoch:         epoch,
		Arch:          s.arch,
		SourceName:    s.name,
		SourceVersion: s.version,
	}
	if s.source != "" {
		name, rest, _ := strings.Cut(s.source, " ")
		p.SourceName = name
		if rest = strings.TrimSpace(rest); rest != "" {
			v, ok := strings.CutPrefix(rest, "(")
			v, ok2 := strings.CutSuffix(v, ")")
			v = strings.TrimSpace(v)
			if !ok || !ok2 || v == "" || strings.ContainsAny(v, " \t()") {
				return p, false, fmt.Errorf("package %q: want \"Source: name (version)\", got %q", s.name, truncate(s.source))
			}
			p.SourceVersion = v
		}
	}
	if s.license != "" {
		p.Licenses = []string{s.license}
	}
	return p, true, nil
}

// epochOf returns the epoch of a dpkg version (0 when it has none).
func epochOf(v string) (int, error) {
	e, _, ok := strings.Cut(v, ":")
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(e, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("version %q: bad epoch %q", truncate(v), truncate(e))
	}
	return int(n), nil
}

// newScanner returns a line scanner bounded to MaxFileSize bytes in total and
// MaxLineSize bytes per line.
func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(&limitedReader{r: r, n: MaxFileSize})
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	return sc
}

func scanErr(sc *bufio.Scanner) error {
	err := sc.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("line longer than %d bytes", MaxLineSize)
	}
	return err
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
		// Probe one byte: exactly MaxFileSize bytes is fine.
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
