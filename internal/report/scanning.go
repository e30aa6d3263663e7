package report

import (
	"encoding/json"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
)

// ScanningResult converts a scan into the ECR findings shape the server
// stores (ECR's response, with enhanced findings kept as their JSON). Both
// ordinary scans and rescans convert through it.
func ScanningResult(s Scan) (*scanning.Result, error) {
	e := ecr(s, false)
	out := &scanning.Result{
		Status:                       scanning.Status(e.ImageScanStatus.Status),
		Description:                  e.ImageScanStatus.Description,
		SeverityCounts:               e.ImageScanFindings.FindingSeverityCounts,
		CompletedAt:                  s.CompletedAt,
		VulnerabilitySourceUpdatedAt: s.DBUpdatedAt,
	}
	for _, f := range e.ImageScanFindings.Findings {
		sf := scanning.Finding{Name: f.Name, Description: f.Description, URI: f.URI, Severity: f.Severity}
		for _, a := range f.Attributes {
			sf.Attributes = append(sf.Attributes, scanning.Attribute{Key: a.Key, Value: a.Value})
		}
		out.Findings = append(out.Findings, sf)
	}
	for _, f := range e.ImageScanFindings.EnhancedFindings {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("report: encode enhanced finding: %w", err)
		}
		out.EnhancedFindings = append(out.EnhancedFindings, b)
	}
	return out, nil
}
