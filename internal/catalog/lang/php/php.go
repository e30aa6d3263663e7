// Package php catalogs Composer packages from composer.lock ("packages" and
// "packages-dev") and from Composer's record of what is really installed,
// vendor/composer/installed.json (format 1, a list, and format 2, an
// object with "packages").
//
// Policy choices:
//
//   - Development packages are kept: a lockfile does not say whether they
//     were installed (installed.json does, and lists only what is there).
//   - composer.lock files inside vendor/ belong to dependencies and are
//     never installed; they are not read.
//   - Versions are kept as Composer writes them ("v4.4.0", "dev-main").
//   - One malformed package costs that package, never the file: one of the
//     wrong shape or without a name is dropped with a warning, one without
//     a version is kept with an empty version and a warning. At most
//     warn.Max warnings are listed per file.
//   - A file that cannot be parsed at all is a warning naming it, never an
//     error.
package php

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// MaxFileSize bounds composer.lock and installed.json.
const MaxFileSize = 64 << 20

// Cataloger is the Composer cataloger.
type Cataloger struct{}

var _ catalog.FileCataloger = Cataloger{}

// New returns the Composer cataloger.
func New() Cataloger { return Cataloger{} }

// Name implements catalog.Cataloger.
func (Cataloger) Name() string { return "php" }

// Version implements catalog.Cataloger. Bump it when the output for the same
// input changes.
func (Cataloger) Version() int { return 3 }

func isLock(p string) bool {
	return langutil.Base(p) == "composer.lock" && !strings.HasPrefix(p, "vendor/") && !strings.Contains(p, "/vendor/")
}

func isInstalled(p string) bool {
	return p == "vendor/composer/installed.json" || strings.HasSuffix(p, "/vendor/composer/installed.json")
}

// Required implements catalog.Cataloger.
func (Cataloger) Required(p string, info fs.FileInfo) bool {
	return langutil.IsRegular(info) && (isLock(p) || isInstalled(p))
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
			pkgs, rels, warns, err = parseComposerLock(r)
		} else {
			pkgs, warns, err = ParseInstalledJSON(r)
		}
	}
	res, err := langutil.Finish(ctx, c.Name(), f, pkgs, langutil.Prefix(c.Name(), f.Path, warns), err)
	if err == nil {
		res.Relationships = rels
	}
	return res, err
}

// ParseComposerLock parses a composer.lock, and warns about each package
// it could not read fully (see convert).
func ParseComposerLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parseComposerLock(r)
	return pkgs, warns, err
}

// parseComposerLock is ParseComposerLock with the dependency graph: each
// package's "require" names (case-insensitive, as Composer compares them)
// resolve to the lock's packages; platform requirements (php, ext-*)
// name none. composer.lock does not say what the project requires (its
// composer.json does), so the packages nothing requires count as direct.
func parseComposerLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	var doc struct {
		Packages    *[]json.RawMessage `json:"packages"`
		PackagesDev *[]json.RawMessage `json:"packages-dev"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, nil, nil, fmt.Errorf("parse composer.lock: %w", err)
	}
	if doc.Packages == nil && doc.PackagesDev == nil {
		return nil, nil, nil, errors.New("parse composer.lock: no \"packages\" or \"packages-dev\"")
	}
	var all []json.RawMessage
	for _, l := range []*[]json.RawMessage{doc.Packages, doc.PackagesDev} {
		if l != nil {
			all = append(all, *l...)
		}
	}
	pkgs, warns := convert(all)
	return pkgs, requires(all, pkgs), warns, nil
}

// requires resolves the "require" maps of list (whose packages convert
// made pkgs) among pkgs.
func requires(list []json.RawMessage, pkgs []inventory.Package) []inventory.Relationship {
	var res langutil.Resolver
	for _, p := range pkgs {
		res.AddAs(strings.ToLower(p.Name), inventory.RefOf(p))
	}
	var e inventory.Edges
	for _, raw := range list {
		var p struct {
			Name    string                     `json:"name"`
			Version json.RawMessage            `json:"version"`
			Require map[string]json.RawMessage `json:"require"`
		}
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		version, _ := langutil.JSONText(p.Version)
		from, ok := res.Find(strings.ToLower(strings.TrimSpace(p.Name)), version)
		if !ok {
			continue
		}
		names := make([]string, 0, len(p.Require))
		for n := range p.Require {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if t, ok := res.Find(strings.ToLower(strings.TrimSpace(n)), ""); ok {
				e.Add(from, t)
			}
		}
	}
	return e.List()
}

// ParseInstalledJSON parses vendor/composer/installed.json, and warns about
// each package it could not read fully (see convert).
func ParseInstalledJSON(r io.Reader) ([]inventory.Package, []string, error) {
	b, err := langutil.ReadAll(r, MaxFileSize)
	if err != nil {
		return nil, nil, fmt.Errorf("parse installed.json: %w", err)
	}
	var list []json.RawMessage
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(b, &list) // Composer 1
	} else {
		var doc struct {
			Packages *[]json.RawMessage `json:"packages"`
		}
		if err = json.Unmarshal(b, &doc); err == nil {
			if doc.Packages == nil {
				err = errors.New("no \"packages\"")
			} else {
				list = *doc.Packages
			}
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse installed.json: %w", err)
	}
	pkgs, warns := convert(list)
	return pkgs, warns, nil
}

// convert reads each package of a list on its own: one of the wrong shape
// or without a name is dropped with a warning, one without a version is
// kept with an empty version and a warning. Versions are kept as written.
func convert(list []json.RawMessage) ([]inventory.Package, []string) {
	var (
		pkgs []inventory.Package
		w    warn.List
	)
	for i, raw := range list {
		var p struct {
			Name    json.RawMessage `json:"name"`
			Version json.RawMessage `json:"version"`
			License json.RawMessage `json:"license"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			w.Addf("package #%d: not an object; skipped", i+1)
			continue
		}
		name, ok := langutil.JSONText(p.Name)
		if t := bytes.TrimSpace(p.Name); len(t) > 0 && t[0] != '"' {
			ok = false
		}
		if !ok || name == "" {
			w.Addf("package #%d: no name; skipped", i+1)
			continue
		}
		version, ok := langutil.JSONText(p.Version)
		switch {
		case !ok:
			w.Addf("package #%d (%q): \"version\" is not a string; kept with an empty version", i+1, trunc(name))
		case version == "":
			w.Addf("package #%d (%q): no version; kept with an empty version", i+1, trunc(name))
		}
		pkg := inventory.Package{Name: name, Version: version, Type: composer.Type}
		var ls []string
		var one string
		if json.Unmarshal(p.License, &ls) == nil {
			for _, l := range ls {
				if l = strings.TrimSpace(l); l != "" {
					pkg.Licenses = append(pkg.Licenses, l)
				}
			}
		} else if json.Unmarshal(p.License, &one) == nil && strings.TrimSpace(one) != "" {
			pkg.Licenses = []string{strings.TrimSpace(one)}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, w.Strings("")
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
