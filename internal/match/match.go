// Package match turns an inventory into findings: it looks up each package's
// advisories by (namespace, package name), decides with the namespace's version
// scheme whether the installed version is affected, and merges records that
// describe the same vulnerability under different ids.
//
// Matching rules (DESIGN §3):
//   - Debian and Ubuntu records name source packages: they are matched on the
//     package's source name and compared with its source version.
//   - Alpine secdb names the origin (apk's "o:"), matched likewise.
//   - RPM distributions: Red Hat names source RPMs, Amazon and Oracle name
//     binary RPMs; the record's Kind says which name to use. A record for a
//     modularity stream applies only to packages of that stream, and a
//     non-modular record never applies to a modular package. CentOS 7 uses
//     RHEL 7 data.
//   - When one vendor record lists several fixed versions for one package
//     (Red Hat z-streams), the fix whose dist tag matches the installed
//     release stream wins (el9_2 for an el9_2 package); otherwise the main
//     stream's (the lowest fixed version above the installed one).
//   - Language packages match OSV records of their ecosystem ("osv:PyPI").
//
// Status policy, following the vendor:
//   - fixed: a finding when the installed version is below the fix, with
//     status FIXABLE and the fixed version.
//   - affected (no fix yet): a finding with status UNFIXED and no fixed version.
//   - will-not-fix: a finding with status WILL_NOT_FIX and no fixed version.
//   - not-affected: no finding; it also suppresses other records of the same
//     vulnerability for that package from the same namespace.
//   - A withdrawn record, or one whose CVE id was rejected, is never a
//     finding. The DB enforces this at build time for every source (see
//     internal/vulndb); the matcher also skips such a record should a Store
//     return one.
//
// A FIXABLE finding (or an UNKNOWN_VERSION one with a fix) carries the
// FixChannel of the record whose fix it reports: empty for the standard
// archive, or the Ubuntu Pro service (esm-infra, esm-apps,
// esm-infra-legacy) that delivers it. The choice of fix is unchanged by
// the channel: a Pro-only fix is still a fix (Canonical's `pro fix`
// installs it once the machine is attached), and policy decides whether a
// machine without Pro shows it.
//
// # Versions that cannot be compared
//
// An image author controls every installed version, so a version that the
// namespace's scheme cannot parse (apk "1.2.4_r2", npm "latest" or a git
// URL, PyPI "2.10.0 beta", a gem "-", a dpkg version with a space, an empty
// version) must neither fail the scan nor hide the package. Policy:
//
//   - The scan goes on: every other package is matched normally, and only
//     store errors and cancellation fail Match.
//   - The package is looked up as usual (same namespace, names, source
//     package, module stream and arch rules; Keys and Touching are
//     unchanged) and every advisory naming it is decided as far as is
//     safe. A not-affected record suppresses as usual. A record that
//     affects every version whatever the installed one (no ranges, or a
//     range opened at "0" that nothing closes) gives its ordinary UNFIXED
//     finding, and a will-not-fix record its WILL_NOT_FIX finding (its
//     ranges are never compared). Any other record cannot be evaluated and
//     gives a finding with status UNKNOWN_VERSION, carrying the fixed
//     version the record names (the highest of its fixed events; across
//     records, the one a FIXABLE finding would pick), the usual severity,
//     and VersionError, the scheme's error naming the version. When
//     records disagree the strongest outcome wins: FIXABLE, then
//     UNKNOWN_VERSION with a fix, then UNFIXED/WILL_NOT_FIX, then
//     UNKNOWN_VERSION without a fix (see decide).
//   - The same holds for a range event of an advisory that its scheme
//     cannot parse (Alpine's secdb has a few, e.g. "0.8.21.r2"): that
//     record is undecided, so with nothing stronger the finding is
//     UNKNOWN_VERSION, and VersionError names the advisory. An entry of an
//     advisory's list of exact versions that the scheme rejects is skipped
//     instead (version.Affected): it cannot equal a valid installed
//     version.
//   - Result.Degraded lists each such package (name, version, type, path,
//     namespace, the reason, and the advisory when the advisory's version
//     is at fault), whether or not any advisory names it today.
//   - Lenient parsing, only where the scheme itself allows it: surrounding
//     white space is dropped in every scheme (dpkg, PEP 440, node-semver
//     and Gem::Version strip it themselves; no scheme orders by it), npm
//     versions lose leading "=" and "v" as npm's semver.clean drops them,
//     and the comparators' own spellings apply (a "v" prefix in semver,
//     PEP 440, Go and Composer). Nothing else is guessed: versions are
//     never compared as plain strings, and a git URL's "#ref" is not read
//     as a version (the ref can point at any commit).
//
// PackageMemo remembers a package's degradation with its findings, so
// memoized and unmemoized matches agree.
package match

import (
	"context"
	"fmt"
	sev "github.com/stowaway-scanner/stowaway/internal/severity"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Candidate is one advisory record that may apply to a package: the advisory
// and one of its affected entries.
type Candidate struct {
	Advisory *advisory.Advisory
	Affected advisory.Affected
}

// Store is what the matcher needs from the vulnerability DB.
type Store interface {
	// Candidates returns the records for one (namespace, package name).
	Candidates(ctx context.Context, namespace, pkg string) ([]Candidate, error)
	// Enrichment returns scoring for a CVE from a namespace-less source
	// (NVD), or nil when there is none.
	Enrichment(ctx context.Context, id string) (*advisory.Advisory, error)
	// Advisory returns every source's record with this id.
	Advisory(ctx context.Context, id string) ([]*advisory.Advisory, error)
}

// Judge is an optional capability of a Store: whether source holds a record
// of id with an affected entry in namespace, the question judgedElsewhere
// asks, answered without reading every affected entry of every record of
// id (a Red Hat CVE lists hundreds of packages). A Store without it is
// asked Advisory(id); both must give the same answer.
type Judge interface {
	Judges(ctx context.Context, source, id, namespace string) (bool, error)
}

// Status of a finding.
type Status string

// Finding statuses.
const (
	StatusFixable    Status = "FIXABLE"
	StatusUnfixed    Status = "UNFIXED"
	StatusWillNotFix Status = "WILL_NOT_FIX"
	// StatusUnknownVersion: an advisory names the package, but whether the
	// installed version is affected could not be decided because a version
	// to compare (the installed one, or one in the advisory's ranges) is
	// invalid in the namespace's scheme. Finding.VersionError says which.
	StatusUnknownVersion Status = "UNKNOWN_VERSION"
)

// Finding is one vulnerability in one package.
type Finding struct {
	// ID is the vulnerability's canonical id: its CVE when it has one, else
	// the GHSA id, else the record's own id.
	ID string `json:"id"`
	// Related lists the other ids the merged records carry (DSA, ALAS, GHSA ...).
	Related      []string          `json:"related,omitempty"`
	Package      inventory.Package `json:"package"`
	Namespace    string            `json:"namespace"`
	Status       Status            `json:"status"`
	FixedVersion string            `json:"fixedVersion,omitempty"`
	// FixChannel is where FixedVersion is delivered when that is not the
	// distribution's standard archive: an Ubuntu Pro service (esm-infra,
	// esm-apps, esm-infra-legacy) that a machine must be attached to
	// before it can install the fix. Empty for standard fixes and for
	// findings without a fixed version.
	FixChannel advisory.FixChannel `json:"fixChannel,omitempty"`
	// Severity is an ECR level; SeveritySource says where it came from:
	// "vendor:<source>", "cvss3:<scorer>", "cvss2:<scorer>" or "none".
	Severity       sev.Severity    `json:"severity"`
	SeveritySource string          `json:"severitySource"`
	VendorSeverity sev.Severity    `json:"vendorSeverity,omitempty"`
	CVSS3          *advisory.CVSS  `json:"cvss3,omitempty"`
	CVSS2          *advisory.CVSS  `json:"cvss2,omitempty"`
	Description    string          `json:"description,omitempty"`
	URI            string          `json:"uri,omitempty"`
	References     []string        `json:"references,omitempty"`
	Sources        []string        `json:"sources"`
	Published      time.Time       `json:"published,omitzero"`
	Modified       time.Time       `json:"modified,omitzero"`
	FirstRecord    advisory.Status `json:"-"`
	// VersionError is set on UNKNOWN_VERSION findings: the scheme's error
	// for the version that could not be compared, naming the version (and
	// the advisory, when the advisory's version is at fault).
	VersionError string `json:"versionError,omitempty"`
	// Exploit context, set by the scan (internal/scan) from the DB's kev
	// and epss sources for a finding with a CVE (its ID; for a finding
	// named otherwise, such as a GHSA, the CVEs among Related).
	// ExploitAvailable is Inspector's: YES when one of the
	// CVEs is in CISA's KEV catalog (KEV is that entry), NO when the DB
	// holds the catalog and none is; "" when the finding names no CVE or
	// the DB has no KEV data. EPSS is the highest EPSS score among the
	// CVEs, nil when none is scored.
	ExploitAvailable string         `json:"exploitAvailable,omitempty"`
	KEV              *advisory.KEV  `json:"kev,omitempty"`
	EPSS             *advisory.EPSS `json:"epss,omitempty"`
	// Dependency, set by the scan for a language package whose file (or
	// its project's lockfile) records a dependency graph, says whether
	// the package is a direct or a transitive dependency and a shortest
	// path to it from the project (inventory.Graph).
	Dependency *inventory.Dependency `json:"dependency,omitempty"`
	// SymbolPresence is set on every finding of a Go module or the Go
	// standard library: whether the records' vulnerable symbols are in
	// the binary the package was read from (see SymbolPresence).
	// VulnerableSymbols names those found ("golang.org/x/text/language.Parse",
	// or a package's path when the record lists it without symbols);
	// SymbolPresenceReason says why a finding is NOT_PRESENT or UNKNOWN.
	SymbolPresence       SymbolPresence `json:"symbolPresence,omitempty"`
	VulnerableSymbols    []string       `json:"vulnerableSymbols,omitempty"`
	SymbolPresenceReason string         `json:"symbolPresenceReason,omitempty"`
	// SymbolImports are the vulnerable packages the finding's Go records list
	// (their union; records that list none, such as the GHSA copies of a
	// GO record in osv.dev's Go dump, add nothing). Set on osv:Go
	// findings only; never written out.
	SymbolImports []advisory.SymbolImport `json:"-"`
}

// Degraded is a matched package whose version could not be compared: the
// installed version is invalid in the namespace's scheme, or (Advisory
// set) a version in one of its advisories is. Its findings that depend on
// the comparison have status UNKNOWN_VERSION.
type Degraded struct {
	Package   inventory.Package `json:"package"`
	Namespace string            `json:"namespace"`
	// Advisory is the id of the first advisory whose own version could
	// not be parsed, or "" when the installed version is at fault.
	Advisory string `json:"advisory,omitempty"`
	// Reason is the scheme's error, naming the version.
	Reason string `json:"reason"`
}

// Result is the outcome of matching one inventory.
type Result struct {
	Findings []Finding
	// Degraded lists the packages whose versions could not be compared,
	// sorted by name, version, path and type.
	Degraded []Degraded
	// Unsupported is set when the OS could not be matched (UNSUPPORTED_IMAGE).
	Unsupported string
}

// Options tune matching.
type Options struct {
	// Language enables matching of language packages (ENHANCED scanning).
	Language bool
	// Memo, when set, answers packages already matched against the same DB
	// build (see PackageMemo).
	Memo *PackageMemo
	// Distros and Ecosystems say what the matcher knows of each namespace:
	// version scheme, data aliases, feed ranking, name spellings, advisory
	// pages (internal/distro/all and internal/ecosystem/all list
	// Stowaway's). A package of an ecosystem not listed is not matched.
	Distros    distro.List
	Ecosystems ecosystem.List
}

// known is what matching a package needs from the descriptors.
type known struct {
	distros distro.List
	eco     *ecosystem.Descriptor // the package's ecosystem; nil for OS packages
}

// Match matches every package of inv.
func Match(ctx context.Context, store Store, inv *inventory.Inventory, opts Options) (*Result, error) {
	res := &Result{}
	if opts.Memo == nil {
		// A rescan pass shares a memo instead: most of its lookups are hits.
		store = prefetch(ctx, store, Keys(inv, opts))
	}
	osNS := ""
	if d := inv.Distro; d != nil {
		if d.Status == inventory.OSSupported {
			osNS = opts.Distros.FeedNamespace(d.Namespace())
		} else if d.Status != inventory.OSNone {
			res.Unsupported = fmt.Sprintf("%s: %s", d.Status, d.Reason)
		}
	}
	var osCmp version.Comparator
	if osNS != "" {
		ds, ok := opts.Distros.ByNamespace(osNS)
		if !ok {
			return nil, fmt.Errorf("match: no distribution descriptor for namespace %q", osNS)
		}
		if osCmp = ds.Version; osCmp == nil {
			return nil, fmt.Errorf("match: distribution descriptor %q has no version comparator", ds.ID)
		}
	}
	merged := map[string]*Finding{}
	var order []string
	type symKey struct{ pkg, path string }
	var symKeys []symKey
	for i := range inv.Packages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := &inv.Packages[i]
		var ns string
		var cmp version.Comparator
		kn := known{distros: opts.Distros}
		if p.Type.IsOS() {
			if osNS == "" {
				continue
			}
			ns, cmp = osNS, osCmp
		} else {
			eco, ok := opts.Ecosystems.ByType(p.Type)
			if !opts.Language || !ok {
				continue
			}
			kn.eco = eco
			ns = eco.Namespace()
			if cmp = eco.Version; cmp == nil {
				return nil, fmt.Errorf("match: ecosystem descriptor %q has no version comparator", eco.OSV)
			}
		}
		var fs []Finding
		var deg degradation
		var key string
		hit := false
		if opts.Memo != nil {
			key = memoKey(ns, p)
			fs, deg, hit = opts.Memo.get(key, p)
		}
		if !hit {
			var err error
			if fs, deg, err = matchPackage(ctx, store, kn, ns, cmp, p); err != nil {
				return nil, err
			}
			if opts.Memo != nil {
				opts.Memo.put(key, fs, deg)
			}
		}
		if deg.reason != "" {
			res.Degraded = append(res.Degraded, Degraded{Package: *p, Namespace: ns, Advisory: deg.advisory, Reason: deg.reason})
		}
		for _, f := range fs {
			key := f.ID + "\x00" + p.PURL + "\x00" + p.Path
			if old, ok := merged[key]; ok {
				mergeInto(old, f)
				continue
			}
			f := f
			merged[key] = &f
			order = append(order, key)
		}
		if kn.eco != nil && kn.eco.SymbolPresence {
			symKeys = append(symKeys, symKey{p.PURL + "\x00" + p.Path, p.Path})
		}
	}
	// Symbol presence, once every record of a finding is merged in: it
	// depends on this image's binary, so it is never memoized.
	if len(symKeys) > 0 {
		want := map[string]string{}
		for _, k := range symKeys {
			want[k.pkg] = k.path
		}
		for _, k := range order {
			f := merged[k]
			_, pkgKey, _ := strings.Cut(k, "\x00")
			path, ok := want[pkgKey]
			if !ok {
				continue
			}
			symbolPresence(f, inv.SymbolTables[path])
		}
	}
	if err := severities(ctx, store, opts.Distros, merged, order); err != nil {
		return nil, err
	}
	for _, k := range order {
		res.Findings = append(res.Findings, *merged[k])
	}
	SortFindings(res.Findings)
	sortDegraded(res.Degraded)
	return res, nil
}

// sortDegraded orders degraded packages by name, version, path and type.
func sortDegraded(ds []Degraded) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := &ds[i].Package, &ds[j].Package
		switch {
		case a.Name != b.Name:
			return a.Name < b.Name
		case a.Version != b.Version:
			return a.Version < b.Version
		case a.Path != b.Path:
			return a.Path < b.Path
		}
		return a.Type < b.Type
	})
}

// SortFindings orders findings by severity (worst first), then id, then
// package. It sorts indices and moves each finding once: findings are large
// and an image can have thousands.
func SortFindings(fs []Finding) {
	idx := make([]int, len(fs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := &fs[idx[i]], &fs[idx[j]]
		if c := sev.Compare(a.Severity, b.Severity); c != 0 {
			return c > 0
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Package.Name != b.Package.Name {
			return a.Package.Name < b.Package.Name
		}
		return a.Package.Path < b.Package.Path
	})
	sorted := make([]Finding, len(fs))
	for i, k := range idx {
		sorted[i] = fs[k]
	}
	copy(fs, sorted)
}

// lookupNames returns the names to query for p: its own name, its source
// package's name, and the normalized spellings feeds use for ecosystems
// whose names are case-insensitive.
func lookupNames(p *inventory.Package, eco *ecosystem.Descriptor) []string {
	names := []string{p.Name}
	add := func(n string) {
		for _, x := range names {
			if x == n {
				return
			}
		}
		names = append(names, n)
	}
	if p.SourceName != "" {
		add(p.SourceName)
	}
	if eco != nil && eco.NameVariants != nil {
		for _, n := range eco.NameVariants(p.Name) {
			add(n)
		}
	}
	return names
}

// installedVersion is the version compared against a record of kind k,
// normalized as far as the package's scheme allows (see the package doc):
// surrounding white space is dropped, an rpm version gets its epoch, and a
// language package's version is cleaned as its ecosystem says.
func installedVersion(p *inventory.Package, eco *ecosystem.Descriptor, k advisory.PackageKind) string {
	v := strings.TrimSpace(p.Version)
	if k == advisory.KindSource {
		if sv := strings.TrimSpace(p.SourceVersion); sv != "" {
			v = sv
		}
	}
	switch p.Type {
	case inventory.TypeRPM:
		if v != "" {
			v = withEpoch(v, p.Epoch)
		}
	}
	if eco != nil {
		v = eco.Clean(v)
	}
	return v
}

// degradation is why a package's version could not be compared; the zero
// value means it could.
type degradation struct {
	reason   string
	advisory string
}

// versionErrors checks the versions of p that records compare (its own,
// and its source version for source-package records) once each: the
// errors are keyed by the version as installedVersion gives it, nil for a
// valid one. The degradation names the invalid ones.
func versionErrors(cmp version.Comparator, eco *ecosystem.Descriptor, p *inventory.Package) (map[string]error, degradation) {
	errs := make(map[string]error, 2)
	var deg degradation
	kinds := []advisory.PackageKind{advisory.KindBinary}
	if p.Type.IsOS() {
		kinds = append(kinds, advisory.KindSource)
	}
	for _, k := range kinds {
		v := installedVersion(p, eco, k)
		if _, done := errs[v]; done {
			continue
		}
		_, err := cmp.Compare(v, v)
		errs[v] = err
		if err == nil {
			continue
		}
		why := err.Error()
		if k == advisory.KindSource {
			why = "source version: " + why
		}
		if deg.reason != "" {
			deg.reason += "; "
		}
		deg.reason += why
	}
	return errs, deg
}

// withEpoch makes an rpm EVR carry its epoch explicitly.
func withEpoch(v string, epoch int) string {
	if strings.Contains(v, ":") {
		return v
	}
	return strconv.Itoa(epoch) + ":" + v
}

// moduleStream is "name:stream" of an rpm modularity label.
func moduleStream(label string) string {
	parts := strings.SplitN(label, ":", 3)
	if len(parts) < 2 {
		return label
	}
	return parts[0] + ":" + parts[1]
}

// matchPackage matches one package. Comparison problems never fail it:
// they give UNKNOWN_VERSION findings and a degradation; only store errors
// and cancellation do.
func matchPackage(ctx context.Context, store Store, kn known, ns string, cmp version.Comparator, p *inventory.Package) ([]Finding, degradation, error) {
	verrs, deg := versionErrors(cmp, kn.eco, p)
	var cands []Candidate
	// A record found under both the binary and the source name is kept
	// once. Another source's record that says the same is kept too: the
	// ranking of sources (judgedElsewhere, preferSources) needs to see it.
	type seenKey struct {
		id     string
		source string
		pkg    string
		ns     string
		fix    string
	}
	seen := map[seenKey]bool{}
	for _, name := range lookupNames(p, kn.eco) {
		cs, err := store.Candidates(ctx, ns, name)
		if err != nil {
			return nil, degradation{}, fmt.Errorf("match %s %s: %w", ns, name, err)
		}
		for _, c := range cs {
			if !c.Advisory.Withdrawn.IsZero() || c.Advisory.Rejected {
				continue // never a finding (the DB stores neither)
			}
			wantName := p.Name
			if c.Affected.Kind == advisory.KindSource {
				wantName = p.SourceName
				if wantName == "" {
					wantName = p.Name
				}
			}
			if !nameEqual(kn.eco, c.Affected.Package, wantName) {
				continue
			}
			k := seenKey{c.Advisory.ID, c.Advisory.Source, c.Affected.Package, c.Affected.Namespace, fmt.Sprint(c.Affected.Ranges, c.Affected.Status, c.Affected.Module)}
			if seen[k] {
				continue
			}
			seen[k] = true
			cands = append(cands, c)
		}
	}
	stream := ""
	if p.Type == inventory.TypeRPM && p.Module != "" {
		stream = moduleStream(p.Module)
	}
	// Group the records per vulnerability id so that not-affected and
	// several fixed versions are decided together.
	type group struct {
		recs []Candidate
	}
	groups := map[string]*group{}
	var ids []string
	for _, c := range cands {
		if p.Type == inventory.TypeRPM && moduleStream(c.Affected.Module) != stream {
			continue
		}
		if len(c.Affected.Arches) > 0 && p.Arch != "" && !archMatches(c.Affected.Arches, p.Arch) {
			continue
		}
		for _, id := range expandIDs(c.Advisory) {
			g, ok := groups[id]
			if !ok {
				g = &group{}
				groups[id] = g
				ids = append(ids, id)
			}
			g.recs = append(g.recs, c)
		}
	}
	var out []Finding
	for _, id := range ids {
		g := groups[id]
		judged, err := judgedElsewhere(ctx, store, kn.distros, ns, id, g.recs)
		if err != nil {
			return nil, degradation{}, fmt.Errorf("match %s %s %s: %w", ns, p.Name, id, err)
		}
		if judged {
			continue
		}
		f, ok, bad := decide(cmp, kn, p, id, g.recs, verrs)
		if bad.reason != "" && deg.reason == "" {
			deg = bad
		}
		if ok {
			f.Namespace = ns
			out = append(out, f)
		}
	}
	return out, deg, nil
}

func nameEqual(eco *ecosystem.Descriptor, a, b string) bool {
	if eco == nil {
		return a == b
	}
	return eco.Equal(a, b)
}

func archMatches(arches []string, arch string) bool {
	for _, a := range arches {
		if a == arch || a == "noarch" || arch == "noarch" {
			return true
		}
	}
	return false
}

// expandIDs gives the vulnerability ids a record stands for: a vendor
// advisory that lists CVEs (ALAS, DSA, RHSA) stands for each of them.
func expandIDs(a *advisory.Advisory) []string {
	if strings.HasPrefix(a.ID, "CVE-") {
		return []string{a.ID}
	}
	var cves []string
	ghsa := ""
	for _, al := range a.Aliases {
		switch {
		case strings.HasPrefix(al, "CVE-"):
			cves = append(cves, al)
		case strings.HasPrefix(al, "GHSA-") && ghsa == "":
			ghsa = al
		}
	}
	if len(cves) > 0 {
		sort.Strings(cves)
		return dedupe(cves)
	}
	if strings.HasPrefix(a.ID, "GHSA-") || ghsa == "" {
		return []string{a.ID}
	}
	return []string{ghsa}
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// judgedElsewhere reports whether every record of a group comes from feeds
// outranked by a feed that has judged this vulnerability for the namespace
// without listing the package: then the better feed says the package is not
// affected (Ubuntu's tracker lists pcre3 for a CVE that the older OVAL
// snapshot attached to pcre2).
func judgedElsewhere(ctx context.Context, store Store, distros distro.List, ns, id string, recs []Candidate) (bool, error) {
	better := ""
	for _, c := range recs {
		b := distros.OutrankedBy(c.Advisory.Source)
		if b == "" || (better != "" && b != better) {
			return false, nil
		}
		better = b
	}
	if better == "" {
		return false, nil
	}
	return judges(ctx, store, better, id, ns)
}

// judges asks store Judge's question: through its Judges when it has the
// capability, else from its Advisory records.
func judges(ctx context.Context, store Store, source, id, ns string) (bool, error) {
	if j, ok := store.(Judge); ok {
		return j.Judges(ctx, source, id, ns)
	}
	advs, err := store.Advisory(ctx, id)
	if err != nil {
		return false, err
	}
	for _, a := range advs {
		if a.Source != source {
			continue
		}
		for _, af := range a.Affected {
			if af.Namespace == ns {
				return true, nil
			}
		}
	}
	return false, nil
}

// preferSources drops records of feeds outranked by another feed's records
// in the same group.
func preferSources(distros distro.List, recs []Candidate) []Candidate {
	top := 0
	for _, c := range recs {
		if r := distros.SourceRank(c.Advisory.Source); r > top {
			top = r
		}
	}
	if top == 0 {
		return recs
	}
	out := recs[:0:0]
	for _, c := range recs {
		if r := distros.SourceRank(c.Advisory.Source); r == 0 || r == top {
			out = append(out, c)
		}
	}
	return out
}

// decide applies the records of one vulnerability to one package. verrs
// holds the installed versions' validity (versionErrors). A record that
// cannot be evaluated, because the installed version or one of the
// record's versions is invalid, is undecided; the outcome, strongest first:
//
//   - FIXABLE when a record that could be evaluated says so;
//   - UNKNOWN_VERSION with a fixed version when an undecided record has a
//     fix (the one a FIXABLE finding would report);
//   - UNFIXED or WILL_NOT_FIX from a record that could be evaluated or that
//     does not depend on the version (no ranges; an open range from "0";
//     will-not-fix, whose ranges are never compared);
//   - UNKNOWN_VERSION without a fixed version from any undecided record.
//
// A not-affected record suppresses the finding whatever the versions. When
// the outcome is UNKNOWN_VERSION, the degradation returned names the first
// record whose own version was invalid, if any (installed-version problems
// are reported by versionErrors).
func decide(cmp version.Comparator, kn known, p *inventory.Package, id string, recs []Candidate, verrs map[string]error) (Finding, bool, degradation) {
	recs = preferSources(kn.distros, recs)
	var (
		best     *Candidate
		bestFix  string
		status   Status
		affected bool
		// The undecided record chosen so far, its fix and why.
		unk    *Candidate
		unkFix string
		unkWhy string
		bad    degradation
	)
	for i := range recs {
		if recs[i].Affected.Status == advisory.StatusNotAffected {
			return Finding{}, false, degradation{}
		}
	}
	installedTag := distTag(p.Version)
	undecided := func(c *Candidate, why string) {
		fix := recordFix(cmp, c.Affected.Ranges)
		if unk == nil || (fix != "" && betterFix(cmp, installedTag, fix, unkFix)) {
			unk, unkFix, unkWhy = c, fix, why
		}
	}
	recordFailed := func(c *Candidate, err error) {
		why := fmt.Sprintf("advisory %s (%s): %v", c.Advisory.ID, c.Advisory.Source, err)
		if bad.reason == "" {
			bad = degradation{reason: why, advisory: c.Advisory.ID}
		}
		undecided(c, why)
	}
	for i := range recs {
		c := &recs[i]
		v := installedVersion(p, kn.eco, c.Affected.Kind)
		verr, checked := verrs[v]
		if !checked {
			_, verr = cmp.Compare(v, v)
			verrs[v] = verr
		}
		switch c.Affected.Status {
		case advisory.StatusFixed:
			if verr != nil {
				if !version.AffectsEvery(c.Affected.Ranges, c.Affected.Versions) {
					undecided(c, verr.Error())
				} else if status == "" {
					best, status, affected = c, StatusUnfixed, true
				}
				continue
			}
			hit, fix, err := version.Affected(cmp, c.Affected.Ranges, c.Affected.Versions, v)
			if err != nil {
				recordFailed(c, err)
				continue
			}
			if !hit {
				// A fix for this stream that the package already has:
				// the record that matches the stream decides.
				if fix == "" && installedTag != "" && fixedTagOf(c) == installedTag {
					return Finding{}, false, degradation{}
				}
				continue
			}
			if fix == "" {
				// Affected range without a fix (OSV records with only
				// introduced events or explicit versions).
				if status == "" {
					best, status, affected = c, StatusUnfixed, true
				}
				continue
			}
			if status != StatusFixable || betterFix(cmp, installedTag, fix, bestFix) {
				best, bestFix, status, affected = c, fix, StatusFixable, true
			}
		case advisory.StatusAffected:
			if len(c.Affected.Ranges) > 0 || len(c.Affected.Versions) > 0 {
				if verr != nil {
					if !version.AffectsEvery(c.Affected.Ranges, c.Affected.Versions) {
						undecided(c, verr.Error())
						continue
					}
				} else {
					hit, _, err := version.Affected(cmp, c.Affected.Ranges, c.Affected.Versions, v)
					if err != nil {
						recordFailed(c, err)
						continue
					}
					if !hit {
						continue
					}
				}
			}
			if status == "" {
				best, status, affected = c, StatusUnfixed, true
			}
		case advisory.StatusWillNotFix:
			if status == "" {
				best, status, affected = c, StatusWillNotFix, true
			}
		}
	}
	why := ""
	switch {
	case status == StatusFixable:
	case unk != nil && (unkFix != "" || !affected):
		best, bestFix, status, why = unk, unkFix, StatusUnknownVersion, unkWhy
	case !affected:
		return Finding{}, false, degradation{}
	}
	if status != StatusUnknownVersion {
		// An advisory's bad version did not change the outcome.
		bad = degradation{}
	}
	f := Finding{ID: id, Package: *p, Status: status, FixedVersion: bestFix, VersionError: why}
	if bestFix != "" && best != nil {
		f.FixChannel = best.Affected.FixChannel
	}
	for i := range recs {
		addRecord(&f, recs[i].Advisory, recs[i].Affected)
	}
	if kn.eco != nil && kn.eco.SymbolPresence {
		for i := range recs {
			addSymbolImports(&f, recs[i].Affected.SymbolImports)
		}
	}
	if best != nil && best.Affected.Severity != "" {
		f.VendorSeverity = best.Affected.Severity
	}
	return f, true, bad
}

// recordFix is the fixed version an undecided record would report: the
// highest valid fixed event of its ranges (the lowest version that leaves
// all of them, as Affected reports for a version inside several), or ""
// when it has none.
func recordFix(cmp version.Comparator, ranges []advisory.Range) string {
	fix := ""
	for _, r := range ranges {
		for _, e := range r.Events {
			if e.Fixed == "" || e.Introduced != "" || e.LastAffected != "" || e.Limit != "" {
				continue
			}
			if fix == "" {
				if _, err := cmp.Compare(e.Fixed, e.Fixed); err == nil {
					fix = e.Fixed
				}
				continue
			}
			if n, err := cmp.Compare(e.Fixed, fix); err == nil && n > 0 {
				fix = e.Fixed
			}
		}
	}
	return fix
}

// distTag is the rpm dist tag of a release: "el9_3" of "1.0-2.el9_3.1".
func distTag(v string) string {
	i := strings.Index(v, ".el")
	if i < 0 {
		return ""
	}
	tag := v[i+1:]
	if j := strings.IndexAny(tag, ".+~"); j >= 0 {
		tag = tag[:j]
	}
	return tag
}

func fixedTagOf(c *Candidate) string {
	for _, r := range c.Affected.Ranges {
		for _, e := range r.Events {
			if e.Fixed != "" {
				return distTag(e.Fixed)
			}
		}
	}
	return ""
}

// betterFix prefers a fix in the installed dist tag's stream, then the lowest.
func betterFix(cmp version.Comparator, installedTag, fix, best string) bool {
	if best == "" {
		return true
	}
	ft, bt := distTag(fix), distTag(best)
	if installedTag != "" && (ft == installedTag) != (bt == installedTag) {
		return ft == installedTag
	}
	c, err := cmp.Compare(fix, best)
	return err == nil && c < 0
}

func addRecord(f *Finding, a *advisory.Advisory, af advisory.Affected) {
	for _, id := range append([]string{a.ID}, a.Aliases...) {
		if id != f.ID && !slices.Contains(f.Related, id) {
			f.Related = append(f.Related, id)
		}
	}
	if af.Advisory != "" && af.Advisory != f.ID && !slices.Contains(f.Related, af.Advisory) {
		f.Related = append(f.Related, af.Advisory)
	}
	sort.Strings(f.Related)
	if !slices.Contains(f.Sources, a.Source) {
		f.Sources = append(f.Sources, a.Source)
	}
	if f.Description == "" {
		f.Description = firstNonEmpty(a.Description, a.Summary)
	}
	if f.VendorSeverity == "" && a.Severity != "" {
		f.VendorSeverity = a.Severity
		f.SeveritySource = "vendor:" + a.Source
	}
	for _, c := range a.CVSS {
		c := c
		switch {
		case strings.HasPrefix(c.Version, "3") && f.CVSS3 == nil:
			f.CVSS3 = &c
		case strings.HasPrefix(c.Version, "2") && f.CVSS2 == nil:
			f.CVSS2 = &c
		}
	}
	for _, r := range a.References {
		if !slices.Contains(f.References, r) {
			f.References = append(f.References, r)
		}
	}
	if f.Published.IsZero() || (!a.Published.IsZero() && a.Published.Before(f.Published)) {
		f.Published = a.Published
	}
	if a.Modified.After(f.Modified) {
		f.Modified = a.Modified
	}
}

func mergeInto(dst *Finding, src Finding) {
	for _, id := range append([]string{src.ID}, src.Related...) {
		if id != dst.ID && !slices.Contains(dst.Related, id) {
			dst.Related = append(dst.Related, id)
		}
	}
	sort.Strings(dst.Related)
	for _, s := range src.Sources {
		if !slices.Contains(dst.Sources, s) {
			dst.Sources = append(dst.Sources, s)
		}
	}
	if statusRank(src) > statusRank(*dst) {
		dst.Status, dst.FixedVersion, dst.VersionError, dst.FixChannel = src.Status, src.FixedVersion, src.VersionError, src.FixChannel
	}
	if dst.VendorSeverity == "" {
		dst.VendorSeverity = src.VendorSeverity
	}
	if dst.CVSS3 == nil {
		dst.CVSS3 = src.CVSS3
	}
	if dst.CVSS2 == nil {
		dst.CVSS2 = src.CVSS2
	}
	if dst.Description == "" {
		dst.Description = src.Description
	}
	if len(src.SymbolImports) > 0 {
		dst.SymbolImports = append(slices.Clip(dst.SymbolImports), src.SymbolImports...)
	}
}

// statusRank orders the outcomes of a finding as decide does, strongest
// first: FIXABLE, UNKNOWN_VERSION with a fix, UNFIXED and WILL_NOT_FIX,
// UNKNOWN_VERSION without a fix.
func statusRank(f Finding) int {
	switch {
	case f.Status == StatusFixable:
		return 3
	case f.Status == StatusUnknownVersion && f.FixedVersion != "":
		return 2
	case f.Status == StatusUnknownVersion:
		return 0
	}
	return 1
}

// severities rates every finding, prefetchWorkers at a time (each finding
// is its own; the enrichment lookups are independent reads). The first
// error in order is returned.
func severities(ctx context.Context, store Store, distros distro.List, merged map[string]*Finding, order []string) error {
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	next := make(chan int)
	for range prefetchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = severity(ctx, store, distros, merged[order[i]])
			}
		}()
	}
	for i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// severity applies ECR's rule: vendor severity, else CVSS v3 base score, else
// v2, each mapped to NVD's ratings of its CVSS version (severity.FromCVSS,
// severity.FromCVSSv2: a v2 9.3 is HIGH), else UNDEFINED. NVD fills in CVSS
// that the vendor record lacks.
func severity(ctx context.Context, store Store, distros distro.List, f *Finding) error {
	if strings.HasPrefix(f.ID, "CVE-") && (f.CVSS3 == nil || f.CVSS2 == nil || f.Description == "") {
		e, err := store.Enrichment(ctx, f.ID)
		if err != nil {
			return fmt.Errorf("match: enrich %s: %w", f.ID, err)
		}
		if e != nil {
			for _, c := range e.CVSS {
				c := c
				switch {
				case strings.HasPrefix(c.Version, "3") && f.CVSS3 == nil:
					f.CVSS3 = &c
				case strings.HasPrefix(c.Version, "2") && f.CVSS2 == nil:
					f.CVSS2 = &c
				}
			}
			if f.Description == "" {
				f.Description = e.Description
			}
		}
	}
	switch {
	case f.VendorSeverity.Rank() > 0:
		f.Severity = f.VendorSeverity
		if f.SeveritySource == "" {
			f.SeveritySource = "vendor:" + strings.Join(f.Sources, ",")
		}
	case f.CVSS3 != nil && f.CVSS3.Score > 0:
		f.Severity, f.SeveritySource = sev.FromCVSS(f.CVSS3.Score), "cvss3:"+f.CVSS3.Source
	case f.CVSS2 != nil && f.CVSS2.Score > 0:
		f.Severity, f.SeveritySource = sev.FromCVSSv2(f.CVSS2.Score), "cvss2:"+f.CVSS2.Source
	default:
		f.Severity, f.SeveritySource = sev.Undefined, "none"
	}
	if f.URI == "" {
		f.URI = advisoryURL(distros, f)
	}
	return nil
}

func advisoryURL(distros distro.List, f *Finding) string {
	switch {
	case strings.HasPrefix(f.ID, "CVE-"):
		if d, ok := distros.ByNamespace(f.Namespace); ok && d.AdvisoryURL != nil {
			if u := d.AdvisoryURL(f.ID); u != "" {
				return u
			}
		}
		return "https://nvd.nist.gov/vuln/detail/" + f.ID
	case strings.HasPrefix(f.ID, "GHSA-"):
		return "https://github.com/advisories/" + f.ID
	}
	if len(f.References) > 0 {
		return f.References[0]
	}
	return "https://osv.dev/vulnerability/" + f.ID
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Label names a degraded package for people: its name, quoted version and
// path, plus the advisory when the advisory's version is at fault, e.g.
// `lodash "latest" (app/package.json)` or
// `busybox "1.36.1-r15" (lib/apk/db/installed; advisory CVE-2022-28391)`.
// Every part is clipped (name 64, version 64, path 96, advisory 64 bytes)
// and control characters are replaced, so a hostile inventory can neither
// flood nor garble a status line or a terminal.
func (d Degraded) Label() string {
	var b strings.Builder
	b.WriteString(Clip(d.Package.Name, 64))
	b.WriteByte(' ')
	b.WriteString(strconv.Quote(Clip(d.Package.Version, 64)))
	var in []string
	if d.Package.Path != "" {
		in = append(in, Clip(d.Package.Path, 96))
	}
	if d.Advisory != "" {
		in = append(in, "advisory "+Clip(d.Advisory, 64))
	}
	if len(in) > 0 {
		b.WriteString(" (" + strings.Join(in, "; ") + ")")
	}
	return b.String()
}

// Clip makes untrusted text safe to show in one line: invalid UTF-8 and
// non-printable characters become '?', and text longer than max bytes
// keeps its start and end around "...".
func Clip(s string, max int) string {
	clean := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if len(clean) <= max {
		return clean
	}
	keep := max - 3
	if keep < 2 {
		keep = 2
	}
	head := keep / 2
	tail := keep - head
	for head > 0 && !utf8.RuneStart(clean[head]) {
		head--
	}
	start := len(clean) - tail
	for start < len(clean) && !utf8.RuneStart(clean[start]) {
		start++
	}
	return clean[:head] + "..." + clean[start:]
}
