package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
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
// nested).
func (w *walker) archive(r io.ReaderAt, size int64, p string, depth int) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	if len(zr.File) > MaxEntries {
		return fmt.Errorf("%w: %d entries, the limit is %d", langutil.ErrTooLarge, len(zr.File), MaxEntries)
	}
	var (
		found    bool
		manifest *zip.File
		nested   []*zip.File
	)
	for _, f := range zr.File {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		switch {
		case f.FileInfo().IsDir():
		case pomProperties.MatchString(f.Name):
			b, err := readMeta(f)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			pkg, err := ParsePomProperties(bytes.NewReader(b))
			if err != nil {
				w.warn("%s: %s: %v", p, f.Name, err)
				continue
			}
			pkg.Path = p
			w.pkgs = append(w.pkgs, pkg)
			found = true
		case strings.EqualFold(f.Name, "META-INF/MANIFEST.MF"):
			manifest = f
		case isArchive(f.Name):
			nested = append(nested, f)
		}
	}
	if !found {
		var m Manifest
		if manifest != nil {
			b, err := readMeta(manifest)
			if err != nil {
				return fmt.Errorf("%s: %w", manifest.Name, err)
			}
			if m, err = ParseManifest(bytes.NewReader(b)); err != nil {
				w.warn("%s: %s: %v", p, manifest.Name, err)
			}
		}
		if pkg, ok := identify(m, lastPart(p)); ok {
			pkg.Path = p
			w.pkgs = append(w.pkgs, pkg)
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
			var re *langutil.ReadError
			if errors.As(err, &re) || w.ctx.Err() != nil {
				return err
			}
			w.warn("%s: %v", np, err)
		}
	}
	return nil
}

// nested catalogs one archive inside another.
func (w *walker) nested(parent io.ReaderAt, f *zip.File, p string, depth int) error {
	if f.UncompressedSize64 > uint64(w.budget) {
		return fmt.Errorf("skipped: %w: nested archives of this file pass %d bytes", langutil.ErrTooLarge, w.lim.totalNested)
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
	// The header's size may lie: cap what is really inflated.
	b, err := langutil.ReadAll(rc, min(w.lim.nested, w.budget))
	if err != nil {
		return fmt.Errorf("inflate: %w", err)
	}
	w.budget -= int64(len(b))
	return w.archive(bytes.NewReader(b), int64(len(b)), p, depth)
}

func (w *walker) warn(format string, a ...any) {
	w.warnings = append(w.warnings, fmt.Sprintf(format, a...))
}

// readMeta reads a small metadata entry, bounded by MaxMetaSize.
func readMeta(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", langutil.ErrTooLarge, f.UncompressedSize64, MaxMetaSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return langutil.ReadAll(rc, MaxMetaSize)
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
// "groupId:artifactId" at its version.
func ParsePomProperties(r io.Reader) (inventory.Package, error) {
	props, err := parseProperties(r)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("parse pom.properties: %w", err)
	}
	g, a, v := props["groupId"], props["artifactId"], props["version"]
	if g == "" || a == "" || v == "" {
		return inventory.Package{}, fmt.Errorf("parse pom.properties: want groupId, artifactId and version, got %q, %q, %q", trunc(g), trunc(a), trunc(v))
	}
	return inventory.Package{Name: g + ":" + a, Version: v, Type: inventory.TypeMaven}, nil
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
	version := firstOf(m["Implementation-Version"], m["Bundle-Version"], m["Specification-Version"], fversion)
	if version == "" || strings.ContainsAny(version, " \t") {
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
	return inventory.Package{Name: name, Version: version, Type: inventory.TypeMaven}, true
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
