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
//   - A malformed spec line of a Gemfile.lock is a warning naming the line,
//     and only that line is dropped. A gem whose name is valid keeps its
//     version as written, even when it is empty or no RubyGems version
//     ("rack (-)"): the matcher reports such packages as degraded, and
//     dropping them would hide them. A gemspec with a name but no version
//     is kept with an empty version and a warning.
//   - A line over MaxLineSize costs that line, with a warning, not the file.
//   - A file that yields nothing usable is a warning naming it, never an
//     error. At most warn.Max warnings are listed per file.
package ruby

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/lines"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
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
func (Cataloger) Version() int { return 3 }

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
	var (
		pkgs  []inventory.Package
		rels  []inventory.Relationship
		warns []string
	)
	r, err := langutil.Open(f, MaxFileSize)
	if err == nil {
		if isLock(f.Path) {
			pkgs, rels, warns, err = parseGemfileLock(r)
		} else {
			var p inventory.Package
			if p, warns, err = ParseGemspec(r); err == nil {
				pkgs = []inventory.Package{p}
			}
		}
	}
	res, err := langutil.Finish(ctx, c.Name(), f, pkgs, langutil.Prefix(c.Name(), f.Path, warns), err)
	if err == nil {
		res.Relationships = rels
	}
	return res, err
}

var (
	specName    = regexp.MustCompile(`^\s*\w+\.name\s*=\s*["']([^"']+)["']`)
	specVersion = regexp.MustCompile(`^\s*\w+\.version\s*=\s*(?:Gem::Version\.new\(\s*)?["']([^"']+)["']`)
	specLicense = regexp.MustCompile(`^\s*\w+\.licenses?\s*=\s*(.*)$`)
	quoted      = regexp.MustCompile(`["']([^"']+)["']`)
	stub        = regexp.MustCompile(`^#\s*stub:\s*(\S+)\s+(\S+)`)
)

// ParseGemspec reads an installed gem specification. A specification with
// a name but no version is returned with an empty version and a warning;
// one without a name is an error.
func ParseGemspec(r io.Reader) (inventory.Package, []string, error) {
	sc := lines.NewScanner(r, MaxFileSize, MaxLineSize)
	p := inventory.Package{Type: rubygems.Type}
	var (
		stubName, stubVersion string
		warns                 []string
	)
	for n := 0; n < MaxGemspecLines && sc.Scan(); n++ {
		if size, long := sc.TooLong(); long {
			warns = append(warns, fmt.Sprintf("line %d: %d bytes, longer than the %d byte limit; skipped", sc.Line(), size, MaxLineSize))
			continue
		}
		line := sc.Text()
		if m := stub.FindStringSubmatch(line); m != nil && stubName == "" {
			stubName, stubVersion = m[1], m[2]
			continue
		}
		if m := specName.FindStringSubmatch(line); m != nil && p.Name == "" {
			p.Name = strings.TrimSpace(m[1])
		} else if m := specVersion.FindStringSubmatch(line); m != nil && p.Version == "" {
			p.Version = strings.TrimSpace(m[1])
		} else if m := specLicense.FindStringSubmatch(line); m != nil && p.Licenses == nil {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				p.Licenses = append(p.Licenses, q[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return p, nil, fmt.Errorf("parse gemspec: %w", err)
	}
	if p.Name == "" {
		p.Name = stubName
	}
	if p.Version == "" {
		p.Version = stubVersion
	}
	if p.Name == "" {
		return p, nil, fmt.Errorf("parse gemspec: no name assignment (version %q)", trunc(p.Version))
	}
	if p.Version == "" {
		warns = append(warns, fmt.Sprintf("gem %q has no version assignment; kept with an empty version", trunc(p.Name)))
	}
	return p, warns, nil
}

// ParseGemfileLock parses a Gemfile.lock and returns the gems of its GEM
// section, and a warning for each spec line it could not read (that line
// is dropped; the others are kept).
func ParseGemfileLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parseGemfileLock(r)
	return pkgs, warns, err
}

// parseGemfileLock is ParseGemfileLock with the dependency graph: the
// DEPENDENCIES section is the project's, each spec's six-space lines its
// own, each resolved by name to the GEM section's specs.
func parseGemfileLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	sc := lines.NewScanner(r, MaxFileSize, MaxLineSize)
	var (
		pkgs    []inventory.Package
		w       warn.List
		section string
		inSpecs bool
		n       int
		res     langutil.Resolver
		froms   []inventory.PackageRef // per dependency line: who needs ...
		needs   []string               // ... which gem
		cur     *inventory.PackageRef  // the spec whose dependency lines follow
	)
	dep := func(from inventory.PackageRef, s string) {
		name, _, _ := strings.Cut(strings.TrimSpace(s), " ")
		if name = strings.TrimSuffix(name, "!"); name != "" && len(needs) < inventory.MaxRelationshipsPerFile {
			froms, needs = append(froms, from), append(needs, name)
		}
	}
	for sc.Scan() {
		n = sc.Line()
		if size, long := sc.TooLong(); long {
			w.Addf("line %d: %d bytes, longer than the %d byte limit; skipped", n, size, MaxLineSize)
			continue
		}
		line := sc.Text()
		if line == "" {
			continue
		}
		if line[0] != ' ' {
			section, inSpecs, cur = strings.TrimSpace(line), false, nil
			continue
		}
		if section == "DEPENDENCIES" && !strings.HasPrefix(line, "   ") {
			dep(inventory.PackageRef{}, line)
			continue
		}
		if section != "GEM" {
			continue
		}
		if line == "  specs:" {
			inSpecs = true
			continue
		}
		if inSpecs && cur != nil && strings.HasPrefix(line, "      ") && !strings.HasPrefix(line, "       ") {
			dep(*cur, line)
			continue
		}
		if !inSpecs || strings.HasPrefix(line, "      ") || !strings.HasPrefix(line, "    ") {
			continue // remote: lines
		}
		cur = nil
		p, problem := gemSpecLine(line[4:])
		if p.Name == "" {
			w.Addf("line %d: want \"    name (version)\", got %q; skipped", n, trunc(line))
			continue
		}
		if problem != "" {
			w.Addf("line %d: gem %q: %s", n, trunc(p.Name), problem)
		}
		pkgs = append(pkgs, p)
		ref := inventory.RefOf(p)
		res.Add(ref)
		cur = &ref
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("parse Gemfile.lock: line %d: %w", n+1, err)
	}
	var e inventory.Edges
	for i, name := range needs {
		if t, ok := res.Find(name, ""); ok {
			e.Add(froms[i], t)
		}
	}
	return pkgs, e.List(), w.Strings(""), nil
}

// gemSpecLine reads "name (version)" (the four-space indent removed). The
// package has no name when the line names none; problem says what was
// wrong with a line whose gem is kept anyway.
func gemSpecLine(s string) (p inventory.Package, problem string) {
	name, rest, _ := strings.Cut(s, " ")
	if name == "" || strings.ContainsAny(name, "()") {
		return p, ""
	}
	p = inventory.Package{Name: name, Type: rubygems.Type}
	rest = strings.TrimSpace(rest)
	inner, ok := strings.CutPrefix(rest, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	switch {
	case rest == "":
		return p, "no version; kept with an empty version"
	case !ok:
		p.Version = rest
		return p, fmt.Sprintf("want \"name (version)\", got version %q; kept as written", trunc(rest))
	}
	v := strings.TrimSpace(inner)
	// Drop a platform suffix ("1.10.3-x86_64-linux"), but keep a version
	// that is nothing else ("-") as written.
	if before, _, found := strings.Cut(v, "-"); found && before != "" {
		v = before
	}
	p.Version = v
	if v == "" {
		return p, "empty version; kept with an empty version"
	}
	return p, ""
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
