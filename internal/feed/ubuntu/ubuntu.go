// Package ubuntu holds three feed updaters for Ubuntu, each emitting records
// in the namespaces "ubuntu:<version>" ("ubuntu:22.04"):
//
//   - UCT ("ubuntu-uct") reads the Ubuntu CVE Tracker as converted to JSON by
//     vuls (ubuntu-cve-tracker/uct-cve-json.tar.bz2 of <YYYY>/CVE-*.json in
//     the mirror directory "ubuntu"). This is not an upstream format and has
//     no upstream URL: the updater works from a mirror only.
//   - OVAL ("ubuntu-oval") reads Canonical's CVE OVAL,
//     com.ubuntu.<codename>.cve.oval.xml.bz2 from
//     https://security-metadata.canonical.com/oval/ (mirror directory
//     "ubuntu/oval-2021-08-31" by default, where the mirror keeps its dated
//     copy).
//   - OSV ("ubuntu-osv") reads the OSV records Canonical publishes from the
//     tracker (canonical/ubuntu-security-notices, osv/cve/<year>/
//     UBUNTU-CVE-*.json) as osv.dev serves them in one file,
//     https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip
//     (mirror directory "osv/Ubuntu", holding all.zip as osv.dev's
//     Ubuntu/ does; a mirror without it skips the source), with a
//     conditional GET. The repository layout is not read: it has no HTTP
//     listing and is a git repository of several GB; its records are the
//     zip's (TestRealDataOSV checks the shared sample both ways). The osv
//     package parses the records; this package's osv.Mapper maps
//     Canonical's ecosystems (see "OSV policy").
//
// All three describe the same CVEs. Records carry Source "ubuntu-osv",
// "ubuntu-uct" or "ubuntu-oval", and the distribution descriptor
// (internal/distro/ubuntu, SourceRank) ranks them: OSV over UCT over OVAL.
// The matcher applies the ranking per vulnerability, namespace and package
// (match.preferSources; match.judgedElsewhere drops an outranked record only
// when the better source has an entry for the same namespace), so:
//
// # Source per release
//
//   - Releases Canonical's OSV covers (the supported ones and, through
//     Ubuntu Pro entries, the LTS releases in ESM: 14.04-24.04, and current
//     interim releases such as 24.10 and 25.04): OSV's record decides where
//     it has one for the package. It is Canonical's current export of the
//     tracker, while UCT comes from a mirror only (the shared one is from
//     2024-08-09) and the OVAL files from 2021-08-31. UCT and OVAL still
//     supply CVEs and packages OSV does not list for that release, except
//     that a UCT record of a CVE that OSV lists for that release is
//     dropped for the packages OSV leaves out: Canonical's OSV omits
//     not-affected and DNE packages.
//   - Releases OSV dropped at their end of life (23.04 lunar, 23.10, 21.x,
//     ...): OSV has no entry, so UCT decides. TestSourcePerRelease checks
//     jammy from OSV and lunar from UCT through the matcher.
//   - OVAL is read only for the releases UCT has no records for: the
//     descriptor says UCT supersedes it (distro.Descriptor.Supersedes), so
//     a build that loads UCT skips those releases' OVAL files unread
//     (OVAL.SkipNamespaces; `db update` prints "N releases read from
//     ubuntu-uct instead"). Online, without the mirror-only tracker, OVAL
//     stays the source below OSV for every release it has. In the shared
//     mirror UCT covers all four OVAL releases (14.04-20.04): of OVAL's
//     47,750 (CVE, release) judgements, the matcher already dropped all
//     but 12 in favour of UCT's, and those 12 are CVEs the 2024 tracker no
//     longer lists for that release (CVE-2021-29256, CVE-2019-8339, ...).
//     Reading the OVAL files anyway cost about a third of a full build's
//     CPU, and its stale 2021 rejection notice for CVE-2018-16301 (tcpdump,
//     published since) deleted every other source's records of that CVE.
//
// One loss against UCT: OSV lists needed, needs-triage, pending, deferred
// and ignored packages alike (affected, no fix), so where OSV decides, an
// "ignored" package is UNFIXED rather than WILL_NOT_FIX.
//
// # UCT policy
//
// Release keys are codenames (trusty -> ubuntu:14.04, ..., noble ->
// ubuntu:24.04; precise and later are emitted). ESM pockets
// (esm-infra/<rel>, its older name <rel>/esm, esm-infra-legacy/<rel>,
// esm-apps/<rel>, ranked in that order: a fix the esm-infra service
// delivers is preferred to one that needs the legacy add-on) belong to
// their release. "upstream", "devel", "snap",
// fips*, ros-esm and phone/core overlays are skipped. For one package in one
// release the entry that decides is, first match wins:
//
//  1. the main pocket's, when it says released or not-affected (the
//     standard archive's final word: a fix there is the fix for everyone);
//  2. the first ESM pocket, by rank, that says released;
//  3. an ESM pocket that says not-affected: it overrides the main pocket's
//     needed, needs-triage, deferred, pending, active or ignored, which are
//     the state left when standard support ended ("trusty: ignored" plus
//     "trusty/esm: not-affected" is not affected);
//  4. the main pocket's own status, unless it is DNE;
//  5. the first ESM pocket, by rank, whose status is not DNE (a package
//     that only an ESM pocket ships);
//  6. otherwise nothing: DNE everywhere gives no entry.
//
// So an ESM pocket's needed, deferred or ignored never replaces a main
// pocket entry (it says no more than the main pocket does), and an ESM
// pocket that says DNE is ignored. Several ESM pockets that disagree are
// ranked the same way: a fix in any of them beats a not-affected in
// another (that pocket's version already has it), and a not-affected beats
// a not-fixed status.
//
// Status: released -> fixed, with Fixed = the version in the note; needed,
// needs-triage, active, pending, deferred -> affected (UNFIXED: a
// needs-triage package has not been assessed yet, so it is reported as
// possibly affected rather than dropped); ignored -> will-not-fix (Ubuntu's
// notes say why: "end of standard support", often with the state it ended
// in, "end of standard support, was needed", "..., was needs-triage",
// "..., was deferred"; no fix will come through that pocket); not-affected -> not-affected; DNE (the
// package does not exist in that release) -> no entry. Packages are source
// packages.
//
// A record whose description is the CVE program's rejection notice
// ("** REJECT ** DO NOT USE THIS CANDIDATE NUMBER ...", which the tracker
// copies from the CVE list) is emitted with Rejected set, its entries
// converted as usual: the DB then keeps no record of that CVE id from any
// source.
//
// # Fix channels
//
// A fixed entry records where its fix is delivered (Affected.FixChannel):
// empty when it comes from the release's own key, else the Ubuntu Pro
// service of the pocket it was taken from: esm-infra/<rel> and <rel>/esm ->
// esm-infra, esm-apps/<rel> -> esm-apps, esm-infra-legacy/<rel> ->
// esm-infra-legacy (see pocketChannel). Only the pocket decides: a "+esm"
// suffix in a version from the release's own key is not read as a channel,
// and OVAL entries have none (the OVAL files name no pocket).
//
// # Severity
//
// Ubuntu priorities map to ECR levels: critical -> CRITICAL, high -> HIGH,
// medium -> MEDIUM, low -> LOW, negligible -> INFORMATIONAL (Ubuntu uses it
// for issues with no practical security impact, which is what ECR's
// INFORMATIONAL means), untriaged -> none (the matcher then falls back to
// CVSS). The priority as written is VendorSeverity; a per-package priority
// becomes Affected.Severity. UCT's cvss map ("nvd": "CVSS:3.1/... [8.8 HIGH]")
// becomes CVSS entries whose Source is the map key.
//
// # OVAL policy
//
// Definitions are resolved definition -> criteria -> dpkginfo_test ->
// dpkginfo_object (binary package names, directly or through a
// constant_variable) and dpkginfo_state (an evr "less than" is the fixed
// version). A test with a state is a fix; a test without one means every
// version is affected (no fix yet). Ubuntu's OVAL tests binary packages, so
// entries have Kind binary, one per binary name. A zero epoch ("0:") is
// dropped from fixed versions. The XML is streamed token by token, keeping
// only the fields used; every file is capped in decompressed size. A
// definition whose description is the CVE program's rejection notice is
// emitted with Rejected set, as in UCT.
//
// # OSV policy
//
// Ecosystems (Canonical's documentation, docs/security-updates/osv of
// canonical/ubuntu-security-documentation): "Ubuntu:<YY.MM>:LTS" and
// "Ubuntu:<YY.MM>" (interim) -> ubuntu:<YY.MM>, from the release's own
// archive. "Ubuntu:Pro:<YY.MM>:LTS" is a fix delivered through Ubuntu Pro
// (ESM); which service says only the purl's distro qualifier, an ESM
// pocket as UCT names them (esm-infra/<codename>, <codename>/esm,
// esm-infra-legacy/<codename>, esm-apps/<codename>; percent-encoded or not):
// it gives the entry's fix channel as pocketChannel does for UCT. A Pro
// fix whose purl names no ESM pocket (or that has no purl) is skipped, as
// no channel can be given; a Pro entry without a fix needs none and is
// kept. A Pro entry whose pocket is another release's is malformed. "Ubuntu:Pro:FIPS*:..."
// (FIPS, FIPS-updates, FIPS-preview), "Ubuntu:Pro:<rel>:LTS:Realtime:Kernel"
// and other variants ("Ubuntu:Nvidia-BlueField:22.04") are skipped. Skips
// are counted in feed.Stats.Skipped by kind (shown by db update); broken
// entries go to Stats.Malformed.
//
// Purls are read leniently: Canonical has published
// "pkg:deb/ubuntu/glibc?arch=src?distro=jammy", so qualifiers may be split
// by "&" or a stray "?". Only Pro entries read the purl; a release's own
// entry is placed by its ecosystem.
//
// For one package in one release the entry that decides is, as UCT's
// pickPocket (OSV has no not-affected entries): the release's own entry
// when it has a fix; else the first Pro entry with a fix, by pocket rank
// (esm-infra, its older name, esm-infra-legacy, esm-apps); else the
// release's own entry (affected, no fix); else the first Pro one. Entries
// have Kind source (the name is the source package; ecosystem_specific's
// binaries are not needed, the matcher uses each binary's source). Ranges
// are ECOSYSTEM events of Debian versions ("introduced": "0" only means
// affected with no fix); an entry with a version that is not a Debian
// version is malformed.
//
// Records: UBUNTU-CVE-<cve> is emitted as <cve>, with UBUNTU-CVE-<cve> as an
// alias, so that it ranks against the tracker's and OVAL's records of the
// same id. USN-* and LSN-* notices are skipped (the CVE records carry the
// same fixes; livepatches are no concern of an image). Withdrawn records
// are dropped (Stats.Withdrawn); rejected ones are flagged as by the osv
// package. Severity: the record's severity of type "Ubuntu" (older records:
// the first entry's ecosystem_specific.ubuntu_priority) is VendorSeverity,
// mapped as UCT's priority; an entry whose own priority differs gets it as
// Affected.Severity. CVSS vectors are scored by the osv package (source
// "ubuntu").
package ubuntu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	sev "github.com/stowaway-scanner/stowaway/internal/severity"
)

// releases maps Ubuntu codenames to version numbers (precise and later).
var releases = map[string]string{
	"precise":  "12.04",
	"quantal":  "12.10",
	"raring":   "13.04",
	"saucy":    "13.10",
	"trusty":   "14.04",
	"utopic":   "14.10",
	"vivid":    "15.04",
	"wily":     "15.10",
	"xenial":   "16.04",
	"yakkety":  "16.10",
	"zesty":    "17.04",
	"artful":   "17.10",
	"bionic":   "18.04",
	"cosmic":   "18.10",
	"disco":    "19.04",
	"eoan":     "19.10",
	"focal":    "20.04",
	"groovy":   "20.10",
	"hirsute":  "21.04",
	"impish":   "21.10",
	"jammy":    "22.04",
	"kinetic":  "22.10",
	"lunar":    "23.04",
	"mantic":   "23.10",
	"noble":    "24.04",
	"oracular": "24.10",
	"plucky":   "25.04",
	"questing": "25.10",
}

// Namespace returns "ubuntu:<version>" for a codename.
func Namespace(codename string) (string, bool) {
	v, ok := releases[codename]
	if !ok {
		return "", false
	}
	return "ubuntu:" + v, true
}

// severity maps an Ubuntu priority (any case) to an ECR level.
func severity(p string) sev.Severity {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "critical":
		return sev.Critical
	case "high":
		return sev.High
	case "medium":
		return sev.Medium
	case "low":
		return sev.Low
	case "negligible":
		return sev.Informational
	}
	return ""
}

// parseDate reads UCT and OVAL dates ("2023-09-12 15:15:00 UTC", "2015-02-23").
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05", "2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// The checks below run once per package entry (millions per update), so
// they are loops, not regexps; matchers_test.go checks them against the
// regexps they replace.
var (
	// debVersion is a Debian version: [epoch:]upstream[-revision], i.e.
	// ^(\d+:)?[0-9][A-Za-z0-9.+~:-]*$ (an epoch's digits and colon are in
	// the class, so a leading digit and the class suffice).
	debVersion = matcher(func(s string) bool {
		if s == "" || s[0] < '0' || s[0] > '9' {
			return false
		}
		for i := 1; i < len(s); i++ {
			if c := s[i]; !isLowerAlnum(c) && !(c >= 'A' && c <= 'Z') && c != '.' && c != '+' && c != '~' && c != ':' && c != '-' {
				return false
			}
		}
		return true
	})
	// debName is a Debian package name: ^[a-z0-9][a-z0-9.+-]*$.
	debName = matcher(func(s string) bool {
		if s == "" || !isLowerAlnum(s[0]) {
			return false
		}
		for i := 1; i < len(s); i++ {
			if c := s[i]; !isLowerAlnum(c) && c != '.' && c != '+' && c != '-' {
				return false
			}
		}
		return true
	})
)

// matcher gives a check the MatchString method of the regexp it replaces.
type matcher func(string) bool

func (m matcher) MatchString(s string) bool { return m(s) }

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// stripZeroEpoch writes "0:1.2-3" as "1.2-3".
func stripZeroEpoch(v string) string {
	if rest, ok := strings.CutPrefix(v, "0:"); ok {
		return rest
	}
	return v
}

// errTooLarge is wrapped when input exceeds a size cap.
var errTooLarge = errors.New("exceeds the size limit")

// limitReader fails with errTooLarge once more than max bytes were read.
type limitReader struct {
	r    io.Reader
	n    int64
	max  int64
	name string
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, fmt.Errorf("%s: decompressed data %w of %d bytes", l.name, errTooLarge, l.max)
	}
	if rem := l.max + 1 - l.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, fmt.Errorf("%s: decompressed data %w of %d bytes", l.name, errTooLarge, l.max)
	}
	return n, err
}

// readReused reads r, which may hold at most max bytes, into buf, which is
// reset first and reused from one record to the next: the bytes it returns
// are valid until the next call, so the caller must not keep them
// (decoding copies what it keeps).
func readReused(buf *bytes.Buffer, r io.Reader, max int64) ([]byte, error) {
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("%w of %d bytes", errTooLarge, max)
	}
	return buf.Bytes(), nil
}
