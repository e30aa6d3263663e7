package scanning

import "strings"

// Descriptions of the statuses Reported produces, in ECR's wording.
const (
	CompleteDescription = "The scan was completed successfully."
	ActiveDescription   = "Continuous scan is selected for image."
)

// Reported is the image scan status ECR reports for a scan stored with
// status and description in a repository whose scanning is e.
//
// A COMPLETE scan under an ENHANCED CONTINUOUS_SCAN rule is ACTIVE, since
// the image stays monitored (package rescan), described as ECR does; what
// the stored description adds to "The scan was completed successfully."
// (an unsupported OS, degraded packages) follows. Every other stored status
// is reported as stored: ENHANCED SCAN_ON_PUSH and BASIC scans are COMPLETE,
// as in ECR, and SCAN_ELIGIBILITY_EXPIRED, FAILED and IN_PROGRESS keep
// their own descriptions. A COMPLETE scan stored without a description gets
// ECR's.
func (e Effective) Reported(status Status, description string) (Status, string) {
	if status != StatusComplete {
		return status, description
	}
	if e.Scanned && e.Enhanced && e.Frequency == ContinuousScan {
		rest := strings.TrimSpace(strings.TrimPrefix(description, CompleteDescription))
		if rest == "" {
			return StatusActive, ActiveDescription
		}
		return StatusActive, ActiveDescription + " " + rest
	}
	if description == "" {
		description = CompleteDescription
	}
	return status, description
}
