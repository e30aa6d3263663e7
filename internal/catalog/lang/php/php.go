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
//   - A malformed file is a warning naming it, never an error.
package php

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
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
func (Cataloger) Version() int { return 1 }

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
	var pkgs []inventory.Package
	r, err := langutil.Open(f, MaxFileSize)
	if err == nil {
		if isLock(f.Path) {
			pkgs, err = ParseComposerLock(r)
		} else {
			pkgs, err = ParseInstalledJSON(r)
		}
	}
	return langutil.Finish(ctx, c.Name(), f, pkgs, nil, err)
}

type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

// ParseComposerLock parses a composer.lock.
func ParseComposerLock(r io.Reader) ([]inventory.Package, error) {
	var doc struct {
		Packages    *[]composerPackage `json:"packages"`
		PackagesDev *[]composerPackage `json:"packages-dev"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse composer.lock: %w", err)
	}
	if doc.Packages == nil && doc.PackagesDev == nil {
		return nil, errors.New("parse composer.lock: no \"packages\" or \"packages-dev\"")
	}
	var all []composerPackage
	for _, l := range []*[]composerPackage{doc.Packages, doc.PackagesDev} {
		if l != nil {
			all = append(all, *l...)
		}
	}
	pkgs, err := convert(all)
	if err != nil {
		return nil, fmt.Errorf("parse composer.lock: %w", err)
	}
	return pkgs, nil
}

// ParseInstalledJSON parses vendor/composer/installed.json.
func ParseInstalledJSON(r io.Reader) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(r, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("parse installed.json: %w", err)
	}
	var list []composerPackage
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(b, &list) // Composer 1
	} else {
		var doc struct {
			Packages *[]composerPackage `json:"packages"`
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
		return nil, fmt.Errorf("parse installed.json: %w", err)
	}
	pkgs, err := convert(list)
	if err != nil {
		return nil, fmt.Errorf("parse installed.json: %w", err)
	}
	return pkgs, nil
}

func convert(list []composerPackage) ([]inventory.Package, error) {
	var pkgs []inventory.Package
	for i, p := range list {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("package #%d (%q) has no name or version", i+1, p.Name)
		}
		pkg := inventory.Package{Name: p.Name, Version: p.Version, Type: inventory.TypeComposer}
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
	return pkgs, nil
}
