// Command console measures the web console's server time per page on a
// registry of 1,000 images and 50,000 findings: it seeds a store through
// the store's own write paths (scan jobs, finding history, inventories),
// then requests each page repeatedly through the console handler and prints
// p50/p95 per page as a table and JSON.
//
//	go run ./bench/console [-images 1000] [-findings 50] [-repos 20] [-n 50] [-database postgres://...] [-out bench/out/console.json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/console"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Result is one page's timing.
type Result struct {
	Page   string  `json:"page"`
	Path   string  `json:"path"`
	N      int     `json:"n"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	Bytes  int     `json:"bytes"`
	Status int     `json:"status"`
}

// Report is the JSON output.
type Report struct {
	Store    string   `json:"store"`
	Images   int      `json:"images"`
	Findings int      `json:"findings"`
	SeedS    float64  `json:"seed_s"`
	Pages    []Result `json:"pages"`
}

func main() {
	var (
		images   = flag.Int("images", 1000, "images to seed")
		findings = flag.Int("findings", 50, "findings per image")
		repos    = flag.Int("repos", 20, "repositories (images are spread over them)")
		n        = flag.Int("n", 50, "requests per page")
		only     = flag.String("pages", "", "only pages whose name contains this")
		dbURL    = flag.String("database", "", "postgres://... (default: SQLite in a temporary directory)")
		out      = flag.String("out", "bench/out/console.json", "JSON output")
	)
	flag.Parse()
	if err := run(*images, *findings, *repos, *n, *dbURL, *out, *only); err != nil {
		log.Fatal(err)
	}
}

func run(images, findings, repos, n int, dbURL, out, only string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "stowaway-console-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, dir, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	start := time.Now()
	if err := seed(ctx, st, images, findings, repos, now); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	rep := Report{Store: st.Dialect(), Images: images, Findings: images * findings, SeedS: time.Since(start).Seconds()}
	log.Printf("seeded %d images, %d findings in %.1fs (%s)", images, images*findings, rep.SeedS, st.Dialect())

	a, err := auth.New(nil, nil, []byte("bench"), time.Now)
	if err != nil {
		return err
	}
	c, err := console.New(console.Options{Store: st, Auth: a})
	if err != nil {
		return err
	}
	d := digest(images / 2)
	r := repoName(images/2, repos)
	pages := []struct{ name, path string }{
		{"dashboard", "/console/"},
		{"dashboard, 90 days, page 5", "/console/?days=90&ipage=5&cpage=5"},
		{"repositories", "/console/repos"},
		{"images", "/console/repos/" + r + "/images"},
		{"images, tag search", "/console/repos/" + r + "/images?q=v1"},
		{"findings", "/console/repos/" + r + "/images/" + d},
		{"findings, filtered", "/console/repos/" + r + "/images/" + d + "?severity=HIGH&fixable=yes&sort=score"},
		{"sbom cyclonedx", "/console/repos/" + r + "/images/" + d + "/sbom?format=cyclonedx"},
		{"sbom spdx", "/console/repos/" + r + "/images/" + d + "/sbom?format=spdx"},
	}
	for _, p := range pages {
		if !strings.Contains(p.name, only) {
			continue
		}
		res := Result{Page: p.name, Path: p.path, N: n}
		var times []time.Duration
		for i := range n + 3 {
			rec := httptest.NewRecorder()
			t0 := time.Now()
			c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.path, nil))
			el := time.Since(t0)
			res.Status, res.Bytes = rec.Code, rec.Body.Len()
			if i >= 3 { // warm-up
				times = append(times, el)
			}
		}
		slices.Sort(times)
		res.P50MS = ms(times[len(times)/2])
		res.P95MS = ms(times[min(len(times)-1, len(times)*95/100)])
		rep.Pages = append(rep.Pages, res)
	}
	// The dashboard's store queries on their own.
	qs := []struct {
		name string
		fn   func() error
	}{
		{"q: totals", func() error { _, err := st.ConsoleTotals(ctx, nil); return err }},
		{"q: dashboard data 30d", func() error { _, err := st.ConsoleDashboardData(ctx, nil, now.AddDate(0, 0, -30)); return err }},
		{"q: repositories", func() error { _, err := st.ConsoleRepositories(ctx); return err }},
	}
	for _, q := range qs {
		var times []time.Duration
		for i := range min(n, 20) + 1 {
			t0 := time.Now()
			if err := q.fn(); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			if i > 0 {
				times = append(times, time.Since(t0))
			}
		}
		slices.Sort(times)
		rep.Pages = append(rep.Pages, Result{Page: q.name, N: len(times), P50MS: ms(times[len(times)/2]), P95MS: ms(times[min(len(times)-1, len(times)*95/100)])})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "page\tstatus\tbytes\tp50 ms\tp95 ms\t\n")
	for _, p := range rep.Pages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t\n", p.Page, p.Status, p.Bytes, p.P50MS, p.P95MS)
	}
	tw.Flush()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func digest(i int) string { return fmt.Sprintf("sha256:%064x", i+1) }

func repoName(i, repos int) string { return fmt.Sprintf("team%02d/service", i%repos) }

var sevs = []severity.Severity{severity.Critical, severity.High, severity.High, severity.Medium, severity.Medium, severity.Medium, severity.Low, severity.Low, severity.Informational, severity.Undefined}

// seed writes images spread over repos, each with a COMPLETE scan of
// findings basic findings drawn from a pool of 2,000 CVEs, its finding
// history (a few findings resolved along the way, over 30 days) and its
// inventory.
func seed(ctx context.Context, st *store.SQL, images, findings, repos int, now time.Time) error {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return err
	}
	defer enc.Close()
	for r := range repos {
		if err := st.CreateRepository(ctx, store.Repository{Name: repoName(r, repos), CreatedAt: now.AddDate(0, -1, 0), ScanOnPush: true}); err != nil {
			return err
		}
	}
	for i := range images {
		repo, d := repoName(i, repos), digest(i)
		pushed := now.Add(-time.Duration(images-i) * 40 * time.Minute)
		img := store.Image{Repository: repo, Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactMediaType: "application/vnd.oci.image.config.v1+json", Size: 30 << 20, PushedAt: pushed}
		if _, err := st.PutImage(ctx, img, fmt.Sprintf("v1.%d", i)); err != nil {
			return err
		}
		layer := fmt.Sprintf("sha256:%064x", 1_000_000+i%7)
		res := scanning.Result{Status: scanning.StatusComplete, SeverityCounts: map[severity.Severity]int{}, CompletedAt: pushed}
		inv := inventory.Inventory{Source: inventory.Source{Ref: repo + "@" + d, Kind: "registry", Digest: d},
			Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}, CreatedAt: pushed}
		var recs, early []store.FindingRecord
		for j := range findings {
			cve := fmt.Sprintf("CVE-2025-%05d", (i*7+j*13)%2000)
			pkg, ver := fmt.Sprintf("lib%03d", j), fmt.Sprintf("1.%d.%d-1", j, i%5)
			sev := sevs[(i+j)%len(sevs)]
			attrs := []scanning.Attribute{{Key: "package_name", Value: pkg}, {Key: "package_version", Value: ver},
				{Key: "CVSS3_SCORE", Value: fmt.Sprintf("%d.%d", 1+(i+j)%9, j%10)}, {Key: "package_path", Value: "var/lib/dpkg/status"}, {Key: "layer_diff_id", Value: layer}}
			if j%3 == 0 {
				attrs = append(attrs, scanning.Attribute{Key: "fixed_version", Value: ver + "+deb12u1"})
			}
			res.Findings = append(res.Findings, scanning.Finding{Name: cve, Severity: sev, URI: "https://security-tracker.debian.org/tracker/" + cve,
				Description: "A synthetic vulnerability description of typical length, long enough to weigh like the real ones in a stored result.", Attributes: attrs})
			res.SeverityCounts[sev]++
			inv.Packages = append(inv.Packages, inventory.Package{Name: pkg, Version: ver, Type: inventory.TypeDeb,
				PURL: "pkg:deb/debian/" + pkg + "@" + ver + "?distro=debian-12", Path: "var/lib/dpkg/status", Layer: layer, Cataloger: "dpkg"})
			rec := store.FindingRecord{Name: cve, PackageName: pkg, PackageVersion: ver, Severity: sev}
			recs = append(recs, rec)
			if j%10 != 5 {
				early = append(early, rec)
			}
		}
		// Findings first seen up to 30 days ago; a few resolved since.
		first := now.AddDate(0, 0, -(i % 30))
		resolved := store.FindingRecord{Name: fmt.Sprintf("CVE-2024-%05d", i), PackageName: "old", PackageVersion: "1", Severity: severity.High}
		raw, err := json.Marshal(res)
		if err != nil {
			return err
		}
		invJSON, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		if err := st.StartScan(ctx, repo, d, false, pushed, 0); err != nil {
			return err
		}
		j, err := st.ClaimJob(ctx, "bench", pushed, time.Minute, 3)
		if err != nil || j == nil {
			return fmt.Errorf("claim: %v", err)
		}
		err = st.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Result: raw, InTx: []store.TxFunc{
			func(ctx context.Context, tx *store.Tx) error {
				if _, err := st.RecordFindings(ctx, tx, repo, d, append(early, resolved), first); err != nil {
					return err
				}
				if _, err := st.RecordFindings(ctx, tx, repo, d, recs, first.Add(36*time.Hour)); err != nil {
					return err
				}
				return st.PutInventory(ctx, tx, store.StoredInventory{Repository: repo, Digest: d, Data: enc.EncodeAll(invJSON, nil), StoredAt: pushed}, nil)
			},
		}}, pushed)
		if err != nil {
			return err
		}
	}
	return nil
}
