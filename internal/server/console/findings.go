package console

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// displaySeverities are ECR's levels, most severe first.
var displaySeverities = []severity.Severity{severity.Critical, severity.High, severity.Medium, severity.Low, severity.Informational, severity.Undefined}

func sevLabel(s severity.Severity) string {
	if s == severity.Informational {
		return "Info"
	}
	if s == "" {
		return ""
	}
	return string(s[:1]) + strings.ToLower(string(s[1:]))
}

// row is one finding as the findings page shows it.
type row struct {
	ID       string
	URI      string
	Severity severity.Severity
	Score    float64
	Package  string
	Version  string
	Fixed    string
	Fixable  bool
	// Channel is the Ubuntu Pro service that alone delivers the fix
	// (esm-infra, esm-apps, esm-infra-legacy), or empty.
	Channel     string
	Layer, Path string
	Enhanced    bool
	Title       string
	// KEV: the CVE is in CISA's KEV catalog (exploitAvailable YES). EPSS
	// is its EPSS score, HasEPSS false when unscored.
	KEV     bool
	EPSS    float64
	HasEPSS bool
	// Scope is "direct" or "transitive" for a language package whose
	// lockfile records a dependency graph (the first vulnerable package
	// that says), Through the packages that brought a transitive one in,
	// from the project down (the package itself left out).
	Scope   string
	Through []string
}

// scanResult is the part of a stored scanning.Result the page reads.
type scanResult struct {
	Findings []struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		URI         string            `json:"uri"`
		Severity    severity.Severity `json:"severity"`
		Attributes  []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"attributes"`
	} `json:"findings"`
	EnhancedFindings []enhancedFinding         `json:"enhancedFindings"`
	SeverityCounts   map[severity.Severity]int `json:"findingSeverityCounts"`
}

type enhancedFinding struct {
	Title            string            `json:"title"`
	Severity         severity.Severity `json:"severity"`
	Score            float64           `json:"score"`
	FixAvailable     string            `json:"fixAvailable"`
	ExploitAvailable string            `json:"exploitAvailable"`
	EPSS             *struct {
		Score float64 `json:"score"`
	} `json:"epss"`
	Details struct {
		VulnerabilityID string   `json:"vulnerabilityId"`
		SourceURL       string   `json:"sourceUrl"`
		ReferenceURLs   []string `json:"referenceUrls"`
		Packages        []struct {
			Name            string `json:"name"`
			Version         string `json:"version"`
			FilePath        string `json:"filePath"`
			SourceLayerHash string `json:"sourceLayerHash"`
			FixedInVersion  string `json:"fixedInVersion"`
			FixChannel      string `json:"fixChannel"`
			// Stowaway's dependency context (report.VulnerablePackage).
			DependencyScope   string   `json:"dependencyScope"`
			IntroducedThrough []string `json:"introducedThrough"`
		} `json:"vulnerablePackages"`
	} `json:"packageVulnerabilityDetails"`
}

// maxResult bounds a stored result the page decodes.
const maxResult = 256 << 20

// parseResult turns a stored scan result into rows, one per finding (basic
// findings first, then enhanced ones, as DescribeImageScanFindings pages
// them), and the stored severity counts.
func parseResult(r io.Reader) ([]row, map[severity.Severity]int, error) {
	var res scanResult
	dec := json.NewDecoder(io.LimitReader(r, maxResult))
	if err := dec.Decode(&res); err != nil {
		return nil, nil, fmt.Errorf("console: decode scan result: %w", err)
	}
	rows := make([]row, 0, len(res.Findings)+len(res.EnhancedFindings))
	for _, f := range res.Findings {
		rw := row{ID: f.Name, URI: f.URI, Severity: f.Severity}
		var cvss2, cvss3 float64
		for _, a := range f.Attributes {
			switch a.Key {
			case "package_name":
				rw.Package = a.Value
			case "package_version":
				rw.Version = a.Value
			case "fixed_version":
				rw.Fixed = a.Value
			case "fix_channel":
				rw.Channel = a.Value
			case "package_path":
				rw.Path = a.Value
			case "layer_diff_id":
				rw.Layer = a.Value
			case "CVSS3_SCORE":
				cvss3, _ = strconv.ParseFloat(a.Value, 64)
			case "CVSS2_SCORE":
				cvss2, _ = strconv.ParseFloat(a.Value, 64)
			case "exploit_available":
				rw.KEV = a.Value == "YES"
			case "epss_score":
				if v, err := strconv.ParseFloat(a.Value, 64); err == nil {
					rw.EPSS, rw.HasEPSS = v, true
				}
			}
		}
		rw.Score = cmp.Or(cvss3, cvss2)
		rw.Fixable = rw.Fixed != ""
		if !rw.Fixable {
			rw.Channel = ""
		}
		rows = append(rows, rw)
	}
	for _, e := range res.EnhancedFindings {
		d := e.Details
		rw := row{ID: cmp.Or(d.VulnerabilityID, e.Title), Severity: e.Severity, Score: e.Score, Enhanced: true, Title: e.Title,
			Fixable: e.FixAvailable == "YES" || e.FixAvailable == "PARTIAL", KEV: e.ExploitAvailable == "YES"}
		if e.EPSS != nil {
			rw.EPSS, rw.HasEPSS = e.EPSS.Score, true
		}
		rw.URI = d.SourceURL
		if rw.URI == "" && len(d.ReferenceURLs) > 0 {
			rw.URI = d.ReferenceURLs[0]
		}
		var names, versions, fixed []string
		for _, p := range d.Packages {
			names = append(names, p.Name)
			versions = append(versions, p.Version)
			if p.FixedInVersion != "" {
				fixed = append(fixed, p.FixedInVersion)
			}
			if rw.Channel == "" && p.FixedInVersion != "" && p.FixedInVersion != "NotAvailable" {
				rw.Channel = p.FixChannel
			}
			if rw.Path == "" {
				rw.Path, rw.Layer = p.FilePath, p.SourceLayerHash
			}
			if rw.Scope == "" && (p.DependencyScope == "direct" || p.DependencyScope == "transitive") {
				rw.Scope = p.DependencyScope
				if n := len(p.IntroducedThrough); n > 1 {
					rw.Through = p.IntroducedThrough[:n-1]
				}
			}
		}
		rw.Package, rw.Version, rw.Fixed = strings.Join(names, ", "), strings.Join(versions, ", "), strings.Join(fixed, ", ")
		rows = append(rows, rw)
	}
	return rows, res.SeverityCounts, nil
}

// fillFromInventory sets the layer and path of rows that lack them from the
// inventory package of the same name and version.
func fillFromInventory(rows []row, inv *inventory.Inventory) {
	type key struct{ name, version string }
	pkgs := map[key]inventory.Package{}
	for _, p := range inv.Packages {
		k := key{p.Name, p.Version}
		if _, ok := pkgs[k]; !ok {
			pkgs[k] = p
		}
	}
	for i := range rows {
		if rows[i].Layer != "" && rows[i].Path != "" {
			continue
		}
		if p, ok := pkgs[key{rows[i].Package, rows[i].Version}]; ok {
			rows[i].Layer = cmp.Or(rows[i].Layer, p.Layer)
			rows[i].Path = cmp.Or(rows[i].Path, p.Path)
		}
	}
}

// filter selects findings; the zero value keeps all.
type filter struct {
	Severity severity.Severity // an ECR level
	// Fixable is "yes" (any fix), "standard" (a fix from the standard
	// archive), "pro" (a fix only Ubuntu Pro delivers), "no" or "".
	Fixable string
	Package string // substring of the package name, case-insensitive
	Search  string // substring of the vulnerability id, case-insensitive
	// Exploit is "kev" (in CISA's KEV catalog), "epss" (has an EPSS
	// score) or "".
	Exploit string
	// MinEPSS (0..1) keeps findings with an EPSS score at or above it; 0
	// keeps all.
	MinEPSS float64
	// Dependency is "direct", "transitive" or "".
	Dependency string
	Sort       string // severity (default), score, epss, kev, package, cve
}

func (f filter) keep(r row) bool {
	if f.Severity != "" && r.Severity != f.Severity {
		return false
	}
	switch f.Fixable {
	case "yes":
		if !r.Fixable {
			return false
		}
	case "no":
		if r.Fixable {
			return false
		}
	case "standard":
		if !r.Fixable || r.Channel != "" {
			return false
		}
	case "pro":
		if !r.Fixable || r.Channel == "" {
			return false
		}
	}
	switch {
	case f.Exploit == "kev" && !r.KEV, f.Exploit == "epss" && !r.HasEPSS:
		return false
	case f.MinEPSS > 0 && (!r.HasEPSS || r.EPSS < f.MinEPSS):
		return false
	}
	if f.Dependency != "" && r.Scope != f.Dependency {
		return false
	}
	if f.Package != "" && !strings.Contains(strings.ToLower(r.Package), strings.ToLower(f.Package)) {
		return false
	}
	if f.Search != "" && !strings.Contains(strings.ToLower(r.ID), strings.ToLower(f.Search)) {
		return false
	}
	return true
}

// sortKeys are the findings page's sorts.
var sortKeys = []string{"severity", "score", "epss", "kev", "package", "cve"}

// apply filters and sorts rows (a new slice); every order ends with id,
// package and version, so pages are stable.
func (f filter) apply(rows []row) []row {
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		if f.keep(r) {
			out = append(out, r)
		}
	}
	tail := func(a, b row) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Path, b.Path))
	}
	var by func(a, b row) int
	switch f.Sort {
	case "score":
		by = func(a, b row) int {
			return cmp.Or(cmp.Compare(b.Score, a.Score), severity.Compare(b.Severity, a.Severity), tail(a, b))
		}
	case "epss": // highest score first, unscored last
		by = func(a, b row) int {
			return cmp.Or(cmp.Compare(epssKey(b), epssKey(a)), severity.Compare(b.Severity, a.Severity), tail(a, b))
		}
	case "kev": // KEV first, then by EPSS score
		by = func(a, b row) int {
			return cmp.Or(compareBool(b.KEV, a.KEV), cmp.Compare(epssKey(b), epssKey(a)), severity.Compare(b.Severity, a.Severity), tail(a, b))
		}
	case "package":
		by = func(a, b row) int {
			return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Version, b.Version), severity.Compare(b.Severity, a.Severity), tail(a, b))
		}
	case "cve":
		by = tail
	default:
		by = func(a, b row) int {
			return cmp.Or(severity.Compare(b.Severity, a.Severity), cmp.Compare(b.Score, a.Score), tail(a, b))
		}
	}
	slices.SortStableFunc(out, by)
	return out
}

// bar is a stacked horizontal severity bar, drawn as SVG rects.
type bar struct {
	Width, Height int
	Segs          []seg
	Total         int
	Counts        []sevCount
}

type seg struct {
	Severity severity.Severity
	X, W     float64
	N        int
}

type sevCount struct {
	Severity severity.Severity
	N        int
}

// newBar lays out counts (keyed by ECR severity) as segments of a bar of
// the given width.
func newBar(counts map[severity.Severity]int, width int) bar {
	b := bar{Width: width, Height: 12}
	for _, s := range displaySeverities {
		b.Total += counts[s]
		b.Counts = append(b.Counts, sevCount{s, counts[s]})
	}
	if b.Total == 0 {
		return b
	}
	x := 0.0
	for _, s := range displaySeverities {
		n := counts[s]
		if n == 0 {
			continue
		}
		w := float64(width) * float64(n) / float64(b.Total)
		b.Segs = append(b.Segs, seg{Severity: s, X: x, W: w, N: n})
		x += w
	}
	return b
}

// epssKey orders rows by EPSS score, unscored ones below every score.
func epssKey(r row) float64 {
	if !r.HasEPSS {
		return -1
	}
	return r.EPSS
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
