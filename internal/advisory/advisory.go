// Package advisory is the normalized vulnerability record that every feed
// updater produces and the vulnerability DB stores. Of ours it imports only
// the severity vocabulary.
package advisory

import (
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Status is what the vendor says about one package.
type Status string

// Statuses. Affected means affected with no fix yet (reported as UNFIXED).
const (
	StatusFixed       Status = "fixed"
	StatusAffected    Status = "affected"
	StatusWillNotFix  Status = "will-not-fix"
	StatusNotAffected Status = "not-affected"
)

// PackageKind says whether Affected.Package names a source or a binary package.
type PackageKind string

// Package kinds. Language ecosystems use KindLanguage.
const (
	KindSource   PackageKind = "source"
	KindBinary   PackageKind = "binary"
	KindLanguage PackageKind = "language"
)

// FixChannel names where a fix is delivered when that is not the
// distribution's standard archive. The empty channel is the standard one
// (security and updates pockets anyone can install from).
type FixChannel string

// Fix channels. The Ubuntu Pro ones are Canonical's service names (as
// `pro enable` and `pro fix` spell them): a machine must be attached to an
// Ubuntu Pro subscription with that service enabled to install the fix.
const (
	ChannelStandard FixChannel = ""
	// ChannelESMInfra: Expanded Security Maintenance for Infrastructure
	// (main and restricted after a release's standard support ends).
	ChannelESMInfra FixChannel = "esm-infra"
	// ChannelESMApps: Expanded Security Maintenance for Applications
	// (universe and multiverse).
	ChannelESMApps FixChannel = "esm-apps"
	// ChannelESMInfraLegacy: ESM Infra on legacy releases (14.04 after
	// its ESM ended), a separate add-on to an Ubuntu Pro subscription.
	ChannelESMInfraLegacy FixChannel = "esm-infra-legacy"
)

// FixChannels lists the channels other than the standard one.
func FixChannels() []FixChannel {
	return []FixChannel{ChannelESMInfra, ChannelESMApps, ChannelESMInfraLegacy}
}

// Valid reports whether c is the standard channel or one of FixChannels.
func (c FixChannel) Valid() bool {
	switch c {
	case ChannelStandard, ChannelESMInfra, ChannelESMApps, ChannelESMInfraLegacy:
		return true
	}
	return false
}

// Event is one OSV-style range event. Exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Range is a list of events in the namespace's version scheme, sorted as the
// feed gives them. "0" as Introduced means "every version".
type Range struct {
	Events []Event `json:"events"`
}

// CVSS is one CVSS assessment.
type CVSS struct {
	Version string  `json:"version"` // "2.0", "3.0", "3.1", "4.0"
	Vector  string  `json:"vector"`
	Score   float64 `json:"score,omitempty"` // base score, 0 if the feed gave only a vector
	Source  string  `json:"source"`          // who scored it: nvd, redhat, ghsa, ubuntu, ...
}

// Affected is one (namespace, package) that an advisory applies to.
type Affected struct {
	// Namespace is "debian:12", "ubuntu:22.04", "alpine:3.19", "rhel:9",
	// "amzn:2", "amzn:2023", "ol:8", or "osv:<Ecosystem>" for language
	// packages ("osv:PyPI", "osv:Go").
	Namespace string      `json:"namespace"`
	Package   string      `json:"package"`
	Kind      PackageKind `json:"kind"`
	// Module is the rpm modularity stream ("nodejs:18") for modular content.
	Module string `json:"module,omitempty"`
	Status Status `json:"status"`
	// Ranges hold introduced/fixed events. A fixed status has at least one
	// Fixed event; an affected status has only Introduced events (or none,
	// meaning every version).
	Ranges []Range `json:"ranges,omitempty"`
	// Versions lists exact affected versions (OSV `versions`), used where no
	// range applies. Feeds for OS packages leave it empty.
	Versions []string `json:"versions,omitempty"`
	// Severity overrides the advisory's vendor severity for this package
	// (Ubuntu per-package priority, Debian urgency, Red Hat per-product).
	Severity severity.Severity `json:"severity,omitempty"`
	// Arches, when set, limits the record to these architectures.
	Arches []string `json:"arches,omitempty"`
	// Advisory is the vendor advisory that fixes this package (DSA, RHSA,
	// ALAS ...) when it differs from the record id.
	Advisory string `json:"advisory,omitempty"`
	// FixChannel is where the fixed version is delivered when it is not
	// the standard archive (an Ubuntu Pro service); empty otherwise, and
	// always empty unless Status is fixed.
	FixChannel FixChannel `json:"fix_channel,omitempty"`
	// SymbolImports are the packages of a Go module (or the standard library)
	// that the vulnerability is in, with their vulnerable symbols (the Go
	// vulnerability database's ecosystem_specific.imports). nil when the
	// record says nothing of them; only osv:Go records carry them.
	SymbolImports []SymbolImport `json:"go_imports,omitempty"`
}

// SymbolImport is one vulnerable package of a Go module: its import path, the
// vulnerable functions and methods ("Parse", "Tag.String"; none means
// every symbol of the package) and the platforms it is vulnerable on
// (none means every one).
type SymbolImport struct {
	Path    string   `json:"path"`
	Symbols []string `json:"symbols,omitempty"`
	GOOS    []string `json:"goos,omitempty"`
	GOARCH  []string `json:"goarch,omitempty"`
}

// Advisory is one normalized vulnerability record.
type Advisory struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	// Source is the updater name that produced the record ("alpine", "osv-debian", ...).
	Source      string `json:"source"`
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
	// VendorSeverity is the feed's own rating as written ("Important",
	// "medium", "HIGH"); Severity is it mapped to an ECR level (INFORMATIONAL,
	// LOW, MEDIUM, HIGH, CRITICAL) or "" when the vendor gave none.
	VendorSeverity string            `json:"vendor_severity,omitempty"`
	Severity       severity.Severity `json:"severity,omitempty"`
	CVSS           []CVSS            `json:"cvss,omitempty"`
	References     []string          `json:"references,omitempty"`
	Published      time.Time         `json:"published,omitzero"`
	Modified       time.Time         `json:"modified,omitzero"`
	// Withdrawn is when the source retracted this record (OSV "withdrawn").
	// A withdrawn record is never a finding; it says nothing about the
	// other records of its ids (a withdrawn GHSA does not reject its CVE).
	Withdrawn time.Time `json:"withdrawn,omitzero"`
	// Rejected says that the record's own id, a CVE id, was rejected by
	// the CVE program, as the record states: a description that is the
	// CVE program's rejection notice (RejectNotice), as NVD and the Ubuntu
	// CVE tracker carry it, Red Hat's "[REJECTED CVE]" details, or NVD
	// 2.0's vulnStatus "Rejected". A rejected CVE
	// id yields no finding from any source: the DB stores no record of it
	// (see internal/vulndb).
	Rejected bool       `json:"rejected,omitempty"`
	Affected []Affected `json:"affected"`
	// CPE holds, on an NVD record (which names no packages), the vulnerable
	// cpeMatch entries of its configurations for the products of
	// CPEProducts; the DB keeps them in a table of their own (see
	// internal/vulndb), matched against binary-classified packages in
	// namespace CPENamespace.
	CPE []CPERange `json:"cpe,omitempty"`
	// Exploit, when set, makes the record exploit context for the CVE
	// named by ID (a CISA KEV entry or an FIRST EPSS score) instead of a
	// vulnerability record: it names no packages, and the DB stores it in
	// its own table (see internal/vulndb), not as an advisory.
	Exploit *Exploit `json:"exploit,omitempty"`
}

// RejectNotice reports whether a CVE description is the CVE program's
// rejection notice: "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER. ..."
// (CVE JSON 4, NVD's 1.1 feeds and the distributions' copies of them) or
// "Rejected reason: ..." (CVE JSON 5 and NVD API 2.0). Leading white space
// is ignored; anything else, "** DISPUTED **" included, is not a rejection.
func RejectNotice(desc string) bool {
	d := strings.TrimSpace(desc)
	return strings.HasPrefix(d, "** REJECT **") || strings.HasPrefix(d, "Rejected reason:")
}
