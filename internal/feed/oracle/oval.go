package oracle

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/oval"
	sev "github.com/stowaway-scanner/stowaway/internal/severity"
)

type (
	ovalDef struct {
		ID       string `xml:"id,attr"`
		Class    string `xml:"class,attr"`
		Metadata struct {
			Title     string   `xml:"title"`
			Platforms []string `xml:"affected>platform"`
			Refs      []struct {
				Source string `xml:"source,attr"`
				RefID  string `xml:"ref_id,attr"`
				RefURL string `xml:"ref_url,attr"`
			} `xml:"reference"`
			Description string `xml:"description"`
			Advisory    struct {
				Severity string `xml:"severity"`
				Issued   struct {
					Date string `xml:"date,attr"`
				} `xml:"issued"`
				Updated struct {
					Date string `xml:"date,attr"`
				} `xml:"updated"`
				CVEs []struct {
					ID    string `xml:",chardata"`
					CVSS3 string `xml:"cvss3,attr"`
					Href  string `xml:"href,attr"`
				} `xml:"cve"`
			} `xml:"advisory"`
		} `xml:"metadata"`
		Criteria criteria `xml:"criteria"`
	}
	criteria struct {
		Criteria   []criteria `xml:"criteria"`
		Criterions []struct {
			TestRef string `xml:"test_ref,attr"`
			Comment string `xml:"comment,attr"`
		} `xml:"criterion"`
	}
	rpmObject struct {
		ID   string `xml:"id,attr"`
		Name string `xml:"name"`
	}
	rpmState struct {
		ID   string `xml:"id,attr"`
		Arch *struct {
			Text      string `xml:",chardata"`
			Operation string `xml:"operation,attr"`
		} `xml:"arch"`
		EVR *struct {
			Text      string `xml:",chardata"`
			Operation string `xml:"operation,attr"`
		} `xml:"evr"`
	}
)

func (o rpmObject) Key() string { return o.ID }
func (s rpmState) Key() string  { return s.ID }

// ovalDoc is the document as the shared OVAL reader kept it.
type ovalDoc struct {
	*oval.Doc[ovalDef, oval.Test, rpmObject, rpmState]
}

// readOVAL streams the document, decoding only the elements Parse uses.
func readOVAL(ctx context.Context, r io.Reader) (*ovalDoc, error) {
	doc, err := oval.Read[ovalDef, oval.Test, rpmObject, rpmState](ctx, r, oval.Schema{Family: "rpminfo"})
	if err != nil {
		return nil, err
	}
	return &ovalDoc{doc}, nil
}

var (
	elsaID   = regexp.MustCompile(`ELSA-\d{4}-\d+`)
	cveID    = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	rpmName  = regexp.MustCompile(`^[A-Za-z0-9_.+][A-Za-z0-9_.+-]*$`)
	evrRe    = regexp.MustCompile(`^(\d+:)?[A-Za-z0-9_.+~^]+-[A-Za-z0-9_.+~^]+$`)
	streamRe = regexp.MustCompile(`^[A-Za-z0-9_.+-]+:[A-Za-z0-9_.+-]+$`)
	archRe   = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// scope is what the criterions above a package test say.
type scope struct {
	release string
	arches  []string
	module  string
	ksplice bool
}

type fix struct {
	name, evr string
	sc        scope
	arches    []string
}

// convert maps one definition; nil when it is unusable.
func (doc *ovalDoc) convert(d *ovalDef) (*advisory.Advisory, []feed.Malformed) {
	var bad []feed.Malformed
	badf := func(format string, args ...any) {
		bad = append(bad, feed.Malformed{ID: d.ID, Err: fmt.Sprintf(format, args...)})
	}
	if d.Class != "" && d.Class != "patch" {
		return nil, nil
	}
	m := &d.Metadata
	id := ""
	var cves, refs []string
	seen := map[string]bool{}
	addCVE := func(c string) {
		c = strings.TrimSpace(c)
		if cveID.MatchString(c) && !seen[c] {
			seen[c] = true
			cves = append(cves, c)
		}
	}
	for _, r := range m.Refs {
		switch strings.ToLower(r.Source) {
		case "elsa":
			if id == "" {
				id = elsaID.FindString(r.RefID)
			}
		case "cve":
			addCVE(r.RefID)
		}
		if r.RefURL != "" && !seen[r.RefURL] {
			seen[r.RefURL] = true
			refs = append(refs, r.RefURL)
		}
	}
	for _, c := range m.Advisory.CVEs {
		addCVE(c.ID)
	}
	if id == "" {
		id = elsaID.FindString(m.Title)
	}
	if id == "" {
		badf("definition names no ELSA id (title %q)", strings.TrimSpace(m.Title))
		return nil, bad
	}
	a := &advisory.Advisory{
		ID:             id,
		Aliases:        cves,
		Source:         "oracle",
		Summary:        strings.TrimSpace(m.Title),
		Description:    strings.TrimSpace(m.Description),
		VendorSeverity: strings.TrimSpace(m.Advisory.Severity),
		Severity:       severity(m.Advisory.Severity),
		References:     refs,
		Affected:       []advisory.Affected{},
	}
	if t, ok := parseDate(m.Advisory.Issued.Date); ok {
		a.Published = t
	}
	if t, ok := parseDate(m.Advisory.Updated.Date); ok {
		a.Modified = t
	}
	if len(cves) == 1 {
		for _, c := range m.Advisory.CVEs {
			if strings.TrimSpace(c.ID) == cves[0] && c.CVSS3 != "" {
				if cv, ok := parseCVSS3(c.CVSS3); ok {
					a.CVSS = append(a.CVSS, cv)
				}
			}
		}
	}
	platformRelease := ""
	if len(m.Platforms) == 1 {
		platformRelease = releaseOf(strings.TrimPrefix(strings.TrimSpace(m.Platforms[0]), "Oracle Linux "))
	}
	var fixes []fix
	doc.walk(&d.Criteria, scope{release: platformRelease}, &fixes, badf)

	type key struct{ ns, name, module, evr string }
	merged := map[key]*advisory.Affected{}
	var order []key
	for _, f := range fixes {
		if f.sc.release == "" {
			badf("package %s: no Oracle Linux release in scope", f.name)
			continue
		}
		ns := "ol:" + f.sc.release
		if f.sc.ksplice {
			ns += "-ksplice"
		}
		k := key{ns, f.name, f.sc.module, f.evr}
		af, ok := merged[k]
		if !ok {
			af = &advisory.Affected{
				Namespace: ns, Package: f.name, Kind: advisory.KindBinary, Module: f.sc.module,
				Status: advisory.StatusFixed, Advisory: id,
				Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: f.evr}}}},
			}
			merged[k] = af
			order = append(order, k)
		}
		af.Arches = union(af.Arches, f.arches)
	}
	for _, k := range order {
		a.Affected = append(a.Affected, *merged[k])
	}
	sort.SliceStable(a.Affected, func(i, j int) bool {
		x, y := a.Affected[i], a.Affected[j]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		if x.Package != y.Package {
			return x.Package < y.Package
		}
		return x.Module < y.Module
	})
	return a, bad
}

// walk collects fixes, applying the scope criterions of each criteria node
// to its package criterions and to the nodes below it.
func (doc *ovalDoc) walk(c *criteria, sc scope, out *[]fix, badf func(string, ...any)) {
	for _, cr := range c.Criterions {
		cm := strings.TrimSpace(cr.Comment)
		switch {
		case strings.HasPrefix(cm, "Oracle Linux ") && strings.HasSuffix(cm, " is installed"):
			if r := releaseOf(strings.TrimSuffix(strings.TrimPrefix(cm, "Oracle Linux "), " is installed")); r != "" {
				sc.release = r
			}
		case strings.HasPrefix(cm, "Oracle Linux arch is "):
			if arches := doc.archOfTest(cr.TestRef); len(arches) > 0 {
				sc.arches = arches
			} else {
				sc.arches = splitArches(strings.TrimPrefix(cm, "Oracle Linux arch is "))
			}
		case strings.HasPrefix(cm, "Module ") && strings.HasSuffix(cm, " is enabled"):
			mod := strings.TrimSuffix(strings.TrimPrefix(cm, "Module "), " is enabled")
			if streamRe.MatchString(mod) {
				sc.module = mod
			} else {
				badf("criterion %q: bad module stream", cm)
			}
		case strings.HasSuffix(cm, " is ksplice-based"):
			sc.ksplice = true
		}
	}
	for _, cr := range c.Criterions {
		t, ok := doc.Tests[cr.TestRef]
		if !ok {
			continue
		}
		st, ok := doc.States[t.State.Ref]
		if !ok || st.EVR == nil {
			continue // signature, release and arch tests
		}
		obj, ok := doc.Objects[t.Object.Ref]
		if !ok {
			badf("test %s: object %q not found", t.ID, t.Object.Ref)
			continue
		}
		name := strings.TrimSpace(obj.Name)
		evr := strings.TrimSpace(st.EVR.Text)
		if st.EVR.Operation != "less than" {
			continue
		}
		if !rpmName.MatchString(name) {
			badf("object %s: %q is not a package name", obj.ID, name)
			continue
		}
		if !evrRe.MatchString(evr) {
			badf("state %s: %q is not an epoch:version-release", st.ID, evr)
			continue
		}
		evr = strings.TrimPrefix(evr, "0:")
		arches := sc.arches
		if st.Arch != nil {
			arches = splitArches(st.Arch.Text)
		}
		*out = append(*out, fix{name: name, evr: evr, sc: sc, arches: arches})
	}
	for i := range c.Criteria {
		doc.walk(&c.Criteria[i], sc, out, badf)
	}
}

// archOfTest returns the arch pattern of an "arch is" test's state.
func (doc *ovalDoc) archOfTest(ref string) []string {
	t, ok := doc.Tests[ref]
	if !ok {
		return nil
	}
	st, ok := doc.States[t.State.Ref]
	if !ok || st.Arch == nil {
		return nil
	}
	return splitArches(st.Arch.Text)
}

// splitArches reads "x86_64", "aarch64|x86_64" or "(i686|x86_64)".
func splitArches(s string) []string {
	s = strings.Trim(strings.TrimSpace(s), "^$()")
	var out []string
	for _, a := range strings.Split(s, "|") {
		if a = strings.TrimSpace(a); archRe.MatchString(a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func union(a, b []string) []string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, x := range append(append([]string{}, a...), b...) {
		set[x] = true
	}
	out := make([]string, 0, len(set))
	for x := range set {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// releaseOf accepts a major release number ("9").
func releaseOf(s string) string {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 99 {
		return ""
	}
	return strconv.Itoa(n)
}

func severity(s string) sev.Severity {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "LOW":
		return sev.Low
	case "MODERATE":
		return sev.Medium
	case "IMPORTANT":
		return sev.High
	case "CRITICAL":
		return sev.Critical
	}
	return ""
}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseCVSS3 reads Oracle's cvss3 attribute "7.5/CVSS:3.1/AV:N/...".
func parseCVSS3(s string) (advisory.CVSS, bool) {
	score, vec, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || !strings.HasPrefix(vec, "CVSS:3.") {
		return advisory.CVSS{}, false
	}
	f, err := strconv.ParseFloat(score, 64)
	if err != nil || f < 0 || f > 10 {
		f = 0
	}
	v := "3.0"
	if strings.HasPrefix(vec, "CVSS:3.1/") {
		v = "3.1"
	}
	return advisory.CVSS{Version: v, Vector: vec, Score: f, Source: "oracle"}, true
}
