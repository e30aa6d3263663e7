package ecrapi

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Pull-through cache rules: CreatePullThroughCacheRule,
// DescribePullThroughCacheRules, UpdatePullThroughCacheRule,
// DeletePullThroughCacheRule and ValidatePullThroughCacheRule, with ECR's
// shapes and validation. The registry (internal/server/registry,
// pullthrough.go) serves the pulls; a rule's credentialArn names an entry of
// the auth config's registry_credentials (docs/auth.md).

// PullThroughStore keeps the pull-through cache rules.
type PullThroughStore interface {
	CreatePullThroughRule(ctx context.Context, r store.PullThroughRule, max int) error
	GetPullThroughRule(ctx context.Context, prefix string) (store.PullThroughRule, error)
	ListPullThroughRules(ctx context.Context) ([]store.PullThroughRule, error)
	UpdatePullThroughRule(ctx context.Context, r store.PullThroughRule) error
	DeletePullThroughRule(ctx context.Context, prefix string) (store.PullThroughRule, error)
}

// Upstreams answers what the rule operations ask about upstream registries.
type Upstreams interface {
	// CheckUpstream reaches rule's upstream with its credentials: nil when
	// it answers and accepts them, else an error saying what failed.
	CheckUpstream(ctx context.Context, rule store.PullThroughRule) error
}

// CredentialLookup finds the registry credentials a credentialArn names.
type CredentialLookup interface {
	Lookup(name string) (auth.RegistryCredential, bool)
}

// MaxPullThroughRules is ECR's quota of pull-through cache rules per
// registry.
const MaxPullThroughRules = 50

// pullThroughPrefixRE is ECR's PullThroughCacheRuleRepositoryPrefix.
var pullThroughPrefixRE = regexp.MustCompile(`^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$`)

// upstreamRegistries are ECR's UpstreamRegistry names, each with how its
// hosts look and whether ECR requires credentials for it.
var upstreamRegistries = []struct {
	name     string
	host     func(string) bool
	needsKey bool
}{
	{"ecr", func(h string) bool { return strings.Contains(h, ".dkr.ecr.") && strings.HasSuffix(h, ".amazonaws.com") }, false},
	{"ecr-public", func(h string) bool { return h == "public.ecr.aws" }, false},
	{"quay", func(h string) bool { return h == "quay.io" }, false},
	{"k8s", func(h string) bool { return h == "registry.k8s.io" }, false},
	{"docker-hub", func(h string) bool { return h == "registry-1.docker.io" || h == "docker.io" || h == "index.docker.io" }, true},
	{"github-container-registry", func(h string) bool { return h == "ghcr.io" }, true},
	{"azure-container-registry", func(h string) bool { return strings.HasSuffix(h, ".azurecr.io") }, true},
	{"gitlab-container-registry", func(h string) bool { return h == "registry.gitlab.com" }, true},
	{"chainguard", func(h string) bool { return h == "cgr.dev" }, false},
}

func (a *API) pullThroughActions() map[string]action {
	m := map[string]action{}
	for op, f := range map[string]action{
		"CreatePullThroughCacheRule":    a.createPullThroughCacheRule,
		"DescribePullThroughCacheRules": a.describePullThroughCacheRules,
		"UpdatePullThroughCacheRule":    a.updatePullThroughCacheRule,
		"DeletePullThroughCacheRule":    a.deletePullThroughCacheRule,
		"ValidatePullThroughCacheRule":  a.validatePullThroughCacheRule,
	} {
		m[op] = func(ctx context.Context, c *call) (any, error) {
			if a.o.PullThrough == nil {
				return nil, apiErr("ValidationException", "%s is not enabled: this server has no store for pull-through cache rules", c.op)
			}
			return f(ctx, c)
		}
	}
	return m
}

// pullThroughPrefix checks a repository prefix member and returns it
// without its trailing "/" (ECR assumes one).
func pullThroughPrefix(member, p string) (string, error) {
	if len(p) < 2 || len(p) > 30 || !pullThroughPrefixRE.MatchString(p) {
		return "", apiErr("InvalidParameterException", "Invalid parameter at '%s' failed to satisfy constraint: 'must satisfy regular expression '%s' and be 2 to 30 characters'", member, pullThroughPrefixRE)
	}
	return strings.TrimSuffix(p, "/"), nil
}

// upstreamHost checks an upstreamRegistryUrl: a registry host[:port], as
// ECR takes it (no scheme, no path).
func upstreamHost(u string) (string, error) {
	bad := func() error {
		return apiErr("InvalidParameterException", "Invalid parameter at 'upstreamRegistryUrl': want a registry host name with an optional port (registry-1.docker.io, quay.io, registry.example:5000), without a scheme or a path")
	}
	if u == "" || len(u) > 253+6 || strings.ContainsAny(u, "/ \t@?#") {
		return "", bad()
	}
	reg, err := name.NewRegistry(u, name.StrictValidation)
	if err != nil || reg.RegistryStr() != u {
		return "", bad()
	}
	return u, nil
}

func (a *API) pullThroughRuleNotFound(prefix string) error {
	return apiErr("PullThroughCacheRuleNotFoundException", "The pull through cache rule with prefix '%s' does not exist in the registry with id '%s'", prefix, a.o.RegistryID)
}

// checkCredential resolves a credentialArn to a configured credential.
func (a *API) checkCredential(arn string) error {
	if len(arn) < 50 || len(arn) > 612 {
		return apiErr("InvalidParameterException", "Invalid parameter at 'credentialArn' failed to satisfy constraint: 'Member must have length between 50 and 612'")
	}
	nm, ok := auth.CredentialARNName(arn)
	if !ok {
		return apiErr("InvalidParameterException", "Invalid parameter at 'credentialArn' failed to satisfy constraint: 'must satisfy regular expression '^arn:aws(-\\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\\-pullthroughcache\\/[a-zA-Z0-9\\/_+=.@-]+$''")
	}
	if a.o.Credentials == nil {
		return apiErr("SecretNotFoundException", "The secret '%s' does not exist: this server has no registry_credentials in its auth config (docs/auth.md)", arn)
	}
	if _, ok := a.o.Credentials.Lookup(nm); !ok {
		return apiErr("SecretNotFoundException", "The secret '%s' does not exist: the auth config has no registry_credentials entry named '%s' (docs/auth.md)", arn, nm)
	}
	return nil
}

type pullThroughRuleOut struct {
	EcrRepositoryPrefix      string `json:"ecrRepositoryPrefix"`
	UpstreamRegistryURL      string `json:"upstreamRegistryUrl"`
	UpstreamRegistry         string `json:"upstreamRegistry,omitempty"`
	UpstreamRepositoryPrefix string `json:"upstreamRepositoryPrefix,omitempty"`
	CredentialArn            string `json:"credentialArn,omitempty"`
	CustomRoleArn            string `json:"customRoleArn,omitempty"`
	RegistryID               string `json:"registryId"`
	CreatedAt                *epoch `json:"createdAt,omitempty"`
	UpdatedAt                *epoch `json:"updatedAt,omitempty"`
}

func (a *API) pullThroughOut(r store.PullThroughRule) pullThroughRuleOut {
	up := r.UpstreamPrefix
	if up == "" && r.Prefix != store.RootTemplatePrefix {
		up = store.RootTemplatePrefix
	}
	return pullThroughRuleOut{
		EcrRepositoryPrefix: r.Prefix, UpstreamRegistryURL: r.UpstreamURL, UpstreamRegistry: r.UpstreamRegistry,
		UpstreamRepositoryPrefix: up, CredentialArn: r.CredentialARN, CustomRoleArn: r.CustomRoleARN,
		RegistryID: a.o.RegistryID, CreatedAt: epochPtr(r.CreatedAt), UpdatedAt: epochPtr(r.UpdatedAt),
	}
}

func (a *API) createPullThroughCacheRule(ctx context.Context, c *call) (any, error) {
	var in struct {
		EcrRepositoryPrefix      string  `json:"ecrRepositoryPrefix"`
		UpstreamRegistryURL      string  `json:"upstreamRegistryUrl"`
		UpstreamRegistry         string  `json:"upstreamRegistry"`
		UpstreamRepositoryPrefix *string `json:"upstreamRepositoryPrefix"`
		CredentialArn            *string `json:"credentialArn"`
		CustomRoleArn            *string `json:"customRoleArn"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	prefix, err := pullThroughPrefix("ecrRepositoryPrefix", in.EcrRepositoryPrefix)
	if err != nil {
		return nil, err
	}
	host, err := upstreamHost(in.UpstreamRegistryURL)
	if err != nil {
		return nil, err
	}
	r := store.PullThroughRule{Prefix: prefix, UpstreamURL: host}
	needsKey := false
	for _, u := range upstreamRegistries {
		if in.UpstreamRegistry == "" && u.host(host) || in.UpstreamRegistry == u.name {
			r.UpstreamRegistry, needsKey = u.name, u.needsKey
		}
	}
	if in.UpstreamRegistry != "" && r.UpstreamRegistry == "" {
		return nil, apiErr("InvalidParameterException", "Invalid parameter at 'upstreamRegistry' failed to satisfy constraint: 'Member must satisfy enum value set: [ecr, ecr-public, quay, k8s, docker-hub, github-container-registry, azure-container-registry, gitlab-container-registry, chainguard]'")
	}
	if in.UpstreamRepositoryPrefix != nil {
		if prefix == store.RootTemplatePrefix && *in.UpstreamRepositoryPrefix != store.RootTemplatePrefix {
			return nil, apiErr("InvalidParameterException", "upstreamRepositoryPrefix can only be set when ecrRepositoryPrefix is not ROOT")
		}
		up, err := pullThroughPrefix("upstreamRepositoryPrefix", *in.UpstreamRepositoryPrefix)
		if err != nil {
			return nil, err
		}
		if up != store.RootTemplatePrefix {
			r.UpstreamPrefix = up
		}
	}
	if in.CustomRoleArn != nil {
		if len(*in.CustomRoleArn) > 2048 {
			return nil, apiErr("InvalidParameterException", "customRoleArn must be at most 2048 characters")
		}
		r.CustomRoleARN = *in.CustomRoleArn
	}
	if in.CredentialArn != nil {
		if err := a.checkCredential(*in.CredentialArn); err != nil {
			return nil, err
		}
		r.CredentialARN = *in.CredentialArn
	} else if needsKey {
		return nil, apiErr("InvalidParameterException", "A credentialArn is required for the upstream registry %s", r.UpstreamRegistry)
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	now := a.o.Now().UTC()
	r.CreatedAt, r.UpdatedAt = now, now
	err = a.o.PullThrough.CreatePullThroughRule(ctx, r, MaxPullThroughRules)
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, apiErr("PullThroughCacheRuleAlreadyExistsException", "A pull through cache rule with the prefix '%s' already exists in the registry with id '%s'", prefix, a.o.RegistryID)
	case errors.Is(err, store.ErrTooManyRules):
		return nil, apiErr("LimitExceededException", "The registry with id '%s' has the most pull through cache rules it may have (%d)", a.o.RegistryID, MaxPullThroughRules)
	case err != nil:
		return nil, err
	}
	a.pullThroughChanged()
	out := a.pullThroughOut(r)
	out.UpdatedAt = nil
	return out, nil
}

func (a *API) pullThroughChanged() {
	if a.o.PullThroughChanged != nil {
		a.o.PullThroughChanged()
	}
}

func (a *API) describePullThroughCacheRules(ctx context.Context, c *call) (any, error) {
	var in struct {
		EcrRepositoryPrefixes *[]string `json:"ecrRepositoryPrefixes"`
		NextToken             string    `json:"nextToken"`
		MaxResults            *int      `json:"maxResults"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	var want []string
	if in.EcrRepositoryPrefixes != nil {
		if n := len(*in.EcrRepositoryPrefixes); n < 1 || n > 100 {
			return nil, apiErr("InvalidParameterException", "Invalid parameter at 'ecrRepositoryPrefixes' failed to satisfy constraint: 'Member must have length between 1 and 100'")
		}
		for _, p := range *in.EcrRepositoryPrefixes {
			p, err := pullThroughPrefix("ecrRepositoryPrefixes", p)
			if err != nil {
				return nil, err
			}
			want = append(want, p)
		}
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	all, err := a.o.PullThrough.ListPullThroughRules(ctx)
	if err != nil {
		return nil, err
	}
	rules := all
	if want != nil {
		byPrefix := map[string]store.PullThroughRule{}
		for _, r := range all {
			byPrefix[r.Prefix] = r
		}
		rules = nil
		seen := map[string]bool{}
		for _, p := range want {
			r, ok := byPrefix[p]
			if !ok {
				return nil, a.pullThroughRuleNotFound(p)
			}
			if !seen[p] {
				seen[p] = true
				rules = append(rules, r)
			}
		}
	}
	start, end, next, err := pageBounds(in.NextToken, in.MaxResults, len(rules))
	if err != nil {
		return nil, err
	}
	out := []pullThroughRuleOut{}
	for _, r := range rules[start:end] {
		out = append(out, a.pullThroughOut(r))
	}
	resp := map[string]any{"pullThroughCacheRules": out}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (a *API) updatePullThroughCacheRule(ctx context.Context, c *call) (any, error) {
	var in struct {
		EcrRepositoryPrefix string  `json:"ecrRepositoryPrefix"`
		CredentialArn       *string `json:"credentialArn"`
		CustomRoleArn       *string `json:"customRoleArn"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	prefix, err := pullThroughPrefix("ecrRepositoryPrefix", in.EcrRepositoryPrefix)
	if err != nil {
		return nil, err
	}
	if in.CredentialArn == nil && in.CustomRoleArn == nil {
		return nil, apiErr("InvalidParameterException", "UpdatePullThroughCacheRule needs credentialArn or customRoleArn")
	}
	if in.CredentialArn != nil {
		if err := a.checkCredential(*in.CredentialArn); err != nil {
			return nil, err
		}
	}
	if in.CustomRoleArn != nil && len(*in.CustomRoleArn) > 2048 {
		return nil, apiErr("InvalidParameterException", "customRoleArn must be at most 2048 characters")
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	r, err := a.o.PullThrough.GetPullThroughRule(ctx, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.pullThroughRuleNotFound(prefix)
	}
	if err != nil {
		return nil, err
	}
	if in.CredentialArn != nil {
		r.CredentialARN = *in.CredentialArn
	}
	if in.CustomRoleArn != nil {
		r.CustomRoleARN = *in.CustomRoleArn
	}
	r.UpdatedAt = a.o.Now().UTC()
	err = a.o.PullThrough.UpdatePullThroughRule(ctx, r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.pullThroughRuleNotFound(prefix)
	}
	if err != nil {
		return nil, err
	}
	a.pullThroughChanged()
	out := a.pullThroughOut(r)
	return struct {
		EcrRepositoryPrefix      string `json:"ecrRepositoryPrefix"`
		RegistryID               string `json:"registryId"`
		UpdatedAt                *epoch `json:"updatedAt,omitempty"`
		CredentialArn            string `json:"credentialArn,omitempty"`
		CustomRoleArn            string `json:"customRoleArn,omitempty"`
		UpstreamRepositoryPrefix string `json:"upstreamRepositoryPrefix,omitempty"`
	}{out.EcrRepositoryPrefix, out.RegistryID, out.UpdatedAt, out.CredentialArn, out.CustomRoleArn, out.UpstreamRepositoryPrefix}, nil
}

// rulePrefixArg reads a request that names one rule by its
// ecrRepositoryPrefix (Delete, Validate), after the caller's permission.
func (a *API) rulePrefixArg(ctx context.Context, c *call) (string, error) {
	var in struct {
		EcrRepositoryPrefix string `json:"ecrRepositoryPrefix"`
	}
	if err := decode(c, &in); err != nil {
		return "", err
	}
	prefix, err := pullThroughPrefix("ecrRepositoryPrefix", in.EcrRepositoryPrefix)
	if err != nil {
		return "", err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return "", err
	}
	return prefix, nil
}

func (a *API) deletePullThroughCacheRule(ctx context.Context, c *call) (any, error) {
	prefix, err := a.rulePrefixArg(ctx, c)
	if err != nil {
		return nil, err
	}
	r, err := a.o.PullThrough.DeletePullThroughRule(ctx, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.pullThroughRuleNotFound(prefix)
	}
	if err != nil {
		return nil, err
	}
	a.pullThroughChanged()
	out := a.pullThroughOut(r)
	out.UpdatedAt, out.UpstreamRegistry = nil, ""
	return out, nil
}

func (a *API) validatePullThroughCacheRule(ctx context.Context, c *call) (any, error) {
	prefix, err := a.rulePrefixArg(ctx, c)
	if err != nil {
		return nil, err
	}
	r, err := a.o.PullThrough.GetPullThroughRule(ctx, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.pullThroughRuleNotFound(prefix)
	}
	if err != nil {
		return nil, err
	}
	failure := ""
	switch {
	case a.o.Upstreams == nil:
		failure = "this server cannot reach upstream registries (no pull-through cache)"
	default:
		if err := a.o.Upstreams.CheckUpstream(ctx, r); err != nil {
			failure = err.Error()
		}
	}
	out := a.pullThroughOut(r)
	return struct {
		EcrRepositoryPrefix      string  `json:"ecrRepositoryPrefix"`
		RegistryID               string  `json:"registryId"`
		UpstreamRegistryURL      string  `json:"upstreamRegistryUrl"`
		CredentialArn            string  `json:"credentialArn,omitempty"`
		CustomRoleArn            string  `json:"customRoleArn,omitempty"`
		UpstreamRepositoryPrefix string  `json:"upstreamRepositoryPrefix,omitempty"`
		IsValid                  bool    `json:"isValid"`
		Failure                  *string `json:"failure,omitempty"`
	}{out.EcrRepositoryPrefix, out.RegistryID, out.UpstreamRegistryURL, out.CredentialArn, out.CustomRoleArn, out.UpstreamRepositoryPrefix, failure == "", nilIfEmpty(failure)}, nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
