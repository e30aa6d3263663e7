package ubuntu

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json/v1"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
)

// UCTBundle is the UCT JSON bundle's path in the mirror directory.
const UCTBundle = "ubuntu-cve-tracker/uct-cve-json.tar.bz2"

// Defaults for UCTOptions fields left zero.
const (
	DefaultMaxRecordSize = 8 << 20
	DefaultMaxBundleSize = 4 << 30
)

// UCTOptions tune the UCT updater.
type UCTOptions struct {
	// MaxRecordSize caps one CVE document; MaxBundleSize the decompressed tar.
	MaxRecordSize int64
	MaxBundleSize int64
	// Bzip2 decompresses the bundle (the zero value: Go's compress/bzip2).
	Bzip2 bz2.Decompressor
}

// UCT is the Ubuntu CVE Tracker (vuls JSON) updater.
type UCT struct{ opts UCTOptions }

// NewUCT returns the UCT updater with default options.
func NewUCT() *UCT { return NewUCTWithOptions(UCTOptions{}) }

// NewUCTWithOptions returns the UCT updater with opts.
func NewUCTWithOptions(opts UCTOptions) *UCT {
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = DefaultMaxRecordSize
	}
	if opts.MaxBundleSize <= 0 {
		opts.MaxBundleSize = DefaultMaxBundleSize
	}
	return &UCT{opts: opts}
}

// Name is the source name stored with each record.
func (u *UCT) Name() string { return "ubuntu-uct" }

// Upstream is the tracker's git repository; it serves no file over HTTP that
// Fetch could use, so the updater works from a mirror only.
func (u *UCT) Upstream() string { return "https://git.launchpad.net/ubuntu-cve-tracker" }

// MirrorDir is the updater's directory in a mirror.
func (u *UCT) MirrorDir() string { return "ubuntu" }

// Fetch gets the bundle with a conditional GET.
func (u *UCT) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	snap, err := feed.FetchFiles(ctx, src, []string{UCTBundle}, prev, nil)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("ubuntu-uct: %w", err)
	}
	return snap, nil
}

// Parse streams the bundle and emits one advisory per CVE.
func (u *UCT) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	f, err := fsys.Open(UCTBundle)
	if err != nil {
		return st, fmt.Errorf("ubuntu-uct: parse: %w", err)
	}
	defer f.Close()
	rc, err := u.opts.Bzip2.NewReader(ctx, f, UCTBundle)
	if err != nil {
		return st, fmt.Errorf("ubuntu-uct: parse: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(&limitReader{r: rc, max: u.opts.MaxBundleSize, name: UCTBundle})
	var buf bytes.Buffer // one record's JSON, reused: convertUCT keeps none of it
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("ubuntu-uct: parse %s: %w", UCTBundle, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(name, ".json") || !strings.HasPrefix(path.Base(name), "CVE-") {
			continue
		}
		file := UCTBundle + ":" + name
		id := strings.TrimSuffix(path.Base(name), ".json")
		if h.Size > u.opts.MaxRecordSize {
			st.Malformed = append(st.Malformed, feed.Malformed{File: file, ID: id, Err: fmt.Sprintf("record of %d bytes %v of %d bytes", h.Size, errTooLarge, u.opts.MaxRecordSize)})
			continue
		}
		data, err := readReused(&buf, tr, u.opts.MaxRecordSize)
		if err != nil {
			return st, fmt.Errorf("ubuntu-uct: parse %s: %w", file, err)
		}
		a, bad := convertUCT(data)
		for _, b := range bad {
			if b.ID == "" {
				b.ID = id
			}
			b.File = file
			st.Malformed = append(st.Malformed, b)
		}
		if a == nil {
			continue
		}
		if a.Published.After(st.Newest) {
			st.Newest = a.Published
		}
		st.Records++
		if err := emit(a); err != nil {
			return st, fmt.Errorf("ubuntu-uct: emit %s: %w", a.ID, err)
		}
	}
}

type uctRecord struct {
	Candidate         string                       `json:"candidate"`
	Description       string                       `json:"description"`
	UbuntuDescription string                       `json:"ubuntu_description"`
	Priority          string                       `json:"priority"`
	CVSS              map[string]string            `json:"cvss"`
	Bugs              []string                     `json:"bugs"`
	References        []string                     `json:"references"`
	PublicDate        string                       `json:"public_date"`
	Packages          map[string]map[string]uctPkg `json:"packages"`
}

type uctPkg struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Note     string `json:"note"`
	Priority string `json:"priority"`
}

// esmPocket returns the release an ESM pocket key belongs to and the pocket's
// rank (lower is preferred).
func esmPocket(key string) (codename string, rank int, ok bool) {
	// esm-infra and its older name <rel>/esm first (the service most
	// extended-support machines have), then the legacy add-on, then esm-apps.
	for rank, prefix := range []string{"esm-infra/", "", "esm-infra-legacy/", "esm-apps/"} {
		if prefix == "" {
			if rel, found := strings.CutSuffix(key, "/esm"); found {
				return rel, rank, true
			}
			continue
		}
		if rel, found := strings.CutPrefix(key, prefix); found {
			return rel, rank, true
		}
	}
	return "", 0, false
}

// pickPocket chooses, for one package in one release, the entry that
// decides: the main pocket's (m, when hasMain) or one of the ESM pockets'
// (sorted by rank). It returns the entry and its pocket key. Precedence,
// first match wins (see the package doc):
//
//  1. the main pocket when it says released or not-affected;
//  2. the first ESM pocket that says released;
//  3. an ESM pocket that says not-affected;
//  4. the main pocket's own status, unless it is DNE;
//  5. the first ESM pocket whose status is not DNE;
//  6. otherwise DNE: no entry.
func pickPocket(rel string, m uctPkg, hasMain bool, pockets []pocketEntry) (uctPkg, string) {
	if hasMain && (m.Status == "released" || m.Status == "not-affected") {
		return m, rel
	}
	for _, want := range []string{"released", "not-affected"} {
		for _, e := range pockets {
			if e.pkg.Status == want {
				return e.pkg, e.pocket
			}
		}
	}
	if hasMain && m.Status != "DNE" {
		return m, rel
	}
	for _, e := range pockets {
		if e.pkg.Status != "DNE" {
			return e.pkg, e.pocket
		}
	}
	return uctPkg{Name: m.Name, Status: "DNE"}, rel
}

var uctStatus = map[string]advisory.Status{
	"released":     advisory.StatusFixed,
	"needed":       advisory.StatusAffected,
	"needs-triage": advisory.StatusAffected,
	"active":       advisory.StatusAffected,
	"pending":      advisory.StatusAffected,
	"deferred":     advisory.StatusAffected,
	"ignored":      advisory.StatusWillNotFix,
	"not-affected": advisory.StatusNotAffected,
	"DNE":          "",
}

type pocketEntry struct {
	pocket string
	rank   int
	pkg    uctPkg
}

// convertUCT maps one record. It returns nil when the record is unusable;
// bad lists problems (with the record kept when only entries were bad).
func convertUCT(data []byte) (*advisory.Advisory, []feed.Malformed) {
	var r uctRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, []feed.Malformed{{Err: "decode: " + err.Error()}}
	}
	if !cveID.MatchString(r.Candidate) {
		return nil, []feed.Malformed{{ID: r.Candidate, Err: fmt.Sprintf("candidate %q is not a CVE id (UCT placeholder)", r.Candidate)}}
	}
	var bad []feed.Malformed
	badf := func(format string, args ...any) {
		bad = append(bad, feed.Malformed{ID: r.Candidate, Err: fmt.Sprintf(format, args...)})
	}
	a := &advisory.Advisory{
		ID:             r.Candidate,
		Source:         "ubuntu-uct",
		Description:    strings.TrimSpace(r.Description),
		VendorSeverity: r.Priority,
		Severity:       severity(r.Priority),
		Affected:       []advisory.Affected{},
	}
	if d := strings.TrimSpace(r.UbuntuDescription); d != "" {
		a.Summary = d
	}
	// The tracker keeps the CVE program's text: a rejected id says so.
	a.Rejected = advisory.RejectNotice(r.Description)
	if t, ok := parseDate(r.PublicDate); ok {
		a.Published = t
	} else if r.PublicDate != "" {
		badf("public_date %q is not a date", r.PublicDate)
	}
	seen := map[string]bool{}
	for _, ref := range append(append([]string{}, r.References...), r.Bugs...) {
		for _, s := range strings.Fields(ref) {
			if !seen[s] {
				seen[s] = true
				a.References = append(a.References, s)
			}
		}
	}
	keys := make([]string, 0, len(r.CVSS))
	for k := range r.CVSS {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c, err := parseUCTCVSS(r.CVSS[k])
		if err != nil {
			badf("cvss %s: %v", k, err)
			continue
		}
		c.Source = k
		a.CVSS = append(a.CVSS, c)
	}

	// Group pockets per release: main pocket and ESM pockets.
	main := map[string]map[string]uctPkg{}
	esm := map[string]map[string][]pocketEntry{}
	for key, pkgs := range r.Packages {
		if _, ok := releases[key]; ok {
			main[key] = pkgs
			continue
		}
		rel, rank, ok := esmPocket(key)
		if _, known := releases[rel]; !ok || !known {
			continue
		}
		if esm[rel] == nil {
			esm[rel] = map[string][]pocketEntry{}
		}
		for name, p := range pkgs {
			esm[rel][name] = append(esm[rel][name], pocketEntry{key, rank, p})
		}
	}
	rels := map[string]bool{}
	for k := range main {
		rels[k] = true
	}
	for k := range esm {
		rels[k] = true
	}
	// Every package of a release: the main pocket's, then those only ESM
	// pockets name.
	names := func(rel string) iter.Seq[string] {
		return func(yield func(string) bool) {
			for name := range main[rel] {
				if !yield(name) {
					return
				}
			}
			for name := range esm[rel] {
				if _, inMain := main[rel][name]; !inMain && !yield(name) {
					return
				}
			}
		}
	}
	// At most one entry per release and package that some pocket does not
	// call DNE: sized once, as the tracker's records run to thousands of
	// entries (kernel CVEs name every kernel flavour in every release).
	n := 0
	for rel := range rels {
		for name := range names(rel) {
			if m, ok := main[rel][name]; (ok && m.Status != "DNE") || anyPresent(esm[rel][name]) {
				n++
			}
		}
	}
	a.Affected = slices.Grow(a.Affected, n)
	for rel := range rels {
		ns, _ := Namespace(rel)
		for name := range names(rel) {
			pockets := esm[rel][name]
			slices.SortFunc(pockets, func(x, y pocketEntry) int {
				if c := cmp.Compare(x.rank, y.rank); c != 0 {
					return c
				}
				return strings.Compare(x.pocket, y.pocket)
			})
			m, hasMain := main[rel][name]
			p, pocket := pickPocket(rel, m, hasMain, pockets)
			if !debName.MatchString(name) {
				badf("%s: package name %q is not a Debian package name", pocket, name)
				continue
			}
			st, ok := uctStatus[p.Status]
			if !ok {
				badf("%s %s: unknown status %q", pocket, name, p.Status)
				continue
			}
			if st == "" {
				continue // DNE
			}
			af := advisory.Affected{Namespace: ns, Package: name, Kind: advisory.KindSource, Status: st}
			if p.Priority != "" {
				af.Severity = severity(p.Priority)
			}
			if st == advisory.StatusFixed {
				v, ok := releasedVersion(p.Note)
				if !ok {
					badf("%s %s: released without a usable version (note %q)", pocket, name, p.Note)
					continue
				}
				af.Ranges = []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}}}
				af.FixChannel = pocketChannel(pocket)
			}
			a.Affected = append(a.Affected, af)
		}
	}
	sort.Slice(a.Affected, func(i, j int) bool {
		x, y := a.Affected[i], a.Affected[j]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Package < y.Package
	})
	sort.Slice(bad, func(i, j int) bool { return bad[i].Err < bad[j].Err })
	return a, bad
}

// anyPresent says whether one of the pockets does not say DNE.
func anyPresent(pockets []pocketEntry) bool {
	for _, e := range pockets {
		if e.pkg.Status != "DNE" {
			return true
		}
	}
	return false
}

// releasedVersion takes the fixed version from a released note: the first
// word, without surrounding parentheses ("1.2-3", " (1.2-3", "1.2-3 ").
func releasedVersion(note string) (string, bool) {
	f := strings.Fields(strings.Trim(strings.TrimSpace(note), "()"))
	if len(f) == 0 {
		return "", false
	}
	v := strings.Trim(f[0], "(),")
	if !debVersion.MatchString(v) {
		return "", false
	}
	return v, true
}

// parseUCTCVSS reads "CVSS:3.1/AV:N/... [8.8 HIGH]" (score part optional).
func parseUCTCVSS(s string) (advisory.CVSS, error) {
	s = strings.TrimSpace(s)
	vec, rest, _ := strings.Cut(s, " ")
	var c advisory.CVSS
	switch {
	case strings.HasPrefix(vec, "CVSS:3.1/"):
		c.Version = "3.1"
	case strings.HasPrefix(vec, "CVSS:3.0/"):
		c.Version = "3.0"
	case strings.HasPrefix(vec, "CVSS:4.0/"):
		c.Version = "4.0"
	case strings.HasPrefix(vec, "AV:"):
		c.Version = "2.0"
	default:
		return c, fmt.Errorf("%q is not a CVSS vector", s)
	}
	c.Vector = vec
	if rest = strings.TrimSpace(rest); strings.HasPrefix(rest, "[") {
		f := strings.Fields(strings.Trim(rest, "[]"))
		if len(f) > 0 {
			if sc, err := strconv.ParseFloat(f[0], 64); err == nil && sc >= 0 && sc <= 10 {
				c.Score = sc
			}
		}
	}
	return c, nil
}

// newest is a helper for tests and callers that need the max of two times.
func newest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
