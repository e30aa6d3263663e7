package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

func TestAuthAndHeaders(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		for _, c := range []struct {
			name, user, path string
			want             int
		}{
			{"no credentials", "", "/console/", http.StatusUnauthorized},
			{"wrong password", "mallory", "/console/repos", http.StatusUnauthorized},
			{"dashboard", "alice", "/console/", http.StatusOK},
			{"not allowed to pull", "bob", "/console/repos/secret/images", http.StatusForbidden},
			{"not allowed: findings", "bob", "/console/repos/secret/images/" + imgD, http.StatusForbidden},
			{"not allowed: sbom", "bob", "/console/repos/secret/images/" + imgD + "/sbom", http.StatusForbidden},
			{"unknown repository", "alice", "/console/repos/nope/images", http.StatusNotFound},
			{"unknown image", "alice", "/console/repos/team/app/images/" + digest('9'), http.StatusNotFound},
			{"unknown page", "alice", "/console/nope", http.StatusNotFound},
			{"static is public", "", "/console/static/console.css", http.StatusOK},
		} {
			t.Run(c.name, func(t *testing.T) {
				rec := fx.get(t, c.user, c.path)
				if rec.Code != c.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body.String())
				}
				h := rec.Header()
				csp := h.Get("Content-Security-Policy")
				for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
				if strings.Contains(csp, "unsafe-inline") {
					t.Errorf("CSP allows inline code: %q", csp)
				}
				if h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q", h.Get("X-Content-Type-Options"))
				}
				if c.want == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("401 without a Basic challenge: %q", h.Get("WWW-Authenticate"))
				}
				if c.want >= 400 && c.want != http.StatusUnauthorized {
					if msg := parsePage(t, rec.Body).facts()["error"]; msg == "" {
						t.Errorf("error page without a message")
					}
				}
			})
		}
		rec := fx.get(t, "alice", "/console/repos/team/app")
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/console/repos/team/app/images" {
			t.Errorf("repository URL: %d → %q", rec.Code, rec.Header().Get("Location"))
		}
	})
}

func TestRepositoriesPage(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		for _, c := range []struct {
			name, user, query string
			want              []map[string]string
			paging            string
		}{
			{"all, by name", "alice", "", []map[string]string{
				{"name": "secret", "frequency": "MANUAL", "scan-on-push": "no", "images": "1", "scanned": "1", "created": "2026-11-10 12:00 UTC"},
				{"name": "team/app", "frequency": "SCAN_ON_PUSH (team)", "scan-on-push": "yes", "images": "3", "scanned": "2", "created": "2026-11-10 12:00 UTC"},
				{"name": "team/empty", "frequency": "SCAN_ON_PUSH (team)", "scan-on-push": "yes", "images": "0", "scanned": "0", "created": "2026-11-10 12:00 UTC"},
			}, "1–3 of 3"},
			{"only pullable repositories", "bob", "", []map[string]string{
				{"name": "team/app", "frequency": "SCAN_ON_PUSH (team)", "scan-on-push": "yes", "images": "3", "scanned": "2", "created": "2026-11-10 12:00 UTC"},
				{"name": "team/empty", "frequency": "SCAN_ON_PUSH (team)", "scan-on-push": "yes", "images": "0", "scanned": "0", "created": "2026-11-10 12:00 UTC"},
			}, "1–2 of 2"},
			{"name filter", "alice", "q=TEAM", nil, "1–2 of 2"},
			{"second page", "alice", "size=2&page=2", []map[string]string{
				{"name": "team/empty", "frequency": "SCAN_ON_PUSH (team)", "scan-on-push": "yes", "images": "0", "scanned": "0", "created": "2026-11-10 12:00 UTC"},
			}, "3–3 of 3"},
			{"past the end", "alice", "page=9", nil, "none"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := fx.page(t, c.user, "/console/repos?"+c.query, http.StatusOK)
				rows := p.rows("repos")
				if c.want != nil {
					if d := cmp.Diff(c.want, rows); d != "" {
						t.Errorf("rows (-want +got):\n%s", d)
					}
				}
				if got := p.facts()["paging"]; got != c.paging {
					t.Errorf("paging %q, want %q", got, c.paging)
				}
				if got := p.facts()["scan-type"]; !strings.Contains(got, "BASIC") || !strings.Contains(got, "SCAN_ON_PUSH for team") {
					t.Errorf("scan configuration %q", got)
				}
			})
		}
	})
}

func TestImagesPage(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		rowA := map[string]string{"tags": "1.0 latest", "digest": "aaaaaaaaaaaa", "pushed": "2026-11-17 12:00 UTC", "size": "1.2 KiB", "status": "COMPLETE", "counts": "Critical 1 High 1 Medium 1 Low 1", "pulled": "–"}
		rowB := map[string]string{"tags": "2.0", "digest": "bbbbbbbbbbbb", "pushed": "2026-11-18 12:00 UTC", "size": "1.2 KiB", "status": "COMPLETE", "counts": "Critical 1 High 1 Undefined 1", "pulled": "–"}
		rowC := map[string]string{"tags": "untagged", "digest": "cccccccccccc", "pushed": "2026-11-19 12:00 UTC", "size": "1.2 KiB", "status": "IN_PROGRESS", "counts": "", "pulled": "–"}
		for _, c := range []struct {
			name, query string
			want        []map[string]string
			paging      string
		}{
			{"newest first", "", []map[string]string{rowC, rowB, rowA}, "1–3 of 3"},
			{"oldest first", "sort=oldest", []map[string]string{rowA, rowB, rowC}, "1–3 of 3"},
			{"by tag", "q=late", []map[string]string{rowA}, "1–1 of 1"},
			{"by digest prefix", "q=sha256:bbb", []map[string]string{rowB}, "1–1 of 1"},
			{"wildcards are literal", "q=%25", nil, "none"},
			{"paged", "size=2&page=2", []map[string]string{rowA}, "3–3 of 3"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := fx.page(t, "bob", "/console/repos/team/app/images?"+c.query, http.StatusOK)
				if d := cmp.Diff(c.want, p.rows("images")); d != "" {
					t.Errorf("rows (-want +got):\n%s", d)
				}
				f := p.facts()
				if f["paging"] != c.paging || f["image-count"] != "3" || f["frequency"] != "SCAN_ON_PUSH" {
					t.Errorf("facts %v", f)
				}
			})
		}
		p := fx.page(t, "alice", "/console/repos/team/app/images", http.StatusOK)
		if got := sevCounts(p.find("data-col", "counts")); !cmp.Equal(got, map[string]int{}) {
			// The first row (C) is not scanned: no counts.
			t.Errorf("counts of an unscanned image: %v", got)
		}
		links := p.links("id", "images")
		want := []string{"/console/repos/team/app/images/" + imgC, "/console/repos/team/app/images/" + imgB, "/console/repos/team/app/images/" + imgA}
		if d := cmp.Diff(want, links); d != "" {
			t.Errorf("links (-want +got):\n%s", d)
		}
	})
}

func TestFindingsPage(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		base := "/console/repos/team/app/images/" + imgA
		for _, c := range []struct {
			name, query string
			want        []string // the cve column
			paging      string
		}{
			{"default: by severity", "", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2023-9999"}, "1–4 of 4"},
			{"by score", "sort=score", []string{"CVE-2024-0001", "CVE-2024-0003", "CVE-2024-0002", "CVE-2023-9999"}, "1–4 of 4"},
			{"by package", "sort=package", []string{"CVE-2023-9999", "CVE-2024-0001", "CVE-2024-0003", "CVE-2024-0002"}, "1–4 of 4"},
			{"by id", "sort=cve", []string{"CVE-2023-9999", "CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"}, "1–4 of 4"},
			{"unknown sort is severity", "sort=evil", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2023-9999"}, "1–4 of 4"},
			{"severity", "severity=HIGH", []string{"CVE-2024-0002"}, "1–1 of 1"},
			{"fixable", "fixable=yes", []string{"CVE-2024-0001", "CVE-2024-0003"}, "1–2 of 2"},
			{"not fixable", "fixable=no", []string{"CVE-2024-0002", "CVE-2023-9999"}, "1–2 of 2"},
			{"package", "package=SSL", []string{"CVE-2024-0001", "CVE-2024-0003"}, "1–2 of 2"},
			{"search by CVE", "q=cve-2024-000", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"}, "1–3 of 3"},
			{"combined", "q=2024&fixable=no&package=zlib", []string{"CVE-2024-0002"}, "1–1 of 1"},
			{"nothing matches", "severity=CRITICAL&fixable=no", nil, "none"},
			{"paged", "size=2&page=2", []string{"CVE-2024-0003", "CVE-2023-9999"}, "3–4 of 4"},
			{"in KEV", "exploit=kev", []string{"CVE-2024-0001"}, "1–1 of 1"},
			{"has an EPSS score", "exploit=epss", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"}, "1–3 of 3"},
			{"EPSS floor", "min_epss=0.5", []string{"CVE-2024-0001", "CVE-2024-0002"}, "1–2 of 2"},
			{"bad EPSS floor is ignored", "min_epss=7", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2023-9999"}, "1–4 of 4"},
			{"unknown exploit filter is ignored", "exploit=evil", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2023-9999"}, "1–4 of 4"},
			{"by EPSS, unscored last", "sort=epss", []string{"CVE-2024-0002", "CVE-2024-0001", "CVE-2024-0003", "CVE-2023-9999"}, "1–4 of 4"},
			{"KEV first, then EPSS", "sort=kev", []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2023-9999"}, "1–4 of 4"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := fx.page(t, "bob", base+"?"+c.query, http.StatusOK)
				rows := p.rows("findings")
				if d := cmp.Diff(c.want, column(rows, "cve"), cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); d != "" {
					t.Errorf("findings (-want +got):\n%s", d)
				}
				f := p.facts()
				if f["paging"] != c.paging || f["findings-total"] != "4" || f["status"] != "COMPLETE" {
					t.Errorf("facts %v", f)
				}
				stored := map[string]int{}
				for k, n := range resultA.SeverityCounts {
					stored[string(k)] = n
				}
				if got := sevCounts(p.find("data-fact", "counts")); !cmp.Equal(got, stored) {
					t.Errorf("counts %v, want the stored %v", got, stored)
				}
			})
		}
		// Every column of the first rows, with locations from the
		// attributes and (zlib1g) from the inventory, and advisory links.
		p := fx.page(t, "bob", base+"?sort=cve", http.StatusOK)
		want := []map[string]string{
			{"cve": "CVE-2023-9999", "severity": "LOW", "score": "3.1", "package": "bash", "version": "5.2.15-2+b2", "fixed": "", "layer": "111111111111", "path": "var/lib/dpkg/status", "exploit": ""},
			{"cve": "CVE-2024-0001", "severity": "CRITICAL", "score": "9.8", "package": "libssl3", "version": "3.0.11-1~deb12u2", "fixed": "3.0.13-1~deb12u1", "layer": "111111111111", "path": "var/lib/dpkg/status", "exploit": "KEV EPSS 0.5"},
			{"cve": "CVE-2024-0002", "severity": "HIGH", "score": "7.5", "package": "zlib1g", "version": "1:1.2.13.dfsg-1", "fixed": "", "layer": "222222222222", "path": "var/lib/dpkg/status.d/zlib1g", "exploit": "EPSS 0.75"},
			{"cve": "CVE-2024-0003", "severity": "MEDIUM", "score": "8.1", "package": "libssl3", "version": "3.0.11-1~deb12u2", "fixed": "3.0.14-1~deb12u1", "layer": "111111111111", "path": "var/lib/dpkg/status", "exploit": "EPSS 0.01"},
		}
		if d := cmp.Diff(want, p.rows("findings")); d != "" {
			t.Errorf("rows (-want +got):\n%s", d)
		}
		links := p.links("id", "findings")
		if len(links) != 4 || links[0] != "https://security-tracker.debian.org/tracker/CVE-2023-9999" {
			t.Errorf("advisory links %v", links)
		}
		if f := p.facts(); f["tags"] != "1.0 latest" || f["digest"] != imgA || f["sbom-note"] != "" {
			t.Errorf("facts %v", f)
		}
		if p.find("data-sbom", "SPDX") == nil || p.find("data-sbom", "CycloneDX") == nil {
			t.Errorf("no SBOM download links")
		}
	})
}

func TestFindingsEnhancedAndHostile(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		rec := fx.get(t, "alice", "/console/repos/team/app/images/"+imgB+"?sort=cve")
		body := rec.Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, `"><img`) || strings.Contains(body, "javascript:alert") || strings.Contains(body, "<b>body-parser") {
			t.Errorf("hostile finding not escaped:\n%s", body)
		}
		p := parsePage(t, strings.NewReader(body))
		want := []map[string]string{
			{"cve": "<script>alert(1)</script>", "severity": "UNDEFINED", "score": "", "package": `"><img src=x>`, "version": "1", "fixed": "", "layer": "", "path": "", "exploit": ""},
			{"cve": "CVE-2024-0001", "severity": "CRITICAL", "score": "9.1", "package": "lodash transitive via express@4.17.1 › <b>body-parser</b>@1.19.0", "version": "4.17.15", "fixed": "4.17.21", "layer": "333333333333", "path": "app/node_modules/lodash/package.json", "exploit": "KEV EPSS 0.5"},
			{"cve": "CVE-2024-0002", "severity": "HIGH", "score": "", "package": "zlib1g", "version": "1:1.2.13.dfsg-1", "fixed": "", "layer": "", "path": "", "exploit": ""},
		}
		if d := cmp.Diff(want, p.rows("findings")); d != "" {
			t.Errorf("rows (-want +got):\n%s", d)
		}
		if f := p.facts(); !strings.Contains(f["sbom-note"], "No inventory") || f["findings-total"] != "3" {
			t.Errorf("facts %v", f)
		}
		// The dependency filter: the lockfile's transitive lodash only.
		for q, want := range map[string][]string{"dependency=transitive": {"CVE-2024-0001"}, "dependency=direct": nil, "dependency=evil": {"<script>alert(1)</script>", "CVE-2024-0001", "CVE-2024-0002"}} {
			got := column(fx.page(t, "alice", "/console/repos/team/app/images/"+imgB+"?sort=cve&"+q, http.StatusOK).rows("findings"), "cve")
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: %v, want %v", q, got, want)
			}
		}
		if n := p.find("data-dep", "transitive"); n == nil {
			t.Error("no data-dep=transitive marker")
		}
		fixable := fx.page(t, "alice", "/console/repos/team/app/images/"+imgB+"?fixable=yes", http.StatusOK)
		if got := column(fixable.rows("findings"), "cve"); !cmp.Equal(got, []string{"CVE-2024-0001"}) {
			t.Errorf("fixable enhanced findings: %v", got)
		}
		// The in-progress image: no findings table, a clear status.
		p = fx.page(t, "alice", "/console/repos/team/app/images/"+imgC, http.StatusOK)
		if f := p.facts(); f["status"] != "IN_PROGRESS" || p.find("id", "findings") != nil {
			t.Errorf("in-progress image: %v", f)
		}
	})
}

func TestDashboard(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		chartDays := func(p page) map[string]string {
			out := map[string]string{}
			walk(p.find("data-fact", "chart"), func(n *html.Node) bool {
				if d, ok := attr(n, "data-day"); ok {
					out[d], _ = attr(n, "data-total")
				}
				return true
			})
			return out
		}
		p := fx.page(t, "alice", "/console/?days=7", http.StatusOK)
		f := p.facts()
		if d := cmp.Diff(map[string]string{"repositories": "3", "images": "4", "scanned": "4", "open-total": "7"},
			map[string]string{"repositories": f["repositories"], "images": f["images"], "scanned": f["scanned"], "open-total": f["open-total"]}); d != "" {
			t.Errorf("totals (-want +got):\n%s", d)
		}
		if got := sevCounts(p.find("data-fact", "open")); !cmp.Equal(got, map[string]int{"CRITICAL": 3, "HIGH": 2, "MEDIUM": 1, "LOW": 1}) {
			t.Errorf("open counts %v", got)
		}
		wantDays := map[string]string{"2026-11-14": "0", "2026-11-15": "1", "2026-11-16": "2", "2026-11-17": "5", "2026-11-18": "6", "2026-11-19": "7", "2026-11-20": "7"}
		if d := cmp.Diff(wantDays, chartDays(p)); d != "" {
			t.Errorf("open findings per day (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]map[string]string{
			{"image": "team/app@aaaaaaaaaaaa", "counts": "Critical 1 High 1 Medium 1 Low 1"},
			{"image": "team/app@bbbbbbbbbbbb", "counts": "Critical 1 High 1"},
			{"image": "secret@dddddddddddd", "counts": "Critical 1"},
		}, p.rows("top-images")); d != "" {
			t.Errorf("most affected images (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]map[string]string{
			{"cve": "CVE-2024-0001", "severity": "Critical", "images": "3", "findings": "3"},
			{"cve": "CVE-2024-0002", "severity": "High", "images": "2", "findings": "2"},
			{"cve": "CVE-2023-9999", "severity": "Low", "images": "1", "findings": "1"},
			{"cve": "CVE-2024-0003", "severity": "Medium", "images": "1", "findings": "1"},
		}, p.rows("top-cves")); d != "" {
			t.Errorf("most common vulnerabilities (-want +got):\n%s", d)
		}

		// bob sees team/* only.
		p = fx.page(t, "bob", "/console/?days=7&isize=1&ipage=2&csize=2", http.StatusOK)
		f = p.facts()
		if f["repositories"] != "2" || f["images"] != "3" || f["open-total"] != "6" {
			t.Errorf("bob's totals %v", f)
		}
		if got := column(p.rows("top-images"), "image"); !cmp.Equal(got, []string{"team/app@bbbbbbbbbbbb"}) {
			t.Errorf("bob's most affected images, page 2 of size 1: %v", got)
		}
		if got := column(p.rows("top-cves"), "images"); !cmp.Equal(got, []string{"2", "2"}) {
			t.Errorf("bob's most common vulnerabilities: %v", got)
		}
		wantDays = map[string]string{"2026-11-14": "0", "2026-11-15": "1", "2026-11-16": "1", "2026-11-17": "4", "2026-11-18": "5", "2026-11-19": "6", "2026-11-20": "6"}
		if d := cmp.Diff(wantDays, chartDays(p)); d != "" {
			t.Errorf("bob's open findings per day (-want +got):\n%s", d)
		}
		// Paging links keep the other parameters.
		var pagingLinks []string
		walk(p.root, func(n *html.Node) bool {
			if n.Type == html.ElementNode && n.Data == "a" {
				if rel, _ := attr(n, "rel"); rel == "prev" {
					h, _ := attr(n, "href")
					pagingLinks = append(pagingLinks, h)
				}
			}
			return true
		})
		if len(pagingLinks) == 0 {
			t.Fatal("no previous-page link on page 2")
		}
		u, _ := url.Parse(pagingLinks[0])
		if q := u.Query(); q.Get("ipage") != "1" || q.Get("days") != "7" || q.Get("csize") != "2" {
			t.Errorf("previous link %q lost parameters", pagingLinks[0])
		}
	})
}

func TestSBOMDownload(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		base := "/console/repos/team/app/images/" + imgA + "/sbom"
		for _, c := range []struct {
			format, contentType, key, value string
		}{
			{"cyclonedx", "application/vnd.cyclonedx+json", "bomFormat", "CycloneDX"},
			{"spdx", "application/spdx+json", "spdxVersion", "SPDX-2.3"},
		} {
			rec := fx.get(t, "bob", base+"?format="+c.format)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != c.contentType {
				t.Fatalf("%s: %d %q: %s", c.format, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
			if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="team_app-aaaaaaaaaaaa.`) {
				t.Errorf("%s: Content-Disposition %q", c.format, cd)
			}
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatalf("%s: %v", c.format, err)
			}
			if doc[c.key] != c.value {
				t.Errorf("%s: %s = %v", c.format, c.key, doc[c.key])
			}
			for _, pkg := range []string{"libssl3", "zlib1g", "bash"} {
				if !strings.Contains(rec.Body.String(), `"`+pkg+`"`) {
					t.Errorf("%s: package %s missing", c.format, pkg)
				}
			}
		}
		for _, c := range []struct {
			path string
			want int
			msg  string
		}{
			{base + "?format=xml", http.StatusBadRequest, "format=cyclonedx or format=spdx"},
			{"/console/repos/team/app/images/" + imgB + "/sbom", http.StatusNotFound, "No inventory"},
		} {
			p := fx.page(t, "bob", c.path, c.want)
			if got := p.facts()["error"]; !strings.Contains(got, c.msg) {
				t.Errorf("%s: message %q, want %q", c.path, got, c.msg)
			}
		}
	})
}

// TestFindingsProChannel: a fix only Ubuntu Pro delivers is marked next to
// the fixed version, and the Fix filter separates it from standard fixes.
func TestFindingsProChannel(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		for _, c := range []struct {
			name, image, query string
			want               []string
		}{
			{"pro-only fix is fixable", imgD, "fixable=yes", []string{"CVE-2024-0001"}},
			{"pro filter", imgD, "fixable=pro", []string{"CVE-2024-0001"}},
			{"standard filter leaves it out", imgD, "fixable=standard", nil},
			{"standard fixes of another image", imgA, "fixable=standard", []string{"CVE-2024-0001", "CVE-2024-0003"}},
			{"no pro-only fix there", imgA, "fixable=pro", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				repo := "team/app"
				if c.image == imgD {
					repo = "secret"
				}
				p := fx.page(t, "alice", "/console/repos/"+repo+"/images/"+c.image+"?"+c.query, http.StatusOK)
				if d := cmp.Diff(c.want, column(p.rows("findings"), "cve"), cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); d != "" {
					t.Errorf("findings (-want +got):\n%s", d)
				}
			})
		}
		p := fx.page(t, "alice", "/console/repos/secret/images/"+imgD, http.StatusOK)
		if got := column(p.rows("findings"), "fixed"); !cmp.Equal(got, []string{"3.0.9+esm1 esm-infra"}) {
			t.Errorf("fixed column %q, want the version and the esm-infra marker", got)
		}
		if p.find("data-channel", "esm-infra") == nil {
			t.Errorf("no data-channel marker")
		}
		a := fx.page(t, "alice", "/console/repos/team/app/images/"+imgA, http.StatusOK)
		if a.find("class", "channel") != nil {
			t.Errorf("a standard fix is marked")
		}
	})
}

// TestParseResultChannel: the channel is read from basic attributes and
// from enhanced vulnerable packages, and only where there is a fix.
func TestParseResultChannel(t *testing.T) {
	for _, c := range []struct {
		name, result string
		want         []string // id/fixed/channel
	}{
		{"basic", `{"findings":[{"name":"CVE-1","attributes":[{"key":"fixed_version","value":"1+esm1"},{"key":"fix_channel","value":"esm-apps"}]},
			{"name":"CVE-2","attributes":[{"key":"fixed_version","value":"2"}]},
			{"name":"CVE-3","attributes":[{"key":"fix_channel","value":"esm-infra"}]}]}`,
			[]string{"CVE-1/1+esm1/esm-apps", "CVE-2/2/", "CVE-3//"}},
		{"enhanced", `{"enhancedFindings":[{"fixAvailable":"YES","packageVulnerabilityDetails":{"vulnerabilityId":"CVE-1","vulnerablePackages":[{"name":"libc-bin","fixedInVersion":"2.23-0ubuntu11.3+esm3","fixChannel":"esm-infra"}]}},
			{"fixAvailable":"NO","packageVulnerabilityDetails":{"vulnerabilityId":"CVE-2","vulnerablePackages":[{"name":"libc-bin","fixedInVersion":"NotAvailable","fixChannel":"esm-infra"}]}}]}`,
			[]string{"CVE-1/2.23-0ubuntu11.3+esm3/esm-infra", "CVE-2/NotAvailable/"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, _, err := parseResult(strings.NewReader(c.result))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.ID+"/"+r.Fixed+"/"+r.Channel)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
