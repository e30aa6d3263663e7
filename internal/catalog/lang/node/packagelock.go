package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePackageLock parses a package-lock.json or npm-shrinkwrap.json of any
// lockfile version with a streaming token walk: only one key or scalar is
// held at a time besides the packages found.
func ParsePackageLock(r io.Reader) ([]inventory.Package, error) {
	w := walker{dec: json.NewDecoder(r)}
	pkgs, err := w.lock()
	if err != nil {
		return nil, fmt.Errorf("parse package-lock: %w", err)
	}
	return pkgs, nil
}

type walker struct {
	dec *json.Decoder
}

func (w *walker) lock() ([]inventory.Package, error) {
	if err := w.delim('{'); err != nil {
		return nil, err
	}
	var (
		packages, deps  set
		sawPackages     bool
		sawDependencies bool
		sawVersion      bool
	)
	for w.dec.More() {
		key, err := w.key()
		if err != nil {
			return nil, err
		}
		switch key {
		case "lockfileVersion":
			var v json.Number
			if err := w.dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("lockfileVersion: %w", err)
			}
			sawVersion = true
		case "packages":
			sawPackages = true
			if err := w.packages(&packages); err != nil {
				return nil, fmt.Errorf("packages: %w", err)
			}
		case "dependencies":
			sawDependencies = true
			if err := w.dependencies(&deps, 0); err != nil {
				return nil, fmt.Errorf("dependencies: %w", err)
			}
		default:
			if err := w.skip(); err != nil {
				return nil, fmt.Errorf("%s: %w", trunc(key), err)
			}
		}
	}
	if err := w.delim('}'); err != nil {
		return nil, err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level object")
	}
	if !sawPackages && !sawDependencies && !sawVersion {
		return nil, errors.New("no lockfileVersion, packages or dependencies: not a package-lock")
	}
	if sawPackages {
		return packages.list, nil
	}
	return deps.list, nil
}

// packages walks the v2/v3 "packages" map.
func (w *walker) packages(s *set) error {
	if err := w.delim('{'); err != nil {
		return err
	}
	for w.dec.More() {
		key, err := w.key()
		if err != nil {
			return err
		}
		// One entry is small and flat; decoding it whole is much faster
		// than a token walk and holds only that entry.
		var e struct {
			Name     string `json:"name"`
			Version  string `json:"version"`
			Resolved string `json:"resolved"`
			Link     bool   `json:"link"`
		}
		if err := w.dec.Decode(&e); err != nil {
			return fmt.Errorf("%q: %w", trunc(key), err)
		}
		name, version, resolved, link := e.Name, e.Version, e.Resolved, e.Link
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || link || !registryResolved(resolved) {
			continue // the root project, a workspace folder, a link, git or a local file
		}
		if name == "" {
			name = key[i+len("node_modules/"):]
		}
		addVersion(s, name, version)
	}
	return w.delim('}')
}

// dependencies walks a v1 "dependencies" tree.
func (w *walker) dependencies(s *set, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("dependencies nested more than %d deep", MaxDepth)
	}
	if err := w.delim('{'); err != nil {
		return err
	}
	for w.dec.More() {
		name, err := w.key()
		if err != nil {
			return err
		}
		var version string
		err = w.object(func(k string) error {
			var err error
			switch k {
			case "version":
				version, err = w.str()
			case "dependencies":
				err = w.dependencies(s, depth+1)
			default:
				err = w.skip()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("%q: %w", trunc(name), err)
		}
		addVersion(s, name, version)
	}
	return w.delim('}')
}

// addVersion adds name@version, resolving npm aliases and skipping
// non-registry versions.
func addVersion(s *set, name, version string) {
	if real, ok := strings.CutPrefix(version, "npm:"); ok {
		n, v, ok := splitNameVersion(real)
		if !ok {
			return
		}
		name, version = n, v
	}
	if name == "" || !registryVersion(version) {
		return
	}
	s.add(name, version)
}

// registryResolved reports whether a "resolved" location (empty, or a
// tarball URL) is a registry download rather than git or a local path.
func registryResolved(r string) bool {
	for _, p := range []string{"git+", "git:", "github:", "gitlab:", "bitbucket:", "file:", "link:"} {
		if strings.HasPrefix(r, p) {
			return false
		}
	}
	return !strings.Contains(r, "codeload.github.com")
}

// object walks one JSON object, calling field for each key with the decoder
// positioned at the value; field must consume the value.
func (w *walker) object(field func(key string) error) error {
	if err := w.delim('{'); err != nil {
		return err
	}
	for w.dec.More() {
		k, err := w.key()
		if err != nil {
			return err
		}
		if err := field(k); err != nil {
			return fmt.Errorf("%s: %w", trunc(k), err)
		}
	}
	return w.delim('}')
}

func (w *walker) token() (json.Token, error) {
	t, err := w.dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return t, err
}

func (w *walker) delim(want json.Delim) error {
	t, err := w.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v at offset %d", want, describe(t), w.dec.InputOffset())
	}
	return nil
}

func (w *walker) key() (string, error) {
	t, err := w.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("want an object key, got %v at offset %d", describe(t), w.dec.InputOffset())
	}
	return s, nil
}

// str reads a string value; null reads as "".
func (w *walker) str() (string, error) {
	t, err := w.token()
	if err != nil {
		return "", err
	}
	switch v := t.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want a string, got %v at offset %d", describe(t), w.dec.InputOffset())
}

// skip consumes one value of any shape without keeping it.
func (w *walker) skip() error {
	depth := 0
	for {
		t, err := w.token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

func describe(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("string %q", trunc(v))
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
