package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/BurntSushi/toml"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParseCargoLock parses a Cargo.lock (any lockfile version).
func ParseCargoLock(r io.Reader) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(r, MaxLockSize)
	if err != nil {
		return nil, fmt.Errorf("parse Cargo.lock: %w", err)
	}
	var lock struct {
		Package []struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
			Source  string `toml:"source"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(b), &lock); err != nil {
		return nil, fmt.Errorf("parse Cargo.lock: %w", err)
	}
	var pkgs []inventory.Package
	for i, p := range lock.Package {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("parse Cargo.lock: package #%d (%q) has no name or version", i+1, p.Name)
		}
		if p.Source == "" {
			continue // a workspace crate or path dependency
		}
		pkgs = append(pkgs, inventory.Package{Name: p.Name, Version: p.Version, Type: inventory.TypeCargo})
	}
	return pkgs, nil
}

// ParseBinary reads the cargo-auditable dependency list of the ELF
// executable r. It returns no packages and no error for a file that is not
// ELF or has no .dep-v0 section.
func ParseBinary(r io.ReaderAt) (pkgs []inventory.Package, err error) {
	var magic [4]byte
	if n, err := r.ReadAt(magic[:], 0); n < len(magic) {
		if err == nil || err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	if string(magic[:]) != "\x7fELF" {
		return nil, nil
	}
	defer func() {
		// debug/elf has had panics on crafted files.
		if v := recover(); v != nil {
			pkgs, err = nil, fmt.Errorf("read .dep-v0: malformed ELF file (%v)", v)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		var re *langutil.ReadError
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, nil // not an ELF file debug/elf understands: not ours
	}
	sec := f.Section(".dep-v0")
	if sec == nil {
		return nil, nil
	}
	if sec.Size > MaxSectionSize {
		return nil, fmt.Errorf("read .dep-v0: %w: section is %d bytes, the limit is %d", langutil.ErrTooLarge, sec.Size, MaxSectionSize)
	}
	zr, err := zlib.NewReader(io.LimitReader(sec.Open(), MaxSectionSize))
	if err != nil {
		return nil, fmt.Errorf("read .dep-v0: %w", err)
	}
	defer zr.Close()
	b, err := langutil.ReadAll(zr, MaxJSONSize)
	if err != nil {
		return nil, fmt.Errorf("read .dep-v0: %w", err)
	}
	return ParseAuditableJSON(bytes.NewReader(b))
}

// ParseAuditableJSON parses the (inflated) cargo-auditable dependency JSON.
func ParseAuditableJSON(r io.Reader) ([]inventory.Package, error) {
	var doc struct {
		Packages *[]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Source  string `json:"source"`
			Kind    string `json:"kind"`
		} `json:"packages"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse .dep-v0 JSON: %w", err)
	}
	if doc.Packages == nil {
		return nil, errors.New("parse .dep-v0 JSON: no \"packages\"")
	}
	var pkgs []inventory.Package
	for i, p := range *doc.Packages {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("parse .dep-v0 JSON: package #%d (%q) has no name or version", i+1, p.Name)
		}
		if p.Source == "local" || p.Kind == "build" {
			continue
		}
		pkgs = append(pkgs, inventory.Package{Name: p.Name, Version: p.Version, Type: inventory.TypeCargo})
	}
	return pkgs, nil
}
