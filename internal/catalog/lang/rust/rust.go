// Package rust catalogs crates from Cargo.lock files and from binaries built
// with cargo-auditable, which embeds the dependency tree as zlib-compressed
// JSON in the ELF section ".dep-v0".
//
// Policy choices:
//
//   - Cargo.lock: every [[package]] with a source (crates.io, another
//     registry or git). Packages without a source are the workspace's own
//     crates or path dependencies, not published releases, and are skipped;
//     their dependencies are the project's (the root of the dependency
//     graph, which each package's dependencies list spells out).
//   - cargo-auditable: packages with source "local" (the workspace's own
//     crates) and build-time dependencies (kind "build": build scripts and
//     proc-macros that run at build time and are not in the binary) are
//     skipped; runtime ones are kept.
//   - Binaries: every regular file with an exec bit is a candidate; the ELF
//     magic is checked first, and an ELF file without ".dep-v0" (or one
//     debug/elf cannot parse) yields nothing, silently. The section is capped
//     at MaxSectionSize compressed and MaxJSONSize inflated.
//   - One malformed package costs that package, never the file: one of the
//     wrong shape or without a name is dropped with a warning, one without
//     a version is kept with an empty version and a warning. At most
//     warn.Max warnings are listed per file.
//   - A Cargo.lock or .dep-v0 that cannot be parsed at all is a warning
//     naming the file.
package rust

import (
	"context"
	"io/fs"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Limits.
const (
	// MaxLockSize bounds a Cargo.lock.
	MaxLockSize = 32 << 20
	// MaxBinarySize bounds an executable (read in place).
	MaxBinarySize = 4 << 30
	// MaxSectionSize bounds the compressed .dep-v0 section.
	MaxSectionSize = 8 << 20
	// MaxJSONSize bounds the inflated .dep-v0 JSON.
	MaxJSONSize = 64 << 20
)

// Cataloger is the Rust cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the Rust cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "rust" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 3 }

func isLock(p string) bool { return langutil.Base(p) == "Cargo.lock" }

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	if isLock(p) {
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
		pkgs  []inventory.Package
		rels  []inventory.Relationship
		warns []string
		err   error
	)
	switch {
	case isLock(f.Path):
		r, oerr := langutil.Open(f, MaxLockSize)
		if err = oerr; err == nil {
			pkgs, rels, warns, err = parseCargoLock(r)
		}
	case f.Size > MaxBinarySize:
		err = langutil.TooLarge(f.Size, MaxBinarySize)
	default:
		pkgs, warns, err = ParseBinary(langutil.ReaderAt(f.R))
	}
	res, err := langutil.Finish(ctx, c.Name(), f, pkgs, langutil.Prefix(c.Name(), f.Path, warns), err)
	if err == nil {
		res.Relationships = rels
	}
	return res, err
}
