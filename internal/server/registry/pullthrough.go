package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// The pull-through cache (ECR's pull-through cache rules). A manifest GET
// or HEAD of a repository under a rule's prefix is served from the local
// copy when there is one that is fresh: a digest that is stored, or a tag
// whose upstream digest was checked less than PullThrough.Recheck ago (24 h,
// as ECR). Otherwise the upstream is asked (HEAD of the tag), and an image
// the cache does not hold is fetched whole, manifest and every blob (an
// index with its child manifests), each blob verified against its digest
// and size while it is written, then stored through the same manifest PUT
// path as a client's push: the repository is created from the
// PULL_THROUGH_CACHE creation template, the push is recorded and audited,
// and scan on push applies. Then distribution serves the request from the
// local copy.
//
// Fetching from the upstream needs ecr:BatchImportUpstreamImage on the
// repository (a push-level action); a caller without it gets what the
// cache holds. An upstream that cannot be reached or answers an error
// leaves the cached copy in use (the upstream is asked again a minute
// later, not on every pull); without one the pull is answered 404
// MANIFEST_UNKNOWN naming the failure. Concurrent pulls of one reference
// share one fetch. Repositories under no rule never reach this code past
// an in-memory prefix match.

// ImportAction is the IAM action a pull that fetches from the upstream
// needs (ECR's).
const ImportAction = "ecr:BatchImportUpstreamImage"

// PullThroughStore keeps the pull-through cache rules and the upstream
// checks of cached tags (*store.SQL).
type PullThroughStore interface {
	ListPullThroughRules(ctx context.Context) ([]store.PullThroughRule, error)
	GetPullThroughTag(ctx context.Context, repo, tag string) (store.PullThroughTag, error)
	PutPullThroughTag(ctx context.Context, repo, tag string, t store.PullThroughTag) error
}

// Pull-through cache defaults.
const (
	DefaultPullThroughRecheck  = 24 * time.Hour
	DefaultPullThroughRulesTTL = 2 * time.Second
	DefaultMaxPullThroughImage = 16 << 30
	DefaultPullThroughTimeout  = 15 * time.Minute
	// maxIndexChildren bounds the child manifests of a fetched index.
	maxIndexChildren = 256
	// upstreamRetry is how long an upstream failure keeps a cached copy
	// in use without asking the upstream again.
	upstreamRetry = time.Minute
	// maxFailures bounds the remembered upstream failures.
	maxFailures = 10000
)

// PullThrough configures the pull-through cache (Options.PullThrough).
type PullThrough struct {
	// Store holds the rules and the tag checks (nil: no pull-through
	// cache).
	Store PullThroughStore
	// Credentials returns the registry credential a rule's credentialArn
	// names (auth.CredentialARNName); nil: none.
	Credentials *auth.CredentialSet
	// Recheck is how long an upstream tag check holds (default 24 h).
	Recheck time.Duration
	// RulesTTL is how long the rules read from the store are used before
	// they are read again (default 2 s); Invalidate drops them at once.
	RulesTTL time.Duration
	// MaxImageSize bounds the bytes fetched for one image (every blob of
	// an index's images included; default 16 GiB).
	MaxImageSize int64
	// Timeout bounds one fetch from the upstream (default 15 min).
	Timeout time.Duration
	// Transport reaches the upstreams (default remote.DefaultTransport).
	Transport http.RoundTripper
}

// pullThrough is the registry's pull-through state.
type pullThrough struct {
	cfg PullThrough

	mu      sync.Mutex
	rules   []store.PullThroughRule
	loaded  time.Time
	flights map[string]*flight
	failed  map[string]time.Time
}

type flight struct {
	done chan struct{}
	err  error
}

func newPullThrough(cfg PullThrough) *pullThrough {
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultPullThroughRecheck
	}
	if cfg.RulesTTL <= 0 {
		cfg.RulesTTL = DefaultPullThroughRulesTTL
	}
	if cfg.MaxImageSize <= 0 {
		cfg.MaxImageSize = DefaultMaxPullThroughImage
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultPullThroughTimeout
	}
	if cfg.Transport == nil {
		cfg.Transport = remote.DefaultTransport
	}
	return &pullThrough{cfg: cfg, flights: map[string]*flight{}, failed: map[string]time.Time{}}
}

// InvalidatePullThroughRules makes the next pull read the rules again (the
// ECR API calls it after a rule changed through this replica).
func (r *Registry) InvalidatePullThroughRules() {
	if r.pt == nil {
		return
	}
	r.pt.mu.Lock()
	r.pt.loaded = time.Time{}
	r.pt.mu.Unlock()
}

// currentRules returns the cached rules, reading them again after RulesTTL.
// A failed read keeps the previous rules (logged).
func (r *Registry) currentRules(ctx context.Context) []store.PullThroughRule {
	p := r.pt
	now := r.opts.Now()
	p.mu.Lock()
	if !p.loaded.IsZero() && now.Sub(p.loaded) < p.cfg.RulesTTL {
		rules := p.rules
		p.mu.Unlock()
		return rules
	}
	p.mu.Unlock()
	rules, err := p.cfg.Store.ListPullThroughRules(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		r.opts.Logger.Error("registry: pull-through: read rules; the previous ones stay in use", "err", err)
		return p.rules
	}
	p.rules, p.loaded = rules, now
	return rules
}

// MatchPullThroughRule is the rule whose prefix repo is under (the longest
// one; ROOT when no other matches) and the upstream repository repo caches.
func MatchPullThroughRule(rules []store.PullThroughRule, repo string) (store.PullThroughRule, string, bool) {
	best, root := -1, -1
	for i, ru := range rules {
		if ru.Prefix == store.RootTemplatePrefix {
			root = i
			continue
		}
		if len(repo) > len(ru.Prefix)+1 && strings.HasPrefix(repo, ru.Prefix+"/") && (best < 0 || len(ru.Prefix) > len(rules[best].Prefix)) {
			best = i
		}
	}
	rest := repo
	switch {
	case best >= 0:
		rest = repo[len(rules[best].Prefix)+1:]
	case root >= 0:
		best = root
	default:
		return store.PullThroughRule{}, "", false
	}
	ru := rules[best]
	if ru.UpstreamPrefix != "" && ru.UpstreamPrefix != store.RootTemplatePrefix {
		rest = ru.UpstreamPrefix + "/" + rest
	}
	return ru, rest, true
}

// pullThroughContext marks an in-process manifest PUT of the pull-through
// cache: the repository is created from the PULL_THROUGH_CACHE template
// and the audit record names the upstream.
type pullThroughContext struct{}

// upstreamOf is the upstream reference a PUT of ctx was fetched from ("":
// a client's push).
func upstreamOf(ctx context.Context) string {
	s, _ := ctx.Value(pullThroughContext{}).(string)
	return s
}

// upstreamFailure is a fetch from the upstream that did not succeed; its
// message is the client's (no server detail).
type upstreamFailure struct {
	msg string
	err error
}

func (e *upstreamFailure) Error() string { return e.msg + ": " + e.err.Error() }
func (e *upstreamFailure) Unwrap() error { return e.err }

var errImportDenied = errors.New("registry: pull-through: import denied")

// servePullThrough brings repo:ref of a pull-through repository up to date
// before distribution serves the manifest request. It returns false when
// it has answered the request itself.
func (r *Registry) servePullThrough(w http.ResponseWriter, req *http.Request, rt route, p *auth.Principal, src netip.Addr) bool {
	ctx := req.Context()
	rule, upRepo, ok := MatchPullThroughRule(r.currentRules(ctx), rt.repo)
	if !ok {
		return true
	}
	_, derr := digest.Parse(rt.ref)
	byDigest := derr == nil
	if !byDigest && !validTag.MatchString(rt.ref) {
		return true // distribution answers
	}
	now := r.opts.Now()
	local := ""
	if byDigest {
		if _, _, _, _, err := r.storedManifest(ctx, rt.repo, rt.ref); err == nil {
			return true
		}
	} else if d, err := r.opts.Store.ResolveTag(ctx, rt.repo, rt.ref); err == nil {
		local = d
		rec, err := r.pt.cfg.Store.GetPullThroughTag(ctx, rt.repo, rt.ref)
		if err == nil && rec.Digest == local && now.Sub(rec.CheckedAt) < r.pt.cfg.Recheck {
			return true
		}
		if r.pt.recentlyFailed(rt.repo+":"+rt.ref, now) {
			return true
		}
	}
	allowed := r.opts.Authz.Authorize(ctx, p, ImportAction, rt.repo, src).Allowed
	if !allowed && local == "" {
		// Nothing cached to serve, and no right to fetch: the upstream is
		// not asked.
		return r.importDenied(w, req, rt, p)
	}
	key := fmt.Sprintf("%s:%s:%t", rt.repo, rt.ref, allowed)
	err := r.pt.do(ctx, key, func() error {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.pt.cfg.Timeout)
		defer cancel()
		return r.refresh(fctx, rule, upRepo, rt.repo, rt.ref, byDigest, local, p.Name, allowed)
	})
	log := r.opts.Logger.With("repository", rt.repo, "reference", rt.ref, "upstream", rule.UpstreamURL+"/"+upRepo, "principal", p.Name)
	switch {
	case err == nil:
		return true
	case local != "" && errors.Is(err, errImportDenied):
		// The tag moved upstream, and this caller may not fetch it: the
		// cached copy, until a caller who may pulls.
		return true
	case local != "":
		// The cached copy stays in use.
		r.pt.markFailed(rt.repo+":"+rt.ref, now)
		log.Warn("registry: pull-through: upstream check failed; serving the cached copy", "err", err)
		return true
	case errors.Is(err, errImportDenied):
		return r.importDenied(w, req, rt, p)
	}
	var uf *upstreamFailure
	msg := "fetching it from the upstream registry failed"
	if errors.As(err, &uf) {
		msg = uf.msg
	}
	log.Warn("registry: pull-through: fetch failed", "err", err)
	ociError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown: not in the pull-through cache, and "+msg)
	return false
}

// importDenied answers a pull that would need a fetch the caller may not
// make (403 DENIED, audited).
func (r *Registry) importDenied(w http.ResponseWriter, req *http.Request, rt route, p *auth.Principal) bool {
	r.opts.Audit.Check(req.Context(), p.Name, ImportAction, rt.repo, false, "pull-through cache: fetching from the upstream needs "+ImportAction)
	r.opts.Logger.Info("registry: access denied", "principal", p.Name, "repository", rt.repo, "action", ImportAction, "reason", "pull-through cache miss")
	ociError(w, http.StatusForbidden, "DENIED", "the image is not in the pull-through cache, and fetching it from the upstream registry needs "+ImportAction+" on the repository")
	return false
}

// do runs f once for concurrent callers of one key; a caller whose ctx
// ends stops waiting (the fetch goes on for the others).
func (p *pullThrough) do(ctx context.Context, key string, f func() error) error {
	p.mu.Lock()
	fl, ok := p.flights[key]
	if !ok {
		fl = &flight{done: make(chan struct{})}
		p.flights[key] = fl
		go func() {
			fl.err = f()
			p.mu.Lock()
			delete(p.flights, key)
			p.mu.Unlock()
			close(fl.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-fl.done:
		return fl.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pullThrough) recentlyFailed(key string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.failed[key]
	if ok && now.Sub(t) >= upstreamRetry {
		delete(p.failed, key)
		return false
	}
	return ok
}

func (p *pullThrough) markFailed(key string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failed) >= maxFailures {
		clear(p.failed)
	}
	p.failed[key] = now
}

// upstreamAuth is the authenticator of rule's credentials (anonymous
// without a credentialArn).
func (r *Registry) upstreamAuth(rule store.PullThroughRule) (authn.Authenticator, error) {
	if rule.CredentialARN == "" {
		return authn.Anonymous, nil
	}
	nm, ok := auth.CredentialARNName(rule.CredentialARN)
	if !ok {
		return nil, &upstreamFailure{msg: "the rule's credentialArn is malformed", err: errors.New(rule.CredentialARN)}
	}
	c, ok := r.pt.cfg.Credentials.Lookup(nm)
	if !ok {
		return nil, &upstreamFailure{msg: "the rule's credentials are not configured on this server", err: fmt.Errorf("no registry_credentials entry %q", nm)}
	}
	return &authn.Basic{Username: c.Username, Password: c.Password}, nil
}

// upstreamOptions are go-containerregistry's options for rule's upstream.
func (r *Registry) upstreamOptions(ctx context.Context, rule store.PullThroughRule) ([]remote.Option, error) {
	a, err := r.upstreamAuth(rule)
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(a),
		remote.WithTransport(&manifestLimiter{base: r.pt.cfg.Transport}),
		remote.WithUserAgent("stowaway-pull-through-cache"),
	}, nil
}

// UpstreamRepository parses the upstream repository repo of rule.
func UpstreamRepository(rule store.PullThroughRule, repo string) (name.Repository, error) {
	return name.NewRepository(rule.UpstreamURL+"/"+repo, name.StrictValidation)
}

// refresh checks repo:ref against the upstream and fetches what the cache
// lacks.
func (r *Registry) refresh(ctx context.Context, rule store.PullThroughRule, upRepo, repo, ref string, byDigest bool, local, principal string, allowed bool) error {
	up, err := UpstreamRepository(rule, upRepo)
	if err != nil {
		return &upstreamFailure{msg: "the upstream repository name is invalid", err: err}
	}
	opts, err := r.upstreamOptions(ctx, rule)
	if err != nil {
		return err
	}
	want := ref
	if !byDigest {
		desc, err := remote.Head(up.Tag(ref), opts...)
		if err != nil {
			return classify("asking the upstream registry for the tag", err)
		}
		want = desc.Digest.String()
		if want == local {
			return r.pt.cfg.Store.PutPullThroughTag(ctx, repo, ref, store.PullThroughTag{Digest: want, CheckedAt: r.opts.Now().UTC()})
		}
	}
	if !allowed {
		return errImportDenied
	}
	if err := r.importImage(ctx, up, opts, repo, want, ref, principal); err != nil {
		return err
	}
	if byDigest {
		return nil
	}
	return r.pt.cfg.Store.PutPullThroughTag(ctx, repo, ref, store.PullThroughTag{Digest: want, CheckedAt: r.opts.Now().UTC()})
}

// classify turns a go-containerregistry error into the client's message.
func classify(what string, err error) error {
	var te *transport.Error
	switch {
	case errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden):
		return &upstreamFailure{msg: what + ": the upstream registry refused the credentials", err: err}
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return &upstreamFailure{msg: what + ": the upstream registry does not have it", err: err}
	case errors.As(err, &te):
		return &upstreamFailure{msg: fmt.Sprintf("%s: the upstream registry answered HTTP %d", what, te.StatusCode), err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &upstreamFailure{msg: what + ": the upstream registry did not answer in time", err: err}
	}
	return &upstreamFailure{msg: what + ": the upstream registry could not be reached or sent an invalid answer", err: err}
}

// ptManifest is what a fetch needs from a manifest or an index.
type ptManifest struct {
	MediaType string         `json:"mediaType"`
	Config    *ptDescriptor  `json:"config"`
	Layers    []ptDescriptor `json:"layers"`
	Manifests []ptDescriptor `json:"manifests"`
}

type ptDescriptor struct {
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	URLs      []string `json:"urls"`
}

func (m ptManifest) isIndex() bool { return m.Config == nil && m.Manifests != nil }

// budget counts the bytes one image fetch may still take.
type budget struct{ left int64 }

func (b *budget) take(n int64) error {
	if n < 0 || n > b.left {
		return &upstreamFailure{msg: "the image is larger than this server's pull-through limit", err: fmt.Errorf("%d more bytes, %d left", n, b.left)}
	}
	b.left -= n
	return nil
}

// importImage fetches manifest dgst of up (an index with its child
// manifests) and its blobs into repo, then stores the manifest under ref.
func (r *Registry) importImage(ctx context.Context, up name.Repository, opts []remote.Option, repo, dgst, ref, principal string) error {
	b := &budget{left: r.pt.cfg.MaxImageSize}
	mt, body, m, err := r.fetchManifest(up, opts, dgst, b)
	if err != nil {
		return err
	}
	putCtx := context.WithValue(ctx, pullThroughContext{}, up.String()+"@"+dgst)
	if m.isIndex() {
		if len(m.Manifests) > maxIndexChildren {
			return &upstreamFailure{msg: "the upstream index lists too many manifests", err: fmt.Errorf("%d manifests (at most %d)", len(m.Manifests), maxIndexChildren)}
		}
		for _, c := range m.Manifests {
			if _, _, _, _, err := r.storedManifest(ctx, repo, c.Digest); err == nil {
				continue
			}
			cmt, cbody, cm, err := r.fetchManifest(up, opts, c.Digest, b)
			if err != nil {
				return err
			}
			if cm.isIndex() {
				return &upstreamFailure{msg: "the upstream index nests another index", err: errors.New(c.Digest)}
			}
			if err := r.fetchBlobs(ctx, up, opts, repo, cm, b); err != nil {
				return err
			}
			if _, err := r.PutManifest(putCtx, principal, repo, c.Digest, cmt, cbody); err != nil {
				return storeRefused(repo+"@"+c.Digest, err)
			}
		}
	} else if err := r.fetchBlobs(ctx, up, opts, repo, m, b); err != nil {
		return err
	}
	got, err := r.PutManifest(putCtx, principal, repo, ref, mt, body)
	if err != nil {
		return storeRefused(repo+":"+ref, err)
	}
	if got != dgst {
		return fmt.Errorf("registry: pull-through: stored %s:%s as %s, want %s", repo, ref, got, dgst)
	}
	r.opts.Logger.Info("registry: pull-through: fetched", "repository", repo, "reference", ref, "digest", dgst, "upstream", up.String(), "bytes", r.pt.cfg.MaxImageSize-b.left)
	return nil
}

// storeRefused is the error of a fetched manifest the registry did not
// store: a refusal (an immutable tag, a manifest distribution does not
// take) names its reason to the client.
func storeRefused(what string, err error) error {
	var me *ManifestError
	if errors.As(err, &me) && me.Status < 500 {
		return &upstreamFailure{msg: "the registry refused the upstream image (" + me.Code + ": " + me.Message + ")", err: err}
	}
	return fmt.Errorf("registry: pull-through: store %s: %w", what, err)
}

// fetchManifest fetches manifest dgst of up, at most MaxManifestSize bytes,
// and checks its content against the digest.
func (r *Registry) fetchManifest(up name.Repository, opts []remote.Option, dgst string, b *budget) (string, []byte, ptManifest, error) {
	var m ptManifest
	d, err := digest.Parse(dgst)
	if err != nil || d.Algorithm() != digest.SHA256 {
		return "", nil, m, &upstreamFailure{msg: "the upstream registry named an invalid digest", err: fmt.Errorf("%q", dgst)}
	}
	desc, err := remote.Get(up.Digest(dgst), opts...)
	if err != nil {
		return "", nil, m, classify("fetching the manifest", err)
	}
	sum := sha256.Sum256(desc.Manifest)
	if "sha256:"+hex.EncodeToString(sum[:]) != dgst {
		return "", nil, m, &upstreamFailure{msg: "the upstream registry sent a manifest that does not match its digest", err: errors.New(dgst)}
	}
	if err := b.take(int64(len(desc.Manifest))); err != nil {
		return "", nil, m, err
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return "", nil, m, &upstreamFailure{msg: "the upstream registry sent a manifest that does not parse", err: err}
	}
	mt := string(desc.MediaType)
	if mt == "" {
		mt = m.MediaType
	}
	return mt, desc.Manifest, m, nil
}

// fetchBlobs fetches the config and layers of m that repo lacks.
func (r *Registry) fetchBlobs(ctx context.Context, up name.Repository, opts []remote.Option, repo string, m ptManifest, b *budget) error {
	descs := m.Layers
	if m.Config != nil {
		descs = append([]ptDescriptor{*m.Config}, descs...)
	}
	for _, d := range descs {
		if len(d.URLs) > 0 || strings.Contains(d.MediaType, "foreign") || strings.Contains(d.MediaType, "nondistributable") {
			continue // non-distributable: the upstream need not hold it
		}
		if _, err := r.BlobSize(ctx, repo, d.Digest); err == nil {
			continue
		}
		if err := b.take(d.Size); err != nil {
			return err
		}
		if err := r.fetchBlob(ctx, up, opts, repo, d); err != nil {
			return err
		}
	}
	return nil
}

// errLied: the upstream sent content other than it described.
var errLied = errors.New("content does not match its descriptor")

// fetchBlob copies blob d of up into repo: exactly d.Size bytes, committed
// only when they hash to d.Digest.
func (r *Registry) fetchBlob(ctx context.Context, up name.Repository, opts []remote.Option, repo string, d ptDescriptor) error {
	dg, err := digest.Parse(d.Digest)
	if err != nil || d.Size < 0 {
		return &upstreamFailure{msg: "the upstream manifest names an invalid blob", err: fmt.Errorf("%q size %d", d.Digest, d.Size)}
	}
	ref := up.Digest(d.Digest)
	layer, err := remote.Layer(ref, opts...)
	if err != nil {
		return classify("fetching a blob", err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return classify("fetching a blob", err)
	}
	defer rc.Close()
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return err
	}
	bw, err := rp.Blobs(ctx).Create(ctx)
	if err != nil {
		return fmt.Errorf("registry: pull-through: write blob: %w", err)
	}
	n, err := io.Copy(bw, io.LimitReader(rc, d.Size+1))
	if err == nil && n != d.Size {
		err = fmt.Errorf("%w: blob %s has %d bytes or more, want %d", errLied, d.Digest, n, d.Size)
	}
	if err != nil {
		_ = bw.Cancel(ctx)
		return &upstreamFailure{msg: "the upstream registry sent a blob that does not match its digest and size", err: err}
	}
	if _, err := bw.Commit(ctx, ocispec.Descriptor{Digest: dg, Size: d.Size, MediaType: "application/octet-stream"}); err != nil {
		_ = bw.Cancel(ctx)
		return &upstreamFailure{msg: "the upstream registry sent a blob that does not match its digest and size", err: err}
	}
	return nil
}

// manifestLimiter bounds the manifest bodies the upstream sends.
type manifestLimiter struct{ base http.RoundTripper }

func (t *manifestLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/manifests/") {
		return resp, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxManifestSize}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("registry: pull-through: upstream manifest larger than %d bytes", MaxManifestSize)
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// CheckUpstream asks rule's upstream for its API root with the rule's
// credentials: nil when it answers and accepts them (ValidatePullThroughCacheRule).
func (r *Registry) CheckUpstream(ctx context.Context, rule store.PullThroughRule) error {
	if r.pt == nil {
		return errors.New("the pull-through cache is not enabled")
	}
	reg, err := name.NewRegistry(rule.UpstreamURL, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("the upstream registry URL is invalid: %w", err)
	}
	a, err := r.upstreamAuth(rule)
	if err != nil {
		var uf *upstreamFailure
		if errors.As(err, &uf) {
			return errors.New(uf.msg)
		}
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rt, err := transport.NewWithContext(cctx, reg, a, r.pt.cfg.Transport, nil)
	if err != nil {
		return fmt.Errorf("the upstream registry %s could not be reached: %w", rule.UpstreamURL, err)
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return fmt.Errorf("the upstream registry %s could not be reached: %w", rule.UpstreamURL, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the upstream registry %s refused the credentials (HTTP %d)", rule.UpstreamURL, resp.StatusCode)
	}
	return fmt.Errorf("the upstream registry %s answered GET /v2/ with HTTP %d", rule.UpstreamURL, resp.StatusCode)
}
