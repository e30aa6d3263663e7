// Package ruby catalogs RubyGems packages from installed gem specifications
// (specifications/*.gemspec as RubyGems and Bundler write them under
// GEM_HOME, and Ruby's default gems in specifications/default/) and from Gemfile.lock / gems.locked.
//
// Policy choices:
//
//   - Gemspecs are Ruby code; they are not evaluated. The name, version and
//     licenses are read with regular expressions from the assignment forms
//     RubyGems writes (s.name = "x".freeze, s.version = "1.2.3",
//     s.version = Gem::Version.new("1.2.3"), s.licenses = ["MIT".freeze]),
//     falling back to the "# stub: name version platform" header line. Only
//     the first MaxGemspecLines lines are read.
//   - Gemfile.lock: the specs of the GEM section (gems from a RubyGems
//     source) are packages; GIT and PATH gems are not (their versions do
//     not name a published release). A platform suffix
//     ("1.10.3-x86_64-linux") is dropped from the version.
//   - A malformed file is a warning naming it, never an error.
package ruby

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Limits.
const (
	// MaxFileSize bounds a gemspec or a Gemfile.lock.
	MaxFileSize = 16 << 20
	// MaxLineSize bounds one line.
	MaxLineSize = 256 << 10
	// MaxGemspecLines bounds how much of a gemspec is searched.
	MaxGemspecLines = 4096
)

// Cataloger is the RubyGems cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the RubyGems cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "ruby" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 1 }

// isGemspec matches specifications/*.gemspec and the default gems'
// specifications/default/*.gemspec.
func isGemspec(p string) bool {
	if !strings.HasSuffix(p, ".gemspec") {
		return false
	}
	dir := path.Dir(p)
	if path.Base(dir) == "default" {
		dir = path.Dir(dir)
	}
	return path.Base(dir) == "specifications"
}

func isLock(p string) bool {
	b := langutil.Base(p)
	return b == "Gemfile.lock" || b == "gems.locked"
}

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	return langutil.IsRegular(info) && (isGemspec(p) || isLock(p))
}

// CatalogFile implements catalog.FileCataloger.
func (c Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Result{}, err
	}
	var pkgs []inventory.Package
	r, err := langutil.Open(f, MaxFileSize)
	if err == nil {
		if isLock(f.Path) {
			pkgs, err = ParseGemfileLock(r)
		} else {
			var p inventory.Package
			if p, err = ParseGemspec(r); err == nil {
				pkgs = []inventory.Package{p}
			}
		}
	}
	return langutil.Finish(ctx, c.Name(), f, pkgs, nil, err)
}

var (
	specName    = regexp.MustCompile(`^\s*\w+\.name\s*=\s*["']([^"']+)["']`)
	specVersion = regexp.MustCompile(`^\s*\w+\.version\s*=\s*(?:Gem::Version\.new\(\s*)?["']([^"']+)["']`)
	specLicense = regexp.MustCompile(`^\s*\w+\.licenses?\s*=\s*(.*)$`)
	quoted      = regexp.MustCompile(`["']([^"']+)["']`)
	stub        = regexp.MustCompile(`^#\s*stub:\s*(\S+)\s+(\S+)`)
)

// ParseGemspec reads an installed gem specification.
func ParseGemspec(r io.Reader) (inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize)
	p := inventory.Package{Type: inventory.TypeGem}
	var stubName, stubVersion string
	for n := 0; n < MaxGemspecLines && sc.Scan(); n++ {
		line := sc.Text()
		if m := stub.FindStringSubmatch(line); m != nil && stubName == "" {
			stubName, stubVersion = m[1], m[2]
			continue
		}
		if m := specName.FindStringSubmatch(line); m != nil && p.Name == "" {
			p.Name = m[1]
		} else if m := specVersion.FindStringSubmatch(line); m != nil && p.Version == "" {
			p.Version = m[1]
		} else if m := specLicense.FindStringSubmatch(line); m != nil && p.Licenses == nil {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				p.Licenses = append(p.Licenses, q[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", MaxLineSize)
		}
		return p, fmt.Errorf("parse gemspec: %w", err)
	}
	if p.Name == "" {
		p.Name = stubName
	}
	if p.Version == "" {
		p.Version = stubVersion
	}
	if p.Name == "" || p.Version == "" {
		return p, fmt.Errorf("parse gemspec: no name or version assignment (got %q, %q)", trunc(p.Name), trunc(p.Version))
	}
	return p, nil
}

// gemSpec is a "    name (version)" line of a specs: block.
var gemSpec = regexp.MustCompile(`^    ([^ (]+) \(([^)]+)\)$`)

// ParseGemfileLock parses a Gemfile.lock and returns the gems of its GEM
// section.
func ParseGemfileLock(r io.Reader) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize)
	var (
		pkgs    []inventory.Package
		section string
		inSpecs bool
		n       int
	)
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		if line[0] != ' ' {
			section, inSpecs = strings.TrimSpace(line), false
			continue
		}
		if section != "GEM" {
			continue
		}
		if line == "  specs:" {
			inSpecs = true
			continue
		}
		if !inSpecs || strings.HasPrefix(line, "      ") || !strings.HasPrefix(line, "    ") {
			continue // dependency lines of a spec, or remote: lines
		}
		m := gemSpec.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("parse Gemfile.lock: line %d: want \"    name (version)\", got %q", n, trunc(line))
		}
		version, _, _ := strings.Cut(m[2], "-") // drop a platform suffix
		pkgs = append(pkgs, inventory.Package{Name: m[1], Version: version, Type: inventory.TypeGem})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", MaxLineSize)
		}
		return nil, fmt.Errorf("parse Gemfile.lock: line %d: %w", n+1, err)
	}
	return pkgs, nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
