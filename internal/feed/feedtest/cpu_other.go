//go:build !unix

package feedtest

import "time"

// CPUTime is zero where getrusage is missing.
func CPUTime() time.Duration { return 0 }
