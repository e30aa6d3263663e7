package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
)

// PolicyEvaluator answers from the repository and registry policies
// (internal/server/policyeval reads them from the store; nil = no policies).
type PolicyEvaluator interface {
	Evaluate(ctx context.Context, req iampolicy.Request) (iampolicy.Effect, error)
}

// Decision is the answer to one authorization question, with the reason
// (for logs and the audit trail).
type Decision struct {
	Allowed bool
	// Reason says which grant or policy decided, or why nothing allowed.
	Reason  string
	Request iampolicy.Request
}

// Authorizer decides whether principals may perform IAM actions. The zero
// value and nil use the grants alone, in DefaultAccount.
type Authorizer struct {
	account  string
	policies PolicyEvaluator
}

// DefaultAccount is the account of ARNs when none is configured.
const DefaultAccount = "000000000000"

// NewAuthorizer builds an Authorizer for account (the 12-digit id of ARNs)
// with policies (nil = none).
func NewAuthorizer(account string, policies PolicyEvaluator) *Authorizer {
	return &Authorizer{account: account, policies: policies}
}

// Account is the account of the principals' ARNs.
func (z *Authorizer) Account() string {
	if z == nil || z.account == "" {
		return DefaultAccount
	}
	return z.account
}

// Authorize decides whether p may perform action (an IAM action,
// "ecr:PutImage") on repo ("" for registry-wide actions), coming from src.
// An explicit Deny from a policy wins; else an Allow from p's grants or a
// policy allows; else it is denied. A policy evaluation error denies.
func (z *Authorizer) Authorize(ctx context.Context, p *Principal, action, repo string, src netip.Addr) Decision {
	req := iampolicy.Request{Principal: p.ARN(z.Account()), Action: action, Repository: repo, SourceIP: src}
	d := Decision{Request: req}
	if p == nil {
		d.Reason = "not authenticated"
		return d
	}
	effect := iampolicy.NoMatch
	if z != nil && z.policies != nil {
		e, err := z.policies.Evaluate(ctx, req)
		if err != nil {
			d.Reason = fmt.Sprintf("policy evaluation failed (denied): %v", err)
			return d
		}
		effect = e
	}
	if effect == iampolicy.Deny {
		d.Reason = "explicit Deny in a policy"
		return d
	}
	level := Level(action)
	if g, ok := p.granted(repo, level, anyRepoAction(action)); ok {
		d.Allowed, d.Reason = true, "grant "+g
		return d
	}
	if effect == iampolicy.Allow {
		d.Allowed, d.Reason = true, "policy Allow"
		return d
	}
	where := "repository " + repo
	if repo == "" {
		where = "the registry (needs a grant on \"*\")"
	}
	d.Reason = fmt.Sprintf("no grant (%s needs %s) and no policy allows it on %s", action, level, where)
	return d
}

// Level is the grant level whose actions include action: pull for the
// reading actions (ecr:Describe*, Get*, List*, BatchGet*,
// BatchCheckLayerAvailability), push for the image, layer and scan writes,
// admin for every other action, unknown ones included.
func Level(action string) Action {
	op, ok := strings.CutPrefix(action, "ecr:")
	if !ok {
		return Admin
	}
	if pushActions[op] {
		return Push
	}
	for _, p := range []string{"Describe", "Get", "List", "BatchGet", "BatchCheck"} {
		if strings.HasPrefix(op, p) {
			return Pull
		}
	}
	return Admin
}

// pushActions are the writes a push grant adds to pull: images, layers,
// tags (a PutImage under another tag) and starting scans and lifecycle
// previews.
var pushActions = map[string]bool{
	"PutImage":                    true,
	"InitiateLayerUpload":         true,
	"UploadLayerPart":             true,
	"CompleteLayerUpload":         true,
	"StartImageScan":              true,
	"StartLifecyclePolicyPreview": true,
	// A pull of a pull-through cache repository that fetches from the
	// upstream writes the image.
	"BatchImportUpstreamImage": true,
}

// anyRepoAction: a registry-wide action that a grant on any repository
// allows, since it only opens the way to what the grants allow anyway.
func anyRepoAction(action string) bool { return action == "ecr:GetAuthorizationToken" }

// SourceIP is the caller's address from a request's RemoteAddr; the zero
// Addr when it does not parse.
func SourceIP(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}
