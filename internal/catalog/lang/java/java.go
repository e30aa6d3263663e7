// Package java catalogs Maven packages from Java archives: *.jar, *.war,
// *.ear and Jenkins plugins (*.jpi, *.hpi), and the archives nested inside
// them (Spring Boot BOOT-INF/lib, WEB-INF/lib, EAR modules), recursively.
//
// Identification, in order:
//
//  1. Every META-INF/maven/<group>/<artifact>/pom.properties: one package
//     "groupId:artifactId" at its version each. A shaded or fat jar holding
//     several reports them all.
//  2. Otherwise META-INF/MANIFEST.MF: the version is Implementation-Version,
//     Bundle-Version or Specification-Version; the group is
//     Implementation-Vendor-Id; the artifact is the Bundle-SymbolicName
//     after "<group>." when it starts so, else the file name's artifact
//     part. Without a group the package name is the bare artifact. A
//     Bundle-SymbolicName alone gives no group: under maven-bundle-plugin's
//     naming rule "com.google.guava" may be com.google:guava or (as it is)
//     com.google.guava:guava, and a wrong group is worse than none.
//  3. Otherwise the file name "artifact-version.jar" (the version starts at
//     the last '-' or '_' followed by a digit).
//
// No CPE is derived, and nothing is guessed beyond these rules: an archive
// that yields no version yields no package.
//
// Nested archives: a package found inside one has the path
// "outer.jar!BOOT-INF/lib/inner.jar" (and "a.jar!b.jar!c.jar" deeper).
// Stored (uncompressed) nested archives, as Spring Boot writes them, are
// read in place; compressed ones are inflated into memory one at a time, up
// to MaxNestedSize and MaxNestedRatio times their compressed size each, at
// most MaxDepth levels deep. All the nested archive and metadata bytes read
// for one top-level file together are bounded by MaxTotalNested. Anything over a limit is skipped with a
// warning. Every inflation is capped by the real output size, not the size
// the zip header claims, so zip bombs stop at the cap.
//
// An archive whose entries share compressed bytes (two entries' data
// ranges overlap, or one runs past the archive) is refused with a warning
// naming it: no zip tool writes one, and it is the "better zip bomb" shape,
// where thousands of central-directory entries inflate one small stream.
// Its siblings and the archive around it are still read.
//
// A corrupt archive is a warning naming it; a corrupt nested archive or
// metadata entry is a warning naming its "outer!inner" path while its
// siblings are still read. A pom.properties without a version gives its
// package the version of the manifest or file-name rules, or an empty
// version when they give none, with a warning; a manifest version is kept
// as written (trimmed): the matcher reports versions it cannot compare as
// degraded.
package java

import (
	"context"
	"io/fs"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
)

// Limits.
const (
	// MaxArchiveSize bounds a top-level archive (it is read in place).
	MaxArchiveSize = 4 << 30
	// MaxEntries bounds the entries of one archive.
	MaxEntries = 1 << 20
	// MaxNestedSize bounds one compressed nested archive inflated in memory.
	MaxNestedSize = 128 << 20
	// MaxTotalNested bounds all nested archive and metadata bytes read for
	// one top-level file.
	MaxTotalNested = 1 << 30
	// MaxNestedRatio bounds how many times its compressed size a nested
	// archive may inflate to (past 1 MiB): real nested jars are already
	// compressed and inflate a few times at most, a zip bomb a thousand.
	MaxNestedRatio = 100
	// MaxDepth bounds archive nesting (the outer archive is depth 0).
	MaxDepth = 4
	// MaxMetaSize bounds one pom.properties or MANIFEST.MF.
	MaxMetaSize = 1 << 20
)

// Cataloger is the Java archive cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the Java archive cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "java" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 2 }

// archiveExts are the archive file extensions read, top-level and nested.
var archiveExts = []string{".jar", ".war", ".ear", ".jpi", ".hpi"}

func isArchive(name string) bool {
	name = strings.ToLower(name)
	for _, e := range archiveExts {
		if strings.HasSuffix(name, e) && len(name) > len(e) && !strings.HasSuffix(name, "/"+e) {
			return true
		}
	}
	return false
}

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	return langutil.IsRegular(info) && isArchive(p)
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Result{}, err
	}
	if f.Size > MaxArchiveSize {
		return langutil.Finish(ctx, c.Name(), f, nil, nil, langutil.TooLarge(f.Size, MaxArchiveSize))
	}
	pkgs, warnings, err := ParseArchive(ctx, langutil.ReaderAt(f.R), f.Size, f.Path)
	for i := range warnings {
		warnings[i] = c.Name() + ": " + warnings[i]
	}
	return langutil.Finish(ctx, c.Name(), f, pkgs, warnings, err)
}
