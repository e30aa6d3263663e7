// Package golang catalogs Go modules from the build information that the Go
// linker embeds in every module-mode binary (read with debug/buildinfo, so
// stripped "-s -w" and -trimpath binaries work) and from go.mod files.
//
// Policy choices:
//
//   - Binaries: every regular file with an exec bit is a candidate; its
//     first four bytes are checked for the ELF magic before anything else is
//     read. An ELF file that is not a Go binary yields nothing, silently.
//   - The main module is reported by path; a "(devel)" version (a local
//     build without VCS stamping) is reported as an empty version.
//   - Dependencies honour replace directives: a module replaced by another
//     module version is reported as the replacement's path and version. A
//     module replaced by a local directory (no version) is dropped: the code
//     built is not any published version of either module.
//   - The Go standard library is the package "stdlib" at the toolchain
//     version, as buildinfo's GoVersion gives it ("go1.26.8"), with anything
//     after the version dropped: GOEXPERIMENT suffixes (" X:boringcrypto")
//     and "+" build suffixes ("go1.22.0+auto"). A "devel" toolchain gives no
//     stdlib package (there is no release to match).
//   - go.mod: every require line, indirect ones included (the build list
//     records them because they are built in), with replace directives
//     applied as for binaries. go.mod files inside a module cache
//     (".../pkg/mod/...") are dependencies' sources, not the image's
//     modules, and are not read; nor are the go.mod's own module and go
//     version (no toolchain is known from it).
//   - Versions are kept as written: a go.mod require of a version that is
//     no module version ("latest", "v1.2 beta"), and a build-info
//     dependency without a version, are packages (the matcher reports them
//     as degraded). A go.mod line the parser rejects is dropped with a
//     warning and the rest of the file read (a rejected require line that
//     names a module is kept with its version as written).
//   - A go.mod that cannot be parsed even so, or a Go binary whose build
//     info cannot be read, is a warning naming the file, never an error.
//   - Each Go binary's function symbols, with the functions inlined into
//     them, are read from its pclntab (ReadSymbols) into
//     catalog.Result.SymbolTable, for symbol presence; a binary whose symbols
//     cannot be read has a SymbolTable with a Problem (its findings' presence
//     is UNKNOWN), never a warning or an error.
package golang

import (
	"context"
	"io/fs"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Limits.
const (
	// MaxBinarySize bounds an executable; it is read in place, only the
	// parts buildinfo needs.
	MaxBinarySize = 4 << 30
	// MaxGoModSize bounds a go.mod.
	MaxGoModSize = 8 << 20
)

// Cataloger is the Go module cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the Go module cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "golang" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 4 }

func isGoMod(p string) bool {
	return langutil.Base(p) == "go.mod" && !strings.HasPrefix(p, "pkg/mod/") && !strings.Contains(p, "/pkg/mod/")
}

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	if isGoMod(p) {
		return langutil.IsRegular(info)
	}
	return langutil.IsExecutable(info)
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
		gb   *inventory.SymbolTable
	)
	if isGoMod(f.Path) {
		r, oerr := langutil.Open(f, MaxGoModSize)
		if err = oerr; err == nil {
			pkgs, rels, warn, err = parseGoMod(r)
			warn = langutil.Prefix(c.Name(), f.Path, warn)
		}
	} else if f.Size > MaxBinarySize {
		err = langutil.TooLarge(f.Size, MaxBinarySize)
	} else {
		pkgs, gb, err = ParseBinaryWithSymbols(langutil.ReaderAt(f.R), f.Size)
	}
	res, err := langutil.Finish(ctx, c.Name(), f, pkgs, warn, err)
	if err == nil {
		res.Relationships = rels
	}
	if err == nil && gb != nil && len(res.Packages) > 0 {
		gb.Path = f.Path
		res.SymbolTable = gb
	}
	return res, err
}
