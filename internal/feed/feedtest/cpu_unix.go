//go:build unix

package feedtest

import (
	"syscall"
	"time"
)

// CPUTime is the process's user+system CPU time so far (every thread, the
// garbage collector's included): benchmarks report it per op, a figure a
// loaded machine disturbs far less than ns/op.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
