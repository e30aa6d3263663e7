package node

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePackageJSON parses a package.json. ok is false, with no error, when
// it has no name or no version.
func ParsePackageJSON(r io.Reader) (p inventory.Package, ok bool, err error) {
	var m struct {
		Name     string          `json:"name"`
		Version  string          `json:"version"`
		License  json.RawMessage `json:"license"`
		Licenses json.RawMessage `json:"licenses"`
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return p, false, fmt.Errorf("parse package.json: %w", err)
	}
	m.Name, m.Version = strings.TrimSpace(m.Name), strings.TrimSpace(m.Version)
	if m.Name == "" || m.Version == "" {
		return p, false, nil
	}
	p = pkg(m.Name, m.Version)
	p.Licenses = licenses(m.License, m.Licenses)
	return p, true, nil
}

// licenses reads "license": "MIT", "license": {"type": "MIT"} and the
// deprecated "licenses": [{"type": "MIT"}, ...]. Anything else is ignored.
func licenses(license, list json.RawMessage) []string {
	type typed struct {
		Type string `json:"type"`
	}
	var s string
	if json.Unmarshal(license, &s) == nil && strings.TrimSpace(s) != "" {
		return []string{strings.TrimSpace(s)}
	}
	var t typed
	if json.Unmarshal(license, &t) == nil && strings.TrimSpace(t.Type) != "" {
		return []string{strings.TrimSpace(t.Type)}
	}
	var ts []typed
	if json.Unmarshal(list, &ts) == nil {
		var out []string
		for _, t := range ts {
			if t := strings.TrimSpace(t.Type); t != "" {
				out = append(out, t)
			}
		}
		return out
	}
	var ss []string
	if json.Unmarshal(list, &ss) == nil {
		var out []string
		for _, s := range ss {
			if s := strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
