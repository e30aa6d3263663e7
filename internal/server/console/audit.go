package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

// auditPageSize is the number of records on one audit page.
const auditPageSize = 50

type auditPage struct {
	base
	Repo      string
	Principal string
	Decision  string
	Records   []audit.Record
	// Newest and Older link the first page and the next older one.
	Newest, Older string
}

// AuditAction is the action reading a repository's audit trail needs. It is
// no ECR action, so only an admin grant includes it (auth.Level) and a
// policy reaches it only through an Action of "*".
const AuditAction = "stowaway:ListAuditRecords"

// auditPage shows a repository's audit trail, newest first, to principals
// with admin on it. Filters: principal, decision; paging: before (an id).
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, p *auth.Principal, repo string) {
	if c.o.Audit == nil {
		c.fail(w, r, http.StatusNotFound, "This server keeps no audit trail.")
		return
	}
	if d := c.o.Authz.Authorize(r.Context(), p, AuditAction, repo, auth.SourceIP(r.RemoteAddr)); !d.Allowed {
		c.check(r, p.Name, AuditAction, repo, d.Reason)
		c.o.Logger.Info("console: audit page denied", "principal", p.Name, "repository", repo)
		c.fail(w, r, http.StatusForbidden, fmt.Sprintf("The audit trail of %q is for its admins.", repo))
		return
	}
	q := r.URL.Query()
	pg := auditPage{base: base{Title: repo + " audit", Nav: "repos", User: p.Name,
		Crumb: []crumb{{"Repositories", Prefix + "repos"}, {repo, imagesURL(repo)}, {"audit", ""}}},
		Repo: repo, Principal: strings.TrimSpace(q.Get("principal")), Decision: q.Get("decision")}
	if pg.Decision != audit.Allow && pg.Decision != audit.Deny {
		pg.Decision = ""
	}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	recs, err := c.o.Audit.List(r.Context(), audit.Filter{Repository: repo, Principal: pg.Principal, Decision: pg.Decision, Before: max(before, 0), Limit: auditPageSize})
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	pg.Records = recs
	link := func(before int64) string {
		v := url.Values{}
		if pg.Principal != "" {
			v.Set("principal", pg.Principal)
		}
		if pg.Decision != "" {
			v.Set("decision", pg.Decision)
		}
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if len(v) == 0 {
			return auditURL(repo)
		}
		return auditURL(repo) + "?" + v.Encode()
	}
	if before > 0 {
		pg.Newest = link(0)
	}
	if len(recs) == auditPageSize {
		pg.Older = link(recs[len(recs)-1].ID)
	}
	c.render(w, r, "audit", http.StatusOK, pg)
}
