package scanning

import (
	"time"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// FindingsChange is what a continuous rescan changed in one image's
// findings. The rescanner hands it to whoever announces changes (the events
// outbox) inside the transaction that records it.
type FindingsChange struct {
	Repository string
	Digest     string
	Tags       []string
	Enhanced   bool
	// Added are findings the rescan found that the previous result lacked;
	// Resolved are previous findings the rescan no longer reports.
	Added, Resolved []Finding
	// Counts are the image's severity counts after the rescan.
	Counts map[severity.Severity]int
	// At is when the rescan recorded the change.
	At time.Time
}
