// Package iampolicy parses, validates and evaluates the IAM policy
// documents of Amazon ECR's repository policies (SetRepositoryPolicy) and
// registry policy (PutRegistryPolicy). It is pure: texts in, a Policy out,
// and a Policy answers a Request with an Effect.
//
// The subset accepted is the one ECR users write:
//
//   - Version "2012-10-17" or "2008-10-17" (optional, as in IAM); Id is
//     accepted and ignored.
//   - Statement: one statement object or a non-empty array of them.
//   - Sid: optional, unique within the policy when given.
//   - Effect: "Allow" or "Deny".
//   - Principal or NotPrincipal (exactly one): "*" (everyone, anonymous
//     callers included) or {"AWS": ARN | [ARN, ...]} where an ARN is
//     "arn:aws:iam::<account>:user/<name>" (that user), the account root
//     "arn:aws:iam::<account>:root" or the bare 12-digit account id (every
//     principal of that account), or "*". Role ARNs
//     ("arn:aws:iam::<account>:role/<name>") and {"Service": "<name>.amazonaws.com"}
//     principals are accepted, as ECR accepts them, and match no caller:
//     this server's callers are users. NotPrincipal is supported as IAM
//     defines it: the statement applies to every caller not listed.
//   - Action or NotAction (exactly one): "*" or "ecr:<Name>" with the
//     wildcards '*' (any run) and '?' (one character), matched without
//     regard to case as IAM does ("ecr:*", "ecr:Batch*", "ecr:get*").
//     Actions of other services are refused: they would never apply.
//   - Condition: {"IpAddress"|"NotIpAddress": {"aws:SourceIp": CIDR | address | [...]}}.
//     Several operators in one block must all hold; several values of one
//     key are alternatives (IpAddress: the caller is in one of them;
//     NotIpAddress: in none). The key is matched without regard to case.
//   - Resource: refused in a repository policy (ECR refuses it: the policy
//     applies to its repository); in the registry policy optional (absent
//     means every repository) and "*", "arn:aws:ecr:<region>:<account>:*"
//     or "arn:aws:ecr:<region>:<account>:repository/<name pattern>" with '*'
//     and '?' wildcards (region and account may be "*"; others are refused
//     when Options names the registry's).
//
// Anything else (other members, condition operators or keys, principal
// types, NotResource) is refused with ECR's error, InvalidParameterException
// "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid
// repository policy provided'" (registry policy for PutRegistryPolicy), to
// which ValidationError adds what was wrong.
//
// Evaluation (Policy.Evaluate) is IAM's: a matching Deny statement wins;
// else a matching Allow allows; else NoMatch. Combine does the same across
// policies (the registry policy and a repository's).
//
// Costs are bounded: a text is at most MaxTextLength bytes (ECR's limit),
// at most MaxStatements statements, member nesting is that of the format,
// and pattern matching is O(len(pattern)×len(name)).
package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// Kind is which document a policy text is.
type Kind int

const (
	// RepositoryPolicy is a repository's policy (SetRepositoryPolicy).
	RepositoryPolicy Kind = iota
	// RegistryPolicy is the registry's policy (PutRegistryPolicy).
	RegistryPolicy
)

func (k Kind) String() string {
	if k == RegistryPolicy {
		return "registry"
	}
	return "repository"
}

// MaxTextLength is ECR's limit of a policy text (RepositoryPolicyText and
// RegistryPolicyText: 10,240 characters).
const MaxTextLength = 10240

// MaxStatements bounds a policy's statements (a text of MaxTextLength
// holds fewer than this anyway).
const MaxStatements = 500

// ValidationError is a policy text that is not accepted. Error() is ECR's
// message followed by what was wrong.
type ValidationError struct {
	Kind Kind
	// Detail says what was wrong, naming the statement.
	Detail string
}

// ECRMessage is ECR's own message for a refused policy text.
func (e *ValidationError) ECRMessage() string {
	return "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid " + e.Kind.String() + " policy provided'"
}

func (e *ValidationError) Error() string { return e.ECRMessage() + ": " + e.Detail }

// Options are the registry's facts a policy is checked against; empty
// members check nothing.
type Options struct {
	// Account is the registry's 12-digit account id.
	Account string
	// Region is the registry's region.
	Region string
}

// Policy is a parsed, valid policy document.
type Policy struct {
	Kind       Kind
	Version    string
	Statements []Statement
}

// Statement is one statement of a Policy.
type Statement struct {
	Sid    string
	Effect Effect
	// NotPrincipal: the statement applies to callers Principals does not
	// match.
	NotPrincipal bool
	Principals   Principals
	// NotAction: the statement applies to actions no pattern matches.
	NotAction bool
	// Actions are the action patterns, lower-cased.
	Actions []string
	// Resources are repository name patterns (registry policy only); nil
	// means every repository and the registry itself. "*" also matches
	// registry-wide requests.
	Resources []string
	// Conditions must all hold.
	Conditions []IPCondition
}

// Principals is a Principal (or NotPrincipal) member.
type Principals struct {
	// Any is "*".
	Any bool
	// Users are user ARNs; Accounts account ids (every principal of it).
	Users    []string
	Accounts []string
	// Others are principals accepted that match no caller (roles,
	// services), kept for display.
	Others []string
}

// IPCondition is an IpAddress (or NotIpAddress) test of aws:SourceIp.
type IPCondition struct {
	Not      bool
	Prefixes []netip.Prefix
}

// Parse parses and validates a policy text of the given kind.
func Parse(kind Kind, text string, o Options) (*Policy, error) {
	p := &parser{kind: kind, o: o}
	pol, err := p.policy(text)
	if err != nil {
		return nil, err
	}
	return pol, nil
}

type parser struct {
	kind Kind
	o    Options
}

func (p *parser) errf(format string, a ...any) error {
	return &ValidationError{Kind: p.kind, Detail: fmt.Sprintf(format, a...)}
}

// members decodes a JSON object with its exact member names, refusing
// duplicate names (encoding/json would keep the last one silently, and
// match names without regard to case).
func (p *parser) members(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, p.errf("%s must be a JSON object", what)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, p.errf("%s: %v", what, err)
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, p.errf("%s: %v", what, err)
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, p.errf("%s: %v", what, err)
		}
		if _, dup := out[name]; dup {
			return nil, p.errf("%s has the member %q twice", what, name)
		}
		out[name] = v
	}
	return out, nil
}

func unknown(m map[string]json.RawMessage, known ...string) string {
	var extra []string
	for k := range m {
		found := false
		for _, n := range known {
			found = found || k == n
		}
		if !found {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) == 0 {
		return ""
	}
	return extra[0]
}

func (p *parser) policy(text string) (*Policy, error) {
	if len(text) > MaxTextLength {
		return nil, p.errf("the policy text is %d characters long, at most %d are allowed", len(text), MaxTextLength)
	}
	if !json.Valid([]byte(text)) {
		return nil, p.errf("the policy text is not valid JSON")
	}
	top, err := p.members(json.RawMessage(text), "the policy")
	if err != nil {
		return nil, err
	}
	if k := unknown(top, "Version", "Id", "Statement"); k != "" {
		return nil, p.errf("the policy has an unsupported member %q (supported: Version, Id, Statement)", k)
	}
	pol := &Policy{Kind: p.kind}
	if v, ok := top["Version"]; ok {
		if err := json.Unmarshal(v, &pol.Version); err != nil || (pol.Version != "2012-10-17" && pol.Version != "2008-10-17") {
			return nil, p.errf(`Version must be "2012-10-17" or "2008-10-17"`)
		}
	}
	if id, ok := top["Id"]; ok {
		var s string
		if err := json.Unmarshal(id, &s); err != nil {
			return nil, p.errf("Id must be a string")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, p.errf("the policy has no Statement")
	}
	var list []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, p.errf("Statement: %v", err)
		}
	} else {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return nil, p.errf("Statement must hold at least one statement")
	}
	if len(list) > MaxStatements {
		return nil, p.errf("the policy has %d statements, at most %d are allowed", len(list), MaxStatements)
	}
	sids := map[string]int{}
	for i, r := range list {
		st, err := p.statement(i, r)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if j, dup := sids[st.Sid]; dup {
				return nil, p.errf("statements %d and %d have the same Sid %q (a Sid must be unique)", j+1, i+1, st.Sid)
			}
			sids[st.Sid] = i
		}
		pol.Statements = append(pol.Statements, st)
	}
	return pol, nil
}

func (p *parser) statement(i int, raw json.RawMessage) (Statement, error) {
	var st Statement
	where := fmt.Sprintf("statement %d", i+1)
	m, err := p.members(raw, where)
	if err != nil {
		return st, err
	}
	if v, ok := m["Sid"]; ok {
		if err := json.Unmarshal(v, &st.Sid); err != nil {
			return st, p.errf("%s: Sid must be a string", where)
		}
		where = fmt.Sprintf("statement %d (Sid %q)", i+1, clip(st.Sid))
	}
	known := []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Condition"}
	if p.kind == RegistryPolicy {
		known = append(known, "Resource")
	}
	if k := unknown(m, known...); k != "" {
		switch {
		case k == "Resource" && p.kind == RepositoryPolicy:
			return st, p.errf("%s: Resource is not allowed in a repository policy (the policy applies to its repository)", where)
		default:
			return st, p.errf("%s: unsupported member %q (supported: %s)", where, clip(k), strings.Join(known, ", "))
		}
	}
	var effect string
	if v, ok := m["Effect"]; !ok || json.Unmarshal(v, &effect) != nil || (effect != "Allow" && effect != "Deny") {
		return st, p.errf(`%s: Effect must be "Allow" or "Deny"`, where)
	}
	st.Effect = Allow
	if effect == "Deny" {
		st.Effect = Deny
	}

	pr, hasP := m["Principal"]
	npr, hasNP := m["NotPrincipal"]
	switch {
	case hasP && hasNP:
		return st, p.errf("%s: give Principal or NotPrincipal, not both", where)
	case !hasP && !hasNP:
		return st, p.errf("%s: a Principal (or NotPrincipal) is required", where)
	case hasNP:
		st.NotPrincipal, pr = true, npr
	}
	if st.Principals, err = p.principals(where, pr); err != nil {
		return st, err
	}

	act, hasA := m["Action"]
	nact, hasNA := m["NotAction"]
	switch {
	case hasA && hasNA:
		return st, p.errf("%s: give Action or NotAction, not both", where)
	case !hasA && !hasNA:
		return st, p.errf("%s: an Action (or NotAction) is required", where)
	case hasNA:
		st.NotAction, act = true, nact
	}
	if st.Actions, err = p.actions(where, act); err != nil {
		return st, err
	}

	if r, ok := m["Resource"]; ok {
		if st.Resources, err = p.resources(where, r); err != nil {
			return st, err
		}
	}
	if c, ok := m["Condition"]; ok {
		if st.Conditions, err = p.conditions(where, c); err != nil {
			return st, err
		}
	}
	return st, nil
}

// stringOrList decodes a JSON string or a non-empty array of strings.
func (p *parser) stringOrList(where, member string, raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, p.errf("%s: %s must be a string or a list of strings", where, member)
	}
	if len(list) == 0 {
		return nil, p.errf("%s: %s must not be an empty list", where, member)
	}
	return list, nil
}

var (
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
	userARNRE  = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):user/([A-Za-z0-9+=,.@_/-]{1,512})$`)
	rootARNRE  = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):root$`)
	roleARNRE  = regexp.MustCompile(`^arn:aws:(iam|sts)::[0-9]{12}:(role|assumed-role)/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	serviceRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,126}\.amazonaws\.com(\.cn)?$`)
	actionRE   = regexp.MustCompile(`^(?i:ecr):[A-Za-z*?]{1,128}$`)
	repoPatRE  = regexp.MustCompile(`^[a-z0-9._/*?-]{1,256}$`)
	ecrARNRE   = regexp.MustCompile(`^arn:aws:ecr:([a-z0-9-]+|\*):([0-9]{12}|\*):(.*)$`)
	sourceIPOp = map[string]bool{"IpAddress": false, "NotIpAddress": true}
)

func (p *parser) principals(where string, raw json.RawMessage) (Principals, error) {
	var out Principals
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return out, p.errf(`%s: a Principal string must be "*"; name users as {"AWS": ["arn:aws:iam::<account>:user/<name>"]}`, where)
		}
		out.Any = true
		return out, nil
	}
	m, err := p.members(raw, where+": Principal")
	if err != nil {
		return out, p.errf(`%s: Principal must be "*" or {"AWS": [ARN, ...]}`, where)
	}
	if len(m) == 0 {
		return out, p.errf("%s: Principal names no principal", where)
	}
	for k, v := range m {
		switch k {
		case "AWS":
			list, err := p.stringOrList(where, "Principal.AWS", v)
			if err != nil {
				return out, err
			}
			for _, a := range list {
				switch {
				case a == "*":
					out.Any = true
				case accountRE.MatchString(a):
					out.Accounts = append(out.Accounts, a)
				case rootARNRE.MatchString(a):
					out.Accounts = append(out.Accounts, rootARNRE.FindStringSubmatch(a)[1])
				case userARNRE.MatchString(a):
					out.Users = append(out.Users, a)
				case roleARNRE.MatchString(a):
					out.Others = append(out.Others, a)
				default:
					return out, p.errf("%s: principal %q is not a user ARN (arn:aws:iam::<account>:user/<name>), an account (arn:aws:iam::<account>:root or its 12-digit id), a role ARN or \"*\"", where, clip(a))
				}
			}
		case "Service":
			list, err := p.stringOrList(where, "Principal.Service", v)
			if err != nil {
				return out, err
			}
			for _, s := range list {
				if !serviceRE.MatchString(s) {
					return out, p.errf("%s: service principal %q is not <name>.amazonaws.com", where, clip(s))
				}
				out.Others = append(out.Others, s)
			}
		default:
			return out, p.errf("%s: principal type %q is not supported (supported: AWS, Service)", where, clip(k))
		}
	}
	sort.Strings(out.Users)
	sort.Strings(out.Accounts)
	sort.Strings(out.Others)
	return out, nil
}

func (p *parser) actions(where string, raw json.RawMessage) ([]string, error) {
	list, err := p.stringOrList(where, "Action", raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		if a != "*" && !actionRE.MatchString(a) {
			return nil, p.errf(`%s: action %q is not "*" or "ecr:<Action>" (letters, with '*' and '?' wildcards)`, where, clip(a))
		}
		out = append(out, strings.ToLower(a))
	}
	return out, nil
}

func (p *parser) resources(where string, raw json.RawMessage) ([]string, error) {
	list, err := p.stringOrList(where, "Resource", raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, r := range list {
		if r == "*" {
			out = append(out, "*")
			continue
		}
		sm := ecrARNRE.FindStringSubmatch(r)
		if sm == nil {
			return nil, p.errf(`%s: resource %q is not "*" or arn:aws:ecr:<region>:<account>:repository/<name>`, where, clip(r))
		}
		region, account, rest := sm[1], sm[2], sm[3]
		if p.o.Region != "" && region != "*" && region != p.o.Region {
			return nil, p.errf("%s: resource %q names region %s; this registry is in %s", where, clip(r), region, p.o.Region)
		}
		if p.o.Account != "" && account != "*" && account != p.o.Account {
			return nil, p.errf("%s: resource %q names account %s; this registry's is %s", where, clip(r), account, p.o.Account)
		}
		switch name, isRepo := strings.CutPrefix(rest, "repository/"); {
		case rest == "*":
			out = append(out, "*")
		case isRepo && repoPatRE.MatchString(name):
			out = append(out, name)
		default:
			return nil, p.errf("%s: resource %q does not name repositories (repository/<name>, '*' and '?' wildcards)", where, clip(r))
		}
	}
	return out, nil
}

func (p *parser) conditions(where string, raw json.RawMessage) ([]IPCondition, error) {
	ops, err := p.members(raw, where+": Condition")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	var out []IPCondition
	for _, op := range names {
		not, ok := sourceIPOp[op]
		if !ok {
			return nil, p.errf("%s: condition operator %q is not supported (supported: IpAddress, NotIpAddress on aws:SourceIp)", where, clip(op))
		}
		keys, err := p.members(ops[op], where+": Condition."+op)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, p.errf("%s: Condition.%s names no key", where, op)
		}
		knames := make([]string, 0, len(keys))
		for k := range keys {
			knames = append(knames, k)
		}
		sort.Strings(knames)
		for _, k := range knames {
			v := keys[k]
			if !strings.EqualFold(k, "aws:SourceIp") {
				return nil, p.errf("%s: condition key %q is not supported (supported: aws:SourceIp)", where, clip(k))
			}
			vals, err := p.stringOrList(where, "Condition."+op+"."+k, v)
			if err != nil {
				return nil, err
			}
			c := IPCondition{Not: not}
			for _, s := range vals {
				pre, err := parsePrefix(s)
				if err != nil {
					return nil, p.errf("%s: aws:SourceIp value %q is not an IP address or CIDR block", where, clip(s))
				}
				c.Prefixes = append(c.Prefixes, pre)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// parsePrefix reads a CIDR block or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pre, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return pre.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// clip bounds a caller's string in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
