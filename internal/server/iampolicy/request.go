package iampolicy

import "net/netip"

// Request is one authorization question.
type Request struct {
	// Principal is the caller's ARN, "arn:aws:iam::<account>:user/<name>"; "" for anonymous.
	Principal string
	// Action is the IAM action, "ecr:PutImage".
	Action string
	// Repository is the repository name; "" for registry-wide actions.
	Repository string
	// SourceIP is the caller's address (aws:SourceIp).
	SourceIP netip.Addr
}

// Effect is the outcome of evaluating policies for a Request.
type Effect int

const (
	// NoMatch: no statement applies.
	NoMatch Effect = iota
	// Allow: an Allow statement applies and no Deny does.
	Allow
	// Deny: an explicit Deny applies.
	Deny
)
