// Package redhat holds Red Hat's two feed updaters: "redhat-vex" (VEX,
// Red Hat's CSAF VEX documents, the current format; see "CSAF VEX" below)
// and "redhat" (Updater, the Security Data API: one JSON document per CVE,
// https://access.redhat.com/hydra/rest/securitydata/cve/CVE-*.json, which
// mirrors carry as a bundle). Both map products to the same namespaces
// and statuses; where both are loaded the rhel descriptor ranks VEX first,
// so its records of a vulnerability replace the CVE API's for the
// namespace (internal/distro/rhel, SourceRank).
//
// # Layout
//
// Paths are relative to Upstream() = https://access.redhat.com/hydra/rest and
// to the mirror directory "redhat":
//
//   - securitydata/cve.tar.gz: a gzip'd tar of cve/CVE-*.json. This is how the
//     mirror ships the 21k per-CVE files, and it is the tested path.
//   - securitydata/cve/CVE-*.json: the per-CVE files as an online fetch (or an
//     unpacked mirror) writes them. Parse accepts either layout.
//   - meta/v1/repository-to-cpe.json: optional; fetched when present so that
//     a content-set aware matcher can use it. Parse does not read it.
//
// Fetch first asks for the bundle. When the source has none (the real
// upstream), it lists the CVEs, by Source.List on securitydata/cve when the
// source can list, else through the paged index cve.json?per_page=N&page=P of
// a source that implements QuerySource, and then GETs every
// securitydata/cve/<id>.json with conditional GETs. The online path is
// implemented but only tested against fakes; the mirror bundle is the path
// that runs on real data.
//
// # Rejected CVEs
//
// A record whose details Red Hat marks as rejected ("[REJECTED CVE] ...",
// "This CVE ID has been rejected ...", or the CVE program's "** REJECT **"
// notice) is emitted with Rejected set and its entries converted as usual;
// the DB then keeps no record of the id from any source (45 of the 21,394
// mirrored records, 14 of them rejected nowhere else in the mirror).
//
// # Mapping
//
// Only Red Hat Enterprise Linux 7 and later is emitted; CentOS 7 uses the
// "rhel:7" records (the matcher maps it). Each product CPE becomes a
// namespace:
//
//   - cpe:/o:redhat:enterprise_linux:N and cpe:/a:redhat:enterprise_linux:N
//     with any variant (::appstream, ::baseos, ::crb, ::nfv, ::sap, ...) and the
//     RHEL 7 add-on channels (rhel_extras*, rhel_atomic, rhel_common) are the
//     main stream "rhel:N".
//   - The pinned z-stream products keep their minor release and kind in the
//     namespace: rhel_eus:9.2 -> "rhel:9.2-eus", likewise "-aus", "-e4s" and
//     "-tus". rhel_els:7 (and rhel_*_els) -> "rhel:7-els". A matcher that only
//     looks up "rhel:N" sees the main stream alone; one that knows the
//     installed stream (from the image's content sets) can ask for
//     "rhel:9.2-eus" as well.
//
// affected_release[] entries are fixes (Status fixed, Advisory = the RHSA,
// Kind source). The package is the source NEVRA without arch
// ("curl-0:7.76.1-26.el9_3.2"): Package is the name and the Fixed event is
// "version-release" with the epoch only when it is not 0 ("7.76.1-26.el9_3.2",
// "1:18.17.1-1.module+el9..."). When one CPE lists several fixes for a package
// (z-stream rebuilds el9_2, el9_3 under the main stream), each is its own
// Affected entry with one Fixed event, so the matcher can pick the one whose
// dist tag matches the installed release.
//
// Modular content comes in two forms:
//   - package_state "nodejs:18/nodejs": Module "nodejs:18", Package "nodejs".
//   - affected_release given as a module NSVC ("nodejs:18-9020020230327152102.rhel9"):
//     the API names the module build, not its rpms, so no rpm EVR exists.
//     Such a fix is emitted with Module "nodejs:18", Package "nodejs:18" (the
//     module itself; no rpm can carry that name, so an rpm-name lookup never
//     hits it) and a Fixed event holding the module version
//     ("9020020230327152102"), to be compared with the version field of the
//     installed packages' modularity label (name:stream:VERSION:context).
//
// package_state[] entries are not fixed: Affected, Fix deferred and Under
// investigation are StatusAffected; Will not fix and Out of support scope are
// StatusWillNotFix; Not affected is StatusNotAffected. Container image entries
// ("rhel9/ruby-30", "ubi9/openssl:9.0-25") and versionless kpatch-patch
// entries are skipped: they name no rpm.
//
// threat_severity (Low, Moderate, Important, Critical) is VendorSeverity and
// maps to LOW, MEDIUM, HIGH, CRITICAL; a per-product "impact" becomes
// Affected.Severity the same way. cvss3 and cvss (v2) become CVSS with Source
// "redhat". The record has no modified date: Stats.Newest is the newest of
// public_date and the affected_release release dates.
//
// # CSAF VEX
//
// VEX reads https://security.access.redhat.com/data/csaf/v2/vex (mirror
// directory "redhat/csaf/v2/vex"): per-CVE documents <year>/cve-<year>-<n>.json,
// changes.csv and deletions.csv (`"<path>","<RFC 3339 time>"` lines,
// newest first), and the full archive csaf_vex_<date>.tar.zst that
// archive_latest.txt names.
//
// Fetch keeps its files in a cache directory (VEXOptions.CacheDir;
// vulndb.Update gives it <DB dir>/cache/redhat-vex through feed.Cacher).
// The first run (no state, a state without an archive, or a cache that lost
// the archive the state names) downloads archive_latest.txt and the
// archive, then changes.csv and deletions.csv, and every document that
// changes.csv lists on or after the archive's date (the day in its name;
// its Last-Modified when the name is no date). Later runs GET changes.csv
// and deletions.csv conditionally: both unchanged is Unchanged with no
// other request; otherwise only documents listed after the newest change
// already applied (the state entry "#since") are fetched, conditionally
// against their previous validators. A document the cache lost, or whose
// cached bytes do not match the state (a build that failed after a
// Fetch), is fetched again. Past RebaseAfter documents beside the archive,
// the next run starts over from the newest archive. The snapshot is a
// directory of hard links into the cache (copies across file systems)
// laid out as upstream: archive_latest.txt, the archive, changes.csv,
// deletions.csv and the documents fetched since the archive; Close removes
// it, and Fetch removes cached files that neither the previous nor the new
// state names. The archive goes through Source.Get, so the source's
// MaxFileSize (1 GiB by default) bounds its download.
//
// Parse reads that layout (or the upstream directory itself): the archive's
// <year>/cve-*.json entries, except those that a document beside it
// replaces or that deletions.csv removes (unless changes.csv lists the
// path again at a later time), then the documents beside it. The archive
// is streamed; its decompressed bytes (MaxArchiveSize), tar entries
// (MaxArchiveEntries) and the zstd window (MaxDecoderMemory) are capped,
// and passing a cap fails the Parse naming it. A document larger than
// MaxDocSize, one that does not decode, has no vulnerabilities or names no
// CVE id is counted malformed; a tracking status "deleted" is counted
// withdrawn.
//
// Mapping, as for the CVE API. The product tree's default_component_of
// relationships join a component (a package) to a platform (a product
// with a CPE) into the product ids that product_status lists; platforms
// map to namespaces with the CPE rules above (main stream, variants, EUS
// and other z-streams; RHEL 6 and non-RHEL products are skipped), and
// components are read from their purl (pkg:rpm/redhat/NAME@VERSION-RELEASE
// with arch, epoch and rpmmod qualifiers) or, in older documents without
// one, from the product id ("vim", "nodejs:18/nodejs",
// "curl-0:7.76.1-26.el9_3.2.src"). Non-rpm components (containers,
// Maven) and product ids without a relationship are skipped.
//
//   - fixed: the source rpm of the build (arch=src) is the record: Package
//     its name, Fixed "version-release" with a non-zero epoch
//     ("1:18.17.1-1.module+el9..."), Module "name:stream" from rpmmod,
//     Advisory the RHSA of the vendor_fix remediation's URL. Binary rpms of
//     the same build add nothing. One entry per fixed build, so z-stream
//     rebuilds listed under the main stream (AppStream-9.2.0.Z.MAIN.EUS
//     has the main-stream CPE) stay separate fixes, as in the CVE API.
//   - known_affected: StatusWillNotFix with a no_fix_planned remediation
//     (Red Hat's "Will not fix" and "Out of support scope"), else
//     StatusAffected (none_available "Affected" or "Fix deferred", a
//     workaround only, or no remediation).
//   - known_not_affected: StatusNotAffected (flags such as
//     component_not_present or vulnerable_code_not_present only say why).
//   - under_investigation: StatusAffected, as the CVE API's "Under
//     investigation".
//
// For the unfixed statuses the record names the package: the source rpm
// (name.src, arch=src) in current documents, which also list its binary
// rpms by name beside it (curl.src with libcurl, libcurl-devel): those are
// covered by the source record and skipped. A component without a purl,
// or a purl-named one in a group (namespace and status) without any
// source rpm, is taken as the source package name.
//
// document.aggregate_severity is VendorSeverity (Low, Moderate,
// Important, Critical; mapped as above) and a product's "impact" threat
// its Affected.Severity. Of scores[], the cvss_v3 and cvss_v2 that apply
// to the most products become CVSS with Source "redhat". Notes give the
// summary, the description and the statement ("other", "Statement"),
// joined into Description; the vulnerability's references become
// References; release_date is Published and the document's
// current_release_date Modified and Stats.Newest. A description or title
// starting "[REJECTED CVE]" (or another rejection notice, as above) marks
// the record Rejected.
//
// Compared with the CVE API on the mirror's 10 documents
// (TestVEXAgreesWithCVEAPI): the 8 CVEs in both agree on every rhel:*
// record but two, which are data of different dates (vim and kernel-rt
// statuses that Red Hat changed between the documents' 2023 generation and
// the 2025 API records). The VEX form of a module fix is the module's rpm
// ("nodejs:18" / nodejs 1:18.17.1-1.module+el9...), where the CVE API
// sometimes gives only the module build (NSVC).
package redhat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Paths relative to the upstream root and to the mirror directory.
const (
	BundlePath = "securitydata/cve.tar.gz"
	CVEDir     = "securitydata/cve"
	IndexPath  = "securitydata/cve.json"
	CPEMapPath = "meta/v1/repository-to-cpe.json"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxRecordSize = 16 << 20 // the largest real record is ~600 KB
	DefaultPerPage       = 1000
	DefaultMaxPages      = 1000
	maxIndexPage         = 64 << 20
)

// Options tune the updater. Zero values pick the defaults.
type Options struct {
	// MaxRecordSize caps one CVE document (a tar entry or a file).
	MaxRecordSize int64
	// PerPage and MaxPages bound the paged CVE index of the online fetch.
	PerPage  int
	MaxPages int
}

// Updater is the Red Hat Security Data API updater.
type Updater struct {
	opts Options
}

// New returns the updater with default options.
func New() *Updater { return NewWithOptions(Options{}) }

// NewWithOptions returns the updater with opts.
func NewWithOptions(opts Options) *Updater {
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = DefaultMaxRecordSize
	}
	if opts.PerPage <= 0 {
		opts.PerPage = DefaultPerPage
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	return &Updater{opts: opts}
}

// Name is the source name stored with each record.
func (u *Updater) Name() string { return "redhat" }

// Upstream is the Security Data API root; paths start with securitydata/.
func (u *Updater) Upstream() string { return "https://access.redhat.com/hydra/rest" }

// MirrorDir is the updater's directory in a mirror.
func (u *Updater) MirrorDir() string { return "redhat" }

// QuerySource is the optional capability the online CVE index needs: a GET
// with a query string (the Security Data API pages cve.json with
// ?per_page=N&page=P). Sources that cannot send one make Fetch depend on the
// bundle or on Source.List.
type QuerySource interface {
	GetQuery(ctx context.Context, path string, query url.Values) (io.ReadCloser, error)
}

// MirrorOnly says that online, Red Hat data come from the VEX updater: the
// per-CVE crawl (tens of thousands of requests) runs only when asked for
// by name (feed.MirrorOnly); from a mirror the bundle is read as usual.
func (u *Updater) MirrorOnly() string {
	return "online, Red Hat data come from redhat-vex (CSAF VEX); the per-CVE Security Data API crawl runs only with --source redhat"
}

func optionalCPEMap(p string) bool { return p == CPEMapPath }

// Fetch gets the bundle when the source has one, else every per-CVE file.
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	snap, err := feed.FetchFiles(ctx, src, []string{BundlePath, CPEMapPath}, prev, optionalCPEMap)
	if err == nil {
		return snap, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return feed.Snapshot{}, fmt.Errorf("redhat: fetch bundle: %w", err)
	}
	ids, err := u.listCVEs(ctx, src)
	if err != nil {
		return feed.Snapshot{}, err
	}
	if len(ids) == 0 {
		return feed.Snapshot{}, errors.New("redhat: fetch: the CVE index is empty")
	}
	paths := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		paths = append(paths, CVEDir+"/"+id+".json")
	}
	paths = append(paths, CPEMapPath)
	snap, err = feed.FetchFiles(ctx, src, paths, prev, optionalCPEMap)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("redhat: fetch per-CVE files: %w", err)
	}
	return snap, nil
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// listCVEs names every CVE the source has, sorted as the source gives them.
func (u *Updater) listCVEs(ctx context.Context, src feed.Source) ([]string, error) {
	names, err := src.List(ctx, CVEDir)
	if err == nil {
		var ids []string
		for _, n := range names {
			id := strings.TrimSuffix(path.Base(n), ".json")
			if strings.HasSuffix(n, ".json") && cveID.MatchString(id) {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	if !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("redhat: fetch: list %s: %w", CVEDir, err)
	}
	qs, ok := src.(QuerySource)
	if !ok {
		return nil, fmt.Errorf("redhat: fetch: the source has no %s and cannot list CVEs (it does not implement QuerySource for the paged %s index); use a mirror: %w", BundlePath, IndexPath, errors.ErrUnsupported)
	}
	return u.pageIndex(ctx, qs)
}

// indexEntry is one element of the cve.json index.
type indexEntry struct {
	CVE string `json:"CVE"`
}

func (u *Updater) pageIndex(ctx context.Context, qs QuerySource) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for page := 1; ; page++ {
		if page > u.opts.MaxPages {
			return nil, fmt.Errorf("redhat: fetch index: more than %d pages", u.opts.MaxPages)
		}
		q := url.Values{"per_page": {strconv.Itoa(u.opts.PerPage)}, "page": {strconv.Itoa(page)}}
		entries, err := getIndexPage(ctx, qs, q)
		if err != nil {
			return nil, fmt.Errorf("redhat: fetch index page %d: %w", page, err)
		}
		for _, e := range entries {
			if !cveID.MatchString(e.CVE) {
				return nil, fmt.Errorf("redhat: fetch index page %d: bad CVE id %q", page, e.CVE)
			}
			if !seen[e.CVE] {
				seen[e.CVE] = true
				ids = append(ids, e.CVE)
			}
		}
		if len(entries) < u.opts.PerPage {
			return ids, nil
		}
	}
}

func getIndexPage(ctx context.Context, qs QuerySource, q url.Values) ([]indexEntry, error) {
	rc, err := qs.GetQuery(ctx, IndexPath, q)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // past the last page
		}
		return nil, err
	}
	defer rc.Close()
	data, err := readBounded(rc, maxIndexPage)
	if err != nil {
		return nil, err
	}
	var entries []indexEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return entries, nil
}

// errTooLarge is wrapped when a record exceeds its size cap.
var errTooLarge = errors.New("exceeds the size limit")

func readBounded(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w of %d bytes", errTooLarge, max)
	}
	return data, nil
}
