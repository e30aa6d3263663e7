// Package feed defines the updater plugin interface: one updater per upstream
// advisory feed, each a Fetch (conditional GET of the upstream files, or a copy
// from a mirror) followed by a pure Parse over the fetched files.
package feed

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// ErrNotModified is returned by Source.Get when the validator still matches.
var ErrNotModified = errors.New("not modified")

// Validator identifies one fetched version of a file for conditional GETs.
type Validator struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	SHA256       string    `json:"sha256,omitempty"`
	FetchedAt    time.Time `json:"fetched_at"`
}

// Source reads files of one upstream, by path relative to the upstream's
// root URL or to the updater's directory in a mirror.
type Source interface {
	// Get opens path. With a non-zero prev it is a conditional GET and returns
	// ErrNotModified when nothing changed. A missing file is fs.ErrNotExist.
	Get(ctx context.Context, path string, prev Validator) (io.ReadCloser, Validator, error)
	// List names the files directly under dir (slash separated, relative to
	// the root). Sources that cannot list (plain HTTP) return errors.ErrUnsupported.
	List(ctx context.Context, dir string) ([]string, error)
}

// State is what an updater remembers between runs: a validator per file.
type State map[string]Validator

// Snapshot is the result of a Fetch: the fetched files as an fs.FS laid out as
// upstream, the new state, and whether anything changed.
type Snapshot struct {
	FS        fs.FS
	State     State
	Unchanged bool
	// Close releases temporary files; it may be nil.
	Close func() error
}

// Malformed is one record that could not be parsed. It never aborts a Parse.
type Malformed struct {
	File string `json:"file"`
	ID   string `json:"id,omitempty"`
	Err  string `json:"error"`
}

// Stats is what a Parse saw.
type Stats struct {
	Records   int         `json:"records"`
	Malformed []Malformed `json:"malformed,omitempty"`
	// Withdrawn counts records that their source retracted and Parse
	// therefore did not emit (OSV "withdrawn"). Records of rejected CVE ids
	// are emitted with Advisory.Rejected instead, so that the DB can drop
	// every source's records of that id.
	Withdrawn int `json:"withdrawn,omitempty"`
	// Skipped counts, by what was left out, well-formed records and
	// entries that Parse leaves out on purpose because Stowaway does not
	// cover what they describe (entries for a distribution's FIPS
	// streams). Malformed is for broken records only.
	Skipped map[string]int `json:"skipped,omitempty"`
	// Newest is the newest modified/published date among the records.
	Newest time.Time `json:"newest,omitzero"`
	// Parts optionally breaks Records down by the part of the source they
	// came from (NVD: "nvd-2.0" and "nvd-1.1", the feed formats). Updaters
	// with one kind of input leave it nil.
	Parts map[string]int `json:"parts,omitempty"`
	// Version is the data set's own version as its publisher names it,
	// for sources that publish one for the whole set (KEV: "catalogVersion
	// 2025.08.25"; EPSS: the model version and score date); "" otherwise.
	Version string `json:"version,omitempty"`
}

// Updater is one upstream feed.
type Updater interface {
	// Name is the source name stored with each record ("alpine", "osv-PyPI", ...).
	Name() string
	// Upstream is the root URL of the real feed; MirrorDir is the same layout's
	// directory relative to a mirror root (e.g. "alpine/secdb").
	Upstream() string
	MirrorDir() string
	// Fetch gets the files Parse needs from src, conditionally against prev.
	Fetch(ctx context.Context, src Source, prev State) (Snapshot, error)
	// Parse is pure: it reads fsys (laid out as Fetch left it) and calls emit
	// for every advisory. Malformed records are counted in Stats, never fatal;
	// an error is returned only when the input as a whole is unusable or emit
	// fails.
	Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (Stats, error)
}

// Cacher is an optional capability of an updater whose Fetch keeps files
// between runs (an incremental fetch): the DB builder gives it a directory
// of its own, under the DB directory, that outlives each snapshot. Its
// cached files must agree with the State it returns; when they do not (a
// build that failed after Fetch, a removed cache), Fetch starts over.
type Cacher interface {
	Updater
	// WithCacheDir returns the updater with dir as its cache.
	WithCacheDir(dir string) Updater
}

// MirrorOnly is an optional capability of an updater that a newer updater
// supersedes for online updates: `db update` without a mirror skips it
// unless it is asked for by name (its reason says why and what replaces
// it); from a mirror it runs as usual.
type MirrorOnly interface {
	Updater
	MirrorOnly() (reason string)
}
