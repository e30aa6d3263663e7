package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/cargo"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParseCargoLock parses a Cargo.lock (any lockfile version), and warns
// about each [[package]] it could not read fully: one without a name is
// dropped, one without a usable version is kept with an empty version.
func ParseCargoLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parseCargoLock(r)
	return pkgs, warns, err
}

// parseCargoLock is ParseCargoLock with the dependency graph: each
// package's dependencies ("name", "name version" or "name version
// (source)") resolve to the lock's package of that name and version; the
// workspace's own crates (no source) are the root.
func parseCargoLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	b, err := langutil.ReadAll(r, MaxLockSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse Cargo.lock: %w", err)
	}
	// Decoded loosely, so that one package of the wrong shape cannot make
	// the whole file fail to decode.
	var lock struct {
		Package []map[string]any `toml:"package"`
	}
	if _, err := toml.Decode(string(b), &lock); err != nil {
		return nil, nil, nil, fmt.Errorf("parse Cargo.lock: %w", err)
	}
	var (
		pkgs  []inventory.Package
		w     warn.List
		res   langutil.Resolver
		froms []inventory.PackageRef // per package with dependencies ...
		deps  [][]any                // ... its dependencies entry
	)
	for i, p := range lock.Package {
		name, _ := langutil.TOMLText(p["name"])
		if name == "" {
			w.Addf("package #%d: no name; skipped", i+1)
			continue
		}
		d, _ := p["dependencies"].([]any)
		if source, _ := langutil.TOMLText(p["source"]); source == "" {
			// A workspace crate or path dependency: the root.
			froms, deps = append(froms, inventory.PackageRef{}), append(deps, d)
			continue
		}
		version, ok := langutil.TOMLText(p["version"])
		switch {
		case !ok:
			w.Addf("package #%d (%q): version is not a string; kept with an empty version", i+1, trunc(name))
		case version == "":
			w.Addf("package #%d (%q): no version; kept with an empty version", i+1, trunc(name))
		}
		pkgs = append(pkgs, inventory.Package{Name: name, Version: version, Type: cargo.Type})
		ref := inventory.PackageRef{Name: name, Version: version}
		res.Add(ref)
		froms, deps = append(froms, ref), append(deps, d)
	}
	var e inventory.Edges
	for i, from := range froms {
		for _, d := range deps[i] {
			s, ok := d.(string)
			if !ok {
				continue
			}
			f := strings.Fields(s)
			if len(f) == 0 {
				continue
			}
			version := ""
			if len(f) > 1 {
				version = f[1]
			}
			if t, ok := res.Find(f[0], version); ok {
				e.Add(from, t)
			}
		}
	}
	return pkgs, e.List(), w.Strings(""), nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ParseBinary reads the cargo-auditable dependency list of the ELF
// executable r. It returns no packages and no error for a file that is not
// ELF or has no .dep-v0 section; the warnings are ParseAuditableJSON's.
func ParseBinary(r io.ReaderAt) (pkgs []inventory.Package, warns []string, err error) {
	var magic [4]byte
	if n, err := r.ReadAt(magic[:], 0); n < len(magic) {
		if err == nil || err == io.EOF {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if string(magic[:]) != "\x7fELF" {
		return nil, nil, nil
	}
	defer func() {
		// debug/elf has had panics on crafted files.
		if v := recover(); v != nil {
			pkgs, warns, err = nil, nil, fmt.Errorf("read .dep-v0: malformed ELF file (%v)", v)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		var re *langutil.ReadError
		if errors.As(err, &re) {
			return nil, nil, err
		}
		return nil, nil, nil // not an ELF file debug/elf understands: not ours
	}
	sec := f.Section(".dep-v0")
	if sec == nil {
		return nil, nil, nil
	}
	if sec.Size > MaxSectionSize {
		return nil, nil, fmt.Errorf("read .dep-v0: %w: section is %d bytes, the limit is %d", langutil.ErrTooLarge, sec.Size, MaxSectionSize)
	}
	zr, err := zlib.NewReader(io.LimitReader(sec.Open(), MaxSectionSize))
	if err != nil {
		return nil, nil, fmt.Errorf("read .dep-v0: %w", err)
	}
	defer zr.Close()
	b, err := langutil.ReadAll(zr, MaxJSONSize)
	if err != nil {
		return nil, nil, fmt.Errorf("read .dep-v0: %w", err)
	}
	return ParseAuditableJSON(bytes.NewReader(b))
}

// ParseAuditableJSON parses the (inflated) cargo-auditable dependency
// JSON, and warns about each package it could not read fully: one of the
// wrong shape or without a name is dropped, one without a version is kept
// with an empty version.
func ParseAuditableJSON(r io.Reader) ([]inventory.Package, []string, error) {
	var doc struct {
		Packages *[]json.RawMessage `json:"packages"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("parse .dep-v0 JSON: %w", err)
	}
	if doc.Packages == nil {
		return nil, nil, errors.New("parse .dep-v0 JSON: no \"packages\"")
	}
	var (
		pkgs []inventory.Package
		w    warn.List
	)
	for i, raw := range *doc.Packages {
		var p struct {
			Name    json.RawMessage `json:"name"`
			Version json.RawMessage `json:"version"`
			Source  json.RawMessage `json:"source"`
			Kind    json.RawMessage `json:"kind"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			w.Addf("package #%d: not an object; skipped", i+1)
			continue
		}
		name, _ := langutil.JSONText(p.Name)
		if name == "" {
			w.Addf("package #%d: no name; skipped", i+1)
			continue
		}
		source, _ := langutil.JSONText(p.Source)
		kind, _ := langutil.JSONText(p.Kind)
		if source == "local" || kind == "build" {
			continue
		}
		version, ok := langutil.JSONText(p.Version)
		switch {
		case !ok:
			w.Addf("package #%d (%q): version is not a string; kept with an empty version", i+1, trunc(name))
		case version == "":
			w.Addf("package #%d (%q): no version; kept with an empty version", i+1, trunc(name))
		}
		pkgs = append(pkgs, inventory.Package{Name: name, Version: version, Type: cargo.Type})
	}
	return pkgs, w.Strings(""), nil
}
