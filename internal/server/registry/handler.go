package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

// route is a parsed /v2/ path.
type route struct {
	repo string // "" for /v2/ and /v2/_catalog
	kind string // base, catalog, manifests, blobs, uploads, tags, referrers
	ref  string // tag or digest for manifests, digest for blobs/referrers
}

// parseRoute splits a /v2/ path. ok is false for paths that are not API
// routes (distribution answers those with 404).
func parseRoute(path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{kind: "base"}, true
		}
		return route{}, false
	}
	switch rest {
	case "":
		return route{kind: "base"}, true
	case "_catalog":
		return route{kind: "catalog"}, true
	}
	for _, k := range []struct{ sep, kind string }{
		{"/manifests/", "manifests"},
		{"/blobs/uploads", "uploads"},
		{"/blobs/", "blobs"},
		{"/tags/list", "tags"},
		{"/referrers/", "referrers"},
	} {
		i := strings.LastIndex(rest, k.sep)
		if i <= 0 {
			continue
		}
		name := rest[:i]
		if !validName(name) {
			// Answered 400 NAME_INVALID (distribution gave a 500 for names
			// over 255 characters and a text 404 for bad characters).
			return route{repo: name, kind: "invalid-name"}, true
		}
		return route{repo: name, kind: k.kind, ref: rest[i+len(k.sep):]}, true
	}
	return route{}, false
}

// validName reports whether name is a repository name of the distribution
// grammar, at most 255 characters.
func validName(name string) bool {
	return len(name) <= 255 && anchoredName.MatchString(name)
}

var anchoredName = regexp.MustCompile(`^(?:` + reference.NameRegexp.String() + `)$`)

// validUploadID is the shape of distribution's upload ids (UUIDs).
var validUploadID = regexp.MustCompile(`^[a-zA-Z0-9-]{1,64}$`)

// validTag is the distribution spec's tag grammar.
var validTag = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// routeAction is the IAM action a registry request needs, as ECR documents
// them for docker pull and push (docs/auth.md); "" for /v2/ (any
// authenticated caller) and the catalog (filtered per repository).
func routeAction(rt route, method string) string {
	read := method == http.MethodGet || method == http.MethodHead
	switch rt.kind {
	case "base", "catalog":
		return ""
	case "manifests":
		switch {
		case read:
			return "ecr:BatchGetImage"
		case method == http.MethodDelete:
			return "ecr:BatchDeleteImage"
		}
		return "ecr:PutImage"
	case "blobs":
		switch {
		case method == http.MethodGet:
			return "ecr:GetDownloadUrlForLayer"
		case method == http.MethodHead:
			return "ecr:BatchCheckLayerAvailability"
		case method == http.MethodDelete:
			return "ecr:BatchDeleteImage"
		}
		return "ecr:PutImage"
	case "uploads":
		switch method {
		case http.MethodPost:
			return "ecr:InitiateLayerUpload"
		case http.MethodPut:
			return "ecr:CompleteLayerUpload"
		}
		return "ecr:UploadLayerPart" // PATCH, and an upload's status (GET) or cancel (DELETE)
	case "tags":
		if read {
			return "ecr:ListImages"
		}
	case "referrers":
		if read {
			return "ecr:BatchGetImage"
		}
	}
	// Anything else on a repository is a write distribution refuses;
	// it is authorized as the strongest of the writes first.
	return "ecr:BatchDeleteImage"
}

// auditAction names the request in the audit trail: its routeAction, or
// for the routes that need none, the ECR operation they stand for.
func auditAction(rt route, method string) string {
	switch rt.kind {
	case "base":
		return "ecr:GetAuthorizationToken"
	case "catalog":
		return ListAction
	}
	return routeAction(rt, method)
}

// ListAction is the action a repository is listed by (the catalog, the
// console's lists, DescribeRepositories): a pull grant includes it, so a
// caller sees what it may pull.
const ListAction = "ecr:DescribeRepositories"

// ociError writes the distribution-spec error body.
func ociError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// ServeHTTP authorizes, then serves referrers and manifest writes itself
// (around distribution) and everything else through distribution. Every
// error body passes through errorFilter (errors.go).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ef := &errorFilter{ResponseWriter: w, log: r.opts.Logger, reqID: audit.FromContext(req.Context()).ID, path: req.URL.Path}
	defer ef.finish()
	r.serve(ef, req)
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	rt, ok := parseRoute(req.URL.Path)
	if !ok {
		r.app.ServeHTTP(w, req)
		return
	}
	ctx := req.Context()
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set(HeaderSBOMAuthority, SBOMAuthorityEnforced)
	p, err := r.opts.Auth.Registry(req)
	if err != nil {
		r.authFailed(w, req, rt, err)
		return
	}
	if rt.kind == "invalid-name" {
		ociError(w, http.StatusBadRequest, "NAME_INVALID", "invalid repository name: at most 255 characters of lower-case letters, digits and separators (. _ __ - /)")
		return
	}
	src := auth.SourceIP(req.RemoteAddr)
	if act := routeAction(rt, req.Method); act != "" {
		d := r.opts.Authz.Authorize(ctx, p, act, rt.repo, src)
		if !d.Allowed {
			r.opts.Audit.Check(ctx, p.Name, act, rt.repo, false, d.Reason)
			r.opts.Logger.Info("registry: access denied", "principal", p.Name, "repository", rt.repo, "action", act, "reason", d.Reason)
			ociError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
			return
		}
	}
	if !validListParams(w, req, rt) {
		return
	}
	if rt.kind == "catalog" {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			ociError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "the catalog is read-only")
			return
		}
		r.serveCatalog(w, req, p, src)
		return
	}
	if rt.kind == "uploads" && req.Method == http.MethodPost {
		r.checkMount(req, p, src)
		r.startUpload(w, req, rt, p.Name)
		return
	}
	if r.pt != nil && rt.kind == "manifests" && (req.Method == http.MethodGet || req.Method == http.MethodHead) && !r.servePullThrough(w, req, rt, p, src) {
		return
	}
	switch {
	case rt.kind == "referrers" && req.Method == http.MethodGet:
		r.serveReferrers(w, req, rt)
	case rt.kind == "manifests" && req.Method == http.MethodPut:
		r.putManifest(w, req, rt, p.Name)
	case rt.kind == "manifests" && req.Method == http.MethodDelete:
		r.deleteManifest(w, req, rt, p.Name)
	case rt.kind == "manifests" && req.Method == http.MethodGet && r.opts.OnPull != nil:
		r.getManifest(w, req, rt)
	case rt.kind == "blobs" && req.Method == http.MethodDelete:
		r.app.ServeHTTP(&statusWriter{ResponseWriter: w, onHeader: func(status int) int {
			if status == http.StatusAccepted {
				r.opts.Audit.Record(ctx, audit.Record{Principal: p.Name, Action: "ecr:BatchDeleteImage", Repository: rt.repo, Digest: rt.ref, Reason: "blob deleted"})
			}
			return status
		}}, req)
	case rt.kind == "uploads" && (req.Method == http.MethodPut || req.Method == http.MethodDelete):
		id := strings.Trim(rt.ref, "/")
		finished := false
		r.app.ServeHTTP(&statusWriter{ResponseWriter: w, onHeader: func(status int) int {
			finished = status == http.StatusCreated || status == http.StatusNoContent
			return status
		}}, req)
		if finished {
			r.forgetUpload(id)
		}
		if finished && req.Method == http.MethodDelete && validUploadID.MatchString(id) {
			// distribution's cancel closes the session after removing it,
			// which writes its hash state back: a directory without a
			// start time, which would count as open and never be purged.
			if err := r.driver.Delete(ctx, uploadDir(rt.repo, id)); err != nil && !isPathNotFound(err) {
				r.opts.Logger.Warn("registry: remove a cancelled upload", "repository", rt.repo, "upload", id, "err", err)
			}
		}
	default:
		r.app.ServeHTTP(w, req)
	}
}

// startUpload serves POST /v2/NAME/blobs/uploads/ within the upload caps:
// over one it answers 429 TOOMANYREQUESTS naming the cap; otherwise
// distribution opens the session and this replica tracks its id (from
// Docker-Upload-UUID) for the per-user cap.
func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, rt route, user string) {
	release, err := r.reserveUpload(req.Context(), rt.repo, user)
	if err != nil {
		var le *UploadLimitError
		if errors.As(err, &le) {
			r.opts.Logger.Warn("registry: upload refused", "principal", user, "repository", rt.repo, "limit", le.Limit, "open", le.Open, "max", le.Max)
			ociError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", le.Error())
			return
		}
		r.opts.Logger.Error("registry: upload limits", "repository", rt.repo, "err", err)
		ociError(w, http.StatusInternalServerError, "UNKNOWN", "checking the upload limits failed")
		return
	}
	defer release("")
	if req.URL.Query().Has("digest") {
		// A monolithic upload (the blob in the POST body) leaves no
		// session when it succeeds: it is checked against the caps, but
		// the repository's lock is not held while its body arrives.
		release("")
	}
	r.app.ServeHTTP(&statusWriter{ResponseWriter: w, onHeader: func(status int) int {
		if status == http.StatusAccepted {
			release(w.Header().Get("Docker-Upload-UUID"))
		}
		return status
	}}, req)
}

// authFailed answers a failed authentication: 429 TOOMANYREQUESTS with
// Retry-After while the throttle blocks the caller, 401 otherwise. A
// failure with credentials is logged and audited (the claimed user name,
// never the secret); a flood of throttled attempts only at 1, 2, 4, ...
func (r *Registry) authFailed(w http.ResponseWriter, req *http.Request, rt route, err error) {
	var f *auth.Failure
	if errors.As(err, &f) && f.Logged() {
		r.opts.Logger.Warn("registry: authentication failed", "user", f.User, "source", f.Addr, "refused", f.Refused, "reason", f.Error())
		r.opts.Audit.Check(req.Context(), f.User, auditAction(rt, req.Method), rt.repo, false, "authentication failed: "+f.Error())
	}
	if errors.Is(err, auth.ErrThrottled) {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		ociError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", fmt.Sprintf("too many failed authentication attempts; retry after %d s", secs))
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="stowaway"`)
	ociError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

// validListParams refuses a tags/list or _catalog "last" that is not a
// tag or repository name (distribution passed it to the storage driver,
// which answered 500 with its path).
func validListParams(w http.ResponseWriter, req *http.Request, rt route) bool {
	last := req.URL.Query().Get("last")
	if last == "" {
		return true
	}
	switch {
	case rt.kind == "tags" && !validTag.MatchString(last):
		ociError(w, http.StatusBadRequest, "TAG_INVALID", "last: not a tag")
		return false
	case rt.kind == "catalog" && !validName(last):
		ociError(w, http.StatusBadRequest, "NAME_INVALID", "last: not a repository name")
		return false
	}
	return true
}

// checkMount drops a cross-repository mount the caller may not read from, so
// the request becomes a plain upload instead of leaking the blob.
func (r *Registry) checkMount(req *http.Request, p *auth.Principal, src netip.Addr) {
	q := req.URL.Query()
	from := q.Get("from")
	if q.Get("mount") == "" || from == "" || r.opts.Authz.Authorize(req.Context(), p, "ecr:GetDownloadUrlForLayer", from, src).Allowed {
		return
	}
	q.Del("mount")
	q.Del("from")
	req.URL.RawQuery = q.Encode()
}

// statusWriter lets the manifest hooks act between distribution's decision
// and the client seeing it.
type statusWriter struct {
	http.ResponseWriter
	onHeader func(status int) int
	wrote    bool
}

func (s *statusWriter) WriteHeader(status int) {
	if s.wrote {
		return
	}
	s.wrote = true
	if s.onHeader != nil {
		status = s.onHeader(status)
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

var errTooLarge = errors.New("manifest too large")
