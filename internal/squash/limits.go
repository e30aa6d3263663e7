package squash

import "fmt"

// Limits bound the work and memory that one image may cost. Every field has a
// default (see DefaultLimits); zero means "use the default".
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
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxLayerBytes <= 0 {
		l.MaxLayerBytes = d.MaxLayerBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.RatioFloor <= 0 {
		l.RatioFloor = d.RatioFloor
	}
	if l.MaxKept <= 0 {
		l.MaxKept = d.MaxKept
	}
	if l.MaxSymlinkHops <= 0 {
		l.MaxSymlinkHops = d.MaxSymlinkHops
	}
	return l
}

// LimitError says which limit an input exceeded.
type LimitError struct {
	What  string // "file size", "layer size", "entries", "compression ratio", ...
	Path  string // the file or layer
	Limit int64
	Got   int64
}

func (e *LimitError) Error() string {
	if e.What == "compression ratio" {
		return fmt.Sprintf("%s: decompression bomb suspected: expanded %d:1 past %s (limit %d:1)", e.Path, e.Got, human(e.Limit), e.Limit)
	}
	return fmt.Sprintf("%s: %s %s exceeds the limit of %s", e.Path, e.What, human(e.Got), human(e.Limit))
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
