package squash

import (
	"fmt"
	"strings"
)

// Limits bound the work and memory that one image may cost. Every field has a
// default (see DefaultLimits); zero means "use the default".
//
// Together they make the cost of a walk linear in the bytes of its input, with
// a ceiling: time is bounded by MaxLayerBytes per layer (and the ratio limit
// for bombs) and per entry by MaxPathLength; memory by MaxKept, MaxFileSize,
// MaxPaths and MaxNameBytes, whatever the layers hold.
type Limits struct {
	// MaxFileSize is the largest single file read for a cataloger.
	MaxFileSize int64
	// MaxEntries is the most tar entries one layer may hold.
	MaxEntries int
	// MaxLayerBytes is the most uncompressed bytes one layer may expand to.
	MaxLayerBytes int64
	// MaxRatio is the highest uncompressed:compressed ratio a layer may reach
	// once it has expanded past RatioFloor: beyond it the layer is treated as
	// a decompression bomb.
	MaxRatio   int64
	RatioFloor int64
	// MaxKept is the total size of files kept in memory for FS catalogers.
	MaxKept int64
	// MaxSymlinkHops bounds symlink resolution (ELOOP beyond it).
	MaxSymlinkHops int
	// MaxPathLength is the longest entry name, symlink target or resolved
	// path, in bytes: Linux's PATH_MAX. A runtime cannot create a longer
	// path by name, so an entry past it is refused rather than skipped.
	MaxPathLength int
	// MaxPathDepth is the most components an entry name may have; real
	// images nest a few hundred levels at most.
	MaxPathDepth int
	// MaxPaths is the most distinct paths (entries, whiteouts and the
	// implied parent directories of the squashed view) one image may record.
	MaxPaths int
	// MaxNameBytes is the total length of the distinct paths recorded.
	MaxNameBytes int64
}

// DefaultLimits are generous for real images and stop hostile ones early.
func DefaultLimits() Limits {
	return Limits{
		MaxFileSize:    1 << 30, // 1 GiB
		MaxEntries:     2_000_000,
		MaxLayerBytes:  64 << 30, // 64 GiB
		MaxRatio:       200,
		RatioFloor:     1 << 30, // 1 GiB
		MaxKept:        512 << 20,
		MaxSymlinkHops: 40,
		MaxPathLength:  4096,
		MaxPathDepth:   1024,
		MaxPaths:       4_000_000,
		MaxNameBytes:   512 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	orDefault(&l.MaxFileSize, d.MaxFileSize)
	orDefault(&l.MaxEntries, d.MaxEntries)
	orDefault(&l.MaxLayerBytes, d.MaxLayerBytes)
	orDefault(&l.MaxRatio, d.MaxRatio)
	orDefault(&l.RatioFloor, d.RatioFloor)
	orDefault(&l.MaxKept, d.MaxKept)
	orDefault(&l.MaxSymlinkHops, d.MaxSymlinkHops)
	orDefault(&l.MaxPathLength, d.MaxPathLength)
	orDefault(&l.MaxPathDepth, d.MaxPathDepth)
	orDefault(&l.MaxPaths, d.MaxPaths)
	orDefault(&l.MaxNameBytes, d.MaxNameBytes)
	return l
}

// orDefault sets *v to d when *v is zero or negative (unset).
func orDefault[T int | int64](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Key is a canonical text of the effective limits, for cache keys: a result
// computed under other limits (a file skipped as oversize, say) is another
// result.
func (l Limits) Key() string {
	l = l.withDefaults()
	return fmt.Sprintf("file=%d,entries=%d,layer=%d,ratio=%d/%d,kept=%d,hops=%d,pathlen=%d,depth=%d,paths=%d,names=%d",
		l.MaxFileSize, l.MaxEntries, l.MaxLayerBytes, l.MaxRatio, l.RatioFloor, l.MaxKept,
		l.MaxSymlinkHops, l.MaxPathLength, l.MaxPathDepth, l.MaxPaths, l.MaxNameBytes)
}

// LimitError says which limit an input exceeded.
type LimitError struct {
	What  string // "file size", "uncompressed layer size", "entry count", "compression ratio", ...
	Path  string // the file or layer
	Limit int64
	Got   int64
	// Floor is the expansion after which the ratio limit applies (compression
	// ratio only).
	Floor int64
}

func (e *LimitError) Error() string {
	if e.What == "compression ratio" {
		return fmt.Sprintf("%s: decompression bomb suspected: expanded %d:1 past %s uncompressed (limit %d:1)", e.Path, e.Got, human(e.Floor), e.Limit)
	}
	if isCount(e.What) {
		return fmt.Sprintf("%s: %s %d exceeds the limit of %d", e.Path, e.What, e.Got, e.Limit)
	}
	return fmt.Sprintf("%s: %s %s exceeds the limit of %s", e.Path, e.What, human(e.Got), human(e.Limit))
}

// Permanent reports that the same input always fails the same way: a scan
// that meets a limit is not worth retrying.
func (e *LimitError) Permanent() bool { return true }

// isCount tells limits on counts from limits on sizes.
func isCount(what string) bool {
	return strings.HasSuffix(what, "count") || strings.HasSuffix(what, "depth") || strings.HasSuffix(what, "paths")
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortPath abbreviates a hostile (very long) path for messages.
func shortPath(p string) string {
	const keep = 80
	if len(p) <= keep {
		return p
	}
	return fmt.Sprintf("%s… (%d bytes)", p[:keep], len(p))
}
