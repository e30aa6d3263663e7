package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Page sizes: the default and the largest a size parameter may ask for.
const (
	defaultSize = 50
	maxSize     = 500
)

// paging is one page of a list, with links that keep the other parameters.
type paging struct {
	Page, Size, Total, Pages int
	From, To                 int // 1-based positions shown, 0 when empty
	Prev, Next               string
	First, Last              string
}

// pageParams reads prefix+"page" and prefix+"size" (1-based page; size
// clamped to 1..maxSize).
func pageParams(q url.Values, prefix string, size int) (page, sz int) {
	page, _ = strconv.Atoi(q.Get(prefix + "page"))
	if page < 1 {
		page = 1
	}
	sz, err := strconv.Atoi(q.Get(prefix + "size"))
	if err != nil || sz < 1 {
		sz = size
	}
	return page, min(sz, maxSize)
}

func (p paging) Offset() int { return (p.Page - 1) * p.Size }

// newPaging builds the links of page/size over total items, for path with
// query q (the page parameter named prefix+"page" is replaced).
func newPaging(path string, q url.Values, prefix string, page, size, total int) paging {
	p := paging{Page: page, Size: size, Total: total, Pages: max(1, (total+size-1)/size)}
	if total > 0 && p.Offset() < total {
		p.From, p.To = p.Offset()+1, min(p.Offset()+size, total)
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set(prefix+"page", strconv.Itoa(n))
		return path + "?" + v.Encode()
	}
	if page > 1 {
		p.Prev, p.First = link(min(page-1, p.Pages)), link(1)
	}
	if page < p.Pages {
		p.Next, p.Last = link(page+1), link(p.Pages)
	}
	return p
}

// escapeRepo escapes each path segment of a repository name.
func escapeRepo(name string) string {
	parts := strings.Split(name, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func imagesURL(repo string) string { return Prefix + "repos/" + escapeRepo(repo) + "/images" }

func auditURL(repo string) string { return Prefix + "repos/" + escapeRepo(repo) + "/audit" }

func findingsURL(repo, digest string) string {
	return imagesURL(repo) + "/" + url.PathEscape(digest)
}

func sbomURL(repo, digest, format string) string {
	return findingsURL(repo, digest) + "/sbom?format=" + url.QueryEscape(format)
}

func shortDigest(d string) string {
	_, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 12 {
		return d
	}
	return hex[:12]
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

var funcs = template.FuncMap{
	"imagesURL":   imagesURL,
	"auditURL":    auditURL,
	"findingsURL": findingsURL,
	"sbomURL":     sbomURL,
	"short":       shortDigest,
	"time":        fmtTime,
	"size":        fmtSize,
	"join":        strings.Join,
	"lower":       strings.ToLower,
	"bar":         newBar,
	"severities":  func() []severity.Severity { return displaySeverities },
	"sevLabel":    sevLabel,
	"score": func(f float64) string {
		if f == 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'f', 1, 64)
	},
}
