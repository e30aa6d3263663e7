package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Store is what the policy reads of the server's store.
type Store interface {
	ResolveTag(ctx context.Context, repo, tag string) (string, error)
	GetImage(ctx context.Context, repo, digest string) (store.Image, error)
	GetScan(ctx context.Context, repo, digest string) (store.Scan, error)
}

// NamespaceLabeler returns the labels of a namespace.
type NamespaceLabeler interface {
	NamespaceLabels(ctx context.Context, name string) (map[string]string, error)
}

// Options are a Policy's collaborators.
type Options struct {
	Store Store
	// Namespaces looks namespace labels up; nil builds a Kubernetes API
	// client from Config.NamespaceLabels when its Lookup is set.
	Namespaces NamespaceLabeler
	// Getenv reads KUBERNETES_SERVICE_HOST/PORT (default os.Getenv).
	Getenv func(string) string
	Now    func() time.Time
	Logger *slog.Logger
	// Exploits opens the current vulnerability DB, whose KEV catalog and
	// EPSS scores the deny rules then judge by (nil: the exploit context
	// stored with each scan).
	Exploits OpenExploitDB
}

// Policy judges admission requests against a Config and the stored scans.
type Policy struct {
	cfg        Config
	store      Store
	namespaces NamespaceLabeler
	now        func() time.Time
	log        *slog.Logger
	exploits   OpenExploitDB
}

// New builds a Policy; cfg must have passed Validate (DecodeConfig does).
func New(cfg Config, opts Options) (*Policy, error) {
	if opts.Store == nil {
		return nil, errors.New("admission: a store is required")
	}
	if len(cfg.RegistryHosts) == 0 {
		return nil, errors.New("admission: registryHosts is empty (set it in the policy or set the server's public host): images could not be matched to this registry's scans")
	}
	if cfg.RequireScan == nil {
		return nil, errors.New("admission: config not validated")
	}
	p := &Policy{cfg: cfg, store: opts.Store, namespaces: opts.Namespaces, now: opts.Now, log: opts.Logger, exploits: opts.Exploits}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.namespaces == nil && cfg.NamespaceLabels.Lookup {
		k, err := NewKubeNamespaces(cfg.NamespaceLabels, opts.Getenv, p.now)
		if err != nil {
			return nil, fmt.Errorf("admission: %w", err)
		}
		p.namespaces = k
	}
	return p, nil
}

// verdict is the outcome for one image.
type verdict struct {
	deny     string // a definite reason to deny
	warnings []string
	err      error // could not decide
}

// Review decides one admission request. It never fails: when it cannot
// decide, the failure policy answers.
func (p *Policy) Review(ctx context.Context, req *Request) *Response {
	resp := &Response{UID: req.UID, Allowed: true}
	if req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	what := req.Kind.Kind + " " + req.Namespace + "/" + req.Name
	if req.Name == "" {
		what = req.Kind.Kind + " in namespace " + req.Namespace
	}
	log := p.log.With("uid", req.UID, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "operation", req.Operation)
	if slices.Contains(p.cfg.Exemptions.Namespaces.Names, req.Namespace) {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("stowaway: namespace %s is exempt from the image policy", req.Namespace))
		log.Info("admission: allowed, namespace exempt by name")
		return resp
	}
	containers, known, err := Containers(req.Kind, req.Object)
	if !known {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("stowaway: kind %s is not judged by the image policy", gvkString(req.Kind)))
		return resp
	}
	var denials, warnings []string
	var undecided []error
	if err != nil {
		undecided = append(undecided, err)
	}
	seen := map[string]bool{}
	for _, c := range containers {
		if c.Image == "" {
			denials = append(denials, fmt.Sprintf("container %s (%s) has no image", c.Name, c.Field))
			continue
		}
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		v := p.judge(ctx, c.Image, log)
		if v.deny != "" {
			denials = append(denials, v.deny)
		}
		if v.err != nil {
			undecided = append(undecided, fmt.Errorf("image %s: %w", c.Image, v.err))
		}
		warnings = append(warnings, v.warnings...)
	}
	if len(denials) > 0 || len(undecided) > 0 {
		exempt, err := p.namespaceLabelsExempt(ctx, req.Namespace)
		switch {
		case err != nil:
			undecided = append(undecided, err)
		case exempt:
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("stowaway: namespace %s is exempt from the image policy by its labels", req.Namespace))
			log.Info("admission: allowed, namespace exempt by labels", "would_deny", strings.Join(denials, "; "))
			return resp
		}
	}
	resp.Warnings = warnings
	if len(denials) > 0 {
		msg := fmt.Sprintf("stowaway denied %s: %s", what, strings.Join(denials, "; "))
		for _, e := range undecided {
			msg += "; could not judge " + e.Error()
		}
		resp.Allowed = false
		resp.Result = &Status{Status: "Failure", Code: 403, Reason: "Forbidden", Message: msg}
		log.Info("admission: denied", "message", msg)
		return resp
	}
	if len(undecided) > 0 {
		errs := make([]string, len(undecided))
		for i, e := range undecided {
			errs[i] = e.Error()
		}
		why := strings.Join(errs, "; ")
		if p.cfg.FailurePolicy == FailOpen {
			resp.Warnings = append(resp.Warnings, "stowaway could not decide and allowed by failurePolicy open: "+why)
			resp.AuditAnnotations = map[string]string{"failed-open": why}
			log.Warn("admission: allowed by failurePolicy open", "err", why)
			return resp
		}
		resp.Allowed = false
		resp.Result = &Status{Status: "Failure", Code: 500, Reason: "InternalError",
			Message: fmt.Sprintf("stowaway could not decide on %s (failurePolicy closed): %s", what, why)}
		log.Warn("admission: denied by failurePolicy closed", "err", why)
		return resp
	}
	log.Debug("admission: allowed", "images", len(seen))
	return resp
}

// judge decides one image reference.
func (p *Policy) judge(ctx context.Context, image string, log *slog.Logger) verdict {
	var v verdict
	ref, err := ParseImageRef(image)
	if err != nil {
		v.deny = err.Error()
		return v
	}
	if ref.Digest != "" {
		if ok, w := p.digestExempt(ref, ref.Digest, log); ok {
			v.warnings = append(v.warnings, w)
			return v
		} else if w != "" {
			v.warnings = append(v.warnings, w)
		}
	}
	allowed := false
	for _, a := range p.cfg.AllowedRegistries {
		if ref.matchesRegistry(a) {
			allowed = true
			break
		}
	}
	if !allowed {
		v.deny = fmt.Sprintf("image %s is not from an allowed registry (%s)", image, ref.Name())
		return v
	}
	repo, mirrored := p.localRepository(ref)
	if repo == "" {
		return p.unscanned(v, fmt.Sprintf("image %s is not in this registry, so it has no scan here (push or mirror it to %s)", image, p.cfg.RegistryHosts[0]))
	}
	where := "this registry"
	if mirrored {
		where = "this registry's mirror " + repo
	}
	digest, shown := ref.Digest, image
	if mirrored {
		shown = fmt.Sprintf("%s (mirrored as %s)", image, repo)
	}
	if digest == "" {
		digest, err = p.store.ResolveTag(ctx, repo, ref.Tag)
		if errors.Is(err, store.ErrNotFound) {
			return p.unscanned(v, fmt.Sprintf("image %s: tag %s not found in %s", image, ref.Tag, where))
		}
		if err != nil {
			v.err = fmt.Errorf("resolve tag: %w", err)
			return v
		}
		shown = fmt.Sprintf("%s (%s)", image, digest)
		if mirrored {
			shown = fmt.Sprintf("%s (mirrored as %s@%s)", image, repo, digest)
		}
		if ok, w := p.digestExempt(ref, digest, log); ok {
			v.warnings = append(v.warnings, w)
			return v
		} else if w != "" {
			v.warnings = append(v.warnings, w)
		}
	}
	sc, err := p.store.GetScan(ctx, repo, digest)
	if errors.Is(err, store.ErrNotFound) {
		_, ierr := p.store.GetImage(ctx, repo, digest)
		switch {
		case errors.Is(ierr, store.ErrNotFound):
			return p.unscanned(v, fmt.Sprintf("image %s is not in %s", shown, where))
		case ierr != nil:
			v.err = fmt.Errorf("read image: %w", ierr)
			return v
		}
		return p.unscanned(v, fmt.Sprintf("image %s has not been scanned", shown))
	}
	if err != nil {
		v.err = fmt.Errorf("read scan: %w", err)
		return v
	}
	if sc.Status != string(scanning.StatusComplete) {
		msg := fmt.Sprintf("image %s is not scanned: scan status %s", shown, sc.Status)
		if sc.Description != "" {
			msg += " (" + sc.Description + ")"
		}
		return p.unscanned(v, msg)
	}
	t, err := countPresent(sc.Result, p.cfg.Severity, p.cfg.FixableOnly, p.cfg.IgnoreNotPresent)
	if err != nil {
		v.err = fmt.Errorf("stored scan of %s: %w", digest, err)
		return v
	}
	if t.Count > 0 {
		noun := "finding"
		if t.Count > 1 {
			noun = "findings"
		}
		if p.cfg.FixableOnly {
			noun = "fixable " + noun
		}
		v.deny = fmt.Sprintf("image %s has %d %s at or above %s (top: %s)", shown, t.Count, noun, p.cfg.Severity, t.Top)
	}
	if d, note, err := exploitDenial(ctx, sc.Result, p.cfg.Deny, p.cfg.IgnoreNotPresent, shown, p.exploits); err != nil {
		v.err = fmt.Errorf("stored scan of %s: %w", digest, err)
	} else {
		if d != "" {
			v.deny = strings.TrimPrefix(v.deny+"; "+d, "; ")
		}
		if note != "" {
			log.Warn("admission: "+note, "image", shown)
		}
	}
	return v
}

// localRepository names the repository of this registry that holds ref:
// its own path when ref is on one of RegistryHosts, the mirror's repository
// when a Mirrors entry covers it (the longest one), else "".
func (p *Policy) localRepository(ref ImageRef) (repo string, mirrored bool) {
	if slices.Contains(p.cfg.RegistryHosts, ref.Host) {
		return ref.Path, false
	}
	best := ""
	for k := range p.cfg.Mirrors {
		if ref.matchesRegistry(k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return "", false
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(ref.Name(), best), "/")
	prefix := p.cfg.Mirrors[best]
	switch {
	case prefix == "":
		return rest, true
	case rest == "":
		return prefix, true
	}
	return prefix + "/" + rest, true
}

// unscanned denies when a scan is required, else warns.
func (p *Policy) unscanned(v verdict, msg string) verdict {
	if *p.cfg.RequireScan {
		v.deny = msg
	} else {
		v.warnings = append(v.warnings, "stowaway: "+msg+"; allowed because requireScan is false")
	}
	return v
}

// digestExempt reports whether an unexpired exemption covers digest, with
// a warning to return either way ("" when no exemption names it). Expired
// exemptions are ignored and logged.
func (p *Policy) digestExempt(ref ImageRef, digest string, log *slog.Logger) (bool, string) {
	now := p.now()
	name := ref.Original
	if ref.Digest == "" {
		name += " (" + digest + ")"
	}
	var expired *ImageExemption
	for i, e := range p.cfg.Exemptions.Images {
		if e.Digest != digest {
			continue
		}
		if !now.Before(e.Expires) {
			expired = &p.cfg.Exemptions.Images[i]
			continue
		}
		w := fmt.Sprintf("stowaway: image %s is exempt until %s", name, e.Expires.UTC().Format(time.RFC3339))
		if e.Reason != "" {
			w += " (" + e.Reason + ")"
		}
		if e.Expires.Sub(now) <= p.cfg.ExpiryWarning {
			w += "; the exemption expires soon"
		}
		log.Info("admission: digest exemption used", "image", ref.Original, "digest", digest, "expires", e.Expires)
		return true, w
	}
	if expired != nil {
		log.Warn("admission: digest exemption expired, ignored", "image", ref.Original, "digest", digest, "expired", expired.Expires)
		return false, fmt.Sprintf("stowaway: the exemption of image %s expired at %s and was ignored", name, expired.Expires.UTC().Format(time.RFC3339))
	}
	return false, ""
}

// namespaceLabelsExempt reports whether the namespace's labels match the
// exemption selector, looking them up when configured.
func (p *Policy) namespaceLabelsExempt(ctx context.Context, ns string) (bool, error) {
	sel := p.cfg.Exemptions.Namespaces.MatchLabels
	if len(sel) == 0 || p.namespaces == nil || ns == "" {
		return false, nil
	}
	labels, err := p.namespaces.NamespaceLabels(ctx, ns)
	if err != nil {
		return false, fmt.Errorf("namespace %s labels: %w", ns, err)
	}
	for k, want := range sel {
		if got, ok := labels[k]; !ok || got != want {
			return false, nil
		}
	}
	return true, nil
}

func gvkString(k GroupVersionKind) string {
	if k.Group == "" {
		return k.Version + "/" + k.Kind
	}
	return k.Group + "/" + k.Version + "/" + k.Kind
}
