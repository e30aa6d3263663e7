package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParseArchive catalogs the Java archive r of the given size; name is its
// path, used for the file-name rule and for package paths. Problems with
// nested archives are returned as warnings; an error means the archive
// itself could not be read.
func ParseArchive(ctx context.Context, r io.ReaderAt, size int64, name string) ([]inventory.Package, []string, error) {
	return parseArchive(ctx, r, size, name, defaultLimits)
}

func parseArchive(ctx context.Context, r io.ReaderAt, size int64, name string, lim limits) ([]inventory.Package, []string, error) {
	w := walker{ctx: ctx, lim: lim, budget: lim.totalNested}
	err := w.archive(r, size, name, 0)
	return w.pkgs, w.warnings, err
}

// limits are the package limits; tests shrink them.
type limits struct {
	nested, totalNested int64
	depth               int
}

var defaultLimits = limits{nested: MaxNestedSize, totalNested: MaxTotalNested, depth: MaxDepth}

type walker struct {
	ctx      context.Context
	lim      limits
	budget   int64 // nested archive bytes still allowed
	pkgs     []inventory.Package
	warnings []string
}

// pomProperties matches META-INF/maven/<group>/<artifact>/pom.properties.
var pomProperties = regexp.MustCompile(`^META-INF/maven/[^/]+/[^/]+/pom\.properties$`)

// archive catalogs one archive at path p (an "outer!inner" path when
// nested). An error means the archive itself was refused; problems with
// one entry are warnings and the other entries are still read.
func (w *walker) archive(r io.ReaderAt, size int64, p string, depth int) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	if len(zr.File) > MaxEntries {
		return fmt.Errorf("%w: %d entries, the limit is %d", langutil.ErrTooLarge, len(zr.File), MaxEntries)
	}
	if err := checkOverlap(w.ctx, zr.File, size); err != nil {
		return err
	}
	var (
		found         bool
		manifest      *zip.File
		nested        []*zip.File
		unversioned   []int    // packages of w.pkgs from a pom.properties without a version
		unversionedAt []string // and their entries
	)
	for _, f := range zr.File {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		switch {
		case f.FileInfo().IsDir():
		case pomProperties.MatchString(f.Name):
			b, err := w.readMeta(f)
			if err != nil {
				if w.fatal(err) {
					return err
				}
				w.warn("%s: %s: %v; skipped", p, f.Name, err)
				continue
			}
			pkg, warns, err := ParsePomProperties(bytes.NewReader(b))
			if err != nil {
				w.warn("%s: %s: %v", p, f.Name, err)
				continue
			}
			pkg.Path = p
			if pkg.Version == "" {
				// Decided below: the manifest or file name may say.
				unversioned = append(unversioned, len(w.pkgs))
				unversionedAt = append(unversionedAt, f.Name)
			} else {
				for _, m := range warns {
					w.warn("%s: %s: %s", p, f.Name, m)
				}
			}
			w.pkgs = append(w.pkgs, pkg)
			found = true
		case strings.EqualFold(f.Name, "META-INF/MANIFEST.MF"):
			manifest = f
		case isArchive(f.Name):
			nested = append(nested, f)
		}
	}
	if !found || len(unversioned) > 0 {
		var m Manifest
		if manifest != nil {
			b, err := w.readMeta(manifest)
			if err != nil {
				if w.fatal(err) {
					return err
				}
				w.warn("%s: %s: %v; skipped", p, manifest.Name, err)
			} else if m, err = ParseManifest(bytes.NewReader(b)); err != nil {
				w.warn("%s: %s: %v", p, manifest.Name, err)
			}
		}
		pkg, ok := identify(m, lastPart(p))
		if !found && ok {
			pkg.Path = p
			w.pkgs = append(w.pkgs, pkg)
		}
		for i, at := range unversioned {
			name := w.pkgs[at].Name
			if ok {
				w.pkgs[at].Version = pkg.Version
				w.warn("%s: %s: %s has no version; the manifest or file name gives %s", p, unversionedAt[i], trunc(name), trunc(pkg.Version))
			} else {
				w.warn("%s: %s: %s has no version; kept with an empty version", p, unversionedAt[i], trunc(name))
			}
		}
	}
	for _, f := range nested {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		np := p + "!" + f.Name
		if depth+1 > w.lim.depth {
			w.warn("%s: skipped: archives nested more than %d deep", np, w.lim.depth)
			continue
		}
		if err := w.nested(r, f, np, depth+1); err != nil {
			if w.fatal(err) {
				return err
			}
			w.warn("%s: %v", np, err)
		}
	}
	return nil
}

// fatal reports whether err ends the whole file: a read error of the layer
// or a canceled context, rather than a problem with one entry.
func (w *walker) fatal(err error) bool {
	var re *langutil.ReadError
	return errors.As(err, &re) || w.ctx.Err() != nil
}

// ErrOverlap is wrapped by the error for an archive whose entries share
// compressed bytes.
var ErrOverlap = errors.New("entries share compressed bytes")

// checkOverlap refuses an archive in which two entries' compressed data
// overlap, or one entry's data runs past the archive. No zip writer makes
// such archives; overlapping entries are the "better zip bomb" technique,
// in which thousands of central-directory entries all inflate one small
// stream, multiplying the cost of reading the archive by the entry count.
// It costs one local-header read per entry and a sort.
func checkOverlap(ctx context.Context, files []*zip.File, size int64) error {
	type extent struct {
		start, end int64
		name       string
	}
	exts := make([]extent, 0, len(files))
	for i, f := range files {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.CompressedSize64 == 0 {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			var re *langutil.ReadError
			if errors.As(err, &re) {
				return err
			}
			continue // reading this entry fails on its own, with a warning
		}
		if f.CompressedSize64 > uint64(size) || off+int64(f.CompressedSize64) > size {
			return fmt.Errorf("refused: entry %q claims %d compressed bytes at offset %d, past the end of the %d byte archive", trunc(f.Name), f.CompressedSize64, off, size)
		}
		exts = append(exts, extent{off, off + int64(f.CompressedSize64), f.Name})
	}
	slices.SortFunc(exts, func(a, b extent) int { return cmp.Compare(a.start, b.start) })
	shared := 0
	var first [2]string
	for i, end, owner := 1, int64(-1), ""; i <= len(exts); i++ {
		prev := exts[i-1]
		if prev.end > end {
			end, owner = prev.end, prev.name
		}
		if i < len(exts) && exts[i].start < end {
			if shared == 0 {
				first = [2]string{owner, exts[i].name}
			}
			shared++
		}
	}
	if shared > 0 {
		return fmt.Errorf("refused: %w: %d entries overlap others (first %q and %q), the overlapping-entry zip bomb shape", ErrOverlap, shared, trunc(first[0]), trunc(first[1]))
	}
	return nil
}

// nested catalogs one archive inside another.
func (w *walker) nested(parent io.ReaderAt, f *zip.File, p string, depth int) error {
	if f.UncompressedSize64 > uint64(w.budget) {
		return fmt.Errorf("skipped: %w: entries read from this file pass %d bytes", langutil.ErrTooLarge, w.lim.totalNested)
	}
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
		off, err := f.DataOffset()
		if err != nil {
			return fmt.Errorf("locate: %w", err)
		}
		w.budget -= int64(f.UncompressedSize64)
		return w.archive(io.NewSectionReader(parent, off, int64(f.UncompressedSize64)), int64(f.UncompressedSize64), p, depth)
	}
	if f.UncompressedSize64 > uint64(w.lim.nested) {
		return fmt.Errorf("skipped: %w: %d bytes uncompressed, the limit is %d", langutil.ErrTooLarge, f.UncompressedSize64, w.lim.nested)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	// The header's size may lie: cap what is really inflated (by the
	// limits and by MaxNestedRatio times the compressed size), and size
	// the buffer from the header only as far as the cap allows.
	ratioCap := max(1<<20, int64(min(f.CompressedSize64, 1<<40))*MaxNestedRatio)
	limit := min(w.lim.nested, w.budget, ratioCap)
	buf := bytes.NewBuffer(make([]byte, 0, min(int64(f.UncompressedSize64), limit)+bytes.MinRead))
	_, err = io.Copy(buf, langutil.LimitReader(rc, limit))
	w.budget -= int64(buf.Len())
	if err != nil {
		if limit == ratioCap && errors.Is(err, langutil.ErrTooLarge) {
			return fmt.Errorf("skipped: %w: inflates to more than %d times its %d compressed bytes (a zip bomb?)", langutil.ErrTooLarge, MaxNestedRatio, f.CompressedSize64)
		}
		return fmt.Errorf("inflate: %w", err)
	}
	b := buf.Bytes()
	return w.archive(bytes.NewReader(b), int64(len(b)), p, depth)
}

func (w *walker) warn(format string, a ...any) {
	w.warnings = append(w.warnings, fmt.Sprintf(format, a...))
}

// readMeta reads a small metadata entry, bounded by MaxMetaSize and by what
// is left of the file's budget.
func (w *walker) readMeta(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", langutil.ErrTooLarge, f.UncompressedSize64, MaxMetaSize)
	}
	if w.budget <= 0 {
		return nil, fmt.Errorf("skipped: %w: entries read from this file pass %d bytes", langutil.ErrTooLarge, w.lim.totalNested)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := langutil.ReadAll(rc, min(MaxMetaSize, w.budget))
	w.budget -= int64(len(b))
	return b, err
}

// lastPart returns the file name of the innermost archive of an
// "outer!inner" path.
func lastPart(p string) string {
	if i := strings.LastIndexByte(p, '!'); i >= 0 {
		p = p[i+1:]
	}
	return path.Base(p)
}

// ParsePomProperties parses a Maven pom.properties and returns the package
// "groupId:artifactId" at its version. Without a version the package is
// returned with an empty version and a warning (the matcher reports it as
// degraded); without a groupId or artifactId it is an error.
func ParsePomProperties(r io.Reader) (inventory.Package, []string, error) {
	props, err := parseProperties(r)
	if err != nil {
		return inventory.Package{}, nil, fmt.Errorf("parse pom.properties: %w", err)
	}
	g, a, v := props["groupId"], props["artifactId"], props["version"]
	if g == "" || a == "" {
		return inventory.Package{}, nil, fmt.Errorf("parse pom.properties: want groupId, artifactId and version, got %q, %q, %q", trunc(g), trunc(a), trunc(v))
	}
	var warns []string
	if v == "" {
		warns = append(warns, fmt.Sprintf("%s:%s has no version; kept with an empty version", trunc(g), trunc(a)))
	}
	return inventory.Package{Name: g + ":" + a, Version: v, Type: maven.Type}, warns, nil
}

// parseProperties reads Java properties: "key=value", "key: value" or
// "key value", '#' and '!' comments, '\' line continuations. Unicode
// escapes are not decoded (Maven writes none in these files).
func parseProperties(r io.Reader) (map[string]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxMetaSize)
	props := map[string]string{}
	var pending string
	for sc.Scan() {
		line := strings.TrimLeft(strings.TrimRight(sc.Text(), "\r"), " \t\f")
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		line, pending = pending+line, ""
		i := strings.IndexAny(line, "=: \t")
		if i < 0 {
			props[line] = ""
			continue
		}
		k := line[:i]
		v := strings.TrimLeft(line[i:], " \t")
		if v != "" && (v[0] == '=' || v[0] == ':') {
			v = v[1:]
		}
		props[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return props, nil
}

// Manifest is the main section of a MANIFEST.MF.
type Manifest map[string]string

// ParseManifest parses the main section of a JAR manifest: "Name: value"
// lines, continuation lines starting with one space, ended by a blank line.
func ParseManifest(r io.Reader) (Manifest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxMetaSize)
	m := Manifest{}
	var last string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			if len(m) > 0 {
				break // end of the main section
			}
			continue
		}
		if line[0] == ' ' {
			if last == "" {
				return m, fmt.Errorf("parse manifest: line %d: continuation line with nothing to continue", n)
			}
			m[last] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return m, fmt.Errorf("parse manifest: line %d: want \"Name: value\", got %q", n, trunc(line))
		}
		last = strings.TrimSpace(k)
		m[last] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("parse manifest: %w", err)
	}
	return m, nil
}

// identify applies the manifest and file-name rules.
func identify(m Manifest, fileName string) (inventory.Package, bool) {
	fname, fversion := SplitFileName(fileName)
	version := strings.TrimSpace(firstOf(m["Implementation-Version"], m["Bundle-Version"], m["Specification-Version"], fversion))
	if version == "" {
		return inventory.Package{}, false
	}
	group := m["Implementation-Vendor-Id"]
	bsn, _, _ := strings.Cut(m["Bundle-SymbolicName"], ";")
	bsn = strings.TrimSpace(bsn)
	artifact := fname
	if group != "" && strings.HasPrefix(bsn, group+".") && len(bsn) > len(group)+1 {
		artifact = bsn[len(group)+1:]
	}
	if artifact == "" {
		return inventory.Package{}, false
	}
	name := artifact
	if group != "" && !strings.ContainsAny(group, " :") {
		name = group + ":" + artifact
	}
	return inventory.Package{Name: name, Version: version, Type: maven.Type}, true
}

// SplitFileName splits "artifact-1.2.3.jar" (or "artifact_1.2.3.jar")
// into artifact and version at the last '-' or '_' followed by a digit. A
// name without one is all artifact.
func SplitFileName(fileName string) (artifact, version string) {
	base := fileName
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	for i := len(base) - 2; i > 0; i-- {
		if (base[i] == '-' || base[i] == '_') && base[i+1] >= '0' && base[i+1] <= '9' {
			return base[:i], base[i+1:]
		}
	}
	return base, ""
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
