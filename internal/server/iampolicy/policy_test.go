package iampolicy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var opts = Options{Account: "123456789012", Region: "us-east-1"}

var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseTestdata(t *testing.T) {
	tests := []struct {
		file string
		kind Kind
		want *Policy
	}{
		{"pull-from-account.json", RepositoryPolicy, &Policy{Kind: RepositoryPolicy, Version: "2012-10-17", Statements: []Statement{{
			Sid: "AllowPull", Effect: Allow, Principals: Principals{Accounts: []string{"123456789012"}},
			Actions: []string{"ecr:batchgetimage", "ecr:getdownloadurlforlayer", "ecr:batchchecklayeravailability"},
		}}}},
		{"deny-delete.json", RepositoryPolicy, &Policy{Kind: RepositoryPolicy, Version: "2012-10-17", Statements: []Statement{{
			Sid: "NoDeletes", Effect: Deny, Principals: Principals{Users: []string{"arn:aws:iam::123456789012:user/alice"}},
			Actions: []string{"ecr:batchdelete*"},
		}}}},
		{"ip-restricted.json", RepositoryPolicy, &Policy{Kind: RepositoryPolicy, Version: "2008-10-17", Statements: []Statement{
			{Sid: "OfficeOnly", Effect: Deny, Principals: Principals{Any: true}, Actions: []string{"ecr:*"},
				Conditions: []IPCondition{{Not: true, Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}}},
			{Sid: "BobPushes", Effect: Allow, Principals: Principals{Users: []string{"arn:aws:iam::123456789012:user/bob"}, Others: []string{"codebuild.amazonaws.com"}},
				NotAction: true, Actions: []string{"ecr:delete*", "ecr:setrepositorypolicy"},
				Conditions: []IPCondition{{Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}}}},
		}}},
		{"registry.json", RegistryPolicy, &Policy{Kind: RegistryPolicy, Version: "2012-10-17", Statements: []Statement{
			{Sid: "ReplicationAccessCrossAccount", Effect: Allow, Principals: Principals{Accounts: []string{"210987654321"}},
				Actions: []string{"ecr:createrepository", "ecr:replicateimage"}, Resources: []string{"*"}},
			{Sid: "TeamReadOnly", Effect: Allow, Principals: Principals{Users: []string{"arn:aws:iam::123456789012:user/carol"}},
				Actions: []string{"ecr:batchgetimage", "ecr:describe*"}, Resources: []string{"team/*"}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(tt.kind, readTestdata(t, tt.file), opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, prefixCmp); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// stmt wraps statement members in a policy.
func stmt(members string) string {
	return `{"Version":"2012-10-17","Statement":[{` + members + `}]}`
}

const allowAll = `"Effect":"Allow","Principal":"*","Action":"ecr:*"`

func TestParseRefused(t *testing.T) {
	tests := []struct {
		name, text string
		kind       Kind
		detail     string
	}{
		{"not JSON", `{"Version":`, RepositoryPolicy, "not valid JSON"},
		{"not an object", `[]`, RepositoryPolicy, "the policy must be a JSON object"},
		{"too long", `{"Version":"2012-10-17","Id":"` + strings.Repeat("x", MaxTextLength) + `","Statement":[]}`, RepositoryPolicy, "at most 10240"},
		{"bad version", `{"Version":"2020-01-01","Statement":[{` + allowAll + `}]}`, RepositoryPolicy, "Version must be"},
		{"lower-case member", `{"version":"2012-10-17","Statement":[{` + allowAll + `}]}`, RepositoryPolicy, `unsupported member "version"`},
		{"duplicate member", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny",` + allowAll + `}]}`, RepositoryPolicy, `member "Effect" twice`},
		{"no statement", `{"Version":"2012-10-17"}`, RepositoryPolicy, "no Statement"},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, RepositoryPolicy, "at least one statement"},
		{"statement not an object", `{"Statement":["x"]}`, RepositoryPolicy, "statement 1 must be a JSON object"},
		{"duplicate sid", `{"Statement":[{"Sid":"a",` + allowAll + `},{"Sid":"a",` + allowAll + `}]}`, RepositoryPolicy, `statements 1 and 2 have the same Sid "a"`},
		{"bad effect", stmt(`"Effect":"allow","Principal":"*","Action":"ecr:*"`), RepositoryPolicy, `Effect must be "Allow" or "Deny"`},
		{"no effect", stmt(`"Principal":"*","Action":"ecr:*"`), RepositoryPolicy, "Effect must be"},
		{"no principal", stmt(`"Effect":"Allow","Action":"ecr:*"`), RepositoryPolicy, "Principal (or NotPrincipal) is required"},
		{"both principals", stmt(allowAll + `,"NotPrincipal":"*"`), RepositoryPolicy, "not both"},
		{"principal string", stmt(`"Effect":"Allow","Principal":"alice","Action":"ecr:*"`), RepositoryPolicy, `a Principal string must be "*"`},
		{"principal wildcard ARN", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:user/alice"},"Action":"ecr:*"`), RepositoryPolicy, "is not a user ARN"},
		{"principal other partition", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::123456789012:root"},"Action":"ecr:*"`), RepositoryPolicy, "is not a user ARN"},
		{"federated principal", stmt(`"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"ecr:*"`), RepositoryPolicy, `principal type "Federated" is not supported`},
		{"empty principal", stmt(`"Effect":"Allow","Principal":{},"Action":"ecr:*"`), RepositoryPolicy, "names no principal"},
		{"bad service", stmt(`"Effect":"Allow","Principal":{"Service":"example.com"},"Action":"ecr:*"`), RepositoryPolicy, "is not <name>.amazonaws.com"},
		{"no action", stmt(`"Effect":"Allow","Principal":"*"`), RepositoryPolicy, "Action (or NotAction) is required"},
		{"both actions", stmt(allowAll + `,"NotAction":"ecr:*"`), RepositoryPolicy, "not both"},
		{"empty action list", stmt(`"Effect":"Allow","Principal":"*","Action":[]`), RepositoryPolicy, "must not be an empty list"},
		{"other service", stmt(`"Effect":"Allow","Principal":"*","Action":"s3:GetObject"`), RepositoryPolicy, `action "s3:GetObject" is not`},
		{"action not a string", stmt(`"Effect":"Allow","Principal":"*","Action":7`), RepositoryPolicy, "Action must be a string or a list"},
		{"null action", stmt(`"Effect":"Allow","Principal":"*","Action":null`), RepositoryPolicy, `action "" is not`},
		{"resource in repository policy", stmt(allowAll + `,"Resource":"*"`), RepositoryPolicy, "Resource is not allowed in a repository policy"},
		{"not resource", stmt(allowAll + `,"NotResource":"*"`), RegistryPolicy, `unsupported member "NotResource"`},
		{"other operator", stmt(allowAll + `,"Condition":{"StringEquals":{"aws:username":"bob"}}`), RepositoryPolicy, `condition operator "StringEquals" is not supported`},
		{"other key", stmt(allowAll + `,"Condition":{"IpAddress":{"aws:VpcSourceIp":"10.0.0.0/8"}}`), RepositoryPolicy, `condition key "aws:VpcSourceIp" is not supported`},
		{"bad address", stmt(allowAll + `,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300"}}`), RepositoryPolicy, `value "10.0.0.300" is not an IP address`},
		{"bad CIDR", stmt(allowAll + `,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), RepositoryPolicy, "is not an IP address or CIDR"},
		{"empty condition key set", stmt(allowAll + `,"Condition":{"IpAddress":{}}`), RepositoryPolicy, "names no key"},
		{"condition not an object", stmt(allowAll + `,"Condition":"x"`), RepositoryPolicy, "Condition must be a JSON object"},
		{"registry resource other account", stmt(allowAll + `,"Resource":"arn:aws:ecr:us-east-1:999999999999:repository/x"`), RegistryPolicy, "names account 999999999999"},
		{"registry resource other region", stmt(allowAll + `,"Resource":"arn:aws:ecr:eu-west-1:123456789012:repository/x"`), RegistryPolicy, "names region eu-west-1"},
		{"registry resource not a repository", stmt(allowAll + `,"Resource":"arn:aws:ecr:us-east-1:123456789012:pull-through-cache/x"`), RegistryPolicy, "does not name repositories"},
		{"registry resource other service", stmt(allowAll + `,"Resource":"arn:aws:s3:::bucket"`), RegistryPolicy, `is not "*" or arn:aws:ecr`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.kind, tt.text, opts)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a ValidationError", err)
			}
			want := "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid " + tt.kind.String() + " policy provided'"
			if ve.ECRMessage() != want || !strings.HasPrefix(err.Error(), want+": ") {
				t.Errorf("message %q does not start with ECR's %q", err, want)
			}
			if !strings.Contains(ve.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", ve.Detail, tt.detail)
			}
		})
	}
}

func TestParseAccepted(t *testing.T) {
	tests := []struct {
		name, text string
		kind       Kind
	}{
		{"no version", `{"Statement":{` + allowAll + `}}`, RepositoryPolicy},
		{"id", `{"Id":"x","Statement":{` + allowAll + `}}`, RepositoryPolicy},
		{"bare account", stmt(`"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"*"`), RepositoryPolicy},
		{"user with path", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/ci/builder"},"Action":"ecr:Get?ownloadUrlForLayer"`), RepositoryPolicy},
		{"role", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/ci"},"Action":"ecr:*"`), RepositoryPolicy},
		{"upper-case service prefix", stmt(`"Effect":"Allow","Principal":"*","Action":"ECR:PutImage"`), RepositoryPolicy},
		{"condition key case", stmt(allowAll + `,"Condition":{"IpAddress":{"AWS:SOURCEIP":"::1"}}`), RepositoryPolicy},
		{"registry without resource", stmt(allowAll), RegistryPolicy},
		{"registry wildcard region and account", stmt(allowAll + `,"Resource":"arn:aws:ecr:*:*:repository/team-?/*"`), RegistryPolicy},
		{"registry everything", stmt(allowAll + `,"Resource":"arn:aws:ecr:us-east-1:123456789012:*"`), RegistryPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.kind, tt.text, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}
