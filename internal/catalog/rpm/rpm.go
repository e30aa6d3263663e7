// Package rpm catalogs packages from the rpm database of Red Hat, CentOS,
// Oracle Linux, Amazon Linux and other rpm distributions.
//
// It reads the three on-disk formats, under var/lib/rpm/ or
// usr/lib/sysimage/rpm/: Berkeley DB "Packages" (rpm ≤ 4.15), NDB
// "Packages.db" (SUSE) and SQLite "rpmdb.sqlite" (rpm ≥ 4.16). The format is
// told from the file's magic bytes, not its name.
//
// # How the database is read
//
// Package headers are decoded by github.com/knqyf263/go-rpmdb, but its
// database readers are not used on untrusted input: they run in a goroutine
// of their own, so a panic on a corrupt page (there are several, such as a
// hash page whose entry count runs past the page) kills the whole process
// where no recover() can reach it; an overflow chain that meets a page of
// another type makes them spin forever; and they leak that goroutine
// whenever a header fails to parse. So this package walks the containers
// itself, with every offset, length and chain checked:
//
//   - Berkeley DB and NDB are read in place through an io.ReaderAt, with no
//     copy.
//   - SQLite needs a file: the database is copied, at most MaxDBSize bytes,
//     into a private temporary directory, opened read-only and immutable, and
//     the directory is always removed. This (and the header file below) is
//     the one documented exception to "catalogers write no temp files".
//
// Each header blob is then checked (index and data lengths within the blob,
// at most MaxHeaderSize) and handed to go-rpmdb alone, as a one-package NDB
// file in the same private directory, so its header parser runs on our
// goroutine under recover() and its reader goroutine always finishes.
//
// # Policy choices
//
//   - Version is "[epoch:]version-release", with the epoch only when it is
//     set and not zero: rpm compares a missing epoch as 0, so "0:1.2-3" and
//     "1.2-3" are the same version, and the shorter form is what rpm -q,
//     feeds and peers print. Epoch and Release are also given on their own.
//   - SourceName and SourceVersion come from the SOURCERPM file name
//     ("openssl-1.0.2k-12.el7.src.rpm" gives "openssl" and
//     "1.0.2k-12.el7"). The file name carries no epoch, but a source package
//     and the binaries built from it share their spec's epoch, so the
//     binary epoch is prefixed to SourceVersion as to Version ("1:1.0.2k-
//     12.el7"); matching a source-keyed advisory without it would compare
//     epoch 0 against the fix's epoch and report every such package
//     vulnerable. A package without a usable SOURCERPM is its own source.
//   - gpg-pubkey pseudo-packages (imported signing keys) are skipped.
//   - Module is the MODULARITYLABEL; Licenses holds the License tag whole.
//   - Requires become dependency relationships to the packages of the
//     same database that satisfy them (see depGraph).
//   - Owned lists the files of every package, root-relative; directories
//     are left out when the header records file modes.
//   - Damage degrades one record, never the database, as rpm -qa does: a
//     header that fails to decode, a header without a name, a damaged hash
//     page, overflow chain, NDB slot or SQLite row is skipped with a
//     warning naming the database and the record; a header without a
//     version or with a negative epoch is kept with the version as written
//     (the matcher reports it as degraded), and one whose file list is
//     inconsistent is kept without owned files. A truncated file is read as
//     far as it goes. Only a file of none of the three formats, one whose
//     container header is unreadable, or one of which no record could be
//     read is an error. At most warn.Max warnings are listed per file.
//   - Cost is linear in the file: every BDB page belongs to at most one
//     overflow chain and NDB blobs add up to at most the file size, so
//     values sharing pages cannot multiply the work.
package rpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/rpm/internal/container"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

const (
	// MaxDBSize bounds the database file.
	MaxDBSize = 1 << 30
	// MaxHeaderSize bounds one package header. rpm's own limit is 256 MiB;
	// real headers are at most a few MiB.
	MaxHeaderSize = container.MaxHeaderSize
)

// dbNames are the database file names, each under var/lib/rpm/ and
// usr/lib/sysimage/rpm/.
var dbNames = []string{"Packages", "Packages.db", "rpmdb.sqlite"}

// Cataloger is the rpm cataloger.
type Cataloger struct {
	// tempDir is where the private scratch directory is made ("" for
	// os.TempDir()).
	tempDir string
}

var _ catalog.FileCataloger = Cataloger{}

// New returns the rpm cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "rpm" }

// Version implements catalog.Cataloger. Bump it whenever the output for the
// same input changes.
func (Cataloger) Version() int { return 3 }

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	dir, name := path.Split(p)
	if dir != "var/lib/rpm/" && dir != "usr/lib/sysimage/rpm/" {
		return false
	}
	for _, n := range dbNames {
		if name == n {
			return true
		}
	}
	return false
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	res, err := parse(ctx, f.R, f.Size, c.tempDir)
	if err != nil {
		return catalog.Result{}, fmt.Errorf("rpm: %s: %w", f.Path, err)
	}
	for i := range res.Packages {
		res.Packages[i].Path = f.Path
		res.Packages[i].Cataloger = c.Name()
	}
	for i, w := range res.Warnings {
		res.Warnings[i] = fmt.Sprintf("rpm: %s: %s", f.Path, w)
	}
	return res, nil
}

// Parse reads an rpm database of any of the three formats (size bytes of r)
// and returns its packages, the files they own and warnings about headers
// that could not be decoded. Path, Cataloger, PURL and Layer are left empty.
// It needs a temporary directory (see the package doc).
func Parse(ctx context.Context, r io.ReaderAt, size int64) (catalog.Result, error) {
	return parse(ctx, r, size, "")
}

// Format names the rpm database formats.
type Format string

// The rpm database formats.
const (
	FormatBDB    Format = "bdb"
	FormatNDB    Format = "ndb"
	FormatSQLite Format = "sqlite"
)

// errUnknownFormat is returned for a file that is none of the formats.
var errUnknownFormat = errors.New("not an rpm database: no Berkeley DB hash, NDB or SQLite magic")

// DetectFormat tells the database format from the first bytes of the file.
func DetectFormat(r io.ReaderAt, size int64) (Format, error) {
	head := make([]byte, 16)
	if size < int64(len(head)) {
		return "", fmt.Errorf("%w (only %d bytes)", errUnknownFormat, size)
	}
	if _, err := r.ReadAt(head, 0); err != nil {
		return "", fmt.Errorf("read magic: %w", err)
	}
	switch {
	case string(head) == "SQLite format 3\x00":
		return FormatSQLite, nil
	case string(head[:4]) == "RpmP":
		return FormatNDB, nil
	case container.IsBDBHash(head):
		return FormatBDB, nil
	}
	return "", errUnknownFormat
}

func parse(ctx context.Context, r io.ReaderAt, size int64, tempDir string) (catalog.Result, error) {
	if size > MaxDBSize {
		return catalog.Result{}, fmt.Errorf("database is %d bytes, more than the %d byte limit", size, int64(MaxDBSize))
	}
	format, err := DetectFormat(r, size)
	if err != nil {
		return catalog.Result{}, err
	}
	scratch, err := os.MkdirTemp(tempDir, "stowaway-rpm-")
	if err != nil {
		return catalog.Result{}, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	hp, err := newHeaderParser(scratch)
	if err != nil {
		return catalog.Result{}, err
	}
	defer hp.close()

	var (
		res     catalog.Result
		w       warn.List
		records int
		failed  int
		graph   depGraph
	)
	each := func(blob []byte) error {
		records++
		if records%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pi, err := hp.parse(blob)
		if err != nil {
			failed++
			w.Addf("record %d: %v; package skipped", records, err)
			return nil
		}
		p, owned, skip := toPackage(pi, records, &w)
		if skip {
			return nil
		}
		res.Packages = append(res.Packages, p)
		res.Owned = append(res.Owned, owned...)
		graph.add(inventory.RefOf(p), pi.Provides, pi.Requires, owned)
		return nil
	}
	switch format {
	case FormatBDB:
		err = container.WalkBDB(ctx, r, size, &w, each)
	case FormatNDB:
		err = container.WalkNDB(ctx, r, size, &w, each)
	case FormatSQLite:
		err = walkSQLite(ctx, r, size, scratch, &w, each)
	}
	if err != nil {
		if ctx.Err() != nil || records == 0 {
			return catalog.Result{}, fmt.Errorf("read %s database: %w", format, err)
		}
		// Keep what was read before the container broke off.
		w.Addf("read %s database: %v; the records after record %d could not be read", format, err, records)
	}
	switch {
	case records == 0 && w.Len() > 0:
		return catalog.Result{}, fmt.Errorf("read %s database: no record could be read: %s", format, w.First())
	case failed > 0 && failed == records:
		return catalog.Result{}, fmt.Errorf("read %s database: none of its %d headers could be decoded; first: %s", format, records, w.First())
	}
	res.Relationships = graph.resolve()
	res.Warnings = w.Strings("")
	return res, nil
}

// depGraph resolves Requires within one database, as rpm would satisfy
// them: a capability is the installed package of that name, else the first
// package that Provides it (sonames such as "libc.so.6()(64bit)" included),
// and a file path ("/bin/sh") the package that installs the file (usr-merge
// aliases allowed). rpmlib() features and anything nothing installed
// satisfies make no edge.
type depGraph struct {
	byName, provided, files map[string]inventory.PackageRef
	refs                    []inventory.PackageRef
	requires                [][]string
}

func (g *depGraph) add(ref inventory.PackageRef, provides, requires, owned []string) {
	if g.byName == nil {
		g.byName, g.provided, g.files = map[string]inventory.PackageRef{}, map[string]inventory.PackageRef{}, map[string]inventory.PackageRef{}
	}
	first := func(m map[string]inventory.PackageRef, k string) {
		if _, ok := m[k]; !ok {
			m[k] = ref
		}
	}
	first(g.byName, ref.Name)
	for _, p := range provides {
		first(g.provided, p)
	}
	for _, f := range owned {
		first(g.files, f)
	}
	g.refs = append(g.refs, ref)
	g.requires = append(g.requires, requires)
}

func (g *depGraph) resolve() []inventory.Relationship {
	var e inventory.Edges
	for i, from := range g.refs {
		for _, req := range g.requires[i] {
			if strings.HasPrefix(req, "rpmlib(") {
				continue
			}
			var (
				t  inventory.PackageRef
				ok bool
			)
			if f, isFile := strings.CutPrefix(req, "/"); isFile {
				f = path.Clean("/" + f)[1:]
				if t, ok = g.files[f]; !ok {
					if u, merged := strings.CutPrefix(f, "usr/"); merged {
						t, ok = g.files[u]
					} else {
						t, ok = g.files["usr/"+f]
					}
				}
			} else if t, ok = g.byName[req]; !ok {
				t, ok = g.provided[req]
			}
			if ok {
				e.Add(from, t)
			}
		}
	}
	return e.List()
}

// toPackage converts a decoded header, the record-th of its database,
// adding a warning to w for each problem; skip is true for gpg-pubkey and
// for a header without a name. A package without a version, or with a
// negative epoch, is kept with the version as written; one whose file list
// is inconsistent is kept without owned files.
func toPackage(pi *rpmdb.PackageInfo, record int, w *warn.List) (p inventory.Package, owned []string, skip bool) {
	if pi.Name == "gpg-pubkey" {
		return p, nil, true
	}
	if pi.Name == "" {
		w.Addf("record %d: header has no name (version %q); package skipped", record, pi.Version)
		return p, nil, true
	}
	if pi.Version == "" {
		w.Addf("record %d: package %q: header has no version; kept with an empty version", record, pi.Name)
	}
	epoch := pi.EpochNum()
	prefix := "" // the epoch as it is written in Version
	switch {
	case epoch < 0:
		w.Addf("record %d: package %q: negative epoch %d; kept with the version as written", record, pi.Name, epoch)
		prefix, epoch = strconv.Itoa(epoch)+":", 0
	case epoch > 0:
		prefix = strconv.Itoa(epoch) + ":"
	}
	p = inventory.Package{
		Name:       pi.Name,
		Version:    prefix + evr(pi.Version, pi.Release),
		Type:       inventory.TypeRPM,
		Epoch:      epoch,
		Release:    pi.Release,
		Arch:       pi.Arch,
		SourceName: pi.Name,
		Module:     pi.Modularitylabel,
	}
	p.SourceVersion = p.Version
	if name, ver, rel, ok := SplitSourceRPM(pi.SourceRpm); ok {
		p.SourceName, p.SourceVersion = name, prefix+evr(ver, rel)
	}
	if pi.License != "" {
		p.Licenses = []string{pi.License}
	}
	owned, err := files(pi)
	if err != nil {
		w.Addf("record %d: package %q: %v; its files are not listed as owned", record, pi.Name, err)
	}
	return p, owned, false
}

// evr formats "version[-release]"; the caller adds the epoch. A missing
// version gives "" (a release alone is no version).
func evr(version, release string) string {
	if version != "" && release != "" {
		return version + "-" + release
	}
	return version
}

// SplitSourceRPM splits a SOURCERPM file name such as
// "openssl-1.1.1k-5.el8_5.src.rpm" into name "openssl", version "1.1.1k"
// and release "5.el8_5". ok is false when the name does not have that shape.
func SplitSourceRPM(s string) (name, version, release string, ok bool) {
	base, found := strings.CutSuffix(s, ".src.rpm")
	if !found {
		if base, found = strings.CutSuffix(s, ".nosrc.rpm"); !found {
			return "", "", "", false
		}
	}
	i := strings.LastIndexByte(base, '-')
	if i <= 0 {
		return "", "", "", false
	}
	release = base[i+1:]
	j := strings.LastIndexByte(base[:i], '-')
	if j <= 0 {
		return "", "", "", false
	}
	name, version = base[:j], base[j+1:i]
	if version == "" || release == "" {
		return "", "", "", false
	}
	return name, version, release, true
}

// files lists the root-relative paths of the package's files, leaving out
// directories when the header has file modes.
func files(pi *rpmdb.PackageInfo) ([]string, error) {
	if len(pi.BaseNames) == 0 {
		return nil, nil
	}
	if len(pi.DirIndexes) != len(pi.BaseNames) {
		return nil, fmt.Errorf("%d base names but %d directory indexes", len(pi.BaseNames), len(pi.DirIndexes))
	}
	modes := pi.FileModes
	if len(modes) != len(pi.BaseNames) {
		modes = nil
	}
	out := make([]string, 0, len(pi.BaseNames))
	for i, base := range pi.BaseNames {
		if modes != nil && modes[i]&0o170000 == 0o040000 {
			continue
		}
		d := pi.DirIndexes[i]
		if d < 0 || int(d) >= len(pi.DirNames) {
			return nil, fmt.Errorf("file %q: directory index %d out of range (%d directories)", base, d, len(pi.DirNames))
		}
		p := strings.TrimPrefix(path.Clean("/"+pi.DirNames[d]+"/"+base), "/")
		if p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}
