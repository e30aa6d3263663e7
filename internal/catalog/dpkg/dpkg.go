// Package dpkg catalogs Debian and Ubuntu packages from the dpkg database.
//
// It reads var/lib/dpkg/status and the distroless var/lib/dpkg/status.d/*
// files (one or more deb822 stanzas each; *.md5sums files are skipped), and
// the var/lib/dpkg/info/<pkg>[:arch].list file lists, which only contribute
// owned files.
//
// Each package's Depends and Pre-Depends become dependency relationships
// to the packages of the same file that satisfy them (names, then
// Provides; the first installed alternative of "a | b"); a distroless
// status.d file holds one package, so its dependencies resolve to nothing.
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
//   - Malformed input degrades one record, never the file. dpkg itself
//     refuses a damaged database, but a scanner that gave up on the whole
//     file would let one bad stanza (placed first by a hostile image author)
//     hide every real package. Each problem is a warning naming the line or
//     the stanza (and its package when known). A line that is not
//     "Field: value", a continuation line outside a field, or a line over
//     MaxLineSize is skipped, and the stanza goes on. A stanza without a
//     Package field is dropped: it names nothing. A package with no
//     Version, a version whose epoch is not a number, a malformed
//     "Source: name (version)" or a Status that is not three words is kept:
//     with the version as written (empty when missing; the matcher reports
//     such packages as degraded instead of dropping them), the source
//     version falling back to the binary version when it cannot be read,
//     and a malformed Status counted as installed. A repeated field keeps
//     its first value.
//   - Only a read error, a file over MaxFileSize, or a file that is wholly
//     not a status file (problems, and not one stanza with a Package field)
//     is an error. A malformed .list file only yields a warning, since owned
//     files only de-duplicate language packages.
//   - At most warn.Max warnings are listed per file, and one more says how
//     many were left out.
//
// Reads are bounded: MaxFileSize for a whole file and MaxLineSize for a
// single line.
package dpkg

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/lines"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
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
func (Cataloger) Version() int { return 3 }

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
	prefix := "dpkg: " + f.Path + ": "
	if isList(f.Path) {
		owned, warnings, err := ParseList(r)
		res := catalog.Result{Owned: owned}
		for _, w := range warnings {
			res.Warnings = append(res.Warnings, prefix+w)
		}
		if err != nil {
			res.Warnings = append(res.Warnings, prefix+err.Error())
		}
		return res, nil
	}
	pkgs, rels, warnings, err := parseStatus(r)
	if err != nil {
		return catalog.Result{}, fmt.Errorf("dpkg: %s: %w", f.Path, err)
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
		pkgs[i].Cataloger = c.Name()
	}
	res := catalog.Result{Packages: pkgs, Relationships: rels}
	for _, w := range warnings {
		res.Warnings = append(res.Warnings, prefix+w)
	}
	return res, nil
}

// ParseList reads a var/lib/dpkg/info/*.list file and returns its absolute
// paths made root-relative ("/usr/bin/x" becomes "usr/bin/x"). Directories
// cannot be told from files in a .list, so they are returned too; the root
// itself ("/.") is dropped. Lines that are not absolute paths are skipped,
// and lines over MaxLineSize are skipped with a warning. On error (a read
// error, or more than MaxFileSize bytes) the paths read so far are returned
// with it.
func ParseList(r io.Reader) (owned, warnings []string, err error) {
	sc := lines.NewScanner(r, MaxFileSize, MaxLineSize)
	var w warn.List
	for sc.Scan() {
		if n, long := sc.TooLong(); long {
			w.Addf("line %d: %d bytes, longer than the %d byte limit; skipped", sc.Line(), n, MaxLineSize)
			continue
		}
		line := sc.Text()
		if !strings.HasPrefix(line, "/") {
			continue
		}
		p := strings.TrimPrefix(path.Clean(line), "/")
		if p == "" {
			continue
		}
		owned = append(owned, p)
	}
	if err := sc.Err(); err != nil {
		return owned, w.Strings(""), fmt.Errorf("parse list: line %d: %w", sc.Line()+1, err)
	}
	return owned, w.Strings(""), nil
}

// ParseStatus parses a dpkg status file (or one distroless status.d file) and
// returns the packages whose files are on disk, and a warning for every
// malformed line or record (see the package doc for what is dropped and
// what is kept). The error is for a read error, input over MaxFileSize, or
// a file that is wholly not a status file. Path, Cataloger, PURL and Layer
// are left empty.
func ParseStatus(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parseStatus(r)
	return pkgs, warns, err
}

// parseStatus is ParseStatus with the dependency graph: each package's
// Depends and Pre-Depends resolved among the file's packages (see
// resolveDepends).
func parseStatus(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	var (
		pkgs    []inventory.Package
		deps    []string // per package: its Depends and Pre-Depends, joined by ","
		provs   []string // per package: its Provides
		st      stanza
		w       warn.List
		records int // stanzas with a Package field
	)
	flush := func() {
		if st.empty() {
			return
		}
		if st.name != "" {
			records++
		}
		if p, ok := st.pkg(&w); ok {
			pkgs = append(pkgs, p)
			deps = append(deps, st.depends+","+st.preDepends)
			provs = append(provs, st.provides)
		}
		st = stanza{}
	}
	sc := lines.NewScanner(r, MaxFileSize, MaxLineSize)
	last := "" // the field continuation lines belong to
	for sc.Scan() {
		n, line := sc.Line(), sc.Text()
		if size, long := sc.TooLong(); long {
			// Skip the line but keep its place: a continuation stays one,
			// and a field line still ends the previous field.
			w.Addf("line %d: %d bytes, longer than the %d byte limit; skipped", n, size, MaxLineSize)
			if line != "" && line[0] != ' ' && line[0] != '\t' {
				last, _, _ = strings.Cut(line, ":")
			}
			continue
		}
		switch {
		case strings.TrimSpace(line) == "":
			flush()
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				w.Addf("line %d: continuation line outside a field; skipped", n)
			}
			// Continuation of a multiline field (Description, Conffiles...):
			// none of the fields kept here is multiline, so it is skipped.
		case line[0] == '#':
			// deb822 comment.
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				w.Addf("line %d: want \"Field: value\", got %q; skipped", n, truncate(line))
				last = ""
				continue
			}
			if st.empty() {
				st.line = n
			}
			st.set(&w, n, name, strings.TrimSpace(value))
			last = name
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("parse status: line %d: %w", sc.Line()+1, err)
	}
	flush()
	if records == 0 && w.Len() > 0 {
		return nil, nil, nil, fmt.Errorf("parse status: not a dpkg status file (no stanza has a Package field): %s", w.First())
	}
	return pkgs, resolveDepends(pkgs, deps, provs), w.Strings(""), nil
}

// resolveDepends turns Depends and Pre-Depends into edges between the
// packages of one file, as dpkg would satisfy them: a name (its ":any" or
// ":arch" qualifier and version constraint dropped) is the installed
// package of that name, else the first installed package that Provides it;
// of alternatives ("a | b") the first one installed is taken. A dependency
// nothing installed satisfies is no edge.
func resolveDepends(pkgs []inventory.Package, deps, provs []string) []inventory.Relationship {
	byName := map[string]inventory.PackageRef{}
	for _, p := range pkgs {
		if _, ok := byName[p.Name]; !ok {
			byName[p.Name] = inventory.RefOf(p)
		}
	}
	provided := map[string]inventory.PackageRef{}
	for i, p := range pkgs {
		for _, alt := range strings.Split(provs[i], ",") {
			if n := relName(alt); n != "" {
				if _, ok := provided[n]; !ok {
					provided[n] = inventory.RefOf(p)
				}
			}
		}
	}
	var e inventory.Edges
	for i, p := range pkgs {
		from := inventory.RefOf(p)
		for _, group := range strings.Split(deps[i], ",") {
			for _, alt := range strings.Split(group, "|") {
				n := relName(alt)
				if n == "" {
					continue
				}
				t, ok := byName[n]
				if !ok {
					t, ok = provided[n]
				}
				if ok {
					e.Add(from, t)
					break
				}
			}
		}
	}
	return e.List()
}

// relName is the package name of one relation "name[:arch] [(op version)]
// [<profile>]".
func relName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t(<["); i >= 0 {
		s = s[:i]
	}
	s, _, _ = strings.Cut(s, ":")
	return s
}

// stanza holds the fields of one deb822 paragraph that we keep.
type stanza struct {
	line                                         int
	fields                                       int
	name, version, arch, status, source, license string
	depends, preDepends, provides                string
	hasStatus, hasVersion                        bool
}

func (s *stanza) empty() bool { return s.fields == 0 }

func (s *stanza) set(w *warn.List, line int, name, value string) {
	s.fields++
	var dst *string
	switch strings.ToLower(name) {
	case "package":
		dst = &s.name
	case "version":
		dst, s.hasVersion = &s.version, true
	case "architecture":
		dst = &s.arch
	case "status":
		dst, s.hasStatus = &s.status, true
	case "source":
		dst = &s.source
	case "license":
		dst = &s.license
	case "depends":
		dst = &s.depends
	case "pre-depends":
		dst = &s.preDepends
	case "provides":
		dst = &s.provides
	default:
		return
	}
	if *dst != "" {
		w.Addf("line %d: repeated %s field %q; the first value %q is kept", line, name, truncate(value), truncate(*dst))
		return
	}
	*dst = value
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

// pkg turns the stanza into a package, adding a warning to w for each
// problem; ok is false for a package that is not on disk or has no name.
func (s *stanza) pkg(w *warn.List) (p inventory.Package, ok bool) {
	where := fmt.Sprintf("stanza at line %d", s.line)
	if s.name == "" {
		w.Addf("%s: no Package field; dropped", where)
		return p, false
	}
	where += fmt.Sprintf(" (package %q)", truncate(s.name))
	if s.hasStatus {
		words := strings.Fields(s.status)
		if len(words) != 3 {
			w.Addf("%s: Status %q does not have three words; counted as installed", where, truncate(s.status))
		} else if !onDisk[words[2]] {
			return p, false
		}
	}
	switch {
	case !s.hasVersion:
		w.Addf("%s: no Version field; kept with an empty version", where)
	case s.version == "":
		w.Addf("%s: empty Version field; kept with an empty version", where)
	}
	epoch, err := epochOf(s.version)
	if err != nil {
		w.Addf("%s: %v; kept with the version as written", where, err)
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
			switch {
			case v == "" || strings.ContainsAny(v, "()"):
				w.Addf("%s: want \"Source: name (version)\", got %q; the source version is the package version", where, truncate(s.source))
			case !ok || !ok2:
				w.Addf("%s: want \"Source: name (version)\", got %q; source version kept as written", where, truncate(s.source))
				p.SourceVersion = v
			default:
				p.SourceVersion = v
			}
		}
	}
	if s.license != "" {
		p.Licenses = []string{s.license}
	}
	return p, true
}

// epochOf returns the epoch of a dpkg version (0 when it has none or it is
// not a number, with an error for the latter).
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

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
