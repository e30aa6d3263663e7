//go:build race

package rescan

// raceEnabled: the binary was built with -race (.ci/run's concurrency run).
const raceEnabled = true
