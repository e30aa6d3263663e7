package console

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// base is what every page's layout reads.
type base struct {
	Title string
	Nav   string // dashboard, repos
	User  string
	Crumb []crumb
}

type crumb struct{ Text, URL string }

// ---- dashboard

type dashboardPage struct {
	base
	Totals     store.ConsoleTotals
	Open       bar
	Days       int
	DayChoices []int
	Chart      chart
	Top        []topImage
	TopPaging  paging
	CVEs       []store.ConsoleCVE
	CVEPaging  paging
}

type topImage struct {
	Repository, Digest string
	Bar                bar
}

var dayChoices = []int{7, 30, 90}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx, q := r.Context(), r.URL.Query()
	repos, err := c.o.Store.ConsoleRepositories(ctx)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	sc, _ := c.scope(r, repos, p)
	pg := dashboardPage{base: base{Title: "Dashboard", Nav: "dashboard", User: p.Name}, Days: 30, DayChoices: dayChoices}
	if d, err := strconv.Atoi(q.Get("days")); err == nil && slices.Contains(dayChoices, d) {
		pg.Days = d
	}
	if pg.Totals, err = c.o.Store.ConsoleTotals(ctx, sc); err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	now := c.o.Now().UTC()
	since := now.Truncate(24*time.Hour).AddDate(0, 0, -pg.Days)
	data, err := c.o.Store.ConsoleDashboardData(ctx, sc, since)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	pg.Chart = newChart(timeline(data.Spans, now, pg.Days), 760, 220)
	pg.Open = newBar(data.Open.Map(), 400)

	// Most critical first, then high, medium, low, then the total.
	slices.SortFunc(data.Images, func(a, b store.ConsoleImageFindings) int {
		x, y := a.Counts, b.Counts
		return cmp.Or(cmp.Compare(y.Critical, x.Critical), cmp.Compare(y.High, x.High), cmp.Compare(y.Medium, x.Medium), cmp.Compare(y.Low, x.Low),
			cmp.Compare(y.Total, x.Total), cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Digest, b.Digest))
	})
	page, size := pageParams(q, "i", 10)
	pg.TopPaging = newPaging(Prefix, q, "i", page, size, len(data.Images))
	for _, t := range window(data.Images, pg.TopPaging) {
		pg.Top = append(pg.Top, topImage{Repository: t.Repository, Digest: t.Digest, Bar: newBar(t.Counts.Map(), 160)})
	}
	// The most images first, then the most findings.
	slices.SortFunc(data.CVEs, func(a, b store.ConsoleCVE) int {
		return cmp.Or(cmp.Compare(b.Images, a.Images), cmp.Compare(b.Findings, a.Findings), cmp.Compare(a.Name, b.Name))
	})
	page, size = pageParams(q, "c", 10)
	pg.CVEPaging = newPaging(Prefix, q, "c", page, size, len(data.CVEs))
	pg.CVEs = window(data.CVEs, pg.CVEPaging)
	c.render(w, r, "dashboard", http.StatusOK, pg)
}

// ---- repositories

type reposPage struct {
	base
	Search   string
	ScanType string
	Rules    []scanning.Rule
	Repos    []repoRow
	Paging   paging
}

type repoRow struct {
	store.ConsoleRepo
	Frequency  string
	ScanOnPush bool
	Scanned    bool
	Applied    []string
}

func (c *Console) scanningConfig(r *http.Request) (scanning.Config, error) {
	raw, err := c.o.Store.GetScanningConfig(r.Context())
	if err != nil {
		return scanning.Config{}, err
	}
	return scanning.DecodeConfig(raw)
}

func effective(cfg scanning.Config, repo store.ConsoleRepo) repoRow {
	eff := cfg.Evaluate(repo.Name, repo.Repository.ScanOnPush)
	rr := repoRow{ConsoleRepo: repo, Frequency: string(eff.Frequency), ScanOnPush: eff.ScanOnPush, Scanned: eff.Scanned}
	for _, f := range eff.Applied {
		rr.Applied = append(rr.Applied, f.Filter)
	}
	return rr
}

func (c *Console) repos(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx, q := r.Context(), r.URL.Query()
	all, err := c.o.Store.ConsoleRepositories(ctx)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	cfg, err := c.scanningConfig(r)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	_, visible := c.scope(r, all, p)
	pg := reposPage{base: base{Title: "Repositories", Nav: "repos", User: p.Name}, Search: strings.TrimSpace(q.Get("q")),
		ScanType: string(cfg.ScanType), Rules: cfg.Rules}
	var match []store.ConsoleRepo
	for _, repo := range visible {
		if pg.Search == "" || strings.Contains(repo.Name, strings.ToLower(pg.Search)) {
			match = append(match, repo)
		}
	}
	page, size := pageParams(q, "", defaultSize)
	pg.Paging = newPaging(Prefix+"repos", q, "", page, size, len(match))
	for _, repo := range match[min(pg.Paging.Offset(), len(match)):min(pg.Paging.Offset()+size, len(match))] {
		pg.Repos = append(pg.Repos, effective(cfg, repo))
	}
	c.render(w, r, "repos", http.StatusOK, pg)
}

// ---- images

type imagesPage struct {
	base
	// AuditURL links the repository's audit page (admins only).
	AuditURL string
	Repo     repoRow
	Search   string
	Sort     string
	Images   []imageRow
	Paging   paging
}

type imageRow struct {
	store.ConsoleImage
	Bar bar
}

func (c *Console) images(w http.ResponseWriter, r *http.Request, repo string) {
	ctx, q := r.Context(), r.URL.Query()
	p, _ := c.o.Auth.Registry(r)
	cfg, err := c.scanningConfig(r)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	all, err := c.o.Store.ConsoleRepositories(ctx)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	pg := imagesPage{base: base{Title: repo, Nav: "repos", User: p.Name, Crumb: []crumb{{"Repositories", Prefix + "repos"}, {repo, ""}}},
		Search: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort")}
	if c.o.Audit != nil && c.o.Authz.Authorize(ctx, p, AuditAction, repo, auth.SourceIP(r.RemoteAddr)).Allowed {
		pg.AuditURL = auditURL(repo)
	}
	for _, cr := range all {
		if cr.Name == repo {
			pg.Repo = effective(cfg, cr)
		}
	}
	if pg.Sort != "oldest" {
		pg.Sort = "newest"
	}
	page, size := pageParams(q, "", defaultSize)
	imgs, total, err := c.o.Store.ConsoleImages(ctx, store.ConsoleImageQuery{Repository: repo, Search: pg.Search, OldestFirst: pg.Sort == "oldest", Offset: (page - 1) * size, Limit: size})
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	pg.Paging = newPaging(imagesURL(repo), q, "", page, size, total)
	for _, img := range imgs {
		pg.Images = append(pg.Images, imageRow{ConsoleImage: img, Bar: newBar(img.SeverityCounts, 120)})
	}
	c.render(w, r, "images", http.StatusOK, pg)
}

// ---- findings

type findingsPage struct {
	base
	Repo        string
	Image       store.Image
	Status      string
	Description string
	Counts      bar
	Total       int
	Filter      filter
	Severities  []severity.Severity
	Sorts       []string
	Rows        []row
	Paging      paging
	LocNote     string
	SBOMNote    string
	SBOMs       []sbomLink
}

type sbomLink struct{ Label, URL string }

func (c *Console) findings(w http.ResponseWriter, r *http.Request, repo, digest string) {
	ctx, q := r.Context(), r.URL.Query()
	p, _ := c.o.Auth.Registry(r)
	img, err := c.o.Store.GetImage(ctx, repo, digest)
	if err != nil {
		c.storeFail(w, r, err, fmt.Sprintf("Image %s does not exist in repository %q.", digest, repo))
		return
	}
	if img.Tags, err = c.o.Store.ConsoleImageTags(ctx, repo, digest); err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	pg := findingsPage{
		base: base{Title: repo + "@" + shortDigest(digest), Nav: "repos", User: p.Name,
			Crumb: []crumb{{"Repositories", Prefix + "repos"}, {repo, imagesURL(repo)}, {shortDigest(digest), ""}}},
		Repo: repo, Image: img, Severities: displaySeverities, Sorts: sortKeys,
		Filter: filter{Severity: severity.Severity(q.Get("severity")), Fixable: q.Get("fixable"), Package: strings.TrimSpace(q.Get("package")),
			Search: strings.TrimSpace(q.Get("q")), Exploit: q.Get("exploit"), Dependency: q.Get("dependency"), Sort: q.Get("sort")},
		SBOMs: []sbomLink{{"CycloneDX", sbomURL(repo, digest, "cyclonedx")}, {"SPDX", sbomURL(repo, digest, "spdx")}},
	}
	if !slices.Contains(displaySeverities, pg.Filter.Severity) {
		pg.Filter.Severity = ""
	}
	if !slices.Contains([]string{"yes", "no", "standard", "pro"}, pg.Filter.Fixable) {
		pg.Filter.Fixable = ""
	}
	if !slices.Contains([]string{"kev", "epss"}, pg.Filter.Exploit) {
		pg.Filter.Exploit = ""
	}
	if !slices.Contains([]string{"direct", "transitive"}, pg.Filter.Dependency) {
		pg.Filter.Dependency = ""
	}
	if v, err := strconv.ParseFloat(q.Get("min_epss"), 64); err == nil && v > 0 && v <= 1 {
		pg.Filter.MinEPSS = v
	}
	if !slices.Contains(sortKeys, pg.Filter.Sort) {
		pg.Filter.Sort = "severity"
	}
	scan, err := c.o.Store.GetScan(ctx, repo, digest)
	switch {
	case err == nil:
		pg.Status, pg.Description = scan.Status, scan.Description
	case errors.Is(err, store.ErrNotFound):
		pg.Status, pg.Description = "", "This image has not been scanned."
	default:
		c.storeFail(w, r, err, "")
		return
	}
	var rows []row
	if len(scan.Result) > 0 {
		var counts map[severity.Severity]int
		rows, counts, err = parseResult(bytes.NewReader(scan.Result))
		if err != nil {
			c.o.Logger.Error("console: stored scan result", "repository", repo, "digest", digest, "err", err)
			c.fail(w, r, http.StatusInternalServerError, "The stored scan result of this image could not be read; see the server log.")
			return
		}
		pg.Counts = newBar(counts, 400)
	}
	pg.Total = len(rows)
	inv, note, err := c.loadInventory(r, repo, digest)
	if err != nil {
		c.o.Logger.Error("console: stored inventory", "repository", repo, "digest", digest, "err", err)
		note = "The stored inventory of this image could not be read; see the server log."
	}
	pg.SBOMNote = note
	if inv != nil {
		fillFromInventory(rows, inv)
	} else if slices.ContainsFunc(rows, func(r row) bool { return r.Layer == "" || r.Path == "" }) {
		pg.LocNote = "Some findings carry no layer or path, and no inventory is stored to look them up."
	}
	matched := pg.Filter.apply(rows)
	page, size := pageParams(q, "", defaultSize)
	pg.Paging = newPaging(findingsURL(repo, digest), q, "", page, size, len(matched))
	pg.Rows = matched[min(pg.Paging.Offset(), len(matched)):min(pg.Paging.Offset()+size, len(matched))]
	c.render(w, r, "findings", http.StatusOK, pg)
}

// window is the part of a sorted list that page p shows.
func window[T any](all []T, p paging) []T {
	return all[min(p.Offset(), len(all)):min(p.Offset()+p.Size, len(all))]
}
