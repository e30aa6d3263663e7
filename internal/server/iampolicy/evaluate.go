package iampolicy

import (
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/wildcard"
)

// Evaluate answers req from this policy alone: Deny when a matching Deny
// statement applies, else Allow when a matching Allow statement applies,
// else NoMatch. A nil policy is NoMatch.
func (p *Policy) Evaluate(req Request) Effect {
	if p == nil {
		return NoMatch
	}
	action := strings.ToLower(req.Action)
	out := NoMatch
	for i := range p.Statements {
		st := &p.Statements[i]
		if !st.applies(req, action) {
			continue
		}
		if st.Effect == Deny {
			return Deny
		}
		out = Allow
	}
	return out
}

// Combine merges the effects of several policies for one request as IAM
// does: any Deny wins, then any Allow; else NoMatch.
func Combine(effects ...Effect) Effect {
	out := NoMatch
	for _, e := range effects {
		switch e {
		case Deny:
			return Deny
		case Allow:
			out = Allow
		}
	}
	return out
}

func (st *Statement) applies(req Request, action string) bool {
	if st.Principals.match(req.Principal) == st.NotPrincipal {
		return false
	}
	matched := false
	for _, a := range st.Actions {
		if match(a, action) {
			matched = true
			break
		}
	}
	if matched == st.NotAction {
		return false
	}
	if st.Resources != nil && !matchResource(st.Resources, req.Repository) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(req) {
			return false
		}
	}
	return true
}

// match says whether the caller is one of the principals. An anonymous
// caller ("") is matched by "*" only.
func (ps Principals) match(principal string) bool {
	if ps.Any {
		return true
	}
	if principal == "" {
		return false
	}
	for _, u := range ps.Users {
		if u == principal {
			return true
		}
	}
	if len(ps.Accounts) > 0 {
		rest, ok := strings.CutPrefix(principal, "arn:aws:iam::")
		if !ok {
			return false
		}
		account, _, ok := strings.Cut(rest, ":")
		if !ok {
			return false
		}
		for _, a := range ps.Accounts {
			if a == account {
				return true
			}
		}
	}
	return false
}

// matchResource: "*" matches everything, the registry ("") included; a
// repository pattern matches repositories only.
func matchResource(patterns []string, repo string) bool {
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		if repo != "" && match(p, repo) {
			return true
		}
	}
	return false
}

// holds tests aws:SourceIp. A request without an address satisfies no
// IpAddress condition and every NotIpAddress one (IAM's rule for a key
// absent from the request).
func (c IPCondition) holds(req Request) bool {
	if !req.SourceIP.IsValid() {
		return c.Not
	}
	ip := req.SourceIP.Unmap()
	in := false
	for _, p := range c.Prefixes {
		if p.Contains(ip) {
			in = true
			break
		}
	}
	return in != c.Not
}

// match reports whether name matches pattern as a whole: '*' matches any
// run of bytes, '?' exactly one, every other byte itself, in
// O(len(pattern)×len(name)) whatever the pattern.
func match(pattern, name string) bool { return wildcard.MatchIAM(pattern, name) }

func (e Effect) String() string {
	switch e {
	case NoMatch:
		return "NoMatch"
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "Effect(" + strconv.Itoa(int(e)) + ")"
}
