package ubuntu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/oval"
)

// Defaults for OVALOptions fields left zero.
var (
	DefaultOVALReleases  = []string{"trusty", "xenial", "bionic", "focal", "jammy", "noble"}
	DefaultOVALMirrorDir = "ubuntu/oval-2021-08-31"
)

// DefaultMaxOVALSize caps one decompressed OVAL file.
const DefaultMaxOVALSize = 2 << 30

// OVALOptions tune the OVAL updater.
type OVALOptions struct {
	// Releases are the codenames Fetch asks for; missing files are skipped.
	Releases []string
	// MirrorDir is the directory of the OVAL files in a mirror.
	MirrorDir string
	// MaxFileSize caps one decompressed OVAL document.
	MaxFileSize int64
	// Bzip2 decompresses the .bz2 files (the zero value: Go's
	// compress/bzip2).
	Bzip2 bz2.Decompressor
}

// OVAL is the Ubuntu CVE OVAL updater.
type OVAL struct {
	opts OVALOptions
	// skip says which releases (namespaces) Parse leaves unread
	// (SkipNamespaces).
	skip func(namespace string) bool
}

// SkipNamespaces returns a copy of o whose Parse does not read the files of
// the releases skip names: a build gives it the releases a better source
// covers (distro.Descriptor.Supersedes), and the file is then not even
// decompressed.
func (o *OVAL) SkipNamespaces(skip func(namespace string) bool) feed.Updater {
	c := *o
	c.skip = skip
	return &c
}

// NewOVAL returns the OVAL updater with default options.
func NewOVAL() *OVAL { return NewOVALWithOptions(OVALOptions{}) }

// NewOVALWithOptions returns the OVAL updater with opts.
func NewOVALWithOptions(opts OVALOptions) *OVAL {
	if len(opts.Releases) == 0 {
		opts.Releases = DefaultOVALReleases
	}
	if opts.MirrorDir == "" {
		opts.MirrorDir = DefaultOVALMirrorDir
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxOVALSize
	}
	return &OVAL{opts: opts}
}

// Name is the source name stored with each record.
func (o *OVAL) Name() string { return "ubuntu-oval" }

// Upstream is Canonical's OVAL directory.
func (o *OVAL) Upstream() string { return "https://security-metadata.canonical.com/oval" }

// MirrorDir is the OVAL directory in a mirror.
func (o *OVAL) MirrorDir() string { return o.opts.MirrorDir }

func ovalFile(codename string) string { return "com.ubuntu." + codename + ".cve.oval.xml.bz2" }

// Fetch gets each release's OVAL file; releases the source lacks are skipped.
func (o *OVAL) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	paths := make([]string, 0, len(o.opts.Releases))
	for _, r := range o.opts.Releases {
		paths = append(paths, ovalFile(r))
	}
	snap, err := feed.FetchFiles(ctx, src, paths, prev, func(string) bool { return true })
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("ubuntu-oval: %w", err)
	}
	if len(snap.State) == 0 {
		if snap.Close != nil {
			_ = snap.Close()
		}
		return feed.Snapshot{}, fmt.Errorf("ubuntu-oval: fetch: none of %v exists: %w", paths, fs.ErrNotExist)
	}
	return snap, nil
}

// Parse reads every com.ubuntu.<codename>.cve.oval.xml[.bz2] at the root of fsys.
func (o *OVAL) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return st, fmt.Errorf("ubuntu-oval: parse: %w", err)
	}
	found := 0
	for _, e := range ents {
		name := e.Name()
		codename, compressed, ok := ovalName(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		found++
		ns, ok := Namespace(codename)
		if !ok {
			st.Malformed = append(st.Malformed, feed.Malformed{File: name, Err: fmt.Sprintf("unknown Ubuntu codename %q", codename)})
			continue
		}
		if o.skip != nil && o.skip(ns) {
			continue
		}
		if err := o.parseFile(ctx, fsys, name, ns, compressed, &st, emit); err != nil {
			return st, err
		}
	}
	if found == 0 {
		return st, errors.New("ubuntu-oval: parse: no com.ubuntu.<codename>.cve.oval.xml.bz2 file")
	}
	return st, nil
}

func ovalName(name string) (codename string, compressed, ok bool) {
	rest, ok := strings.CutPrefix(name, "com.ubuntu.")
	if !ok {
		return "", false, false
	}
	if c, found := strings.CutSuffix(rest, ".cve.oval.xml.bz2"); found {
		return c, true, true
	}
	if c, found := strings.CutSuffix(rest, ".cve.oval.xml"); found {
		return c, false, true
	}
	return "", false, false
}

func (o *OVAL) parseFile(ctx context.Context, fsys fs.FS, name, ns string, compressed bool, st *feed.Stats, emit func(*advisory.Advisory) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("ubuntu-oval: parse %s: %w", name, err)
	}
	defer f.Close()
	var r io.Reader = f
	if compressed {
		rc, err := o.opts.Bzip2.NewReader(ctx, f, name)
		if err != nil {
			return fmt.Errorf("ubuntu-oval: parse: %w", err)
		}
		defer rc.Close()
		r = rc
	}
	doc, err := readOVAL(ctx, &limitReader{r: r, max: o.opts.MaxFileSize, name: name})
	if err != nil {
		return fmt.Errorf("ubuntu-oval: parse %s: %w", name, err)
	}
	for _, d := range doc.Definitions {
		if d.Class != "vulnerability" {
			continue
		}
		a, bad := doc.convert(d, ns)
		for _, b := range bad {
			b.File = name
			st.Malformed = append(st.Malformed, b)
		}
		if a == nil {
			continue
		}
		st.Newest = newest(st.Newest, a.Published)
		st.Records++
		if err := emit(a); err != nil {
			return fmt.Errorf("ubuntu-oval: emit %s: %w", a.ID, err)
		}
	}
	return nil
}

// The XML shapes we decode, element by element.
type (
	ovalDef struct {
		ID       string `xml:"id,attr"`
		Class    string `xml:"class,attr"`
		Metadata struct {
			Title       string `xml:"title"`
			Description string `xml:"description"`
			References  []struct {
				Source string `xml:"source,attr"`
				RefID  string `xml:"ref_id,attr"`
				RefURL string `xml:"ref_url,attr"`
			} `xml:"reference"`
			Advisory struct {
				Severity   string   `xml:"severity"`
				PublicDate string   `xml:"public_date"`
				Bugs       []string `xml:"bug"`
				Refs       []string `xml:"ref"`
			} `xml:"advisory"`
		} `xml:"metadata"`
		Criteria ovalCriteria `xml:"criteria"`
	}
	ovalCriteria struct {
		Criteria   []ovalCriteria `xml:"criteria"`
		Criterions []struct {
			TestRef string `xml:"test_ref,attr"`
		} `xml:"criterion"`
	}
	dpkgObject struct {
		ID   string `xml:"id,attr"`
		Name struct {
			Text   string `xml:",chardata"`
			VarRef string `xml:"var_ref,attr"`
		} `xml:"name"`
	}
	dpkgState struct {
		ID  string `xml:"id,attr"`
		EVR struct {
			Text      string `xml:",chardata"`
			Operation string `xml:"operation,attr"`
		} `xml:"evr"`
	}
)

func (o dpkgObject) Key() string { return o.ID }
func (s dpkgState) Key() string  { return s.ID }

// ovalDoc is the document as the shared OVAL reader kept it.
type ovalDoc struct {
	*oval.Doc[ovalDef, oval.Test, dpkgObject, dpkgState]
}

// readOVAL streams the document and keeps the elements Parse needs.
func readOVAL(ctx context.Context, r io.Reader) (*ovalDoc, error) {
	doc, err := oval.Read[ovalDef, oval.Test, dpkgObject, dpkgState](ctx, r, oval.Schema{Family: "dpkginfo", Variables: true})
	if err != nil {
		return nil, err
	}
	return &ovalDoc{doc}, nil
}

func testRefs(c *ovalCriteria, out []string) []string {
	for _, cr := range c.Criterions {
		out = append(out, cr.TestRef)
	}
	for i := range c.Criteria {
		out = testRefs(&c.Criteria[i], out)
	}
	return out
}

// convert maps one vulnerability definition.
func (doc *ovalDoc) convert(d *ovalDef, ns string) (*advisory.Advisory, []feed.Malformed) {
	var bad []feed.Malformed
	badf := func(format string, args ...any) {
		bad = append(bad, feed.Malformed{ID: d.ID, Err: fmt.Sprintf(format, args...)})
	}
	m := &d.Metadata
	var ids []string
	var refs []string
	seenRef := map[string]bool{}
	addRef := func(s string) {
		if s = strings.TrimSpace(s); s != "" && !seenRef[s] {
			seenRef[s] = true
			refs = append(refs, s)
		}
	}
	for _, r := range m.References {
		if strings.EqualFold(r.Source, "CVE") && cveID.MatchString(r.RefID) {
			ids = append(ids, r.RefID)
		}
		addRef(r.RefURL)
	}
	if len(ids) == 0 {
		if f := strings.Fields(m.Title); len(f) > 0 && cveID.MatchString(f[0]) {
			ids = append(ids, f[0])
		}
	}
	if len(ids) == 0 {
		badf("definition names no CVE (title %q)", m.Title)
		return nil, bad
	}
	for _, s := range m.Advisory.Refs {
		addRef(s)
	}
	for _, s := range m.Advisory.Bugs {
		addRef(s)
	}
	a := &advisory.Advisory{
		ID:             ids[0],
		Aliases:        ids[1:],
		Source:         "ubuntu-oval",
		Summary:        strings.TrimSpace(m.Title),
		Description:    strings.TrimSpace(m.Description),
		VendorSeverity: strings.TrimSpace(m.Advisory.Severity),
		Severity:       severity(m.Advisory.Severity),
		References:     refs,
		Affected:       []advisory.Affected{},
	}
	if len(a.Aliases) == 0 {
		a.Aliases = nil
	}
	a.Rejected = advisory.RejectNotice(m.Description)
	if t, ok := parseDate(m.Advisory.PublicDate); ok {
		a.Published = t
	}
	// Entries differ only in package, status and fixed version (namespace
	// and kind are the file's): that triple keys the duplicates.
	type entryKey struct {
		pkg    string
		status advisory.Status
		fixed  string
	}
	seen := map[entryKey]bool{}
	for _, ref := range testRefs(&d.Criteria, nil) {
		t, ok := doc.Tests[ref]
		if !ok {
			continue // family and release tests are not dpkginfo tests
		}
		obj, ok := doc.Objects[t.Object.Ref]
		if !ok {
			badf("test %s: object %q not found", ref, t.Object.Ref)
			continue
		}
		var names []string
		switch {
		case obj.Name.VarRef != "":
			vals, ok := doc.Variables[obj.Name.VarRef]
			if !ok {
				badf("object %s: variable %q not found", obj.ID, obj.Name.VarRef)
				continue
			}
			names = vals
		default:
			names = []string{obj.Name.Text}
		}
		af := advisory.Affected{Namespace: ns, Kind: advisory.KindBinary, Status: advisory.StatusAffected}
		fixed := ""
		if t.State.Ref != "" {
			s, ok := doc.States[t.State.Ref]
			if !ok {
				badf("test %s: state %q not found", ref, t.State.Ref)
				continue
			}
			v := stripZeroEpoch(strings.TrimSpace(s.EVR.Text))
			if s.EVR.Operation != "less than" || !debVersion.MatchString(v) {
				badf("state %s: want an evr \"less than\" a version, got %q %q", s.ID, s.EVR.Operation, s.EVR.Text)
				continue
			}
			af.Status = advisory.StatusFixed
			af.Ranges = []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}}}
			fixed = v
		}
		for _, n := range names {
			n = strings.TrimSpace(n)
			if !debName.MatchString(n) {
				badf("object %s: %q is not a package name", obj.ID, n)
				continue
			}
			x := af
			x.Package = n
			k := entryKey{n, x.Status, fixed}
			if !seen[k] {
				seen[k] = true
				a.Affected = append(a.Affected, x)
			}
		}
	}
	sort.SliceStable(a.Affected, func(i, j int) bool { return a.Affected[i].Package < a.Affected[j].Package })
	return a, bad
}
