// Package scanstatus is the ECR image scan status vocabulary
// (imageScanStatus.status): the one definition shared by the scanner
// (internal/scan, internal/report) and the server (internal/server/scanning).
// It imports nothing, so every layer may use it.
package scanstatus

// Status is an ECR image scan status. Its values are ECR's wire strings.
type Status string

// The ECR scan statuses Stowaway produces.
const (
	InProgress  Status = "IN_PROGRESS"
	Complete    Status = "COMPLETE"
	Failed      Status = "FAILED"
	Unsupported Status = "UNSUPPORTED_IMAGE"
	Pending     Status = "PENDING"
	Active      Status = "ACTIVE"
	// EligibilityExpired: a CONTINUOUS_SCAN image not pushed or pulled
	// within the eligibility window; its last findings are kept.
	EligibilityExpired Status = "SCAN_ELIGIBILITY_EXPIRED"
)
