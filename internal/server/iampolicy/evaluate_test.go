package iampolicy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	alice = "arn:aws:iam::123456789012:user/alice"
	bob   = "arn:aws:iam::123456789012:user/bob"
	eve   = "arn:aws:iam::999999999999:user/eve"
)

func mustParse(t *testing.T, kind Kind, text string) *Policy {
	t.Helper()
	p, err := Parse(kind, text, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	office := netip.MustParseAddr("192.0.2.7")
	home := netip.MustParseAddr("198.51.100.1")
	tests := []struct {
		name   string
		kind   Kind
		policy string
		req    Request
		want   Effect
	}{
		{"account root matches its users", RepositoryPolicy, readTestdata(t, "pull-from-account.json"),
			Request{Principal: bob, Action: "ecr:BatchGetImage", Repository: "app"}, Allow},
		{"action case does not matter", RepositoryPolicy, readTestdata(t, "pull-from-account.json"),
			Request{Principal: bob, Action: "ECR:batchgetimage", Repository: "app"}, Allow},
		{"other action", RepositoryPolicy, readTestdata(t, "pull-from-account.json"),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app"}, NoMatch},
		{"other account", RepositoryPolicy, readTestdata(t, "pull-from-account.json"),
			Request{Principal: eve, Action: "ecr:BatchGetImage", Repository: "app"}, NoMatch},
		{"anonymous is no account member", RepositoryPolicy, readTestdata(t, "pull-from-account.json"),
			Request{Action: "ecr:BatchGetImage", Repository: "app"}, NoMatch},
		{"deny by wildcard", RepositoryPolicy, readTestdata(t, "deny-delete.json"),
			Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: "app"}, Deny},
		{"deny names alice only", RepositoryPolicy, readTestdata(t, "deny-delete.json"),
			Request{Principal: bob, Action: "ecr:BatchDeleteImage", Repository: "app"}, NoMatch},
		{"user names are exact", RepositoryPolicy, readTestdata(t, "deny-delete.json"),
			Request{Principal: alice + "x", Action: "ecr:BatchDeleteImage", Repository: "app"}, NoMatch},
		{"outside the office everything is denied", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app", SourceIP: home}, Deny},
		{"anonymous outside the office too", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Action: "ecr:BatchGetImage", Repository: "app", SourceIP: home}, Deny},
		{"no address: NotIpAddress holds", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app"}, Deny},
		{"in the office bob pushes", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app", SourceIP: office}, Allow},
		{"IPv4-mapped address", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app", SourceIP: netip.MustParseAddr("::ffff:192.0.2.7")}, Allow},
		{"NotAction excludes deletes", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: bob, Action: "ecr:DeleteRepository", Repository: "app", SourceIP: office}, NoMatch},
		{"office but other address of the block", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app", SourceIP: netip.MustParseAddr("192.0.2.8")}, NoMatch},
		{"IPv6 office", RepositoryPolicy, readTestdata(t, "ip-restricted.json"),
			Request{Principal: alice, Action: "ecr:PutImage", Repository: "app", SourceIP: netip.MustParseAddr("2001:db8::5")}, NoMatch},
		{"registry resource pattern", RegistryPolicy, readTestdata(t, "registry.json"),
			Request{Principal: "arn:aws:iam::123456789012:user/carol", Action: "ecr:DescribeImages", Repository: "team/app"}, Allow},
		{"registry resource pattern misses", RegistryPolicy, readTestdata(t, "registry.json"),
			Request{Principal: "arn:aws:iam::123456789012:user/carol", Action: "ecr:DescribeImages", Repository: "other/app"}, NoMatch},
		{"repository pattern misses registry-wide requests", RegistryPolicy, readTestdata(t, "registry.json"),
			Request{Principal: "arn:aws:iam::123456789012:user/carol", Action: "ecr:DescribeRegistry"}, NoMatch},
		{"star resource matches registry-wide requests", RegistryPolicy, stmt(`"Effect":"Allow","Principal":"*","Action":"ecr:Describe*","Resource":"*"`),
			Request{Principal: bob, Action: "ecr:DescribeRegistry"}, Allow},
		{"question mark is one character", RepositoryPolicy, stmt(`"Effect":"Allow","Principal":"*","Action":"ecr:?utImage"`),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app"}, Allow},
		{"question mark is not zero characters", RepositoryPolicy, stmt(`"Effect":"Allow","Principal":"*","Action":"ecr:?PutImage"`),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app"}, NoMatch},
		{"NotPrincipal deny spares the listed", RepositoryPolicy, stmt(`"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"ecr:*"`),
			Request{Principal: alice, Action: "ecr:PutImage", Repository: "app"}, NoMatch},
		{"NotPrincipal deny hits the others", RepositoryPolicy, stmt(`"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"ecr:*"`),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app"}, Deny},
		{"NotPrincipal deny hits anonymous", RepositoryPolicy, stmt(`"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"ecr:*"`),
			Request{Action: "ecr:PutImage", Repository: "app"}, Deny},
		{"a role matches no user", RepositoryPolicy, stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/alice"},"Action":"*"`),
			Request{Principal: alice, Action: "ecr:PutImage", Repository: "app"}, NoMatch},
		{"deny wins over allow in one policy", RepositoryPolicy,
			`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Deny","Principal":{"AWS":"` + bob + `"},"Action":"ecr:PutImage"}]}`,
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app"}, Deny},
		{"both conditions must hold", RepositoryPolicy,
			stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app", SourceIP: netip.MustParseAddr("10.1.2.3")}, NoMatch},
		{"both conditions hold", RepositoryPolicy,
			stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`),
			Request{Principal: bob, Action: "ecr:PutImage", Repository: "app", SourceIP: netip.MustParseAddr("10.2.2.3")}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.kind, tt.policy).Evaluate(tt.req)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNilPolicyIsNoMatch(t *testing.T) {
	var p *Policy
	if got := p.Evaluate(Request{Principal: alice, Action: "ecr:PutImage"}); got != NoMatch {
		t.Errorf("nil policy: %v", got)
	}
}

func TestCombine(t *testing.T) {
	tests := []struct {
		in   []Effect
		want Effect
	}{
		{nil, NoMatch},
		{[]Effect{NoMatch, NoMatch}, NoMatch},
		{[]Effect{NoMatch, Allow}, Allow},
		{[]Effect{Allow, Deny}, Deny},
		{[]Effect{Deny, Allow}, Deny},
	}
	for _, tt := range tests {
		if got := Combine(tt.in...); got != tt.want {
			t.Errorf("Combine(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMatchIsLinearEnough(t *testing.T) {
	// The classic exponential case for backtracking matchers.
	pattern := strings.Repeat("*a", 60) + "*b"
	name := strings.Repeat("a", 10000)
	if match(pattern, name) {
		t.Error("matched")
	}
}
