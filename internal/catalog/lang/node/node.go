// Package node catalogs npm packages: installed packages
// (node_modules/<name>/package.json and node_modules/@scope/<name>/package.json,
// at any depth of nested node_modules, pnpm's .pnpm store included) and the
// lockfiles package-lock.json / npm-shrinkwrap.json (v1, v2, v3), yarn.lock
// (classic v1 and berry) and pnpm-lock.yaml (v5, v6, v9 key formats).
//
// Policy choices:
//
//   - Only package.json files directly inside a node_modules package folder
//     are packages; the project's own package.json and files deeper in a
//     package (test fixtures, examples) are not. One without a usable name
//     is named after its folder (which is what require() resolves), and one
//     without a version is kept with an empty version, each with a warning.
//   - Lockfiles inside node_modules (a dependency's own, never-installed
//     lock) and npm's hidden node_modules/.package-lock.json (a copy of what
//     the package.json files already say) are not read.
//   - Development dependencies are kept: a lockfile does not say whether
//     they were installed, and missing a vulnerable package is worse than a
//     spurious one. A package that appears several times with one version is
//     reported once per file.
//   - Versions are kept as written, even when they are no registry version
//     ("latest", a git URL, "file:..."): such a package is still that
//     package, and the matcher reports the versions it cannot compare as
//     degraded instead of dropping them. Only references to folders of the
//     project itself (workspace:, link:, portal:, npm's "link": true, pnpm's
//     directory resolutions) are skipped; their own package.json is
//     cataloged where it is installed. npm aliases ("npm:real@1.0.0") and
//     yarn patches ("patch:real@npm%3A1.0.0#...") report the real package.
//   - package-lock.json v2/v3: the "packages" map is used (the root ""
//     entry and workspace folders are skipped); v1 uses the nested
//     "dependencies" tree. The file is read with a streaming token walk,
//     so memory grows with the number of distinct packages, not the file.
//   - One malformed record costs that record, never the file: an entry of
//     the wrong shape, a yarn.lock entry with a bad header or no version, a
//     YAML value of the wrong type, each is a warning naming the entry (at
//     most warn.Max per file); a yarn.lock line over MaxLineSize costs that
//     line (or the entry it heads). A file that cannot be parsed at all (not
//     JSON, not YAML) is a warning naming it, never an error.
package node

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Size limits.
const (
	// MaxPackageJSONSize bounds one node_modules package.json.
	MaxPackageJSONSize = 8 << 20
	// MaxPackageLockSize bounds package-lock.json, which is streamed.
	MaxPackageLockSize = 512 << 20
	// MaxYarnLockSize bounds yarn.lock.
	MaxYarnLockSize = 64 << 20
	// MaxYAMLSize bounds the YAML lockfiles (pnpm, yarn berry), which are
	// decoded in memory.
	MaxYAMLSize = 32 << 20
	// MaxLineSize bounds one line of yarn.lock.
	MaxLineSize = 1 << 20
	// MaxDepth bounds the nesting of package-lock v1 dependency trees.
	MaxDepth = 256
)

// Cataloger is the npm cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the npm cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "node" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 3 }

type kind int

const (
	kindNone kind = iota
	kindPackageJSON
	kindPackageLock
	kindYarn
	kindPnpm
)

func classify(p string) kind {
	segs := strings.Split(p, "/")
	n := len(segs)
	base := segs[n-1]
	if base == "package.json" {
		if n >= 3 && segs[n-3] == "node_modules" && okName(segs[n-2]) && !strings.HasPrefix(segs[n-2], "@") {
			return kindPackageJSON
		}
		if n >= 4 && segs[n-4] == "node_modules" && strings.HasPrefix(segs[n-3], "@") && len(segs[n-3]) > 1 && okName(segs[n-2]) {
			return kindPackageJSON
		}
		return kindNone
	}
	for _, s := range segs[:n-1] {
		if s == "node_modules" {
			return kindNone
		}
	}
	switch base {
	case "package-lock.json", "npm-shrinkwrap.json":
		return kindPackageLock
	case "yarn.lock":
		return kindYarn
	case "pnpm-lock.yaml":
		return kindPnpm
	}
	return kindNone
}

func okName(s string) bool { return s != "" && !strings.HasPrefix(s, ".") && s != "node_modules" }

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
		pkgs  []inventory.Package
		rels  []inventory.Relationship
		warns []string
		err   error
		r     io.Reader
	)
	k := classify(f.Path)
	max := map[kind]int64{kindPackageJSON: MaxPackageJSONSize, kindPackageLock: MaxPackageLockSize, kindYarn: MaxYarnLockSize, kindPnpm: MaxYAMLSize}[k]
	r, err = langutil.Open(f, max)
	if err == nil {
		switch k {
		case kindPackageJSON:
			var p inventory.Package
			p, warns, err = ParsePackageJSON(r)
			if err == nil {
				if p.Name == "" {
					p.Name = folderName(f.Path)
					warns = append(warns, fmt.Sprintf("no usable \"name\"; named %q after its folder", p.Name))
				}
				pkgs = append(pkgs, p)
			}
		case kindPackageLock:
			pkgs, rels, warns, err = parsePackageLock(r)
		case kindYarn:
			pkgs, rels, warns, err = parseYarnLock(r)
		case kindPnpm:
			pkgs, rels, warns, err = parsePnpmLock(r)
		}
	}
	res, err := langutil.Finish(ctx, c.Name(), f, pkgs, langutil.Prefix(c.Name(), f.Path, warns), err)
	if err == nil {
		res.Relationships = rels
	}
	return res, err
}

// localReference reports whether a version or resolution names a folder of
// the project itself (workspace:, link:, portal:): not a third-party
// package, and its own package.json is cataloged where it is installed.
func localReference(v string) bool {
	for _, p := range []string{"workspace:", "link:", "portal:"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// splitNameVersion splits "name@version" and "@scope/name@version" at the
// last '@' that is not the first byte.
func splitNameVersion(s string) (name, version string, ok bool) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func pkg(name, version string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: npm.Type}
}

// set collects packages, one per name and version, in first-seen order.
type set struct {
	seen map[[2]string]int
	list []inventory.Package
	last inventory.PackageRef // the package add last added or found
}

// add adds name@version once and returns its ref, whose strings are the
// first-seen copy's (entries repeat a package; they share one).
func (s *set) add(name, version string) inventory.PackageRef {
	if s.seen == nil {
		s.seen = map[[2]string]int{}
	}
	k := [2]string{name, version}
	if i, ok := s.seen[k]; ok {
		s.last = inventory.RefOf(s.list[i])
		return s.last
	}
	s.seen[k] = len(s.list)
	s.list = append(s.list, pkg(name, version))
	s.last = inventory.PackageRef{Name: name, Version: version}
	return s.last
}
