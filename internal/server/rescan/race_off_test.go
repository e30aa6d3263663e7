//go:build !race

package rescan

const raceEnabled = false
