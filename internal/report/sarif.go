package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// SARIF 2.1.0, the subset code-scanning tools read.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	HelpURI          string         `json:"helpUri,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
}

func sarifLevel(sev severity.Severity) string {
	switch sev {
	case severity.Critical, severity.High:
		return "error"
	case severity.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the score GitHub code scanning sorts by.
func securitySeverity(f match.Finding) string {
	switch {
	case f.CVSS3 != nil && f.CVSS3.Score > 0:
		return fmt.Sprintf("%.1f", f.CVSS3.Score)
	case f.Severity == severity.Critical:
		return "9.5"
	case f.Severity == severity.High:
		return "8.0"
	case f.Severity == severity.Medium:
		return "5.5"
	case f.Severity == severity.Low:
		return "2.0"
	}
	return "0.0"
}

// WriteSARIF writes SARIF 2.1.0 with one rule per vulnerability and one
// result per (vulnerability, package). An UNKNOWN_VERSION finding is a
// result like the others (its level from its severity), whose message says
// the versions could not be compared and whose versionUnparseable property
// holds the reason.
func WriteSARIF(w io.Writer, s Scan, toolVersion string) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "stowaway", InformationURI: "https://github.com/stowaway-scanner/stowaway", Version: toolVersion}}}
	seen := map[string]bool{}
	for _, f := range s.Findings {
		if !seen[f.ID] {
			seen[f.ID] = true
			desc := f.Description
			if desc == "" {
				desc = f.ID
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
				ID: f.ID, ShortDescription: sarifText{f.ID}, FullDescription: sarifText{desc}, HelpURI: f.URI,
				Properties: map[string]any{"security-severity": securitySeverity(f), "tags": []string{"security", "vulnerability", strings.ToLower(string(f.Severity))}},
			})
		}
		fixed := f.FixedVersion
		if fixed == "" {
			fixed = "no fix available"
		}
		if f.FixedVersion != "" && f.FixChannel != "" {
			fixed += ", only through " + s.Names.FixChannel(f.FixChannel).Service + " " + string(f.FixChannel)
		}
		msg := fmt.Sprintf("%s %s in %s %s (fixed in: %s)", f.Severity, f.ID, f.Package.Name, f.Package.Version, fixed)
		props := map[string]any{"purl": f.Package.PURL, "status": string(f.Status), "severity": string(f.Severity)}
		if f.FixedVersion != "" && f.FixChannel != "" {
			props["fixChannel"] = string(f.FixChannel)
		}
		sarifExploit(props, f)
		sarifSymbols(props, f)
		if f.Status == match.StatusUnknownVersion {
			// Still a result at the severity's level: an unparseable
			// version must not lower a CI gate's verdict.
			msg = fmt.Sprintf("%s %s in %s %q: versions could not be compared (%s), so the package may be affected (fixed in: %s)", f.Severity, f.ID, f.Package.Name, f.Package.Version, f.VersionError, fixed)
			props["versionUnparseable"] = f.VersionError
		}
		res := sarifResult{
			RuleID:     f.ID,
			Level:      sarifLevel(f.Severity),
			Message:    sarifText{msg},
			Properties: props,
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = f.Package.Path
		if loc.PhysicalLocation.ArtifactLocation.URI == "" {
			loc.PhysicalLocation.ArtifactLocation.URI = s.Inventory.Source.Ref
		}
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	if run.Results == nil {
		run.Results = []sarifResult{}
	}
	if run.Tool.Driver.Rules == nil {
		run.Tool.Driver.Rules = []sarifRule{}
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}
