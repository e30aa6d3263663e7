package python

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePoetryLock parses a poetry.lock file and returns every locked
// package.
func ParsePoetryLock(r io.Reader) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(r, MaxLockSize)
	if err != nil {
		return nil, fmt.Errorf("parse poetry.lock: %w", err)
	}
	var lock struct {
		Package []struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(b), &lock); err != nil {
		return nil, fmt.Errorf("parse poetry.lock: %w", err)
	}
	var pkgs []inventory.Package
	for i, p := range lock.Package {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("parse poetry.lock: package #%d (%q) has no name or version", i+1, p.Name)
		}
		pkgs = append(pkgs, inventory.Package{Name: p.Name, Version: p.Version, Type: inventory.TypePyPI})
	}
	return pkgs, nil
}

// ParsePipfileLock parses a Pipfile.lock and returns the pinned packages of
// its "default" and "develop" sections.
func ParsePipfileLock(r io.Reader) ([]inventory.Package, error) {
	var lock struct {
		Meta    *json.RawMessage `json:"_meta"`
		Default map[string]struct {
			Version string `json:"version"`
		} `json:"default"`
		Develop map[string]struct {
			Version string `json:"version"`
		} `json:"develop"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&lock); err != nil {
		return nil, fmt.Errorf("parse Pipfile.lock: %w", err)
	}
	if lock.Meta == nil && lock.Default == nil && lock.Develop == nil {
		return nil, errors.New("parse Pipfile.lock: no _meta, default or develop section")
	}
	var pkgs []inventory.Package
	for _, sec := range []map[string]struct {
		Version string `json:"version"`
	}{lock.Default, lock.Develop} {
		names := make([]string, 0, len(sec))
		for n := range sec {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v, ok := strings.CutPrefix(sec[n].Version, "==")
			if !ok || v == "" || n == "" {
				continue
			}
			pkgs = append(pkgs, inventory.Package{Name: n, Version: strings.TrimPrefix(v, "="), Type: inventory.TypePyPI})
		}
	}
	return pkgs, nil
}
