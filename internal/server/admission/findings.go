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
	// KEV: the finding's CVE is in CISA's KEV catalog; EPSS is its EPSS
	// score (-1 when unscored).
	KEV  bool
	EPSS float64
	// NotPresent: a Go finding whose vulnerable symbols are not in its
	// binary (symbol presence NOT_PRESENT; for an enhanced finding, in
	// every one of its packages).
	NotPresent bool
}

// enhancedFinding is the part of an ECR enhanced finding the policy reads.
type enhancedFinding struct {
	Severity         severity.Severity `json:"severity"`
	Score            float64           `json:"score"`
	FixAvailable     string            `json:"fixAvailable"`
	ExploitAvailable string            `json:"exploitAvailable"`
	EPSS             *struct {
		Score float64 `json:"score"`
	} `json:"epss"`
	Title   string `json:"title"`
	Details struct {
		VulnerabilityID    string `json:"vulnerabilityId"`
		VulnerablePackages []struct {
			Name           string `json:"name"`
			Version        string `json:"version"`
			FixedInVersion string `json:"fixedInVersion"`
			SymbolPresence string `json:"symbolPresence"`
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
	return countPresent(raw, threshold, fixableOnly, false)
}

// countPresent is countFindings that, when ignoreNotPresent, leaves out
// the Go findings whose vulnerable symbols are not in their binary.
func countPresent(raw []byte, threshold severity.Severity, fixableOnly, ignoreNotPresent bool) (tally, error) {
	fs, err := readFindings(raw)
	if err != nil {
		return tally{}, err
	}
	floor := threshold.Rank()
	return count(fs, func(f finding) bool {
		return f.Severity.Rank() >= floor && (!fixableOnly || f.Fixable) && (!ignoreNotPresent || !f.NotPresent)
	}), nil
}

// count tallies the findings that match and picks the top one.
func count(fs []finding, match func(finding) bool) tally {
	var t tally
	for _, f := range fs {
		if !match(f) {
			continue
		}
		t.Count++
		if t.Top == nil || worse(f, *t.Top) {
			t.Top = &f
		}
	}
	return t
}

// readFindings reads the basic and enhanced findings of a stored scan
// result.
func readFindings(raw []byte) ([]finding, error) {
	var res scanning.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("decode scan result: %w", err)
	}
	var out []finding
	for _, bf := range res.Findings {
		f := finding{ID: bf.Name, Severity: bf.Severity, EPSS: -1}
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
			case "symbol_presence":
				f.NotPresent = a.Value == "NOT_PRESENT"
			case "exploit_available":
				f.KEV = a.Value == "YES"
			case "epss_score":
				if v, err := strconv.ParseFloat(a.Value, 64); err == nil {
					f.EPSS = v
				}
			}
		}
		for _, s := range []string{cvss3, cvss2} {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				f.Score = v
				break
			}
		}
		out = append(out, f)
	}
	for i, raw := range res.EnhancedFindings {
		var ef enhancedFinding
		if err := json.Unmarshal(raw, &ef); err != nil {
			return nil, fmt.Errorf("decode enhanced finding %d: %w", i, err)
		}
		f := finding{ID: ef.Details.VulnerabilityID, Severity: ef.Severity, Score: ef.Score,
			Fixable: ef.FixAvailable == "YES" || ef.FixAvailable == "PARTIAL", KEV: ef.ExploitAvailable == "YES", EPSS: -1}
		if ef.EPSS != nil {
			f.EPSS = ef.EPSS.Score
		}
		if f.ID == "" {
			f.ID = ef.Title
		}
		if ps := ef.Details.VulnerablePackages; len(ps) > 0 {
			f.Package, f.Version = ps[0].Name, ps[0].Version
			f.NotPresent = true
			for _, p := range ps {
				f.NotPresent = f.NotPresent && p.SymbolPresence == "NOT_PRESENT"
			}
		}
		out = append(out, f)
	}
	return out, nil
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
