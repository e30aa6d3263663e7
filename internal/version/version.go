// Package version compares package versions in the version schemes that
// several distributions or ecosystems share, named after their package
// formats and grammars, and decides whether a version falls in an
// advisory's OSV-style ranges.
//
// # Schemes and implementations
//
// Each scheme has one Comparator type. Which comparator a namespace uses is
// its distribution's or ecosystem's descriptor's to say (packages distro and
// ecosystem); a scheme that only one ecosystem uses lives in that
// ecosystem's package (internal/ecosystem/<name>) and is built on this
// package's CheckInput, Invalid and CompareDigits. Every comparator is a
// total order over the versions it accepts (antisymmetric, transitive,
// Compare(a, a) == 0; fuzzed), rejects what it cannot order with an error
// that names the scheme and wraps ErrInvalid, and never panics. Versions
// longer than MaxLen bytes, empty versions and versions with spaces or
// control characters are invalid in every scheme (CheckInput).
//
//   - dpkg: github.com/knqyf263/go-deb-version (epoch, upstream, revision,
//     tilde). Passes every Debian vector.
//   - apk: our own implementation of apk-tools 3's version grammar and
//     ordering (including "~hash" and string comparison of components with a
//     leading zero), because github.com/knqyf263/go-apk-version follows
//     apk-tools 2. As apk-tools 2 did, a letter may be followed by digits
//     ("6.6.2p1", still in Alpine's secdb). Other versions that apk-tools'
//     validator rejects are errors, where apk falls back to an ad-hoc
//     comparison; the vectors that rely on it are in the test allow-list.
//   - rpm: github.com/knqyf263/go-rpm-version's rpmvercmp (tilde and caret),
//     behind our own EVR parser, which rejects a non-numeric epoch instead of
//     reading it as 0.
//   - semver (the npm and crates.io descriptors use it):
//     github.com/Masterminds/semver/v3 in strict mode plus an optional "v"
//     prefix. Numeric components above 2^53-1 and versions without exactly
//     three numeric components are invalid, as in npm's node-semver.
//
// The tests' shared checks (edge-case files, the ../shared test vectors with
// their allow-lists, the fuzz target and the longest-version benchmark) are
// in versiontest, for this package's comparators and the ecosystems' alike.
//
// # Ranges
//
// Affected evaluates OSV ranges: the events of each range are sorted by
// version and swept in order (introduced opens, fixed and limit close at the
// version, last_affected closes after it; "0" introduced is the beginning).
// See Affected for the exact rules.
package version

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// MaxLen is the longest version string any comparator accepts.
const MaxLen = 256

// ErrInvalid is wrapped by every error about a version a scheme cannot parse.
var ErrInvalid = errors.New("invalid version")

// Comparator orders versions of one scheme. Compare returns -1, 0 or +1 as a
// is less than, equal to or greater than b, or an error wrapping ErrInvalid
// when either version is invalid in the scheme.
type Comparator interface {
	Compare(a, b string) (int, error)
}

// CheckInput applies the rules shared by every scheme to v: not empty, at
// most MaxLen bytes, no space or control character. The error names the
// scheme and wraps ErrInvalid.
func CheckInput(scheme, v string) error {
	if v == "" {
		return fmt.Errorf("%s: empty version: %w", scheme, ErrInvalid)
	}
	if len(v) > MaxLen {
		return fmt.Errorf("%s: version of %d bytes is longer than %d: %w", scheme, len(v), MaxLen, ErrInvalid)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%s: version %q: space or control character at byte %d: %w", scheme, v, i, ErrInvalid)
		}
	}
	return nil
}

// Invalid returns an error about v that names the scheme and wraps
// ErrInvalid and, when it is not nil, why.
func Invalid(scheme, v string, why error) error {
	if why == nil {
		return fmt.Errorf("%s: version %q: %w", scheme, v, ErrInvalid)
	}
	return fmt.Errorf("%s: version %q: %w: %w", scheme, v, ErrInvalid, why)
}

// CompareDigits compares two strings of ASCII digits as numbers of any
// length (leading zeros do not count), returning -1, 0 or +1.
func CompareDigits(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

// sign maps a comparison result to -1, 0 or +1.
func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Affected reports whether v is affected by an OSV-style affected entry, and
// the version that fixes it.
//
//   - The events of each range are sorted by version ("0" introduced first;
//     on a tie introduced sorts before the other kinds) and swept: an
//     introduced event at or below v opens an interval, a fixed or limit
//     event at or below v closes it, a last_affected event strictly below v
//     closes it. v is affected when an interval of some range is open at v.
//   - fixedIn is the first fixed event above v that closes v's interval, or
//     "" when that interval ends with last_affected or limit, or never ends.
//     When v lies in intervals of several ranges, fixedIn is the highest of
//     their fixes (the lowest version that leaves all of them), or "" when
//     any of them has no fix.
//   - versions lists exactly affected versions (Compare == 0); v is affected
//     when it equals one of them, in addition to the ranges. An entry the
//     comparator rejects is skipped: it cannot equal v, which is valid
//     (OSV's lists of versions still carry releases that predate their
//     ecosystem's grammar beside valid ones).
//   - With no range events and no versions every version is affected.
//
// A version the comparator rejects, in v or in a range event, is an error.
func Affected(c Comparator, ranges []advisory.Range, versions []string, v string) (affected bool, fixedIn string, err error) {
	if _, err := c.Compare(v, v); err != nil {
		return false, "", fmt.Errorf("version: affected: installed version: %w", err)
	}
	haveEvents := false
	noFix := false
	for i, r := range ranges {
		if len(r.Events) == 0 {
			continue
		}
		haveEvents = true
		in, fix, err := inRange(c, r.Events, v)
		if err != nil {
			return false, "", fmt.Errorf("version: affected: range %d: %w", i, err)
		}
		if !in {
			continue
		}
		if !affected {
			affected, fixedIn = true, fix
			noFix = fix == ""
			continue
		}
		if fix == "" {
			noFix = true
			continue
		}
		if fixedIn == "" {
			fixedIn = fix
			continue
		}
		n, err := c.Compare(fix, fixedIn)
		if err != nil {
			return false, "", fmt.Errorf("version: affected: range %d: %w", i, err)
		}
		if n > 0 {
			fixedIn = fix
		}
	}
	if noFix {
		fixedIn = ""
	}
	if affected {
		return true, fixedIn, nil
	}
	for _, x := range versions {
		// v is valid, so an error is x's: an invalid entry equals no
		// valid version.
		if n, err := c.Compare(v, x); err == nil && n == 0 {
			return true, "", nil
		}
	}
	if !haveEvents && len(versions) == 0 {
		return true, "", nil
	}
	return false, "", nil
}

// AffectsEvery reports whether an affected entry covers every version
// without comparing any: it has no range events and no versions (Affected's
// "every version is affected"), or one of its ranges has an introduced "0"
// event and nothing but introduced events, so nothing ever closes it. It is
// what matching can still decide for an installed version that its scheme
// cannot parse. A range with a malformed event (not exactly one of
// introduced/fixed/last_affected/limit set) never counts as covering every
// version.
func AffectsEvery(ranges []advisory.Range, versions []string) bool {
	haveEvents := false
	for _, r := range ranges {
		if len(r.Events) == 0 {
			continue
		}
		haveEvents = true
		zero, open := false, true
		for _, e := range r.Events {
			if e.Introduced == "" || e.Fixed != "" || e.LastAffected != "" || e.Limit != "" {
				open = false
				break
			}
			zero = zero || e.Introduced == "0"
		}
		if zero && open {
			return true
		}
	}
	return !haveEvents && len(versions) == 0
}

// event is one range event with its kind and version.
type event struct {
	kind    int // one of the ev* constants; also the tie order
	version string
	zero    bool // introduced "0": before every version
}

const (
	evIntroduced = iota
	evFixed
	evLastAffected
	evLimit
)

// inRange sweeps one range's events, see Affected.
func inRange(c Comparator, raw []advisory.Event, v string) (bool, string, error) {
	evs := make([]event, 0, len(raw))
	for i, e := range raw {
		var ev event
		n := 0
		for _, f := range []struct {
			kind int
			v    string
		}{{evIntroduced, e.Introduced}, {evFixed, e.Fixed}, {evLastAffected, e.LastAffected}, {evLimit, e.Limit}} {
			if f.v != "" {
				n++
				ev = event{kind: f.kind, version: f.v}
			}
		}
		if n != 1 {
			return false, "", fmt.Errorf("event %d: %d of introduced/fixed/last_affected/limit set, want 1", i, n)
		}
		ev.zero = ev.kind == evIntroduced && ev.version == "0"
		evs = append(evs, ev)
	}
	// Compare every event with v first: it validates every version, so the
	// sort below cannot fail halfway.
	rel := make(map[string]int, len(evs)) // Compare(v, event version)
	for _, e := range evs {
		if e.zero {
			continue
		}
		if _, ok := rel[e.version]; ok {
			continue
		}
		n, err := c.Compare(v, e.version)
		if err != nil {
			return false, "", fmt.Errorf("event version: %w", err)
		}
		rel[e.version] = n
	}
	var sortErr error
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		switch {
		case a.zero && b.zero:
			return false
		case a.zero:
			return true
		case b.zero:
			return false
		}
		n, err := c.Compare(a.version, b.version)
		if err != nil && sortErr == nil {
			sortErr = err
		}
		if n != 0 {
			return n < 0
		}
		return a.kind < b.kind
	})
	if sortErr != nil {
		return false, "", fmt.Errorf("sort events: %w", sortErr)
	}
	open := false
	next := len(evs) // first event not at or below v
	for i, e := range evs {
		n := 1
		if !e.zero {
			n = rel[e.version]
		}
		if n < 0 || (n == 0 && e.kind == evLastAffected) {
			// e lies above v (a last_affected equal to v still includes v).
			next = i
			break
		}
		switch e.kind {
		case evIntroduced:
			open = true
		case evFixed, evLimit, evLastAffected:
			open = false
		}
	}
	if !open {
		return false, "", nil
	}
	for _, e := range evs[next:] {
		switch e.kind {
		case evFixed:
			return true, e.version, nil
		case evLastAffected, evLimit:
			return true, "", nil
		}
	}
	return true, "", nil
}
