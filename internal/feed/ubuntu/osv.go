package ubuntu

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed/osv"
)

// OSVMirrorDir is the updater's directory in a mirror, osv.dev's layout:
// it holds all.zip, as osv.Upstream+"Ubuntu/" does online. A mirror
// without it skips the source.
const OSVMirrorDir = "osv/Ubuntu"

// What the OSV updater leaves out on purpose (feed.Stats.Skipped keys).
const (
	skipNotice       = "USN/LSN notice records (the UBUNTU-CVE records carry the same fixes)"
	skipFIPS         = "Ubuntu Pro FIPS entries (FIPS streams are not matched)"
	skipRealtime     = "Ubuntu Pro Realtime kernel entries (a kernel is not in an image)"
	skipProNoService = "Ubuntu Pro fixes whose purl names no ESM pocket"
	skipVariant      = "entries of other Ubuntu variants"
)

// NewOSV returns the "ubuntu-osv" updater: osv.dev's Ubuntu/all.zip (the
// records Canonical publishes in canonical/ubuntu-security-notices
// osv/cve), read by the osv package with Canonical's conventions mapped
// here (see the package doc).
func NewOSV() *osv.Updater {
	return osv.NewWithOptions("Ubuntu", osv.Options{Name: "ubuntu-osv", MirrorDir: "osv", OwnDir: true, Mapper: osvMapper{}})
}

// osvMapper maps Canonical's OSV records (an osv.Mapper).
type osvMapper struct{}

var osvVersion = regexp.MustCompile(`^[0-9]{2}\.[0-9]{2}$`)

// osvEcosystem reads an entry's ecosystem: the release version and whether
// it is the Ubuntu Pro (ESM) stream. skip names why a well-formed entry is
// left out; err says what is wrong with a broken one.
func osvEcosystem(eco string) (ver string, pro bool, skip string, err error) {
	parts := strings.Split(eco, ":")
	if len(parts) < 2 || parts[0] != "Ubuntu" {
		return "", false, "", fmt.Errorf("ecosystem %q is not Ubuntu:<release>", eco)
	}
	switch {
	case parts[1] == "Pro":
		switch {
		case len(parts) >= 3 && strings.HasPrefix(parts[2], "FIPS"):
			return "", false, skipFIPS, nil
		case len(parts) == 4 && parts[3] == "LTS" && osvVersion.MatchString(parts[2]):
			return parts[2], true, "", nil
		case len(parts) >= 5 && parts[3] == "LTS" && parts[4] == "Realtime":
			return "", false, skipRealtime, nil
		}
		return "", false, skipVariant, nil
	case osvVersion.MatchString(parts[1]):
		if len(parts) == 2 || (len(parts) == 3 && parts[2] == "LTS") {
			return parts[1], false, "", nil
		}
		return "", false, skipVariant, nil
	case parts[1] == "" || strings.ContainsAny(parts[1], " \t"):
		return "", false, "", fmt.Errorf("ecosystem %q names no release", eco)
	}
	return "", false, skipVariant, nil // Ubuntu:Nvidia-BlueField:22.04, ...
}

// purlDistro returns the distro qualifier of a pkg:deb/ubuntu purl. It
// reads leniently, as Canonical has published malformed ones
// ("pkg:deb/ubuntu/glibc?arch=src?distro=jammy"): qualifiers may be
// separated by "&" or a stray "?", and values are percent-decoded
// ("esm-apps%2Fjammy"). No purl, or one without the qualifier, gives "";
// a purl that is not a pkg:deb/ubuntu one or does not decode is an error.
func purlDistro(purl string) (string, error) {
	purl = strings.TrimSpace(purl)
	if purl == "" {
		return "", nil
	}
	const prefix = "pkg:deb/ubuntu/"
	if len(purl) < len(prefix) || !strings.EqualFold(purl[:len(prefix)], prefix) {
		return "", fmt.Errorf("purl %q is not a pkg:deb/ubuntu one", purl)
	}
	purl, _, _ = strings.Cut(purl, "#")
	_, quals, _ := strings.Cut(purl, "?")
	distro := ""
	for _, q := range strings.FieldsFunc(quals, func(r rune) bool { return r == '&' || r == '?' }) {
		k, v, _ := strings.Cut(q, "=")
		if !strings.EqualFold(k, "distro") {
			continue
		}
		d, err := url.PathUnescape(v)
		if err != nil {
			return "", fmt.Errorf("purl %q: distro: %w", purl, err)
		}
		distro = d
	}
	return distro, nil
}

// osvPriority is an entry's Ubuntu priority: its own severity of type
// Ubuntu, or (in older records) ecosystem_specific.ubuntu_priority.
func osvPriority(e *osv.Entry) string {
	for _, s := range e.Severity {
		if s.Type == "Ubuntu" {
			return strings.TrimSpace(s.Score)
		}
	}
	if len(e.EcosystemSpecific) == 0 {
		return ""
	}
	var spec struct {
		Priority any `json:"ubuntu_priority"`
	}
	if json.Unmarshal(e.EcosystemSpecific, &spec) != nil {
		return ""
	}
	p, _ := spec.Priority.(string)
	return strings.TrimSpace(p)
}

// proUnknownRank ranks an unfixed Pro entry whose purl names no pocket
// after every named pocket.
const proUnknownRank = 100

// osvCandidate is one entry for a (release, package), with the channel
// its fix would come through and that channel's rank (0 for the
// release's own archive, then esmPocket's ranks plus one).
type osvCandidate struct {
	ch       advisory.FixChannel
	rank     int
	fixed    bool
	ranges   []advisory.Range
	priority string
}

// Map implements osv.Mapper (see the package doc's OSV policy).
func (osvMapper) Map(a *advisory.Advisory, sev []osv.Severity, entries []osv.Entry) osv.Mapped {
	var out osv.Mapped
	problem := func(e *osv.Entry, format string, args ...any) {
		out.Problems = append(out.Problems, fmt.Sprintf("affected[%d]: ", e.Index)+fmt.Sprintf(format, args...))
	}
	switch id := a.ID; {
	case strings.HasPrefix(id, "USN-"), strings.HasPrefix(id, "LSN-"):
		return osv.Mapped{Skip: skipNotice}
	case strings.HasPrefix(id, "UBUNTU-"):
		cve := strings.TrimPrefix(id, "UBUNTU-")
		if !cveID.MatchString(cve) {
			return osv.Mapped{Problems: []string{fmt.Sprintf("id %q names no CVE (want UBUNTU-CVE-<year>-<n>)", id)}}
		}
		a.ID = cve
		a.Aliases = slices.DeleteFunc(a.Aliases, func(s string) bool { return s == cve })
		a.Aliases = append(a.Aliases, id)
		sort.Strings(a.Aliases)
	}
	for _, s := range sev {
		if s.Type == "Ubuntu" {
			a.VendorSeverity, a.Severity = strings.TrimSpace(s.Score), severity(s.Score)
			break
		}
	}

	type key struct{ ns, pkg string }
	groups := map[key][]osvCandidate{}
	var order []key
	for i := range entries {
		e := &entries[i]
		ver, pro, skip, err := osvEcosystem(e.Ecosystem)
		switch {
		case err != nil:
			problem(e, "%v", err)
			continue
		case skip != "":
			out.Skipped = append(out.Skipped, skip)
			continue
		}
		if !debName.MatchString(e.Name) {
			problem(e, "package name %q is not a Debian source package name", e.Name)
			continue
		}
		if bad := badVersion(e.Ranges); bad != "" {
			problem(e, "%s %s: version %q is not a Debian version", e.Ecosystem, e.Name, bad)
			continue
		}
		c := osvCandidate{fixed: e.Fixed, ranges: e.Ranges, priority: osvPriority(e)}
		if pro {
			distro, err := purlDistro(e.PURL)
			if err != nil {
				problem(e, "%s %s: %v", e.Ecosystem, e.Name, err)
				continue
			}
			codename, rank, ok := esmPocket(distro)
			switch {
			case ok && releases[codename] != ver:
				problem(e, "%s %s: purl pocket %q is not a pocket of %s", e.Ecosystem, e.Name, distro, ver)
				continue
			case ok:
				c.ch, c.rank = pocketChannel(distro), rank+1
			case e.Fixed:
				// A fix, but through which Pro service is not said.
				out.Skipped = append(out.Skipped, skipProNoService)
				continue
			default:
				// Affected with no fix: no channel is needed to say so.
				c.rank = proUnknownRank
			}
		}
		k := key{"ubuntu:" + ver, e.Name}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = mergeCandidate(groups[k], c)
	}
	if a.VendorSeverity == "" {
		// Older records carry the priority per entry only.
		for _, k := range order {
			if p := groups[k][0].priority; p != "" {
				a.VendorSeverity, a.Severity = p, severity(p)
				break
			}
		}
	}
	for _, k := range order {
		c := pickCandidate(groups[k])
		af := advisory.Affected{Namespace: k.ns, Package: k.pkg, Kind: advisory.KindSource, Status: advisory.StatusAffected, Ranges: c.ranges}
		if c.fixed {
			af.Status, af.FixChannel = advisory.StatusFixed, c.ch
		}
		if c.priority != "" && !strings.EqualFold(c.priority, a.VendorSeverity) {
			af.Severity = severity(c.priority)
		}
		a.Affected = append(a.Affected, af)
	}
	sort.Slice(a.Affected, func(i, j int) bool {
		x, y := a.Affected[i], a.Affected[j]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Package < y.Package
	})
	return out
}

// badVersion returns the first event version that is not a Debian version.
func badVersion(rs []advisory.Range) string {
	for _, r := range rs {
		for _, ev := range r.Events {
			for _, v := range []string{ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit} {
				if v != "" && !debVersion.MatchString(v) {
					return v
				}
			}
		}
	}
	return ""
}

// mergeCandidate adds c to the candidates of one (release, package): two
// entries of the same channel have their ranges kept side by side.
func mergeCandidate(cs []osvCandidate, c osvCandidate) []osvCandidate {
	for i := range cs {
		if cs[i].rank == c.rank {
			cs[i].ranges = append(slices.Clip(cs[i].ranges), c.ranges...)
			cs[i].fixed = cs[i].fixed || c.fixed
			if cs[i].priority == "" {
				cs[i].priority = c.priority
			}
			return cs
		}
	}
	return append(cs, c)
}

// pickCandidate chooses the entry that decides for one (release, package),
// as UCT's pickPocket does for pockets (OSV lists no not-affected
// packages): the release's own fix, else the first Pro fix by pocket
// rank, else the release's own unfixed entry, else the first Pro one.
func pickCandidate(cs []osvCandidate) osvCandidate {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].rank < cs[j].rank })
	if cs[0].rank == 0 && cs[0].fixed {
		return cs[0]
	}
	for _, c := range cs {
		if c.fixed {
			return c
		}
	}
	return cs[0]
}
