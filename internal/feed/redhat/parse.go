package redhat

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	sev "github.com/stowaway-scanner/stowaway/internal/severity"
)

// Parse reads the bundle securitydata/cve.tar.gz when fsys has it, else the
// files securitydata/cve/*.json, and emits one advisory per CVE.
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	p := &parser{u: u, emit: emit}
	f, err := fsys.Open(BundlePath)
	switch {
	case err == nil:
		defer f.Close()
		err = p.bundle(ctx, f)
	case errors.Is(err, fs.ErrNotExist):
		err = p.dir(ctx, fsys)
	default:
		err = fmt.Errorf("redhat: parse: open %s: %w", BundlePath, err)
	}
	return p.stats, err
}

type parser struct {
	u     *Updater
	emit  func(*advisory.Advisory) error
	stats feed.Stats
}

func (p *parser) bad(file, id, format string, args ...any) {
	p.stats.Malformed = append(p.stats.Malformed, feed.Malformed{File: file, ID: id, Err: fmt.Sprintf(format, args...)})
}

func (p *parser) bundle(ctx context.Context, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("redhat: parse %s: gzip: %w", BundlePath, err)
	}
	defer zr.Close()
	return eachTarFile(ctx, tar.NewReader(zr), tarWalk{
		what: "redhat: parse " + BundlePath, maxSize: p.u.opts.MaxRecordSize,
		want: func(name string) bool { return path.Dir(name) == "cve" && strings.HasSuffix(name, ".json") },
		tooLarge: func(name string, size int64) {
			p.bad(BundlePath+":"+name, idFromName(name), "record of %d bytes %v of %d bytes", size, errTooLarge, p.u.opts.MaxRecordSize)
		},
		file: func(name string, data []byte) error { return p.record(BundlePath+":"+name, name, data) },
	})
}

// tarWalk says which regular files of a tar eachTarFile reads and what it
// does with them.
type tarWalk struct {
	what       string // the error prefix: "redhat: parse FILE"
	maxEntries int    // entries read at most (0: no bound), else errArchiveLimit
	maxSize    int64  // bytes of one file; a larger one goes to tooLarge
	want       func(name string) bool
	tooLarge   func(name string, size int64)
	file       func(name string, data []byte) error
}

// eachTarFile reads the regular files of tr that w wants, by cleaned name,
// each bounded by w.maxSize.
func eachTarFile(ctx context.Context, tr *tar.Reader, w tarWalk) error {
	entries := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: tar: %w", w.what, err)
		}
		if entries++; w.maxEntries > 0 && entries > w.maxEntries {
			return fmt.Errorf("%s: %w: more than %d entries", w.what, errArchiveLimit, w.maxEntries)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if !w.want(name) {
			continue
		}
		if h.Size > w.maxSize {
			w.tooLarge(name, h.Size)
			continue
		}
		data, err := readBounded(tr, w.maxSize)
		if err != nil {
			return fmt.Errorf("%s:%s: %w", w.what, name, err)
		}
		if err := w.file(name, data); err != nil {
			return err
		}
	}
}

func (p *parser) dir(ctx context.Context, fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, CVEDir)
	if err != nil {
		return fmt.Errorf("redhat: parse: neither %s nor %s/ is readable: %w", BundlePath, CVEDir, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		file := CVEDir + "/" + e.Name()
		data, err := readFile(fsys, file, p.u.opts.MaxRecordSize)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				p.bad(file, idFromName(file), "%v", err)
				continue
			}
			return fmt.Errorf("redhat: parse %s: %w", file, err)
		}
		if err := p.record(file, file, data); err != nil {
			return err
		}
	}
	return nil
}

func readFile(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, max)
}

func idFromName(name string) string { return strings.TrimSuffix(path.Base(name), ".json") }

// record decodes and emits one CVE document. Only emit errors are returned.
func (p *parser) record(file, name string, data []byte) error {
	var r cveRecord
	if err := json.Unmarshal(data, &r); err != nil {
		p.bad(file, idFromName(name), "decode: %v", err)
		return nil
	}
	if !cveID.MatchString(r.Name) {
		p.bad(file, idFromName(name), "name %q is not a CVE id", r.Name)
		return nil
	}
	a, newest := p.convert(file, &r)
	if newest.After(p.stats.Newest) {
		p.stats.Newest = newest
	}
	p.stats.Records++
	if err := p.emit(a); err != nil {
		return fmt.Errorf("redhat: emit %s: %w", r.Name, err)
	}
	return nil
}

// cveRecord is the Security Data API per-CVE document (the fields we use).
type cveRecord struct {
	Name           string `json:"name"`
	ThreatSeverity string `json:"threat_severity"`
	PublicDate     string `json:"public_date"`
	Bugzilla       struct {
		Description string `json:"description"`
		URL         string `json:"url"`
	} `json:"bugzilla"`
	CVSS3 *struct {
		Score  string `json:"cvss3_base_score"`
		Vector string `json:"cvss3_scoring_vector"`
	} `json:"cvss3"`
	CVSS *struct {
		Score  string `json:"cvss_base_score"`
		Vector string `json:"cvss_scoring_vector"`
	} `json:"cvss"`
	Details         []string `json:"details"`
	Statement       string   `json:"statement"`
	References      []string `json:"references"`
	AffectedRelease []struct {
		Advisory    string `json:"advisory"`
		CPE         string `json:"cpe"`
		Package     string `json:"package"`
		ReleaseDate string `json:"release_date"`
		Impact      string `json:"impact"`
	} `json:"affected_release"`
	PackageState []struct {
		CPE         string `json:"cpe"`
		FixState    string `json:"fix_state"`
		PackageName string `json:"package_name"`
		Impact      string `json:"impact"`
	} `json:"package_state"`
}

func (p *parser) convert(file string, r *cveRecord) (*advisory.Advisory, time.Time) {
	a := &advisory.Advisory{
		ID:             r.Name,
		Source:         "redhat",
		Summary:        strings.TrimSpace(r.Bugzilla.Description),
		VendorSeverity: r.ThreatSeverity,
		Severity:       severity(r.ThreatSeverity),
		Affected:       []advisory.Affected{},
	}
	var desc []string
	for _, d := range r.Details {
		if d = strings.TrimSpace(d); d != "" {
			desc = append(desc, d)
		}
	}
	if s := strings.TrimSpace(r.Statement); s != "" {
		desc = append(desc, s)
	}
	a.Description = strings.Join(desc, "\n\n")
	a.Rejected = rejected(desc)
	if r.CVSS3 != nil && r.CVSS3.Vector != "" {
		v := "3.0"
		if strings.HasPrefix(r.CVSS3.Vector, "CVSS:3.1/") {
			v = "3.1"
		}
		a.CVSS = append(a.CVSS, advisory.CVSS{Version: v, Vector: r.CVSS3.Vector, Score: score(r.CVSS3.Score), Source: "redhat"})
	}
	if r.CVSS != nil && r.CVSS.Vector != "" {
		a.CVSS = append(a.CVSS, advisory.CVSS{Version: "2.0", Vector: r.CVSS.Vector, Score: score(r.CVSS.Score), Source: "redhat"})
	}
	seenRef := map[string]bool{}
	addRef := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !seenRef[s] {
			seenRef[s] = true
			a.References = append(a.References, s)
		}
	}
	for _, ref := range r.References {
		for _, s := range strings.Fields(ref) {
			addRef(s)
		}
	}
	addRef(r.Bugzilla.URL)
	newest := time.Time{}
	if t, ok := parseTime(r.PublicDate); ok {
		a.Published = t
		newest = t
	} else if r.PublicDate != "" {
		p.bad(file, r.Name, "public_date %q is not a date", r.PublicDate)
	}

	seen := map[string]bool{}
	add := func(af advisory.Affected) {
		k := fmt.Sprint(af)
		if !seen[k] {
			seen[k] = true
			a.Affected = append(a.Affected, af)
		}
	}
	for _, ar := range r.AffectedRelease {
		ns, ok := namespace(ar.CPE)
		if !ok {
			continue
		}
		if t, ok := parseTime(ar.ReleaseDate); ok && t.After(newest) {
			newest = t
		}
		af, skip, err := fixedEntry(ar.Package)
		if skip {
			continue
		}
		if err != nil {
			p.bad(file, r.Name, "affected_release %s (%s): %v", ar.CPE, ar.Advisory, err)
			continue
		}
		af.Namespace = ns
		af.Advisory = ar.Advisory
		af.Severity = severity(ar.Impact)
		add(af)
	}
	for _, ps := range r.PackageState {
		ns, ok := namespace(ps.CPE)
		if !ok {
			continue
		}
		st, ok := fixStates[ps.FixState]
		if !ok {
			p.bad(file, r.Name, "package_state %s %s: unknown fix_state %q", ps.CPE, ps.PackageName, ps.FixState)
			continue
		}
		name, module, skip, err := stateName(ps.PackageName)
		if skip {
			continue
		}
		if err != nil {
			p.bad(file, r.Name, "package_state %s: %v", ps.CPE, err)
			continue
		}
		add(advisory.Affected{Namespace: ns, Package: name, Kind: advisory.KindSource, Module: module, Status: st, Severity: severity(ps.Impact)})
	}
	sortAffected(a.Affected)
	return a, newest
}

// sortAffected orders entries by namespace, package, module and fixed
// version so output does not depend on the feed's order of products.
func sortAffected(affs []advisory.Affected) {
	sort.SliceStable(affs, func(i, j int) bool {
		a, b := affs[i], affs[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Module < b.Module
	})
}

var fixStates = map[string]advisory.Status{
	"Affected":             advisory.StatusAffected,
	"Fix deferred":         advisory.StatusAffected,
	"Under investigation":  advisory.StatusAffected,
	"Will not fix":         advisory.StatusWillNotFix,
	"Out of support scope": advisory.StatusWillNotFix,
	"Not affected":         advisory.StatusNotAffected,
}

// severity maps Red Hat's rating (any case) to an ECR level.
func severity(s string) sev.Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low":
		return sev.Low
	case "moderate":
		return sev.Medium
	case "important":
		return sev.High
	case "critical":
		return sev.Critical
	}
	return ""
}

func score(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 10 {
		return 0
	}
	return f
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// namespace maps a product CPE to a stream namespace (see the package doc).
func namespace(cpe string) (string, bool) {
	rest, ok := strings.CutPrefix(cpe, "cpe:/")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 4 || (parts[0] != "o" && parts[0] != "a") || parts[1] != "redhat" {
		return "", false
	}
	product, ver := parts[2], parts[3]
	majorStr, minor, hasMinor := strings.Cut(ver, ".")
	major, err := strconv.Atoi(majorStr)
	if err != nil || major < 7 || major > 99 {
		return "", false
	}
	if hasMinor {
		if _, err := strconv.Atoi(minor); err != nil {
			return "", false
		}
	}
	main := "rhel:" + majorStr
	switch {
	case product == "enterprise_linux":
		return main, true
	case product == "rhel_eus" || product == "rhel_aus" || product == "rhel_e4s" || product == "rhel_tus":
		return "rhel:" + ver + "-" + strings.TrimPrefix(product, "rhel_"), true
	case product == "rhel_els" || (strings.HasPrefix(product, "rhel_") && strings.HasSuffix(product, "_els")):
		return main + "-els", true
	case strings.HasPrefix(product, "rhel_extras") || product == "rhel_atomic" || product == "rhel_common":
		return main, true
	}
	return "", false
}

var (
	// nevr is a source NEVRA without arch: name-epoch:version-release.
	nevr = regexp.MustCompile(`^([A-Za-z0-9_.+][A-Za-z0-9_.+-]*)-(\d+):([A-Za-z0-9_.+~^]+)-([A-Za-z0-9_.+~^]+)$`)
	// nevrNoEpoch is name-version-release with an implied epoch 0.
	nevrNoEpoch = regexp.MustCompile(`^([A-Za-z0-9_.+][A-Za-z0-9_.+-]*)-(\d[A-Za-z0-9_.+~^]*)-([A-Za-z0-9_.+~^]+)$`)
	// nsvc is a module build: name:stream-version.context.
	nsvc = regexp.MustCompile(`^([A-Za-z0-9_.+-]+):([A-Za-z0-9_.+]+)-(\d{6,})\.([A-Za-z0-9_]+)$`)
	// rpmName is a plain package name.
	rpmName = regexp.MustCompile(`^[A-Za-z0-9_.+][A-Za-z0-9_.+-]*$`)
)

// fixedEntry parses an affected_release package. skip reports entries that
// name no rpm (container images, versionless kpatch-patch).
func fixedEntry(pkg string) (af advisory.Affected, skip bool, err error) {
	pkg = strings.TrimSpace(pkg)
	if pkg == "" {
		return af, false, errors.New("empty package")
	}
	if i := strings.IndexByte(pkg, '/'); i >= 0 && !strings.Contains(pkg[:i], ":") {
		return af, true, nil // container image "rhel9/openssl:9.0-25"
	}
	if !strings.Contains(pkg, ":") {
		if m := nevrNoEpoch.FindStringSubmatch(pkg); m != nil {
			return advisory.Affected{
				Package: m[1], Kind: advisory.KindSource, Status: advisory.StatusFixed,
				Ranges: fixedRange(evr("0", m[2], m[3])),
			}, false, nil
		}
		if rpmName.MatchString(pkg) {
			// A bare name (kpatch-patch): no version to compare.
			return af, true, nil
		}
	}
	module := ""
	if m, rest, ok := strings.Cut(pkg, "/"); ok {
		// "nodejs:18/nodejs-1:18.17.1-1.module+el9..."
		if !isStream(m) {
			return af, false, fmt.Errorf("package %q: bad module stream", pkg)
		}
		module, pkg = m, rest
	}
	if m := nevr.FindStringSubmatch(pkg); m != nil {
		return advisory.Affected{
			Package: m[1], Kind: advisory.KindSource, Module: module, Status: advisory.StatusFixed,
			Ranges: fixedRange(evr(m[2], m[3], m[4])),
		}, false, nil
	}
	if module == "" {
		if m := nsvc.FindStringSubmatch(pkg); m != nil {
			stream := m[1] + ":" + m[2]
			return advisory.Affected{
				Package: stream, Kind: advisory.KindSource, Module: stream, Status: advisory.StatusFixed,
				Ranges: fixedRange(m[3]),
			}, false, nil
		}
	}
	return af, false, fmt.Errorf("package %q is neither a source NEVRA nor a module NSVC", pkg)
}

func isStream(s string) bool {
	n, st, ok := strings.Cut(s, ":")
	return ok && rpmName.MatchString(n) && rpmName.MatchString(st)
}

// evr drops a zero epoch: "0:1.2-3" is written "1.2-3".
func evr(epoch, ver, rel string) string {
	if strings.TrimLeft(epoch, "0") == "" {
		return ver + "-" + rel
	}
	return strings.TrimLeft(epoch, "0") + ":" + ver + "-" + rel
}

func fixedRange(fixed string) []advisory.Range {
	return []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: fixed}}}}
}

// stateName parses a package_state package_name: "pkg" or "module:stream/pkg".
func stateName(s string) (name, module string, skip bool, err error) {
	s = strings.TrimSpace(s)
	if m, pkg, ok := strings.Cut(s, "/"); ok {
		if !strings.Contains(m, ":") {
			return "", "", true, nil // container image "rhel9/ruby-30", maven "group/artifact"
		}
		if !isStream(m) || !rpmName.MatchString(pkg) {
			return "", "", false, fmt.Errorf("package_name %q: bad module/package form", s)
		}
		return pkg, m, false, nil
	}
	if !rpmName.MatchString(s) {
		return "", "", false, fmt.Errorf("package_name %q is not a package name", s)
	}
	return s, "", false, nil
}

// rejected reports whether Red Hat's details say that the CVE program
// rejected the id: Red Hat prefixes them with "[REJECTED CVE]", or replaces
// them with "This CVE ID has been rejected ..." or the CVE program's own
// notice. The record's entries are converted as usual; the DB drops them.
func rejected(details []string) bool {
	if len(details) == 0 {
		return false
	}
	d := details[0]
	return strings.HasPrefix(d, "[REJECTED CVE]") || strings.HasPrefix(d, "This CVE ID has been rejected") || advisory.RejectNotice(d)
}
