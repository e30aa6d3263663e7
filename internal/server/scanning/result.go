// Package scanning holds the server's scan vocabulary: the result a scanner
// returns (in the shape of ECR's DescribeImageScanFindings), the ECR scan
// statuses, the registry scanning configuration with its rule evaluation
// (DESIGN.md Appendix A), and the routing of stored enhanced findings to
// the image in its registry (ECRImage, RouteEnhanced, FindingARN).
//
// Policy choices:
//   - A filter without '*' matches anywhere in the repository name (substring);
//     with '*' the whole name must match and '*' stands for any run of
//     characters, '/' included.
//   - When several rules match, CONTINUOUS_SCAN wins over SCAN_ON_PUSH, which
//     wins over MANUAL.
//   - BASIC accepts only SCAN_ON_PUSH rules, ENHANCED only SCAN_ON_PUSH and
//     CONTINUOUS_SCAN rules (InvalidParameterException otherwise, as the ECR
//     API reference says of RegistryScanningRule). A repository no rule
//     matches is MANUAL under BASIC (still scanned on push if the deprecated
//     repository-level scanOnPush flag is set) and not scanned under ENHANCED.
//   - A finished scan is stored COMPLETE; the API reports it as ECR does
//     (Effective.Reported): ACTIVE ("Continuous scan is selected for
//     image.") while the repository is under an ENHANCED CONTINUOUS_SCAN
//     rule, COMPLETE otherwise (ENHANCED SCAN_ON_PUSH included).
package scanning

import (
	"encoding/json"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/scanstatus"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Status is an ECR image scan status; the one definition is
// scanstatus.Status.
type Status = scanstatus.Status

// The ECR scan statuses the server produces (defined in internal/scanstatus).
const (
	StatusInProgress         = scanstatus.InProgress
	StatusComplete           = scanstatus.Complete
	StatusFailed             = scanstatus.Failed
	StatusUnsupported        = scanstatus.Unsupported
	StatusPending            = scanstatus.Pending
	StatusActive             = scanstatus.Active
	StatusEligibilityExpired = scanstatus.EligibilityExpired
)

// Attribute is one key/value pair of a basic finding.
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Finding is a basic scan finding, as ECR returns it.
type Finding struct {
	Name        string            `json:"name,omitempty"`
	Description string            `json:"description,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Severity    severity.Severity `json:"severity,omitempty"`
	Attributes  []Attribute       `json:"attributes,omitempty"`
	// Enhanced is, for a finding read from an enhanced finding (a
	// rescan's change), that finding as stored: what announcing it needs
	// besides (scanning.EnhancedDetails, RouteEnhanced). Not stored.
	Enhanced json.RawMessage `json:"-"`
}

// Result is what a scanner returns for one image.
type Result struct {
	Status      Status `json:"status"`
	Description string `json:"description,omitempty"`
	// Findings are the basic (OS package) findings.
	Findings []Finding `json:"findings,omitempty"`
	// EnhancedFindings are ECR enhanced findings, kept verbatim.
	EnhancedFindings []json.RawMessage `json:"enhancedFindings,omitempty"`
	// SeverityCounts maps an ECR severity to its number of findings.
	SeverityCounts               map[severity.Severity]int `json:"findingSeverityCounts,omitempty"`
	CompletedAt                  time.Time                 `json:"completedAt"`
	VulnerabilitySourceUpdatedAt time.Time                 `json:"vulnerabilitySourceUpdatedAt"`
	// BasicScanTypeVersion is the registry's BASIC_SCAN_TYPE_VERSION
	// account setting (AWS_NATIVE or CLAIR) when a basic scan ran. Both
	// name Stowaway's own engine; the value is a record, not a switch.
	BasicScanTypeVersion string `json:"basicScanTypeVersion,omitempty"`
	// Inventory is the image's package inventory (its SBOM) when the scan
	// indexed the image. It is not part of the stored result JSON: Prepare
	// and After hooks store it (rescans, SBOM referrers).
	Inventory *inventory.Inventory `json:"-"`
}

// IsImageConfig reports whether a manifest's config media type is a
// container image config, i.e. whether the manifest can be scanned.
func IsImageConfig(mediaType string) bool {
	return mediaType == "application/vnd.oci.image.config.v1+json" ||
		mediaType == "application/vnd.docker.container.image.v1+json"
}
