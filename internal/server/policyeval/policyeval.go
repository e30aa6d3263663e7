// Package policyeval answers authorization questions from the policies
// stored in the server database: the registry policy, which applies to
// every repository, and each repository's policy (ECR's PutRegistryPolicy
// and SetRepositoryPolicy). Evaluator implements auth's PolicyEvaluator.
//
// The effect is IAM's: an explicit Deny in either policy wins, then an
// Allow in either, else NoMatch (the caller's configured grants decide).
// A registry-wide request (Request.Repository "") is answered by the
// registry policy alone. Under the account setting REGISTRY_POLICY_SCOPE
// V1 the registry policy applies only to ECR's replication and
// pull-through actions (ecr:ReplicateImage, ecr:BatchImportUpstreamImage,
// ecr:CreateRepository), as in ECR; under V2 (the default) to every
// action.
//
// Policies are shared between replicas through the store. Each Evaluator
// caches what it read (parsed) for TTL (DefaultTTL, 2 s): a change made
// through another replica is used here at most TTL later; one made through
// this replica's ECR API is used at once (Invalidate, wired to the API's
// PolicyChanged). The cache holds at most MaxEntries repositories, so
// requests naming many repositories cannot grow it without bound. A stored
// text that no longer parses (written by another build) is an error, not
// NoMatch: the caller should refuse the request.
package policyeval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// DefaultTTL is how long a policy read from the store is used before it is
// read again.
const DefaultTTL = 2 * time.Second

// DefaultMaxEntries bounds the cached repository policies.
const DefaultMaxEntries = 10000

// SettingRegistryPolicyScope is the account setting naming the registry
// policy's scope (V1 or V2).
const SettingRegistryPolicyScope = "REGISTRY_POLICY_SCOPE"

// v1Actions are the actions a registry policy governs under scope V1.
var v1Actions = map[string]bool{
	"ecr:replicateimage":           true,
	"ecr:batchimportupstreamimage": true,
	"ecr:createrepository":         true,
}

// Source is where policies are stored (*store.SQL).
type Source interface {
	GetRepositoryPolicy(ctx context.Context, repo string) (store.PolicyText, error)
	GetRegistryPolicy(ctx context.Context) (store.PolicyText, error)
	GetAccountSetting(ctx context.Context, name string) (string, error)
}

// Options configures an Evaluator.
type Options struct {
	Source Source
	// Account and Region are the registry's, checked as the ECR API checks
	// them (iampolicy.Options).
	Account, Region string
	// TTL defaults to DefaultTTL, MaxEntries to DefaultMaxEntries.
	TTL        time.Duration
	MaxEntries int
	Now        func() time.Time
}

// Evaluator evaluates requests against the stored policies.
type Evaluator struct {
	o Options

	mu sync.Mutex
	// gen counts invalidations: a read that began before one is not
	// cached.
	gen      uint64
	repos    map[string]entry
	registry *registryEntry
}

type entry struct {
	policy  *iampolicy.Policy // nil: no policy
	err     error             // the stored text does not parse
	fetched time.Time
}

type registryEntry struct {
	entry
	v1 bool
}

// New returns an Evaluator over o.Source.
func New(o Options) *Evaluator {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Evaluator{o: o, repos: map[string]entry{}}
}

// Evaluate answers req from the registry policy and, for a repository, its
// policy.
func (e *Evaluator) Evaluate(ctx context.Context, req iampolicy.Request) (iampolicy.Effect, error) {
	reg, err := e.registryPolicy(ctx)
	if err != nil {
		return iampolicy.NoMatch, err
	}
	effects := make([]iampolicy.Effect, 0, 2)
	if !reg.v1 || v1Actions[strings.ToLower(req.Action)] {
		effects = append(effects, reg.policy.Evaluate(req))
	}
	if req.Repository != "" {
		p, err := e.repositoryPolicy(ctx, req.Repository)
		if err != nil {
			return iampolicy.NoMatch, err
		}
		effects = append(effects, p.Evaluate(req))
	}
	return iampolicy.Combine(effects...), nil
}

// Invalidate drops the cached policy of repo ("" for the registry policy
// and its scope), so the next request reads the store.
func (e *Evaluator) Invalidate(repo string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen++
	if repo == "" {
		e.registry = nil
		return
	}
	delete(e.repos, repo)
}

func (e *Evaluator) fresh(fetched time.Time) bool {
	return e.o.Now().Sub(fetched) < e.o.TTL
}

func (e *Evaluator) repositoryPolicy(ctx context.Context, repo string) (*iampolicy.Policy, error) {
	e.mu.Lock()
	c, ok := e.repos[repo]
	gen := e.gen
	e.mu.Unlock()
	if ok && e.fresh(c.fetched) {
		return c.policy, c.err
	}
	now := e.o.Now()
	c = entry{fetched: now}
	stored, err := e.o.Source.GetRepositoryPolicy(ctx, repo)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("policyeval: read the policy of %q: %w", repo, err)
	default:
		c.policy, c.err = e.parse(iampolicy.RepositoryPolicy, stored.Text, "the policy of "+repo)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen == gen {
		if len(e.repos) >= e.o.MaxEntries {
			e.evictLocked()
		}
		e.repos[repo] = c
	}
	return c.policy, c.err
}

// evictLocked makes room: expired entries go, and all of them when none
// had expired.
func (e *Evaluator) evictLocked() {
	for k, c := range e.repos {
		if !e.fresh(c.fetched) {
			delete(e.repos, k)
		}
	}
	if len(e.repos) >= e.o.MaxEntries {
		clear(e.repos)
	}
}

func (e *Evaluator) registryPolicy(ctx context.Context) (*registryEntry, error) {
	e.mu.Lock()
	c := e.registry
	gen := e.gen
	e.mu.Unlock()
	if c != nil && e.fresh(c.fetched) {
		return c, c.err
	}
	c = &registryEntry{entry: entry{fetched: e.o.Now()}}
	stored, err := e.o.Source.GetRegistryPolicy(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("policyeval: read the registry policy: %w", err)
	default:
		c.policy, c.err = e.parse(iampolicy.RegistryPolicy, stored.Text, "the registry policy")
	}
	scope, err := e.o.Source.GetAccountSetting(ctx, SettingRegistryPolicyScope)
	if err != nil {
		return nil, fmt.Errorf("policyeval: read %s: %w", SettingRegistryPolicyScope, err)
	}
	c.v1 = scope == "V1"
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen == gen {
		e.registry = c
	}
	return c, c.err
}

func (e *Evaluator) parse(kind iampolicy.Kind, text, what string) (*iampolicy.Policy, error) {
	p, err := iampolicy.Parse(kind, text, iampolicy.Options{Account: e.o.Account, Region: e.o.Region})
	if err != nil {
		return nil, fmt.Errorf("policyeval: stored %s does not parse: %w", what, err)
	}
	return p, nil
}
