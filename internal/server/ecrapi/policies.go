package ecrapi

import (
	"context"
	"errors"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Repository policies and the registry policy: SetRepositoryPolicy,
// GetRepositoryPolicy, DeleteRepositoryPolicy, PutRegistryPolicy,
// GetRegistryPolicy and DeleteRegistryPolicy with ECR's request and
// response shapes. Texts are validated by iampolicy.Parse and refused with
// ECR's InvalidParameterException message followed by what was wrong
// (docs/ecr-policies.md). Every operation needs an admin grant on the
// repository (on "*" for the registry policy).

// PolicyStore keeps the repository policies and the registry policy
// (*store.SQL).
type PolicyStore interface {
	PutRepositoryPolicy(ctx context.Context, repo, text string, now time.Time) error
	GetRepositoryPolicy(ctx context.Context, repo string) (store.PolicyText, error)
	DeleteRepositoryPolicy(ctx context.Context, repo string) (store.PolicyText, error)
	PutRegistryPolicy(ctx context.Context, text string, now time.Time) error
	GetRegistryPolicy(ctx context.Context) (store.PolicyText, error)
	DeleteRegistryPolicy(ctx context.Context) (store.PolicyText, error)
}

// policyActions are the policy operations. Without a Policies store they
// answer that they are not enabled, with an error type their model lists.
func (a *API) policyActions() map[string]action {
	need := func(op, errType string, f action) action {
		return func(ctx context.Context, c *call) (any, error) {
			if a.o.Policies == nil {
				return nil, apiErr(errType, "%s is not enabled: this server has no store for policies", op)
			}
			return f(ctx, c)
		}
	}
	return map[string]action{
		"SetRepositoryPolicy":    need("SetRepositoryPolicy", "InvalidParameterException", a.setRepositoryPolicy),
		"GetRepositoryPolicy":    need("GetRepositoryPolicy", "InvalidParameterException", a.getRepositoryPolicy),
		"DeleteRepositoryPolicy": need("DeleteRepositoryPolicy", "InvalidParameterException", a.deleteRepositoryPolicy),
		"PutRegistryPolicy":      need("PutRegistryPolicy", "ValidationException", a.putRegistryPolicy),
		"GetRegistryPolicy":      need("GetRegistryPolicy", "ValidationException", a.getRegistryPolicy),
		"DeleteRegistryPolicy":   need("DeleteRegistryPolicy", "ValidationException", a.deleteRegistryPolicy),
	}
}

type repositoryPolicyIn struct {
	RegistryID     string  `json:"registryId"`
	RepositoryName string  `json:"repositoryName"`
	PolicyText     *string `json:"policyText"`
	Force          bool    `json:"force"`
}

type repositoryPolicyOut struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
	PolicyText     string `json:"policyText"`
}

type registryPolicyIn struct {
	PolicyText *string `json:"policyText"`
}

type registryPolicyOut struct {
	RegistryID string `json:"registryId"`
	PolicyText string `json:"policyText"`
}

// policyRepo decodes a repository policy request, checks the name, the
// caller's admin grant and that the repository exists.
func (a *API) policyRepo(ctx context.Context, c *call, in *repositoryPolicyIn) error {
	if err := decode(c, in); err != nil {
		return err
	}
	if err := validRepoName(in.RepositoryName); err != nil {
		return err
	}
	_, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	return err
}

func (a *API) repositoryPolicyNotFound(repo string) error {
	return apiErr("RepositoryPolicyNotFoundException", "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", repo, a.o.RegistryID)
}

func (a *API) registryPolicyNotFound() error {
	return apiErr("RegistryPolicyNotFoundException", "Registry policy does not exist in the registry with id '%s'", a.o.RegistryID)
}

// parsePolicy validates a policy text, mapping a refusal to ECR's
// InvalidParameterException.
func (a *API) parsePolicy(kind iampolicy.Kind, text *string) (*iampolicy.Policy, error) {
	if text == nil {
		ve := &iampolicy.ValidationError{Kind: kind, Detail: "policyText is required"}
		return nil, apiErr("InvalidParameterException", "%s", ve.Error())
	}
	p, err := iampolicy.Parse(kind, *text, iampolicy.Options{Account: a.o.RegistryID, Region: a.o.Region})
	var ve *iampolicy.ValidationError
	if errors.As(err, &ve) {
		return nil, apiErr("InvalidParameterException", "%s", ve.Error())
	}
	return p, err
}

// callerRequest is the authorization question "may the caller of c do
// action on repo": the caller as a user ARN of this registry's account and
// its address.
func (a *API) callerRequest(c *call, action, repo string) iampolicy.Request {
	return iampolicy.Request{Principal: c.p.ARN(a.o.Authz.Account()), Action: action, Repository: repo, SourceIP: auth.SourceIP(c.r.RemoteAddr)}
}

func (a *API) policyChanged(repo string) {
	if a.o.PolicyChanged != nil {
		a.o.PolicyChanged(repo)
	}
}

func (a *API) setRepositoryPolicy(ctx context.Context, c *call) (any, error) {
	var in repositoryPolicyIn
	if err := a.policyRepo(ctx, c, &in); err != nil {
		return nil, err
	}
	p, err := a.parsePolicy(iampolicy.RepositoryPolicy, in.PolicyText)
	if err != nil {
		return nil, err
	}
	// ECR's force: a policy that would deny its author any later
	// SetRepositoryPolicy on the repository is refused unless forced.
	if !in.Force && p.Evaluate(a.callerRequest(c, "ecr:SetRepositoryPolicy", in.RepositoryName)) == iampolicy.Deny {
		ve := &iampolicy.ValidationError{Kind: iampolicy.RepositoryPolicy,
			Detail: "the policy denies you ecr:SetRepositoryPolicy on this repository, so you could not change it again; set force to apply it anyway"}
		return nil, apiErr("InvalidParameterException", "%s", ve.Error())
	}
	err = a.o.Policies.PutRepositoryPolicy(ctx, in.RepositoryName, *in.PolicyText, a.o.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.repoNotFound(in.RepositoryName)
	}
	if err != nil {
		return nil, err
	}
	a.policyChanged(in.RepositoryName)
	return repositoryPolicyOut{RegistryID: a.o.RegistryID, RepositoryName: in.RepositoryName, PolicyText: *in.PolicyText}, nil
}

func (a *API) getRepositoryPolicy(ctx context.Context, c *call) (any, error) {
	var in repositoryPolicyIn
	if err := a.policyRepo(ctx, c, &in); err != nil {
		return nil, err
	}
	p, err := a.o.Policies.GetRepositoryPolicy(ctx, in.RepositoryName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.repositoryPolicyNotFound(in.RepositoryName)
	}
	if err != nil {
		return nil, err
	}
	return repositoryPolicyOut{RegistryID: a.o.RegistryID, RepositoryName: in.RepositoryName, PolicyText: p.Text}, nil
}

func (a *API) deleteRepositoryPolicy(ctx context.Context, c *call) (any, error) {
	var in repositoryPolicyIn
	if err := a.policyRepo(ctx, c, &in); err != nil {
		return nil, err
	}
	p, err := a.o.Policies.DeleteRepositoryPolicy(ctx, in.RepositoryName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.repositoryPolicyNotFound(in.RepositoryName)
	}
	if err != nil {
		return nil, err
	}
	a.policyChanged(in.RepositoryName)
	return repositoryPolicyOut{RegistryID: a.o.RegistryID, RepositoryName: in.RepositoryName, PolicyText: p.Text}, nil
}

func (a *API) putRegistryPolicy(ctx context.Context, c *call) (any, error) {
	var in registryPolicyIn
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	if _, err := a.parsePolicy(iampolicy.RegistryPolicy, in.PolicyText); err != nil {
		return nil, err
	}
	if err := a.o.Policies.PutRegistryPolicy(ctx, *in.PolicyText, a.o.Now().UTC()); err != nil {
		return nil, err
	}
	a.policyChanged("")
	return registryPolicyOut{RegistryID: a.o.RegistryID, PolicyText: *in.PolicyText}, nil
}

func (a *API) getRegistryPolicy(ctx context.Context, c *call) (any, error) {
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	p, err := a.o.Policies.GetRegistryPolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.registryPolicyNotFound()
	}
	if err != nil {
		return nil, err
	}
	return registryPolicyOut{RegistryID: a.o.RegistryID, PolicyText: p.Text}, nil
}

func (a *API) deleteRegistryPolicy(ctx context.Context, c *call) (any, error) {
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	p, err := a.o.Policies.DeleteRegistryPolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.registryPolicyNotFound()
	}
	if err != nil {
		return nil, err
	}
	a.policyChanged("")
	return registryPolicyOut{RegistryID: a.o.RegistryID, PolicyText: p.Text}, nil
}
