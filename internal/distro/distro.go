// Package distro describes operating-system distributions: one Descriptor
// per distribution, defined in the package that owns it
// (internal/distro/<name>) and registered in the explicit list of
// internal/distro/all. Detection (osdetect), matching (match) and scanning
// (scan) read descriptors handed to them and hold no distribution's name.
//
// A descriptor says how a distribution is detected (os-release IDs and
// fallback release files, and how a version becomes the release of its
// advisory namespace "<ID>:<release>"), which releases have advisory data
// and until when each is supported, which version scheme its packages use,
// how its package URLs look, which feed namespace serves a release (an
// alias: one distribution may use another's data), how its feeds rank
// against each other, where an advisory is described on the web, which
// databases its advisory ids name, and through which channels besides its
// standard archive it delivers fixes.
package distro

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor is everything Stowaway knows about one distribution.
type Descriptor struct {
	// ID is the namespace family ("<ID>:<release>") and the normalized
	// distribution id of inventory.Distro.
	ID string
	// Name is the display name.
	Name string
	// OSReleaseIDs are further os-release ID values (lower case) that name
	// this distribution; ID itself always does.
	OSReleaseIDs []string
	// ReleaseFiles are distribution-specific release files, read when
	// os-release is missing or to take a more precise version from.
	ReleaseFiles []ReleaseFile
	// Release derives the advisory release from a version ("3.19.1" to
	// "3.19"); nil keeps the version as it is.
	Release func(versionID string) string
	// Releases are the releases with advisory data; a distribution without
	// any is recognised but not covered (UNSUPPORTED_IMAGE).
	Releases []Release
	// UnsupportedReason, when set, explains an uncovered release in place of
	// the generic reason (release and version as detected).
	UnsupportedReason func(release, versionID string) string
	// Version compares the distribution's package versions (one of
	// package version's comparators).
	Version version.Comparator
	// PURLNamespace is the package-URL namespace peers use ("" means ID).
	PURLNamespace string
	// AdvisoryNames says which package name the distribution's advisories
	// use; the matcher tries the binary and the source name in any case.
	AdvisoryNames NameKind
	// DataAlias, when set, maps a release to the namespace whose feed data
	// serve it ("7" to another distribution's "rhel:7").
	DataAlias func(release string) string
	// SourceRank orders this distribution's feeds (updater names) that
	// cover the same releases: a higher-ranked feed's records replace a
	// lower-ranked one's for one vulnerability and package. Unlisted feeds
	// rank 0.
	SourceRank map[string]int
	// Supersedes names, for a feed of this distribution (updater name),
	// the better feed that replaces it release by release: where the
	// better feed has records for a release (namespace), the superseded
	// feed is not read for it at all (Ubuntu: the OVAL files are older
	// exports of the tracker's judgements). Where the better feed has none,
	// SourceRank still orders the two per vulnerability and package.
	Supersedes map[string]string
	// AdvisoryURL gives the web page of a CVE in this distribution's
	// tracker, or "" to use the generic one.
	AdvisoryURL func(id string) string
	// AdvisoryIDPrefixes are the prefixes of the distribution's own
	// advisory ids, with the database's display name ("DSA-": "Debian").
	AdvisoryIDPrefixes []IDPrefix
	// FixChannels are the channels besides the standard archive through
	// which the distribution delivers some fixes (match.Finding's
	// FixChannel), with the service behind each.
	FixChannels []FixChannel
}

// FixChannel is a channel through which a distribution delivers fixes
// that its standard archive does not, and what a machine needs to install
// them.
type FixChannel struct {
	Channel advisory.FixChannel
	// Service names what delivers the channel's fixes ("Ubuntu Pro").
	Service string
	// Enable says, as an instruction, what a machine needs before it can
	// install the channel's fixes ("attach the machine to ...").
	Enable string
}

// IDPrefix names the database behind advisory ids with one prefix.
type IDPrefix struct {
	Prefix, Database string
}

// NameKind says which package name advisories use.
type NameKind string

// Name kinds.
const (
	NameSource NameKind = "source"
	NameBinary NameKind = "binary"
	NameOrigin NameKind = "origin"
)

// ReleaseFile is a distribution release file and the pattern whose first
// group is the version.
type ReleaseFile struct {
	Path    string
	Pattern *regexp.Regexp
}

// Release is one release with advisory data.
type Release struct {
	// Name is the release as it appears in the namespace ("22.04").
	Name string
	// EOL is the last day of the release's support (zero: not known or
	// not announced). From the day after, findings are informational.
	EOL time.Time
	// AfterEOL, when set, says what the data are after EOL (Ubuntu's
	// "standard support ended; ESM data is used").
	AfterEOL string
}

// Date is a calendar day in UTC, for EOL tables.
func Date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// MajorRelease is a Release function that keeps the part before the first dot.
func MajorRelease(v string) string { return strings.SplitN(v, ".", 2)[0] }

// Lookup finds a release of d.
func (d *Descriptor) Lookup(release string) (Release, bool) {
	for _, r := range d.Releases {
		if r.Name == release {
			return r, true
		}
	}
	return Release{}, false
}

// ReleaseOf derives the advisory release of a version.
func (d *Descriptor) ReleaseOf(v string) string {
	v = strings.TrimSpace(v)
	if d.Release == nil {
		return v
	}
	return d.Release(v)
}

// EOLNote says, for a release at day now, that its support has ended and
// findings are informational, or "" while it is supported or when its EOL
// is not known.
func (d *Descriptor) EOLNote(release string, now time.Time) string {
	r, ok := d.Lookup(release)
	if !ok || r.EOL.IsZero() || now.IsZero() || now.Before(r.EOL.AddDate(0, 0, 1)) {
		return ""
	}
	what := "support ended"
	if r.AfterEOL != "" {
		what = r.AfterEOL
	}
	return fmt.Sprintf("%s %s reached end of life after %s (%s): findings for a discontinued OS are informational.", d.Name, release, r.EOL.Format(time.DateOnly), what)
}

// List is a set of descriptors, looked up by id.
type List []Descriptor

// ByID returns the descriptor whose ID or os-release IDs include id.
func (l List) ByID(id string) (*Descriptor, bool) {
	id = strings.ToLower(strings.TrimSpace(id))
	for i := range l {
		if l[i].ID == id || slices.Contains(l[i].OSReleaseIDs, id) {
			return &l[i], true
		}
	}
	return nil, false
}

// ByNamespace returns the descriptor of an advisory namespace ("debian:12").
func (l List) ByNamespace(ns string) (*Descriptor, bool) {
	id, _, ok := strings.Cut(ns, ":")
	if !ok {
		return nil, false
	}
	for i := range l {
		if l[i].ID == id {
			return &l[i], true
		}
	}
	return nil, false
}

// FeedNamespace is the namespace whose feed data serve ns: the alias of its
// distribution, or ns itself.
func (l List) FeedNamespace(ns string) string {
	d, ok := l.ByNamespace(ns)
	if !ok || d.DataAlias == nil {
		return ns
	}
	_, rel, _ := strings.Cut(ns, ":")
	if a := d.DataAlias(rel); a != "" {
		return a
	}
	return ns
}

// SourceRank is the rank of a feed among those of any distribution.
func (l List) SourceRank(source string) int {
	for i := range l {
		if r, ok := l[i].SourceRank[source]; ok {
			return r
		}
	}
	return 0
}

// Supersedes maps each superseded feed to the feed that replaces it
// release by release (Descriptor.Supersedes), over every distribution.
func (l List) Supersedes() map[string]string {
	out := map[string]string{}
	for i := range l {
		maps.Copy(out, l[i].Supersedes)
	}
	return out
}

// OutrankedBy names the feed of the same distribution whose judgement of a
// vulnerability replaces source's entirely (the next higher rank), or "".
func (l List) OutrankedBy(source string) string {
	for i := range l {
		r, ok := l[i].SourceRank[source]
		if !ok {
			continue
		}
		best, bestRank := "", 0
		for s, sr := range l[i].SourceRank {
			if sr > r && (best == "" || sr < bestRank || (sr == bestRank && s < best)) {
				best, bestRank = s, sr
			}
		}
		return best
	}
	return ""
}

// Wanted reports whether detection reads path: the os-release files and
// every descriptor's release files.
func (l List) Wanted(path string) bool {
	if path == "etc/os-release" || path == "usr/lib/os-release" {
		return true
	}
	for i := range l {
		for _, f := range l[i].ReleaseFiles {
			if f.Path == path {
				return true
			}
		}
	}
	return false
}

// ReleaseFiles lists the release files of every descriptor, in list order.
func (l List) ReleaseFiles() []string {
	var out []string
	for i := range l {
		for _, f := range l[i].ReleaseFiles {
			out = append(out, f.Path)
		}
	}
	return out
}
