package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePackageJSON parses a package.json. A package without a usable
// "version" is returned with an empty version and a warning; one without a
// usable "name" is returned with an empty name (and a warning when the
// name is there but not a string), for the caller to name after its folder.
// Versions are kept as written ("latest", a git URL): the matcher reports
// the ones it cannot compare as degraded.
func ParsePackageJSON(r io.Reader) (p inventory.Package, warns []string, err error) {
	var m struct {
		Name     json.RawMessage `json:"name"`
		Version  json.RawMessage `json:"version"`
		License  json.RawMessage `json:"license"`
		Licenses json.RawMessage `json:"licenses"`
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return p, nil, fmt.Errorf("parse package.json: %w", err)
	}
	name, ok := langutil.JSONText(m.Name)
	if t := bytes.TrimSpace(m.Name); ok && len(t) > 0 && t[0] != '"' && string(t) != "null" {
		name, ok = "", false // a number is no package name
	}
	if !ok {
		warns = append(warns, fmt.Sprintf("\"name\" is not a string: %s", trunc(string(m.Name))))
	}
	version, ok := langutil.JSONText(m.Version)
	switch {
	case !ok:
		warns = append(warns, fmt.Sprintf("\"version\" is not a string: %s; kept with an empty version", trunc(string(m.Version))))
	case version == "":
		warns = append(warns, "no \"version\"; kept with an empty version")
	}
	p = pkg(name, version)
	p.Licenses = licenses(m.License, m.Licenses)
	return p, warns, nil
}

// folderName is the package name a node_modules package.json path implies
// ("a/node_modules/@s/b/package.json" gives "@s/b").
func folderName(p string) string {
	segs := strings.Split(p, "/")
	n := len(segs)
	if n >= 3 && strings.HasPrefix(segs[n-3], "@") {
		return segs[n-3] + "/" + segs[n-2]
	}
	if n >= 2 {
		return segs[n-2]
	}
	return ""
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
