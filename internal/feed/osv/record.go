package osv

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	json "github.com/go-json-experiment/json/v1"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	sev "github.com/stowaway-scanner/stowaway/internal/severity"
)

// record is an OSV 1.6 record, with only the fields Stowaway uses.
type record struct {
	ID        string      `json:"id"`
	Modified  string      `json:"modified"`
	Published string      `json:"published"`
	Withdrawn string      `json:"withdrawn"`
	Aliases   []string    `json:"aliases"`
	Related   []string    `json:"related"`
	Upstream  []string    `json:"upstream"`
	Summary   string      `json:"summary"`
	Details   string      `json:"details"`
	Severity  []Severity  `json:"severity"`
	Affected  []affected  `json:"affected"`
	Refs      []reference `json:"references"`
	DBSpec    struct {
		Severity string `json:"severity"`
	} `json:"database_specific"`
}

type reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity []Severity `json:"severity"`
	Ranges   []struct {
		Type   string           `json:"type"`
		Events []map[string]any `json:"events"`
	} `json:"ranges"`
	// Versions is kept raw: it is decoded only for language ecosystems;
	// for the others (the Debian lists are most of that feed's size) the
	// decoder validates and skips it (converter.decode).
	Versions rawVersions `json:"versions"`
	// EcoSpec and DBSpec are kept raw: their shape is the ecosystem's
	// (Debian's urgency, a Mapper's fields).
	EcoSpec json.RawMessage `json:"ecosystem_specific"`
	DBSpec  json.RawMessage `json:"database_specific"`
}

// Severity is one entry of an OSV severity list.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Entry is one affected entry of a record, as a Mapper sees it: its
// ECOSYSTEM and SEMVER ranges converted (GIT ranges dropped; entries
// without a usable range are not handed over), the rest as published.
type Entry struct {
	// Index is the entry's position in the record's affected list.
	Index     int
	Ecosystem string
	Name      string
	PURL      string
	Ranges    []advisory.Range
	// Fixed reports whether a range has a fixed event.
	Fixed             bool
	Severity          []Severity
	EcosystemSpecific json.RawMessage
	DatabaseSpecific  json.RawMessage
}

// Mapper maps the affected entries of an ecosystem whose conventions live
// in its distribution's feed package (internal/feed/<distro>), so that this
// package stays free of them.
type Mapper interface {
	// Map is given the advisory converted from the record's common fields
	// (id, dates, aliases, CVSS, references; Affected empty), the record's
	// severity list and its entries of the updater's ecosystem. It sets
	// a.Affected and may adjust a (its id, severity). A record left with no
	// Affected entry is not emitted.
	Map(a *advisory.Advisory, severity []Severity, entries []Entry) Mapped
}

// Mapped is what a Mapper reports besides the advisory.
type Mapped struct {
	// Skip, when set, drops the whole record on purpose and says why (a
	// kind of record the ecosystem publishes that Stowaway does not use).
	Skip string
	// Skipped names, once per entry, the well-formed entries left out on
	// purpose (products Stowaway does not cover); they are counted in
	// feed.Stats.Skipped by name.
	Skipped []string
	// Problems are broken parts of the record (feed.Stats.Malformed).
	Problems []string
}

// rawVersions is an entry's versions list as published (json.RawMessage
// under its own type, which converter.decode tells the decoder to skip).
type rawVersions []byte

// UnmarshalJSON keeps a copy of the list's JSON.
func (v *rawVersions) UnmarshalJSON(b []byte) error {
	*v = append((*v)[:0], b...)
	return nil
}

// skipVersions makes the decoder validate each versions list and keep none.
var skipVersions = jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, _ *rawVersions) error {
	return dec.SkipValue()
}))

// decode decodes one record with encoding/json's rules (the v1 drop-in);
// unless keepVersions, without copying the versions lists.
func (c *converter) decode(data []byte, r *record) error {
	if c.keepVersions {
		return json.Unmarshal(data, r)
	}
	return jsonv2.Unmarshal(data, r, json.DefaultOptionsV1(), skipVersions)
}

// converter turns OSV records of one updater into advisories.
type converter struct {
	source string // updater name, stored as Advisory.Source
	eco    string // "PyPI", "Debian", ...
	// keepVersions decodes affected[].versions (language ecosystems).
	keepVersions bool
	// mapper, when set, maps the entries of eco (see Mapper).
	mapper Mapper
}

// convert converts one record. It returns nil (and no error) for records
// that yield nothing for this updater: MAL-* records, withdrawn records and
// records without an affected entry of the updater's ecosystem. problems
// lists parts of the record that were dropped; skipped names what a Mapper
// left out on purpose (the record, or entries).
func (c *converter) convert(r *record) (a *advisory.Advisory, problems, skipped []string, err error) {
	id := strings.TrimSpace(r.ID)
	if id == "" {
		return nil, nil, nil, fmt.Errorf("record without an id")
	}
	if strings.HasPrefix(id, "MAL-") {
		return nil, nil, nil, nil
	}
	a = &advisory.Advisory{ID: id, Source: c.source, Summary: r.Summary, Description: r.Details}
	if a.Modified, err = parseTime(r.Modified); err != nil {
		problems = append(problems, "modified: "+err.Error())
	}
	if a.Published, err = parseTime(r.Published); err != nil {
		problems = append(problems, "published: "+err.Error())
	}
	if a.Withdrawn, err = parseTime(r.Withdrawn); err != nil {
		problems = append(problems, "withdrawn: "+err.Error())
	}
	a.Aliases = c.aliases(id, r)
	a.Rejected = advisory.RejectNotice(r.Details)
	if s := strings.TrimSpace(r.DBSpec.Severity); s != "" {
		a.VendorSeverity = s
		a.Severity = textSeverity(s)
	}
	cvssSource := c.cvssSource(id)
	for _, s := range r.Severity {
		cv, ok, err := cvssOf(s.Type, s.Score, cvssSource)
		if err != nil {
			problems = append(problems, "severity: "+err.Error())
			continue
		}
		if ok && !containsCVSS(a.CVSS, cv) {
			a.CVSS = append(a.CVSS, cv)
		}
	}
	for _, ref := range r.Refs {
		if u := strings.TrimSpace(ref.URL); u != "" && !slices.Contains(a.References, u) {
			a.References = append(a.References, u)
		}
	}
	if c.mapper != nil {
		entries, probs := c.entries(r)
		problems = append(problems, probs...)
		m := c.mapper.Map(a, r.Severity, entries)
		problems = append(problems, m.Problems...)
		if m.Skip != "" {
			return nil, problems, []string{m.Skip}, nil
		}
		if len(a.Affected) == 0 {
			return nil, problems, m.Skipped, nil
		}
		return a, problems, m.Skipped, nil
	}
	for i := range r.Affected {
		af, ok, probs := c.affected(&r.Affected[i])
		for _, p := range probs {
			problems = append(problems, fmt.Sprintf("affected[%d]: %s", i, p))
		}
		if ok {
			mergeAffected(a, af)
		}
	}
	if len(a.Affected) == 0 {
		return nil, problems, nil, nil
	}
	return a, problems, nil, nil
}

// entries collects the record's entries of c.eco ("<eco>" or "<eco>:...")
// for a Mapper, their ranges converted.
func (c *converter) entries(r *record) ([]Entry, []string) {
	var out []Entry
	var problems []string
	for i := range r.Affected {
		in := &r.Affected[i]
		base, _, _ := strings.Cut(in.Package.Ecosystem, ":")
		if base != c.eco {
			continue
		}
		rs, hasFix, probs := ranges(in)
		for _, p := range probs {
			problems = append(problems, fmt.Sprintf("affected[%d]: %s", i, p))
		}
		if len(rs) == 0 {
			if len(in.Ranges) == 0 || len(probs) > 0 {
				problems = append(problems, fmt.Sprintf("affected[%d]: no usable range", i))
			}
			continue
		}
		out = append(out, Entry{
			Index: i, Ecosystem: in.Package.Ecosystem, Name: strings.TrimSpace(in.Package.Name),
			PURL: in.Package.PURL, Ranges: rs, Fixed: hasFix, Severity: in.Severity,
			EcosystemSpecific: in.EcoSpec, DatabaseSpecific: in.DBSpec,
		})
	}
	return out, problems
}

// aliases are the record's aliases plus those upstream and related ids
// that name the same vulnerability for Stowaway: CVE ids, and for Debian its own
// DSA/DLA/DTSA advisories. Other related ids (other distributions'
// advisories) are dropped.
func (c *converter) aliases(id string, r *record) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && s != id && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range r.Aliases {
		add(s)
	}
	for _, s := range r.Upstream {
		if strings.HasPrefix(s, "CVE-") {
			add(s)
		}
	}
	for _, s := range r.Related {
		switch {
		case strings.HasPrefix(s, "CVE-"):
			add(s)
		case c.eco == "Debian" && (strings.HasPrefix(s, "DSA-") || strings.HasPrefix(s, "DLA-") || strings.HasPrefix(s, "DTSA-")):
			add(s)
		}
	}
	sort.Strings(out)
	return out
}

// cvssSource names who scored the vectors: osv.dev's Debian records carry
// NVD's vectors, GHSA records GitHub's, and other records their database's
// (the id prefix: "rustsec", "pysec", "go", "osv").
func (c *converter) cvssSource(id string) string {
	if c.eco == "Debian" {
		return "nvd"
	}
	prefix, _, _ := strings.Cut(id, "-")
	return strings.ToLower(prefix)
}

// Namespace maps an OSV ecosystem to a Stowaway namespace, or "" when the
// ecosystem is not one this package serves ("Alpine:v3.19", which comes
// from secdb, and Ubuntu's, which internal/feed/ubuntu maps with a Mapper).
func Namespace(ecosystem string) (string, advisory.PackageKind) {
	name, rest, hasRest := strings.Cut(ecosystem, ":")
	switch name {
	case "Debian":
		if !hasRest || rest == "" || strings.ContainsAny(rest, ": ") {
			return "", ""
		}
		return "debian:" + rest, advisory.KindSource
	case "Alpine", "Ubuntu":
		return "", ""
	}
	if hasRest || ecosystem == "" {
		return "", ""
	}
	return "osv:" + ecosystem, advisory.KindLanguage
}

// affected converts one affected entry. ok is false when the entry is not
// for this updater or carries nothing usable.
func (c *converter) affected(in *affected) (advisory.Affected, bool, []string) {
	eco := in.Package.Ecosystem
	if eco == "" && in.Package.Name == "" {
		return advisory.Affected{}, false, nil // GIT-only entries of osv.dev's CVE conversion
	}
	base, _, _ := strings.Cut(eco, ":")
	if base != c.eco {
		return advisory.Affected{}, false, nil
	}
	ns, kind := Namespace(eco)
	if ns == "" {
		return advisory.Affected{}, false, nil
	}
	name := strings.TrimSpace(in.Package.Name)
	if name == "" {
		return advisory.Affected{}, false, []string{"package without a name"}
	}
	out := advisory.Affected{Namespace: ns, Package: name, Kind: kind}
	var problems []string
	var hasFix bool
	out.Ranges, hasFix, problems = ranges(in)
	if c.keepVersions && len(in.Versions) > 0 && string(in.Versions) != "null" {
		if err := json.Unmarshal(in.Versions, &out.Versions); err != nil {
			problems = append(problems, "versions: "+err.Error())
			out.Versions = nil
		}
	}
	if len(out.Ranges) == 0 && len(out.Versions) == 0 {
		if len(in.Ranges) > 0 && len(problems) == 0 {
			return advisory.Affected{}, false, nil // GIT ranges only
		}
		return advisory.Affected{}, false, append(problems, "no usable range or version")
	}
	out.Status = advisory.StatusAffected
	if hasFix {
		out.Status = advisory.StatusFixed
	}
	if c.eco == "Go" {
		var probs []string
		out.SymbolImports, probs = goImports(in.EcoSpec)
		problems = append(problems, probs...)
	}
	if c.eco == "Debian" {
		var spec struct {
			Urgency any `json:"urgency"`
		}
		_ = json.Unmarshal(in.EcoSpec, &spec) // a missing or odd urgency is no urgency
		u, _ := spec.Urgency.(string)
		urg := strings.TrimRight(strings.TrimSpace(u), "*")
		out.Severity = debianUrgency(urg)
		if urg == "end-of-life" && !hasFix {
			out.Status = advisory.StatusWillNotFix
		}
	}
	return out, true, problems
}

// ranges converts an entry's ECOSYSTEM and SEMVER ranges (GIT ranges are
// skipped) and reports whether one has a fixed event.
func ranges(in *affected) (out []advisory.Range, hasFix bool, problems []string) {
	for j, rg := range in.Ranges {
		switch rg.Type {
		case "ECOSYSTEM", "SEMVER":
		case "GIT":
			continue
		default:
			problems = append(problems, fmt.Sprintf("ranges[%d]: unknown type %q", j, rg.Type))
			continue
		}
		var evs []advisory.Event
		bad := ""
		for _, e := range rg.Events {
			ev, err := event(e)
			if err != nil {
				bad = err.Error()
				break
			}
			if ev.Fixed != "" {
				hasFix = true
			}
			evs = append(evs, ev)
		}
		if bad == "" && len(evs) == 0 {
			bad = "no events"
		}
		if bad != "" {
			problems = append(problems, fmt.Sprintf("ranges[%d]: %s", j, bad))
			continue
		}
		out = append(out, advisory.Range{Events: evs})
	}
	return out, hasFix, problems
}

// event converts one OSV event, which must have exactly one known key.
func event(m map[string]any) (advisory.Event, error) {
	if len(m) != 1 {
		return advisory.Event{}, fmt.Errorf("event with %d keys, want 1", len(m))
	}
	for k, v := range m {
		s, ok := v.(string)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return advisory.Event{}, fmt.Errorf("event %q: want a non-empty string", k)
		}
		switch k {
		case "introduced":
			return advisory.Event{Introduced: s}, nil
		case "fixed":
			return advisory.Event{Fixed: s}, nil
		case "last_affected":
			return advisory.Event{LastAffected: s}, nil
		case "limit":
			return advisory.Event{Limit: s}, nil
		default:
			return advisory.Event{}, fmt.Errorf("unknown event %q", k)
		}
	}
	return advisory.Event{}, nil
}

// mergeAffected adds af to a, merging the ranges and versions of entries
// for the same (namespace, package): GHSA lists one entry per range.
func mergeAffected(a *advisory.Advisory, af advisory.Affected) {
	for i := range a.Affected {
		x := &a.Affected[i]
		if x.Namespace != af.Namespace || x.Package != af.Package {
			continue
		}
		x.Ranges = append(x.Ranges, af.Ranges...)
		for _, v := range af.Versions {
			if !slices.Contains(x.Versions, v) {
				x.Versions = append(x.Versions, v)
			}
		}
		switch {
		case x.Status == advisory.StatusFixed || af.Status == advisory.StatusFixed:
			x.Status = advisory.StatusFixed
		case x.Status == advisory.StatusAffected || af.Status == advisory.StatusAffected:
			x.Status = advisory.StatusAffected
		}
		if x.Severity == "" {
			x.Severity = af.Severity
		}
		// Symbols are known only when every merged entry lists them.
		if x.SymbolImports == nil || af.SymbolImports == nil {
			x.SymbolImports = nil
		} else {
			x.SymbolImports = append(x.SymbolImports, af.SymbolImports...)
		}
		return
	}
	a.Affected = append(a.Affected, af)
}

// Bounds of a Go record's ecosystem_specific.imports (the largest real
// record lists a few dozen packages and a few hundred symbols).
const (
	maxGoImports = 4096
	maxGoSymbols = 1 << 16
)

// goImports reads the Go vulnerability database's
// ecosystem_specific.imports: the vulnerable packages with their symbols
// and platforms. An absent or empty list is nil (nothing is known); one
// that cannot be read, or is over the bounds, is nil with a problem.
func goImports(raw json.RawMessage) ([]advisory.SymbolImport, []string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var spec struct {
		Imports []struct {
			Path    string   `json:"path"`
			Symbols []string `json:"symbols"`
			GOOS    []string `json:"goos"`
			GOARCH  []string `json:"goarch"`
		} `json:"imports"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, []string{"ecosystem_specific.imports: " + err.Error()}
	}
	if len(spec.Imports) > maxGoImports {
		return nil, []string{fmt.Sprintf("ecosystem_specific.imports: %d packages (more than %d)", len(spec.Imports), maxGoImports)}
	}
	var out []advisory.SymbolImport
	nsym := 0
	for i, im := range spec.Imports {
		p := strings.TrimSpace(im.Path)
		if p == "" {
			return nil, []string{fmt.Sprintf("ecosystem_specific.imports[%d]: no path", i)}
		}
		if nsym += len(im.Symbols); nsym > maxGoSymbols {
			return nil, []string{fmt.Sprintf("ecosystem_specific.imports: more than %d symbols", maxGoSymbols)}
		}
		out = append(out, advisory.SymbolImport{Path: p, Symbols: im.Symbols, GOOS: im.GOOS, GOARCH: im.GOARCH})
	}
	return out, nil
}

// textSeverity maps GHSA's database_specific.severity to an ECR level.
func textSeverity(s string) sev.Severity {
	switch strings.ToUpper(s) {
	case "CRITICAL":
		return sev.Critical
	case "HIGH":
		return sev.High
	case "MODERATE", "MEDIUM":
		return sev.Medium
	case "LOW":
		return sev.Low
	}
	return ""
}

// debianUrgency maps a Debian security tracker urgency to an ECR level.
// "unimportant" (no security impact for Debian's binaries) is INFORMATIONAL,
// as ECR's Clair-based basic scan reported it (Negligible); "not yet
// assigned" and "end-of-life" carry no severity, so CVSS decides.
func debianUrgency(u string) sev.Severity {
	switch u {
	case "unimportant":
		return sev.Informational
	case "low":
		return sev.Low
	case "medium":
		return sev.Medium
	case "high":
		return sev.High
	}
	return ""
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q", s)
	}
	return t.UTC(), nil
}

func containsCVSS(s []advisory.CVSS, c advisory.CVSS) bool {
	for _, x := range s {
		if x.Vector == c.Vector {
			return true
		}
	}
	return false
}
