package admission

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// finding is what the policy needs of one basic or enhanced finding.
type finding struct {
	ID       string
	Severity severity.Severity
	Score    float64
	Package  string
	Version  string
	Fixable  bool
}

// enhancedFinding is the part of an ECR enhanced finding the policy reads.
type enhancedFinding struct {
	Severity     severity.Severity `json:"severity"`
	Score        float64           `json:"score"`
	FixAvailable string            `json:"fixAvailable"`
	Title        string            `json:"title"`
	Details      struct {
		VulnerabilityID    string `json:"vulnerabilityId"`
		VulnerablePackages []struct {
			Name           string `json:"name"`
			Version        string `json:"version"`
			FixedInVersion string `json:"fixedInVersion"`
		} `json:"vulnerablePackages"`
	} `json:"packageVulnerabilityDetails"`
}

// tally is the outcome of counting a scan's findings against a threshold.
type tally struct {
	Count int
	Top   *finding
}

// countFindings counts the findings of a stored scan result at or above
// threshold (only those with a fix when fixableOnly) and picks the top one:
// highest severity, then highest score, then lowest id.
//
// A basic finding is fixable when it carries a fixed_version attribute (the
// report writes one exactly when the vendor has a fix; its status is then
// FIXABLE). An enhanced finding is fixable when fixAvailable is YES or
// PARTIAL. UNDEFINED severities never count.
func countFindings(raw []byte, threshold severity.Severity, fixableOnly bool) (tally, error) {
	var t tally
	var res scanning.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return t, fmt.Errorf("decode scan result: %w", err)
	}
	floor := threshold.Rank()
	consider := func(f finding) {
		if f.Severity.Rank() < floor || (fixableOnly && !f.Fixable) {
			return
		}
		t.Count++
		if t.Top == nil || worse(f, *t.Top) {
			t.Top = &f
		}
	}
	for _, bf := range res.Findings {
		f := finding{ID: bf.Name, Severity: bf.Severity}
		var cvss2, cvss3 string
		for _, a := range bf.Attributes {
			switch a.Key {
			case "package_name":
				f.Package = a.Value
			case "package_version":
				f.Version = a.Value
			case "fixed_version":
				f.Fixable = a.Value != ""
			case "CVSS3_SCORE":
				cvss3 = a.Value
			case "CVSS2_SCORE":
				cvss2 = a.Value
			}
		}
		for _, s := range []string{cvss3, cvss2} {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				f.Score = v
				break
			}
		}
		consider(f)
	}
	for i, raw := range res.EnhancedFindings {
		var ef enhancedFinding
		if err := json.Unmarshal(raw, &ef); err != nil {
			return t, fmt.Errorf("decode enhanced finding %d: %w", i, err)
		}
		f := finding{ID: ef.Details.VulnerabilityID, Severity: ef.Severity, Score: ef.Score,
			Fixable: ef.FixAvailable == "YES" || ef.FixAvailable == "PARTIAL"}
		if f.ID == "" {
			f.ID = ef.Title
		}
		if ps := ef.Details.VulnerablePackages; len(ps) > 0 {
			f.Package, f.Version = ps[0].Name, ps[0].Version
		}
		consider(f)
	}
	return t, nil
}

func worse(a, b finding) bool {
	if c := severity.Compare(a.Severity, b.Severity); c != 0 {
		return c > 0
	}
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

func (f finding) String() string {
	s := f.ID + " " + string(f.Severity)
	if f.Package != "" {
		s += " in " + f.Package
		if f.Version != "" {
			s += " " + f.Version
		}
	}
	return s
}
