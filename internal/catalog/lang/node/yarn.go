package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// berryMetadata marks a yarn berry (v2+) lockfile, which is YAML.
var berryMetadata = regexp.MustCompile(`(?m)^"?__metadata"?:`)

// ParseYarnLock parses a yarn.lock, classic (v1) or berry (v2 and later).
func ParseYarnLock(r io.Reader) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(r, MaxYarnLockSize)
	if err != nil {
		return nil, fmt.Errorf("parse yarn.lock: %w", err)
	}
	if berryMetadata.Match(b) {
		if len(b) > MaxYAMLSize {
			return nil, fmt.Errorf("parse yarn.lock: %w: berry lockfile is %d bytes, the YAML limit is %d", langutil.ErrTooLarge, len(b), MaxYAMLSize)
		}
		return parseBerry(b)
	}
	return parseYarnV1(b)
}

// parseYarnV1 reads the classic format:
//
//	"@babel/core@^7.0.0", "@babel/core@^7.1.0":
//	  version "7.1.0"
//	  resolved "https://..."
func parseYarnV1(b []byte) ([]inventory.Package, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize)
	var (
		s          set
		n          int
		name       string // the open entry's package
		entryLine  int
		hasVersion bool
	)
	closeEntry := func() error {
		if name != "" && !hasVersion {
			return fmt.Errorf("parse yarn.lock: entry %q at line %d has no version", trunc(name), entryLine)
		}
		name, hasVersion = "", false
		return nil
	}
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			if err := closeEntry(); err != nil {
				return nil, err
			}
			if !strings.HasSuffix(trimmed, ":") {
				return nil, fmt.Errorf("parse yarn.lock: line %d: want an entry header ending in ':', got %q", n, trunc(trimmed))
			}
			nm, err := yarnEntryName(strings.TrimSuffix(trimmed, ":"))
			if err != nil {
				return nil, fmt.Errorf("parse yarn.lock: line %d: %w", n, err)
			}
			name, entryLine = nm, n
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("parse yarn.lock: line %d: indented line outside an entry", n)
		}
		// Only the entry's own fields (two-space indent) matter.
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			continue
		}
		k, v, _ := strings.Cut(trimmed, " ")
		if k != "version" && k != `"version"` {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if v == "" {
			return nil, fmt.Errorf("parse yarn.lock: line %d: empty version", n)
		}
		hasVersion = true
		s.add(name, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", MaxLineSize)
		}
		return nil, fmt.Errorf("parse yarn.lock: line %d: %w", n+1, err)
	}
	if err := closeEntry(); err != nil {
		return nil, err
	}
	return s.list, nil
}

// yarnEntryName returns the package named by an entry header such as
// `"@babel/core@^7.0.0", "@babel/core@^7.1.0"` or `alias@npm:real@^1.0.0`.
func yarnEntryName(header string) (string, error) {
	first, _, _ := strings.Cut(header, ",")
	first = strings.Trim(strings.TrimSpace(first), `"'`)
	name, _, ok := splitNameVersion(first)
	if !ok {
		// A bare name with no range ("lodash:") is legal but rare.
		if first == "" || strings.ContainsAny(first, " \"") {
			return "", fmt.Errorf("bad entry header %q", trunc(header))
		}
		return first, nil
	}
	// "alias@npm:real@range": the installed package is real. The '@' we
	// split on may be the one inside the npm: part.
	if i := strings.Index(first, "@npm:"); i > 0 {
		name = first[:i]
		if real, _, ok := splitNameVersion(first[i+len("@npm:"):]); ok {
			name = real
		} else if rest := first[i+len("@npm:"):]; rest != "" && !strings.ContainsAny(rest[:1], "^~<>=*0123456789") {
			name = rest
		}
	}
	if name == "" {
		return "", fmt.Errorf("bad entry header %q", trunc(header))
	}
	return name, nil
}

// parseBerry reads a yarn berry lockfile: YAML entries with a resolution
// "name@npm:version".
func parseBerry(b []byte) ([]inventory.Package, error) {
	var doc map[string]struct {
		Version    string `yaml:"version"`
		Resolution string `yaml:"resolution"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse yarn.lock (berry): %w", err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s set
	for _, k := range keys {
		if k == "__metadata" {
			continue
		}
		e := doc[k]
		if e.Resolution == "" {
			return nil, fmt.Errorf("parse yarn.lock (berry): entry %q has no resolution", trunc(k))
		}
		i := strings.LastIndex(e.Resolution, "@npm:")
		if i <= 0 {
			continue // workspace:, patch:, link:, portal:, file:, git and other non-registry protocols
		}
		name, version := e.Resolution[:i], e.Resolution[i+len("@npm:"):]
		if !registryVersion(version) {
			continue
		}
		s.add(name, version)
	}
	return s.list, nil
}
