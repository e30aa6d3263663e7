package rescan

import (
	"encoding/json"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// enhancedFinding is the part of an ECR enhanced finding that identifies it.
type enhancedFinding struct {
	Description string            `json:"description"`
	Severity    severity.Severity `json:"severity"`
	Title       string            `json:"title"`
	Details     struct {
		VulnerabilityID    string `json:"vulnerabilityId"`
		SourceURL          string `json:"sourceUrl"`
		VulnerablePackages []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"vulnerablePackages"`
	} `json:"packageVulnerabilityDetails"`
}

// identified is one finding identity with the finding that reports it.
type identified struct {
	rec     store.FindingRecord
	finding scanning.Finding
}

// identities lists res's findings by identity (store.FindingKey). Basic
// findings are identified by name and their package_name and
// package_version attributes; enhanced findings by vulnerabilityId and each
// of their vulnerablePackages. An enhanced finding that cannot be decoded is
// an error: its identity would be lost.
func identities(res *scanning.Result) (map[string]identified, error) {
	out := map[string]identified{}
	if res == nil {
		return out, nil
	}
	for _, f := range res.Findings {
		var pkg, ver string
		for _, a := range f.Attributes {
			switch a.Key {
			case "package_name":
				pkg = a.Value
			case "package_version":
				ver = a.Value
			}
		}
		r := store.FindingRecord{Name: f.Name, PackageName: pkg, PackageVersion: ver, Severity: f.Severity}
		out[r.Key()] = identified{rec: r, finding: f}
	}
	for i, raw := range res.EnhancedFindings {
		var e enhancedFinding
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("rescan: enhanced finding %d: %w", i, err)
		}
		name := e.Details.VulnerabilityID
		if name == "" {
			name = e.Title
		}
		pkgs := e.Details.VulnerablePackages
		if len(pkgs) == 0 {
			r := store.FindingRecord{Name: name, Severity: e.Severity}
			out[r.Key()] = identified{rec: r, finding: scanning.Finding{Name: name, Severity: e.Severity, Description: e.Description, URI: e.Details.SourceURL, Enhanced: raw}}
			continue
		}
		for _, p := range pkgs {
			r := store.FindingRecord{Name: name, PackageName: p.Name, PackageVersion: p.Version, Severity: e.Severity}
			out[r.Key()] = identified{rec: r, finding: scanning.Finding{
				Name: name, Severity: e.Severity, Description: e.Description, URI: e.Details.SourceURL,
				Attributes: []scanning.Attribute{{Key: "package_name", Value: p.Name}, {Key: "package_version", Value: p.Version}},
				Enhanced:   raw,
			}}
		}
	}
	return out, nil
}

func records(ids map[string]identified) []store.FindingRecord {
	byKey := make(map[string]store.FindingRecord, len(ids))
	for k, id := range ids {
		byKey[k] = id.rec
	}
	return sortedRecords(byKey)
}
