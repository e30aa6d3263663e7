package nvd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// The configurations of a record are read only for the CPE products the
// binary classifier names (advisory.CPEProducts): a record that names none
// of them in a "cpe:2.3:a:vendor:product:" string is not decoded twice.
// Only vulnerable cpeMatch entries count; an AND node's platform entries
// (vulnerable false, "running on") are not read, so a product vulnerable
// only on some platform is reported on every platform. Entries with a
// specific update component name a pre-release: "3.0.0" update "beta1" is
// stored as the exact version "3.0.0-beta1".

// maxCPERanges bounds the entries kept of one record.
const maxCPERanges = 4096

var cpeSet = advisory.CPESet()

var cpePrefix = []byte("cpe:2.3:a:")

// mentionsProduct reports whether raw holds a CPE string of a product in
// cpeSet.
func mentionsProduct(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], cpePrefix)
		if j < 0 {
			return false
		}
		rest := raw[i+j+len(cpePrefix):]
		if vendor, product, ok := vendorProduct(rest); ok && cpeSet[vendor+":"+product] {
			return true
		}
		i += j + len(cpePrefix)
	}
}

// vendorProduct reads "vendor:product:" at the start of b (CPE-escaped
// fields, unescaped).
func vendorProduct(b []byte) (vendor, product string, ok bool) {
	fields := make([]string, 0, 2)
	var cur strings.Builder
	for i := 0; i < len(b) && i < 256; i++ {
		c := b[i]
		switch {
		case c == '\\' && i+1 < len(b):
			i++
			cur.WriteByte(b[i])
		case c == ':':
			fields = append(fields, cur.String())
			cur.Reset()
			if len(fields) == 2 {
				return fields[0], fields[1], true
			}
		case c == '"':
			return "", "", false
		default:
			cur.WriteByte(c)
		}
	}
	return "", "", false
}

// splitCPE splits a CPE 2.3 formatted string into its unescaped fields.
func splitCPE(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

type cpeMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"` // 2.0
	URI                   string `json:"cpe23Uri"` // 1.1
	VersionStartIncluding string `json:"versionStartIncluding"`
	VersionStartExcluding string `json:"versionStartExcluding"`
	VersionEndIncluding   string `json:"versionEndIncluding"`
	VersionEndExcluding   string `json:"versionEndExcluding"`
}

type cpeNode struct {
	CPEMatch  []cpeMatch `json:"cpeMatch"`  // 2.0
	CPEMatch1 []cpeMatch `json:"cpe_match"` // 1.1
	Children  []cpeNode  `json:"children"`  // 1.1
}

// cpeRanges20 reads the vulnerable entries of a 2.0 record's
// configurations for the products of cpeSet.
func cpeRanges20(raw json.RawMessage) ([]advisory.CPERange, error) {
	if !mentionsProduct(raw) {
		return nil, nil
	}
	var r struct {
		CVE struct {
			Configurations []struct {
				Nodes []cpeNode `json:"nodes"`
			} `json:"configurations"`
		} `json:"cve"`
	}
	if err := jsonv1.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("configurations: %w", err)
	}
	var out []advisory.CPERange
	for _, c := range r.CVE.Configurations {
		if err := collectCPE(c.Nodes, &out, 0); err != nil {
			return nil, err
		}
	}
	return dedupeCPE(out), nil
}

// cpeRanges11 is cpeRanges20 for a 1.1 CVE_Items entry.
func cpeRanges11(raw json.RawMessage) ([]advisory.CPERange, error) {
	if !mentionsProduct(raw) {
		return nil, nil
	}
	var it struct {
		Configurations struct {
			Nodes []cpeNode `json:"nodes"`
		} `json:"configurations"`
	}
	if err := jsonv1.Unmarshal(raw, &it); err != nil {
		return nil, fmt.Errorf("configurations: %w", err)
	}
	var out []advisory.CPERange
	if err := collectCPE(it.Configurations.Nodes, &out, 0); err != nil {
		return nil, err
	}
	return dedupeCPE(out), nil
}

func collectCPE(nodes []cpeNode, out *[]advisory.CPERange, depth int) error {
	if depth > 8 {
		return fmt.Errorf("configurations: nodes nested deeper than 8")
	}
	for _, n := range nodes {
		for _, m := range append(n.CPEMatch, n.CPEMatch1...) {
			if !m.Vulnerable {
				continue
			}
			r, ok := cpeRangeOf(m)
			if !ok {
				continue
			}
			if err := r.Valid(); err != nil {
				return err
			}
			if len(*out) >= maxCPERanges {
				return fmt.Errorf("configurations: more than %d vulnerable entries for classified products", maxCPERanges)
			}
			*out = append(*out, r)
		}
		if err := collectCPE(n.Children, out, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// cpeRangeOf converts one cpeMatch entry; ok is false for a product not in
// cpeSet, or an entry that names no version NVD's grammar gives ("-":
// not applicable).
func cpeRangeOf(m cpeMatch) (advisory.CPERange, bool) {
	s := m.Criteria
	if s == "" {
		s = m.URI
	}
	f := splitCPE(s)
	if len(f) < 7 || f[0] != "cpe" || f[1] != "2.3" || f[2] != "a" {
		return advisory.CPERange{}, false
	}
	r := advisory.CPERange{CPE: advisory.CPE{Vendor: f[3], Product: f[4]}}
	if !cpeSet[r.CPE.String()] {
		return advisory.CPERange{}, false
	}
	ver, upd := f[5], f[6]
	bounded := m.VersionStartIncluding != "" || m.VersionStartExcluding != "" || m.VersionEndIncluding != "" || m.VersionEndExcluding != ""
	switch {
	case bounded:
		r.Start, r.StartExcluding = m.VersionStartIncluding, false
		if m.VersionStartExcluding != "" {
			r.Start, r.StartExcluding = m.VersionStartExcluding, true
		}
		r.End, r.EndIncluding = m.VersionEndExcluding, false
		if m.VersionEndIncluding != "" {
			r.End, r.EndIncluding = m.VersionEndIncluding, true
		}
	case ver == "-":
		return advisory.CPERange{}, false
	case ver == "*" || ver == "":
		// every version
	default:
		r.Version = ver
		if upd != "*" && upd != "-" && upd != "" {
			r.Version = ver + "-" + upd
		}
	}
	return r, true
}

func dedupeCPE(rs []advisory.CPERange) []advisory.CPERange {
	seen := map[advisory.CPERange]bool{}
	out := rs[:0]
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
