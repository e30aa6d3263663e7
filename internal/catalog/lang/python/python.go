// Package python catalogs Python packages: installed distributions
// (*.dist-info/METADATA, *.egg-info/PKG-INFO, a distutils *.egg-info file,
// *.egg/EGG-INFO/PKG-INFO) and the lock and requirement files
// requirements*.txt, poetry.lock and Pipfile.lock.
//
// Policy choices:
//
//   - Installed metadata: Name and Version come from the RFC 822 style header
//     block; only the header block is read (it ends at the first blank
//     line), so long descriptions cost nothing. Licenses come from
//     License-Expression, else a short single-line License other than
//     UNKNOWN.
//   - requirements*.txt: only exact pins ("name==1.2", "name===1.2", with or
//     without extras and environment markers) are packages, with the
//     version as written (even "2.10.0 beta", which is no PEP 440 version:
//     the matcher reports such packages as degraded). Ranges, unversioned
//     names, wildcard pins ("==1.*"), URLs, editable installs and pip
//     options (-r, -c, --hash, ...) are skipped silently: they do not say
//     which version is installed. A line that is not a requirement at all is
//     a warning. Line continuations ("\") are joined.
//   - poetry.lock: every [[package]] (main and dev groups alike).
//   - Pipfile.lock: "default" and "develop"; entries without a "version"
//     that are VCS, path or file installs are skipped.
//   - Names are kept as written; the PURL normalizes them (PEP 503).
//   - One malformed record costs that record, never the file, and a
//     package whose name is known is never dropped for its version: a
//     METADATA without Version, a poetry.lock package or Pipfile.lock entry
//     with a missing or malformed version, or an "==" with nothing after it,
//     is kept with the version as written (empty when missing) and a
//     warning; a record without a name is dropped with a warning. At most
//     warn.Max warnings are listed per file.
//   - A line over MaxLineSize (of METADATA or requirements*.txt) costs that
//     line, with a warning, not the file.
//   - A file that cannot be parsed at all is a warning naming it, never an
//     error.
package python

import (
	"context"
	"io"
	"io/fs"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Size limits.
const (
	// MaxMetadataSize bounds METADATA and PKG-INFO (only the headers are
	// parsed, but the file must still be sane).
	MaxMetadataSize = 16 << 20
	// MaxLockSize bounds requirements.txt, poetry.lock and Pipfile.lock.
	MaxLockSize = 32 << 20
	// MaxLineSize bounds one line of a text format.
	MaxLineSize = 1 << 20
)

// Cataloger is the Python cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the Python cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "python" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 3 }

type kind int

const (
	kindNone kind = iota
	kindMetadata
	kindRequirements
	kindPoetry
	kindPipfile
)

func classify(p string) kind {
	base := langutil.Base(p)
	dir := ""
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir = langutil.Base(p[:i])
	}
	switch {
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info"):
		return kindMetadata
	case base == "PKG-INFO" && (strings.HasSuffix(dir, ".egg-info") || dir == "EGG-INFO"):
		return kindMetadata
	case strings.HasSuffix(base, ".egg-info") && strings.Contains(p, "-packages/"):
		// distutils writes a single egg-info file into site-/dist-packages.
		return kindMetadata
	case base == "poetry.lock":
		return kindPoetry
	case base == "Pipfile.lock":
		return kindPipfile
	case strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"):
		return kindRequirements
	}
	return kindNone
}

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	return langutil.IsRegular(info) && classify(p) != kindNone
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Result{}, err
	}
	var (
		pkgs []inventory.Package
		rels []inventory.Relationship
		warn []string
		err  error
		r    io.Reader
	)
	k := classify(f.Path)
	max := int64(MaxLockSize)
	if k == kindMetadata {
		max = MaxMetadataSize
	}
	r, err = langutil.Open(f, max)
	if err == nil {
		switch k {
		case kindMetadata:
			var p inventory.Package
			p, warn, err = ParseMetadata(r)
			if err == nil {
				pkgs = []inventory.Package{p}
			}
		case kindRequirements:
			pkgs, warn, err = ParseRequirements(r)
		case kindPoetry:
			pkgs, rels, warn, err = parsePoetryLock(r)
		case kindPipfile:
			pkgs, warn, err = ParsePipfileLock(r)
		}
	}
	res, err := langutil.Finish(ctx, c.Name(), f, pkgs, langutil.Prefix(c.Name(), f.Path, warn), err)
	if err == nil {
		res.Relationships = rels
	}
	return res, err
}
