// Package console is the web console of `stowaway serve`, mounted under
// /console/: a registry-wide dashboard, repositories, a repository's images,
// an image's findings and SBOM downloads.
//
// Everything is rendered on the server (html/template, SVG charts and bars)
// so every page works with JavaScript disabled; every filter, sort and page
// is a GET query parameter. The one small script (static/console.js) only
// submits a filter form when a select changes. Assets are embedded.
//
// Authentication is the registry's: HTTP Basic with a configured user (or a
// bearer token or ECR authorization token), checked by internal/server/auth.
// A repository is shown only to principals that may pull it (the IAM
// actions of Options.Authz); with authentication off the console is open,
// as the API is; a caller the login throttle blocks gets 429. A
// repository's audit trail (/console/repos/NAME/audit, Options.Audit) is
// shown only to principals with admin on it. The console is read-only: it has no forms that change
// anything, and any method but GET and HEAD is refused. Pages carry a
// Content-Security-Policy without inline script, nosniff and
// frame-ancestors 'none'.
//
// The dashboard reads finding_history (open findings per day per severity,
// the most affected images, the most common vulnerabilities); the findings
// page takes each package's layer and path from the finding itself
// (package_path/layer_diff_id attributes, or vulnerablePackages' filePath and
// sourceLayerHash) and otherwise from the image's stored inventory; SBOMs are
// encoded from the stored inventory. A missing table degrades the page with
// a note, never an error page.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Store is what the console reads.
type Store interface {
	ConsoleRepositories(ctx context.Context) ([]store.ConsoleRepo, error)
	GetRepository(ctx context.Context, name string) (store.Repository, error)
	GetScanningConfig(ctx context.Context) (json.RawMessage, error)
	ConsoleImages(ctx context.Context, q store.ConsoleImageQuery) ([]store.ConsoleImage, int, error)
	GetImage(ctx context.Context, repo, digest string) (store.Image, error)
	ConsoleImageTags(ctx context.Context, repo, digest string) ([]string, error)
	GetScan(ctx context.Context, repo, digest string) (store.Scan, error)
	ConsoleInventory(ctx context.Context, repo, digest string) ([]byte, bool, time.Time, error)
	ConsoleTotals(ctx context.Context, scope store.ConsoleScope) (store.ConsoleTotals, error)
	ConsoleDashboardData(ctx context.Context, scope store.ConsoleScope, since time.Time) (store.ConsoleDashboard, error)
}

// AuditLister reads the audit trail and records the console's denials
// (*audit.Trail).
type AuditLister interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Check(ctx context.Context, principal, action, repo string, allowed bool, reason string)
}

// Authenticator authenticates a request as the registry does.
type Authenticator interface {
	Registry(r *http.Request) (*auth.Principal, error)
}

// Options configure a Console.
type Options struct {
	Store Store
	Auth  Authenticator
	// Authz decides what each page shows by IAM action (nil: the grants
	// alone): lists show the repositories the caller may describe
	// (ecr:DescribeRepositories), a repository's images need
	// ecr:DescribeImages, an image's findings ecr:DescribeImageScanFindings
	// and its SBOM ecr:BatchGetImage.
	Authz *auth.Authorizer
	// Audit serves a repository's audit page to principals with admin on
	// it (nil: no audit page).
	Audit AuditLister
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default: discard).
	Logger *slog.Logger
	// ToolVersion is recorded in downloaded SBOMs.
	ToolVersion string
	// Names build a PURL an inventory lacks in downloaded SBOMs
	// (sbom.Options.Names).
	Names names.Names
}

// Console serves /console/.
type Console struct {
	o     Options
	pages map[string]*template.Template
	mux   *http.ServeMux
	// codec reads the inventories table (the rescan recorder's format).
	codec *rescan.Codec
}

// Prefix is where the console is mounted.
const Prefix = "/console/"

// New parses the embedded templates.
func New(o Options) (*Console, error) {
	if o.Store == nil || o.Auth == nil {
		return nil, errors.New("console: a store and an authenticator are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	codec, err := rescan.NewCodec()
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, pages: map[string]*template.Template{}, codec: codec}
	for _, name := range []string{"dashboard", "repos", "images", "findings", "audit", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("console: static assets: %w", err)
	}
	c.mux = http.NewServeMux()
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", staticHandler(static)))
	c.mux.HandleFunc("GET /console/{$}", c.authed(c.dashboard))
	c.mux.HandleFunc("GET /console/repos", c.authed(c.repos))
	c.mux.HandleFunc("GET /console/repos/{rest...}", c.authed(c.repoRoute))
	c.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			c.fail(w, r, http.StatusMethodNotAllowed, "The console is read-only: only GET is allowed.")
			return
		}
		c.fail(w, r, http.StatusNotFound, "There is no console page at this address.")
	})
	return c, nil
}

// ServeHTTP serves the console with its security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	c.mux.ServeHTTP(w, r)
}

func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// authed authenticates the request; pages then check each repository.
func (c *Console) authed(next func(http.ResponseWriter, *http.Request, *auth.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := c.o.Auth.Registry(r)
		if f := (*auth.Failure)(nil); errors.As(err, &f) && f.Logged() {
			c.o.Logger.Warn("console: authentication failed", "user", f.User, "source", f.Addr, "refused", f.Refused, "reason", f.Error())
			c.check(r, f.User, "ecr:GetAuthorizationToken", "", "authentication failed: "+f.Error())
		}
		if errors.Is(err, auth.ErrThrottled) {
			var f *auth.Failure
			if errors.As(err, &f) {
				w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Seconds()+0.999)))
			}
			c.fail(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from this address: wait and try again.")
			return
		}
		if err != nil {
			// The error names the failure, never the credential.
			c.o.Logger.Info("console: unauthenticated", "path", r.URL.Path, "reason", err.Error())
			w.Header().Set("WWW-Authenticate", `Basic realm="stowaway", charset="UTF-8"`)
			c.fail(w, r, http.StatusUnauthorized, "Sign in with a registry user name and password (the same credentials as docker login).")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r, p)
	}
}

// repoPath matches what follows /console/repos/: NAME/images,
// NAME/images/DIGEST and NAME/images/DIGEST/sbom, or NAME alone.
var repoPath = regexp.MustCompile(`^(.+?)/images(?:/([a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)(/sbom)?)?/?$`)

func (c *Console) repoRoute(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	rest := r.PathValue("rest")
	if repo, ok := strings.CutSuffix(rest, "/audit"); ok && repo != "" && !strings.Contains(repo, "/images/") {
		c.auditPage(w, r, p, repo)
		return
	}
	m := repoPath.FindStringSubmatch(rest)
	if m == nil {
		name := strings.TrimSuffix(rest, "/")
		if name == "" || strings.Contains(name, "/images/") {
			c.fail(w, r, http.StatusNotFound, "There is no console page at this address.")
			return
		}
		http.Redirect(w, r, imagesURL(name), http.StatusFound)
		return
	}
	repo, digest, sbom := m[1], m[2], m[3] != ""
	action := "ecr:DescribeImages"
	switch {
	case sbom:
		action = "ecr:BatchGetImage"
	case digest != "":
		action = "ecr:DescribeImageScanFindings"
	}
	if d := c.o.Authz.Authorize(r.Context(), p, action, repo, auth.SourceIP(r.RemoteAddr)); !d.Allowed {
		c.check(r, p.Name, action, repo, d.Reason)
		c.o.Logger.Info("console: access denied", "principal", p.Name, "repository", repo, "action", action, "reason", d.Reason)
		c.fail(w, r, http.StatusForbidden, fmt.Sprintf("You may not read repository %q (%s).", repo, action))
		return
	}
	if _, err := c.o.Store.GetRepository(r.Context(), repo); err != nil {
		c.storeFail(w, r, err, fmt.Sprintf("Repository %q does not exist.", repo))
		return
	}
	switch {
	case digest == "":
		c.images(w, r, repo)
	case sbom:
		c.sbom(w, r, repo, digest)
	default:
		c.findings(w, r, repo, digest)
	}
}

// check records a console denial in the audit trail: a page is a read,
// ecr:DescribeImages (ecr:GetAuthorizationToken for a failed sign-in).
func (c *Console) check(r *http.Request, principal, action, repo, reason string) {
	if c.o.Audit == nil {
		return
	}
	c.o.Audit.Check(r.Context(), principal, action, repo, false, reason)
}

// render executes a page into a buffer first, so a template error is an
// error page and not half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, page string, status int, data any) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		c.o.Logger.Error("console: render", "page", page, "err", err)
		if page != "error" {
			c.fail(w, r, http.StatusInternalServerError, "The page could not be rendered.")
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorPage struct {
	base
	Status  int
	Message string
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, "error", status, errorPage{base: base{Title: http.StatusText(status)}, Status: status, Message: msg})
}

// storeFail maps a store error: ErrNotFound to 404 with msg, anything else
// to a logged 500.
func (c *Console) storeFail(w http.ResponseWriter, r *http.Request, err error, msg string) {
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, msg)
		return
	}
	c.o.Logger.Error("console: store", "path", r.URL.Path, "err", err)
	c.fail(w, r, http.StatusInternalServerError, "The registry's database could not be read; see the server log.")
}

// scope is the set of repositories p may describe (a pull grant does): nil
// when that is all of them.
func (c *Console) scope(req *http.Request, repos []store.ConsoleRepo, p *auth.Principal) (store.ConsoleScope, []store.ConsoleRepo) {
	visible := make([]store.ConsoleRepo, 0, len(repos))
	names := store.ConsoleScope{}
	src := auth.SourceIP(req.RemoteAddr)
	for _, r := range repos {
		if c.o.Authz.Authorize(req.Context(), p, "ecr:DescribeRepositories", r.Name, src).Allowed {
			visible = append(visible, r)
			names = append(names, r.Name)
		}
	}
	if len(visible) == len(repos) {
		return nil, visible
	}
	return names, visible
}
