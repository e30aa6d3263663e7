package redhat

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	json "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/zstd"
	"github.com/package-url/packageurl-go"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Parse reads the VEX snapshot laid out as upstream (see the VEX doc): the
// archive named by archive_latest.txt, the per-CVE documents under <year>/
// (which replace the archive's copy of the same path), and deletions.csv
// (whose documents are skipped unless changes.csv lists them again later).
// It emits one advisory per vulnerability of each document.
func (u *VEX) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	p := &vexParser{u: u, emit: emit}
	deleted, err := effectiveDeletions(fsys, u.opts.MaxIndexSize)
	if err != nil {
		return p.stats, fmt.Errorf("redhat-vex: parse: %w", err)
	}
	docs, err := overlayDocs(fsys)
	if err != nil {
		return p.stats, fmt.Errorf("redhat-vex: parse: %w", err)
	}
	archive, err := archiveName(fsys)
	if err != nil {
		return p.stats, fmt.Errorf("redhat-vex: parse: %w", err)
	}
	if archive == "" && len(docs) == 0 {
		return p.stats, fmt.Errorf("redhat-vex: parse: neither %s nor any <year>/cve-*.json document", ArchiveLatestPath)
	}
	overlay := map[string]bool{}
	for _, d := range docs {
		overlay[d] = true
	}
	if archive != "" {
		f, err := fsys.Open(archive)
		if err != nil {
			return p.stats, fmt.Errorf("redhat-vex: parse: open %s: %w", archive, err)
		}
		err = p.archive(ctx, archive, f, func(name string) bool { return overlay[name] || deleted[name] })
		f.Close()
		if err != nil {
			return p.stats, err
		}
	}
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return p.stats, err
		}
		if deleted[d] {
			continue
		}
		data, err := readFile(fsys, d, u.opts.MaxDocSize)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				p.bad(d, docID(d), "%v", err)
				continue
			}
			return p.stats, fmt.Errorf("redhat-vex: parse %s: %w", d, err)
		}
		if err := p.doc(d, d, data); err != nil {
			return p.stats, err
		}
	}
	return p.stats, nil
}

// docPath is an upstream document path: <year>/cve-<year>-<n>.json.
var docPath = regexp.MustCompile(`^(\d{4})/cve-(\d{4})-\d{4,}\.json$`)

func docID(name string) string {
	return strings.ToUpper(strings.TrimSuffix(path.Base(name), ".json"))
}

// archiveName reads archive_latest.txt: "" when there is none.
func archiveName(fsys fs.FS) (string, error) {
	data, err := readFile(fsys, ArchiveLatestPath, 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", ArchiveLatestPath, err)
	}
	name := strings.TrimSpace(string(data))
	if !archiveFile.MatchString(name) {
		return "", fmt.Errorf("%s names %q, not a csaf_vex_<date>.tar.zst archive", ArchiveLatestPath, name)
	}
	return name, nil
}

var archiveFile = regexp.MustCompile(`^csaf_vex_(\d{4}-\d{2}-\d{2})\.tar\.zst$`)

// overlayDocs lists the <year>/cve-*.json documents of fsys, sorted.
func overlayDocs(fsys fs.FS) ([]string, error) {
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, y := range top {
		if !y.IsDir() || len(y.Name()) != 4 || strings.Trim(y.Name(), "0123456789") != "" {
			continue
		}
		entries, err := fs.ReadDir(fsys, y.Name())
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := y.Name() + "/" + e.Name()
			if e.Type().IsRegular() && docPath.MatchString(name) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// change is one line of changes.csv or deletions.csv.
type change struct {
	Path string
	Time time.Time
}

// readIndex parses a changes.csv/deletions.csv body: `"<path>","<RFC 3339
// time>"` per line. A line that is not of that form is an error naming it.
func readIndex(r io.Reader, name string) ([]change, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	var out []change
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p := path.Clean(strings.TrimSpace(rec[0]))
		if !docPath.MatchString(p) {
			return nil, fmt.Errorf("%s line %d: %q is not a <year>/cve-*.json path", name, line, rec[0])
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[1]))
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %q is not an RFC 3339 time", name, line, rec[1])
		}
		out = append(out, change{Path: p, Time: t.UTC()})
	}
}

func readIndexFile(fsys fs.FS, name string, max int64) ([]change, error) {
	data, err := readFile(fsys, name, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return readIndex(bytes.NewReader(data), name)
}

// effectiveDeletions is the set of documents that deletions.csv removes:
// those that changes.csv does not list with a later time (re-published).
func effectiveDeletions(fsys fs.FS, max int64) (map[string]bool, error) {
	dels, err := readIndexFile(fsys, DeletionsPath, max)
	if err != nil || len(dels) == 0 {
		return nil, err
	}
	changes, err := readIndexFile(fsys, ChangesPath, max)
	if err != nil {
		return nil, err
	}
	return deletedSet(dels, changes), nil
}

func deletedSet(dels, changes []change) map[string]bool {
	last := map[string]time.Time{}
	for _, c := range changes {
		if c.Time.After(last[c.Path]) {
			last[c.Path] = c.Time
		}
	}
	out := map[string]bool{}
	for _, d := range dels {
		if !last[d.Path].After(d.Time) {
			out[d.Path] = true
		}
	}
	return out
}

type vexParser struct {
	u     *VEX
	emit  func(*advisory.Advisory) error
	stats feed.Stats
}

func (p *vexParser) bad(file, id, format string, args ...any) {
	p.stats.Malformed = append(p.stats.Malformed, feed.Malformed{File: file, ID: id, Err: fmt.Sprintf(format, args...)})
}

// errArchiveLimit is wrapped when the archive exceeds a cap.
var errArchiveLimit = errors.New("archive limit exceeded")

// capReader fails once more than max bytes were read.
type capReader struct {
	r    io.Reader
	n    int64
	max  int64
	name string
}

func (c *capReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n > c.max {
		return n, fmt.Errorf("%s: %w: more than %d decompressed bytes", c.name, errArchiveLimit, c.max)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("zstd: %w", err)
	}
	return n, err
}

// archive streams the tar.zst, parsing each <year>/cve-*.json entry that
// skip does not reject. Decompressed bytes, entries and window memory are
// capped (VEXOptions); exceeding one fails the whole Parse.
func (p *vexParser) archive(ctx context.Context, name string, r io.Reader, skip func(string) bool) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(p.u.opts.MaxDecoderMemory)), zstd.WithDecoderMaxWindow(uint64(p.u.opts.MaxDecoderMemory)))
	if err != nil {
		return fmt.Errorf("redhat-vex: parse %s: zstd: %w", name, err)
	}
	defer zr.Close()
	tr := tar.NewReader(&capReader{r: zr, max: p.u.opts.MaxArchiveSize, name: name})
	return eachTarFile(ctx, tr, tarWalk{
		what: "redhat-vex: parse " + name, maxEntries: p.u.opts.MaxArchiveEntries, maxSize: p.u.opts.MaxDocSize,
		want: func(doc string) bool { return docPath.MatchString(doc) && !skip(doc) },
		tooLarge: func(doc string, size int64) {
			p.bad(name+":"+doc, docID(doc), "document of %d bytes %v of %d bytes", size, errTooLarge, p.u.opts.MaxDocSize)
		},
		file: func(doc string, data []byte) error { return p.doc(name+":"+doc, doc, data) },
	})
}

// csafDoc is a CSAF 2.0 VEX document (the fields we use).
type csafDoc struct {
	Document struct {
		AggregateSeverity struct {
			Text string `json:"text"`
		} `json:"aggregate_severity"`
		Title    string `json:"title"`
		Tracking struct {
			ID                 string `json:"id"`
			Status             string `json:"status"`
			CurrentReleaseDate string `json:"current_release_date"`
			InitialReleaseDate string `json:"initial_release_date"`
		} `json:"tracking"`
	} `json:"document"`
	ProductTree struct {
		Branches      []csafBranch `json:"branches"`
		Relationships []struct {
			Category        string `json:"category"`
			FullProductName struct {
				ProductID string `json:"product_id"`
			} `json:"full_product_name"`
			ProductReference          string `json:"product_reference"`
			RelatesToProductReference string `json:"relates_to_product_reference"`
		} `json:"relationships"`
	} `json:"product_tree"`
	Vulnerabilities []csafVuln `json:"vulnerabilities"`
}

type csafBranch struct {
	Category string       `json:"category"`
	Name     string       `json:"name"`
	Product  *csafProduct `json:"product"`
	Branches []csafBranch `json:"branches"`
}

type csafProduct struct {
	Name      string `json:"name"`
	ProductID string `json:"product_id"`
	Helper    struct {
		CPE  string `json:"cpe"`
		PURL string `json:"purl"`
	} `json:"product_identification_helper"`
}

type csafNote struct {
	Category string `json:"category"`
	Title    string `json:"title"`
	Text     string `json:"text"`
}

type csafVuln struct {
	CVE           string              `json:"cve"`
	Title         string              `json:"title"`
	ReleaseDate   string              `json:"release_date"`
	Notes         []csafNote          `json:"notes"`
	ProductStatus map[string][]string `json:"product_status"`
	Remediations  []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		URL        string   `json:"url"`
		ProductIDs []string `json:"product_ids"`
	} `json:"remediations"`
	Scores []struct {
		CVSSv3 *csafCVSS `json:"cvss_v3"`
		CVSSv2 *csafCVSS `json:"cvss_v2"`
		// Products are the product ids the score applies to.
		Products []string `json:"products"`
	} `json:"scores"`
	Threats []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		ProductIDs []string `json:"product_ids"`
	} `json:"threats"`
	References []struct {
		Category string `json:"category"`
		URL      string `json:"url"`
	} `json:"references"`
}

type csafCVSS struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
}

// doc decodes and emits one document. Only emit errors are returned.
func (p *vexParser) doc(file, name string, data []byte) error {
	var d csafDoc
	if err := json.Unmarshal(data, &d); err != nil {
		p.bad(file, docID(name), "decode: %v", err)
		return nil
	}
	if strings.EqualFold(d.Document.Tracking.Status, "deleted") {
		p.stats.Withdrawn++
		return nil
	}
	if len(d.Vulnerabilities) == 0 {
		p.bad(file, docID(name), "document %q has no vulnerabilities", d.Document.Tracking.ID)
		return nil
	}
	t := newProductTable(&d)
	modified, _ := parseTime(d.Document.Tracking.CurrentReleaseDate)
	for i := range d.Vulnerabilities {
		v := &d.Vulnerabilities[i]
		id := strings.TrimSpace(v.CVE)
		if id == "" {
			id = strings.TrimSpace(d.Document.Tracking.ID)
		}
		if !cveID.MatchString(id) {
			p.bad(file, docID(name), "vulnerability %d: %q is not a CVE id", i, id)
			continue
		}
		a := p.convert(file, &d, t, v, id)
		a.Modified = modified
		if modified.After(p.stats.Newest) {
			p.stats.Newest = modified
		}
		p.stats.Records++
		if err := p.emit(a); err != nil {
			return fmt.Errorf("redhat-vex: emit %s: %w", id, err)
		}
	}
	return nil
}

// productTable indexes the product tree: products by id, and each full
// product id of a default_component_of relationship by its component and
// platform.
type productTable struct {
	products map[string]*csafProduct
	rel      map[string][2]string // full id -> component id, platform id
}

func newProductTable(d *csafDoc) *productTable {
	t := &productTable{products: map[string]*csafProduct{}, rel: map[string][2]string{}}
	var walk func([]csafBranch)
	walk = func(bs []csafBranch) {
		for i := range bs {
			if pr := bs[i].Product; pr != nil && pr.ProductID != "" {
				t.products[pr.ProductID] = pr
			}
			walk(bs[i].Branches)
		}
	}
	walk(d.ProductTree.Branches)
	for _, r := range d.ProductTree.Relationships {
		if r.Category == "default_component_of" && r.FullProductName.ProductID != "" {
			t.rel[r.FullProductName.ProductID] = [2]string{r.ProductReference, r.RelatesToProductReference}
		}
	}
	return t
}

// component is one rpm named by a component product.
type component struct {
	name, module, evr string
	src               bool // a source rpm (arch=src)
	plain             bool // no arch: a package name without a build
	purl              bool // named by a purl (the current document format)
}

// parseComponent reads a component's purl, or its product id when it has
// none (older documents: "vim", "curl-0:7.76.1-26.el9_3.2.src",
// "nodejs:18/nodejs"). ok is false for non-rpm components (containers,
// maven, ...).
func parseComponent(id string, pr *csafProduct) (c component, ok bool, err error) {
	if pr != nil && pr.Helper.PURL != "" {
		u, err := packageurl.FromString(pr.Helper.PURL)
		if err != nil {
			return c, false, fmt.Errorf("purl %q: %v", pr.Helper.PURL, err)
		}
		if u.Type != packageurl.TypeRPM {
			return c, false, nil
		}
		if !rpmName.MatchString(u.Name) {
			return c, false, fmt.Errorf("purl %q: bad package name", pr.Helper.PURL)
		}
		q := u.Qualifiers.Map()
		c.name = u.Name
		c.purl = true
		arch := q["arch"]
		c.src = arch == "src"
		c.plain = arch == "" && u.Version == ""
		if m, ok := q["rpmmod"]; ok {
			parts := strings.Split(m, ":")
			if len(parts) < 2 || !rpmName.MatchString(parts[0]) || !rpmName.MatchString(parts[1]) {
				return c, false, fmt.Errorf("purl %q: bad rpmmod %q", pr.Helper.PURL, m)
			}
			c.module = parts[0] + ":" + parts[1]
		}
		if u.Version != "" {
			ver, rel, ok := strings.Cut(u.Version, "-")
			if !ok || ver == "" || rel == "" {
				return c, false, fmt.Errorf("purl %q: version %q is not version-release", pr.Helper.PURL, u.Version)
			}
			epoch := q["epoch"]
			if epoch == "" {
				epoch = "0"
			}
			if strings.Trim(epoch, "0123456789") != "" {
				return c, false, fmt.Errorf("purl %q: bad epoch %q", pr.Helper.PURL, epoch)
			}
			c.evr = evr(epoch, ver, rel)
		}
		return c, true, nil
	}
	// No purl: the product id is the package.
	s := strings.TrimSpace(id)
	if m, rest, ok := strings.Cut(s, "/"); ok {
		if !strings.Contains(m, ":") {
			return c, false, nil // a container image "rhel9/ruby-30"
		}
		if !isStream(m) {
			return c, false, fmt.Errorf("component %q: bad module stream", id)
		}
		c.module, s = m, rest
	}
	if !strings.Contains(s, ":") {
		if n, ok := strings.CutSuffix(s, ".src"); ok && rpmName.MatchString(n) {
			return component{name: n, module: c.module, src: true}, true, nil
		}
		if rpmName.MatchString(s) {
			return component{name: s, module: c.module, plain: true}, true, nil
		}
		return c, false, fmt.Errorf("component %q is not a package name", id)
	}
	// name-epoch:version-release.arch
	i := strings.LastIndexByte(s, '.')
	var m []string
	if i > 0 {
		m = nevr.FindStringSubmatch(s[:i])
	}
	if m == nil {
		return c, false, fmt.Errorf("component %q is neither a package name nor a NEVRA", id)
	}
	arch := s[i+1:]
	return component{name: m[1], module: c.module, evr: evr(m[2], m[3], m[4]), src: arch == "src"}, true, nil
}

// vexStatuses are the product_status categories we read.
var vexStatuses = []string{"fixed", "known_affected", "known_not_affected", "under_investigation"}

// entry is one (namespace, component) judgement before it becomes an
// Affected entry.
type entry struct {
	ns     string
	status string
	comp   component
	pid    string
}

func (p *vexParser) convert(file string, d *csafDoc, t *productTable, v *csafVuln, id string) *advisory.Advisory {
	a := &advisory.Advisory{
		ID:             id,
		Source:         p.u.Name(),
		VendorSeverity: d.Document.AggregateSeverity.Text,
		Severity:       severity(d.Document.AggregateSeverity.Text),
		Affected:       []advisory.Affected{},
	}
	var desc []string
	for _, n := range v.Notes {
		txt := strings.TrimSpace(n.Text)
		switch {
		case txt == "":
		case n.Category == "summary" && a.Summary == "":
			a.Summary = txt
		case n.Category == "description":
			desc = append([]string{txt}, desc...)
		case n.Category == "other" && strings.EqualFold(n.Title, "Statement"):
			desc = append(desc, txt)
		}
	}
	if a.Summary == "" {
		a.Summary = strings.TrimSpace(v.Title)
	}
	a.Description = strings.Join(desc, "\n\n")
	a.Rejected = rejected(desc) || strings.HasPrefix(strings.TrimSpace(d.Document.Title), "[REJECTED CVE]")
	if t, ok := parseTime(v.ReleaseDate); ok {
		a.Published = t
	}
	seenRef := map[string]bool{}
	for _, r := range v.References {
		if u := strings.TrimSpace(r.URL); u != "" && !seenRef[u] {
			seenRef[u] = true
			a.References = append(a.References, u)
		}
	}
	a.CVSS = vexCVSS(v)

	// Per product: the remediation categories (and fix URL) and the impact.
	type remedy struct {
		noFix, none bool
		advisory    string
	}
	rem := map[string]*remedy{}
	get := func(pid string) *remedy {
		r := rem[pid]
		if r == nil {
			r = &remedy{}
			rem[pid] = r
		}
		return r
	}
	for _, r := range v.Remediations {
		for _, pid := range r.ProductIDs {
			switch r.Category {
			case "no_fix_planned":
				get(pid).noFix = true
			case "none_available":
				get(pid).none = true
			case "vendor_fix":
				if adv := rhsa(r.URL); adv != "" {
					get(pid).advisory = adv
				}
			}
		}
	}
	impact := map[string]string{}
	for _, th := range v.Threats {
		if th.Category != "impact" {
			continue
		}
		for _, pid := range th.ProductIDs {
			impact[pid] = th.Details
		}
	}

	var entries []entry
	hasSrc := map[[2]string]bool{} // (namespace, status) groups with a source rpm
	for _, st := range vexStatuses {
		for _, pid := range v.ProductStatus[st] {
			rel, ok := t.rel[pid]
			if !ok {
				continue // a product without a component: no package to name
			}
			plat := t.products[rel[1]]
			if plat == nil {
				continue
			}
			ns, ok := namespace(plat.Helper.CPE)
			if !ok {
				continue
			}
			c, ok, err := parseComponent(rel[0], t.products[rel[0]])
			if err != nil {
				p.bad(file, id, "%s %s: %v", st, pid, err)
				continue
			}
			if !ok {
				continue
			}
			if c.src {
				hasSrc[[2]string{ns, st}] = true
			}
			entries = append(entries, entry{ns: ns, status: st, comp: c, pid: pid})
		}
	}
	seen := map[string]bool{}
	add := func(af advisory.Affected) {
		k := fmt.Sprint(af)
		if !seen[k] {
			seen[k] = true
			a.Affected = append(a.Affected, af)
		}
	}
	for _, e := range entries {
		c := e.comp
		af := advisory.Affected{Namespace: e.ns, Package: c.name, Kind: advisory.KindSource, Module: c.module, Severity: severity(impact[e.pid])}
		switch e.status {
		case "fixed":
			// A fix names builds: the source rpm's NEVRA is the record
			// (binary rpms of the same build add nothing).
			if !c.src {
				continue
			}
			if c.evr == "" {
				p.bad(file, id, "fixed %s: the source rpm has no version", e.pid)
				continue
			}
			af.Status = advisory.StatusFixed
			af.Ranges = fixedRange(c.evr)
			if r := rem[e.pid]; r != nil {
				af.Advisory = r.advisory
			}
		default:
			// Unfixed judgements name packages. Older documents name
			// the source package without a purl ("vim"); current ones
			// give the source rpm (arch=src) and its binary rpms by name
			// beside it, which the source record covers.
			if !c.src && (!c.plain || (c.purl && hasSrc[[2]string{e.ns, e.status}])) {
				continue
			}
			switch e.status {
			case "known_not_affected":
				af.Status = advisory.StatusNotAffected
			case "known_affected":
				af.Status = advisory.StatusAffected
				if r := rem[e.pid]; r != nil && r.noFix {
					af.Status = advisory.StatusWillNotFix
				}
			default: // under_investigation
				af.Status = advisory.StatusAffected
			}
		}
		add(af)
	}
	sortAffected(a.Affected)
	return a
}

// vexCVSS takes, per CVSS version, the score that applies to the most
// products (documents normally carry one per version).
func vexCVSS(v *csafVuln) []advisory.CVSS {
	var out []advisory.CVSS
	for _, pick := range []func(i int) *csafCVSS{
		func(i int) *csafCVSS { return v.Scores[i].CVSSv3 },
		func(i int) *csafCVSS { return v.Scores[i].CVSSv2 },
	} {
		best, bestN := (*csafCVSS)(nil), -1
		for i := range v.Scores {
			if c := pick(i); c != nil && c.VectorString != "" && len(v.Scores[i].Products) > bestN {
				best, bestN = c, len(v.Scores[i].Products)
			}
		}
		if best == nil {
			continue
		}
		ver := best.Version
		switch {
		case strings.HasPrefix(best.VectorString, "CVSS:3.1/"):
			ver = "3.1"
		case strings.HasPrefix(best.VectorString, "CVSS:3.0/"):
			ver = "3.0"
		case ver == "":
			ver = "2.0"
		}
		sc := best.BaseScore
		if sc < 0 || sc > 10 {
			sc = 0
		}
		out = append(out, advisory.CVSS{Version: ver, Vector: best.VectorString, Score: sc, Source: "redhat"})
	}
	return out
}

var rhsaID = regexp.MustCompile(`RH[SBE]A-\d{4}:\d+`)

// rhsa is the advisory id in a vendor_fix URL
// (https://access.redhat.com/errata/RHSA-2023:5700).
func rhsa(url string) string { return rhsaID.FindString(url) }
