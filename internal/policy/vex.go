package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/match"
)

// VEXStatement is one OpenVEX statement, reduced to what filtering needs.
type VEXStatement struct {
	Vulnerability string
	Aliases       []string
	// Products are PURLs (or image references); Subcomponents narrow an
	// image product to some of its packages.
	Products      []string
	Subcomponents []string
	Status        string // not_affected, fixed, affected, under_investigation
	Justification string
}

// ParseOpenVEX reads an OpenVEX document (v0.2.0, also the older string form
// of "vulnerability").
func ParseOpenVEX(r io.Reader) ([]VEXStatement, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("openvex: %w", err)
	}
	if len(b) > maxPolicyFile {
		return nil, fmt.Errorf("openvex: larger than %d bytes", maxPolicyFile)
	}
	var doc struct {
		Context    string `json:"@context"`
		Statements []struct {
			Vulnerability json.RawMessage   `json:"vulnerability"`
			Products      []json.RawMessage `json:"products"`
			Status        string            `json:"status"`
			Justification string            `json:"justification"`
		} `json:"statements"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("openvex: %w", err)
	}
	if !strings.HasPrefix(doc.Context, "https://openvex.dev/ns") {
		return nil, fmt.Errorf("openvex: @context %q is not an OpenVEX context", doc.Context)
	}
	if len(doc.Statements) == 0 {
		return nil, fmt.Errorf("openvex: %w", ErrNoStatements)
	}
	var out []VEXStatement
	for i, s := range doc.Statements {
		st := VEXStatement{Status: s.Status, Justification: s.Justification}
		switch s.Status {
		case "not_affected", "fixed", "affected", "under_investigation":
		default:
			return nil, fmt.Errorf("openvex: statement %d: unknown status %q", i+1, s.Status)
		}
		var name string
		if err := json.Unmarshal(s.Vulnerability, &name); err == nil {
			st.Vulnerability = name
		} else {
			var v struct {
				Name    string   `json:"name"`
				Aliases []string `json:"aliases"`
			}
			if err := json.Unmarshal(s.Vulnerability, &v); err != nil {
				return nil, fmt.Errorf("openvex: statement %d: vulnerability: %w", i+1, err)
			}
			st.Vulnerability, st.Aliases = v.Name, v.Aliases
		}
		if st.Vulnerability == "" {
			return nil, fmt.Errorf("openvex: statement %d: no vulnerability name", i+1)
		}
		for _, p := range s.Products {
			var id string
			if err := json.Unmarshal(p, &id); err == nil {
				st.Products = append(st.Products, id)
				continue
			}
			var prod struct {
				ID            string `json:"@id"`
				Subcomponents []struct {
					ID string `json:"@id"`
				} `json:"subcomponents"`
			}
			if err := json.Unmarshal(p, &prod); err != nil {
				return nil, fmt.Errorf("openvex: statement %d: product: %w", i+1, err)
			}
			st.Products = append(st.Products, prod.ID)
			for _, sc := range prod.Subcomponents {
				st.Subcomponents = append(st.Subcomponents, sc.ID)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// applies reports whether the statement suppresses f: it must say
// not_affected or fixed, name f's vulnerability (or an alias of it) and name
// f's package (by PURL, version-insensitive when the statement gives none).
func (st VEXStatement) applies(f match.Finding) bool {
	if st.Status != "not_affected" && st.Status != "fixed" {
		return false
	}
	named := idMatches(f, st.Vulnerability)
	for _, a := range st.Aliases {
		named = named || idMatches(f, a)
	}
	if !named {
		return false
	}
	if len(st.Subcomponents) > 0 {
		for _, sc := range st.Subcomponents {
			if purlMatches(sc, f.Package.PURL) {
				return true
			}
		}
		return false
	}
	for _, p := range st.Products {
		if purlMatches(p, f.Package.PURL) {
			return true
		}
	}
	return false
}

// purlMatches compares PURLs without qualifiers; a pattern without a version
// matches every version.
func purlMatches(pattern, purl string) bool {
	strip := func(s string) string {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	pattern, purl = strip(pattern), strip(purl)
	if !strings.HasPrefix(pattern, "pkg:") {
		return false
	}
	if strings.Contains(pattern, "@") {
		return pattern == purl
	}
	base := purl
	if i := strings.LastIndexByte(purl, '@'); i >= 0 {
		base = purl[:i]
	}
	return base == pattern
}
