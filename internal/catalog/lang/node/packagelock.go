package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePackageLock parses a package-lock.json or npm-shrinkwrap.json of any
// lockfile version with a streaming token walk: only one key or scalar is
// held at a time besides the packages found. An entry of the wrong shape is
// skipped with a warning; a package without a version is kept with an
// empty version and a warning.
func ParsePackageLock(r io.Reader) ([]inventory.Package, []string, error) {
	w := walker{dec: json.NewDecoder(r)}
	pkgs, err := w.lock()
	if err != nil {
		return nil, nil, fmt.Errorf("parse package-lock: %w", err)
	}
	return pkgs, w.warns.Strings(""), nil
}

type walker struct {
	dec   *json.Decoder
	warns warn.List
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
		// than a token walk and holds only that entry. Decode reads the
		// whole value before converting it, so an entry of the wrong type
		// leaves the stream at the next key.
		var e struct {
			Name    json.RawMessage `json:"name"`
			Version json.RawMessage `json:"version"`
			Link    json.RawMessage `json:"link"`
		}
		if err := w.dec.Decode(&e); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return fmt.Errorf("%q: %w", trunc(key), err)
			}
			w.warns.Addf("packages: %q: not an object; skipped", trunc(key))
			continue
		}
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || string(bytes.TrimSpace(e.Link)) == "true" {
			continue // the root project, a workspace folder or a link to one
		}
		name, ok := langutil.JSONText(e.Name)
		if !ok || name == "" {
			name = key[i+len("node_modules/"):]
		}
		version, ok := langutil.JSONText(e.Version)
		if !ok {
			w.warns.Addf("packages: %q: \"version\" is not a string; kept with an empty version", trunc(key))
		}
		w.addVersion(s, "packages: "+strconv.Quote(trunc(key)), name, version)
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
		t, err := w.token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); !ok || d != '{' {
			if err := w.skipFrom(t); err != nil {
				return err
			}
			w.warns.Addf("dependencies: %q: not an object; skipped", trunc(name))
			continue
		}
		var version string
		err = w.fields(func(k string) error {
			var err error
			switch k {
			case "version":
				var ok bool
				if version, ok, err = w.scalar(); err == nil && !ok {
					w.warns.Addf("dependencies: %q: \"version\" is not a string; kept with an empty version", trunc(name))
				}
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
		w.addVersion(s, "dependencies: "+strconv.Quote(trunc(name)), name, version)
	}
	return w.delim('}')
}

// addVersion adds name@version, resolving npm aliases and skipping
// references to the project's own folders. where names the entry in
// warnings.
func (w *walker) addVersion(s *set, where, name, version string) {
	version = strings.TrimSpace(version)
	if real, ok := strings.CutPrefix(version, "npm:"); ok {
		if n, v, ok := splitNameVersion(real); ok {
			name, version = n, v
		}
	}
	switch {
	case name == "":
		w.warns.Addf("%s: no package name; skipped", where)
		return
	case localReference(version):
		return
	case version == "":
		w.warns.Addf("%s: no version; kept with an empty version", where)
	}
	s.add(name, version)
}

// fields walks the rest of a JSON object whose opening '{' has been read,
// calling field for each key with the decoder positioned at the value;
// field must consume the value.
func (w *walker) fields(field func(key string) error) error {
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

// scalar reads one value: a string (trimmed) or a number as written; any
// other value is consumed and gives ok false. null reads as "".
func (w *walker) scalar() (s string, ok bool, err error) {
	t, err := w.token()
	if err != nil {
		return "", false, err
	}
	switch v := t.(type) {
	case string:
		return strings.TrimSpace(v), true, nil
	case json.Number:
		return v.String(), true, nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true, nil
	case nil:
		return "", true, nil
	}
	return "", false, w.skipFrom(t)
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

// skip consumes one value of any shape without keeping it.
func (w *walker) skip() error {
	t, err := w.token()
	if err != nil {
		return err
	}
	return w.skipFrom(t)
}

// skipFrom consumes the rest of the value whose first token is t.
func (w *walker) skipFrom(t json.Token) error {
	depth := 0
	for {
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
		var err error
		if t, err = w.token(); err != nil {
			return err
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
