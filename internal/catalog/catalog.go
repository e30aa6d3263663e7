// Package catalog defines the cataloger plugin interfaces and runs the
// registered catalogers over a squashed image.
//
// A cataloger first says which files it wants (Required, a cheap prefilter on
// the path and file info). Only those files are read from the layers, and a
// FileCataloger handles them one at a time, as the squasher streams them:
// memory is bounded by the largest single file. Each file is one package DB,
// manifest, lockfile, archive or binary.
//
// Every cataloger degrades one record, never the file: a malformed record
// (a stanza, a lockfile entry, a header, an archive entry) is dropped when
// it names no package, and otherwise kept with its version as written
// (trimmed; empty when missing), each with a warning naming the file and
// the line or record. Versions are never validated here: the matcher
// reports the ones their scheme cannot compare as degraded, so dropping
// them would let an image author hide a package. An error is returned only
// for a read error of the layer, a canceled context, a file over the
// cataloger's size limit, or a file that is wholly not what the cataloger
// reads (problems, and not one record of it); the scan treats an OS
// cataloger's error as fatal. Warnings are capped per file (see
// internal/catalog/internal/warn), and every cataloger whose output
// changes bumps its Version (all/version_test.go checks the golden files).
package catalog

import (
	"context"
	"io"
	"io/fs"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Cataloger is what every plugin has. Name and Version go into cache keys.
type Cataloger interface {
	Name() string
	Version() int
	// Required is the prefilter: it must not read the file. path is slash
	// separated and relative to the image root ("var/lib/dpkg/status").
	Required(path string, info fs.FileInfo) bool
}

// File is one file of the squashed image, handed to a FileCataloger.
type File struct {
	Path string // slash separated, relative to the root
	Info fs.FileInfo
	// R reads the content; Size is the content length.
	R    io.ReaderAt
	Size int64
}

// FileCataloger catalogs one file at a time.
type FileCataloger interface {
	Cataloger
	CatalogFile(ctx context.Context, f File) (Result, error)
}

// Result is what a cataloger found.
type Result struct {
	Packages []inventory.Package
	// Owned lists files (slash separated, relative to the root) that OS
	// packages install; language packages found at those paths are dropped as
	// duplicates of the OS package.
	Owned []string
	// Relationships are the dependency edges the file records between its
	// packages (inventory.Relationship; Path may be left empty: it is
	// the file's). Build them with inventory.Edges, which bounds them.
	Relationships []inventory.Relationship
	// Warnings are non-fatal problems, each naming its file.
	Warnings []string
	// SymbolTable is the symbol table of a Go binary (the golang cataloger),
	// kept beside the inventory for symbol presence, never in an SBOM.
	SymbolTable *inventory.SymbolTable
}
