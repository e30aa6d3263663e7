package ecrapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// hubARN names the registry credential "hub".
const hubARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub"

// fakeUpstreams answers CheckUpstream with err for every upstream but
// good.example.
type fakeUpstreams struct{ err error }

func (f fakeUpstreams) CheckUpstream(ctx context.Context, r store.PullThroughRule) error {
	if r.UpstreamURL == "good.example" || r.UpstreamURL == "registry-1.docker.io" {
		return nil
	}
	return f.err
}

// enablePullThrough gives e's API the rule store, the credential "hub"
// and fakeUpstreams.
func enablePullThrough(e *env, changed *int) {
	e.api.o.PullThrough = e.store
	e.api.o.Credentials = auth.NewCredentialSet([]auth.RegistryCredential{{Name: "hub", Username: "u", Password: "p"}})
	e.api.o.Upstreams = fakeUpstreams{err: errors.New("the upstream registry bad.example could not be reached")}
	e.api.o.PullThroughChanged = func() { *changed++ }
}

// pullThroughCalls drives every rule operation once (TestSDKImplementedOperations).
func pullThroughCalls(ctx context.Context, client *ecr.Client) []struct {
	op   string
	call func() error
} {
	prefix := aws.String("hub")
	return []struct {
		op   string
		call func() error
	}{
		{"CreatePullThroughCacheRule", func() error {
			_, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: prefix, UpstreamRegistryUrl: aws.String("registry-1.docker.io"), CredentialArn: aws.String(hubARN)})
			return err
		}},
		{"DescribePullThroughCacheRules", func() error {
			_, err := client.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{})
			return err
		}},
		{"UpdatePullThroughCacheRule", func() error {
			_, err := client.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: prefix, CredentialArn: aws.String(hubARN)})
			return err
		}},
		{"ValidatePullThroughCacheRule", func() error {
			_, err := client.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: prefix})
			return err
		}},
		{"DeletePullThroughCacheRule", func() error {
			_, err := client.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: prefix})
			return err
		}},
	}
}

// ptEnv is the API with the pull-through cache enabled, served to SDK
// clients signing as the admin and as a reader of team/*.
type ptEnv struct {
	*env
	admin, reader *ecr.Client
	changed       int
}

func newPTEnv(t *testing.T) *ptEnv {
	t.Helper()
	e := newEnv(t)
	e.clock.t = time.Now().UTC().Truncate(time.Second) // the SDK signs with the wall clock
	p := &ptEnv{env: e}
	enablePullThrough(e, &p.changed)
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	client := func(key string) *ecr.Client {
		return ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), Retryer: aws.NopRetryer{}})
	}
	p.admin, p.reader = client(adminKey), client(readerKey)
	return p
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}

// TestPullThroughRuleValidation: CreatePullThroughCacheRule through the SDK
// with ECR's constraints, each refusal with ECR's error type.
func TestPullThroughRuleValidation(t *testing.T) {
	p := newPTEnv(t)
	ctx := context.Background()
	long := strings.Repeat("a", 31)
	for _, tt := range []struct {
		name string
		in   ecr.CreatePullThroughCacheRuleInput
		want string
	}{
		{"prefix too short", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("a"), UpstreamRegistryUrl: aws.String("quay.io")}, "InvalidParameterException"},
		{"prefix too long", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(long), UpstreamRegistryUrl: aws.String("quay.io")}, "InvalidParameterException"},
		{"upper-case prefix", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("Hub"), UpstreamRegistryUrl: aws.String("quay.io")}, "InvalidParameterException"},
		{"prefix with a double slash", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("a//b"), UpstreamRegistryUrl: aws.String("quay.io")}, "InvalidParameterException"},
		{"URL with a scheme", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("https://quay.io")}, "InvalidParameterException"},
		{"URL with a path", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io/team")}, "InvalidParameterException"},
		{"empty URL", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("")}, "InvalidParameterException"},
		{"unknown upstreamRegistry", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io"), UpstreamRegistry: "nexus"}, "InvalidParameterException"},
		{"Docker Hub without credentials", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")}, "InvalidParameterException"},
		{"malformed credentialArn", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io"), CredentialArn: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:other/hub-credentials")}, "InvalidParameterException"},
		{"unknown credential", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io"), CredentialArn: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/nobody")}, "SecretNotFoundException"},
		{"upstream prefix under ROOT", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("ROOT"), UpstreamRegistryUrl: aws.String("quay.io"), UpstreamRepositoryPrefix: aws.String("team")}, "InvalidParameterException"},
		{"bad upstream prefix", ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io"), UpstreamRepositoryPrefix: aws.String("-x")}, "InvalidParameterException"},
		{"other registry id", ecr.CreatePullThroughCacheRuleInput{RegistryId: aws.String("999999999999"), EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io")}, "InvalidParameterException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.admin.CreatePullThroughCacheRule(ctx, &tt.in)
			if got := apiCode(err); got != tt.want {
				t.Errorf("error %q (%v), want %s", got, err, tt.want)
			}
		})
	}
	if rs, err := p.store.ListPullThroughRules(ctx); err != nil || len(rs) != 0 {
		t.Errorf("refused creations stored rules: %v, %v", rs, err)
	}
	if p.changed != 0 {
		t.Errorf("refused creations announced %d changes", p.changed)
	}
}

// TestPullThroughRuleLifecycle: create, describe, update, validate and
// delete rules through the SDK; duplicates, unknown prefixes, the quota
// and permissions answer as ECR does.
func TestPullThroughRuleLifecycle(t *testing.T) {
	p := newPTEnv(t)
	ctx := context.Background()
	hub, err := p.admin.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("hub/"), UpstreamRegistryUrl: aws.String("registry-1.docker.io"), CredentialArn: aws.String(hubARN),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The trailing "/" is assumed, as in ECR; the upstream's ECR name is
	// inferred from its host.
	if aws.ToString(hub.EcrRepositoryPrefix) != "hub" || hub.UpstreamRegistry != ecrtypes.UpstreamRegistryDockerHub ||
		aws.ToString(hub.UpstreamRepositoryPrefix) != "ROOT" || aws.ToString(hub.RegistryId) != "123456789012" || hub.CreatedAt == nil {
		t.Errorf("CreatePullThroughCacheRule = %+v", hub)
	}
	if _, err := p.admin.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("quay.io"),
	}); apiCode(err) != "PullThroughCacheRuleAlreadyExistsException" {
		t.Errorf("duplicate prefix: %v, want PullThroughCacheRuleAlreadyExistsException", err)
	}
	var dup *ecrtypes.PullThroughCacheRuleAlreadyExistsException
	_, err = p.admin.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("quay.io")})
	if !errors.As(err, &dup) {
		t.Errorf("the SDK did not decode the modeled PullThroughCacheRuleAlreadyExistsException: %T", err)
	}
	if _, err := p.admin.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("bad"), UpstreamRegistryUrl: aws.String("bad.example:5000"), UpstreamRepositoryPrefix: aws.String("mirror/"),
	}); err != nil {
		t.Fatal(err)
	}
	// A reader of team/* may not create rules (registry-wide admin).
	if _, err := p.reader.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("k8s"), UpstreamRegistryUrl: aws.String("registry.k8s.io"),
	}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("CreatePullThroughCacheRule as a reader: %v", err)
	}
	if p.changed != 2 {
		t.Errorf("%d changes announced, want 2", p.changed)
	}

	all, err := p.admin.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{})
	if err != nil {
		t.Fatal(err)
	}
	type rule struct{ Prefix, URL, Registry, UpstreamPrefix, Cred string }
	var got []rule
	for _, r := range all.PullThroughCacheRules {
		got = append(got, rule{aws.ToString(r.EcrRepositoryPrefix), aws.ToString(r.UpstreamRegistryUrl), string(r.UpstreamRegistry), aws.ToString(r.UpstreamRepositoryPrefix), aws.ToString(r.CredentialArn)})
	}
	want := []rule{{"bad", "bad.example:5000", "", "mirror", ""}, {"hub", "registry-1.docker.io", "docker-hub", "ROOT", hubARN}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DescribePullThroughCacheRules (-want +got):\n%s", d)
	}
	page, err := p.admin.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{MaxResults: aws.Int32(1)})
	if err != nil || len(page.PullThroughCacheRules) != 1 || page.NextToken == nil {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	page, err = p.admin.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	if err != nil || len(page.PullThroughCacheRules) != 1 || page.NextToken != nil || aws.ToString(page.PullThroughCacheRules[0].EcrRepositoryPrefix) != "hub" {
		t.Fatalf("second page: %+v, %v", page, err)
	}
	if _, err := p.admin.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"hub", "none"}}); apiCode(err) != "PullThroughCacheRuleNotFoundException" {
		t.Errorf("DescribePullThroughCacheRules of an unknown prefix: %v", err)
	}

	// Update: the credentials and the role only.
	before := p.changed
	upd, err := p.admin.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("bad"), CustomRoleArn: aws.String("arn:aws:iam::123456789012:role/pull")})
	if err != nil || aws.ToString(upd.CustomRoleArn) != "arn:aws:iam::123456789012:role/pull" || upd.UpdatedAt == nil || aws.ToString(upd.UpstreamRepositoryPrefix) != "mirror" {
		t.Errorf("UpdatePullThroughCacheRule = %+v, %v", upd, err)
	}
	if p.changed != before+1 {
		t.Error("an update was not announced")
	}
	for _, tt := range []struct {
		in   ecr.UpdatePullThroughCacheRuleInput
		want string
	}{
		{ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("none"), CredentialArn: aws.String(hubARN)}, "PullThroughCacheRuleNotFoundException"},
		{ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), CredentialArn: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/nobody")}, "SecretNotFoundException"},
		{ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")}, "InvalidParameterException"},
	} {
		if _, err := p.admin.UpdatePullThroughCacheRule(ctx, &tt.in); apiCode(err) != tt.want {
			t.Errorf("UpdatePullThroughCacheRule(%s): %v, want %s", aws.ToString(tt.in.EcrRepositoryPrefix), err, tt.want)
		}
	}

	// Validate reaches the upstream: a failure is isValid false with the
	// reason, not an error.
	v, err := p.admin.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")})
	if err != nil || !v.IsValid || v.Failure != nil || aws.ToString(v.UpstreamRegistryUrl) != "registry-1.docker.io" {
		t.Errorf("ValidatePullThroughCacheRule(hub) = %+v, %v", v, err)
	}
	v, err = p.admin.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("bad")})
	if err != nil || v.IsValid || !strings.Contains(aws.ToString(v.Failure), "could not be reached") {
		t.Errorf("ValidatePullThroughCacheRule(bad) = %+v, %v", v, err)
	}
	var nf *ecrtypes.PullThroughCacheRuleNotFoundException
	if _, err := p.admin.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("none")}); !errors.As(err, &nf) {
		t.Errorf("ValidatePullThroughCacheRule(none): %v, want the modeled PullThroughCacheRuleNotFoundException", err)
	}

	del, err := p.admin.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("bad")})
	if err != nil || aws.ToString(del.EcrRepositoryPrefix) != "bad" || aws.ToString(del.UpstreamRegistryUrl) != "bad.example:5000" {
		t.Errorf("DeletePullThroughCacheRule = %+v, %v", del, err)
	}
	if _, err := p.admin.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("bad")}); !errors.As(err, &nf) {
		t.Errorf("second DeletePullThroughCacheRule: %v, want PullThroughCacheRuleNotFoundException", err)
	}

	// The quota: 50 rules.
	rules, _ := p.store.ListPullThroughRules(ctx)
	for i := len(rules); i < MaxPullThroughRules; i++ {
		if _, err := p.admin.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
			EcrRepositoryPrefix: aws.String("q" + string(rune('a'+i/26)) + string(rune('a'+i%26))), UpstreamRegistryUrl: aws.String("quay.io"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	var le *ecrtypes.LimitExceededException
	if _, err := p.admin.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("over"), UpstreamRegistryUrl: aws.String("quay.io"),
	}); !errors.As(err, &le) {
		t.Errorf("rule %d: %v, want LimitExceededException", MaxPullThroughRules+1, err)
	}
	all, err = p.admin.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{MaxResults: aws.Int32(1000)})
	if err != nil || len(all.PullThroughCacheRules) != MaxPullThroughRules {
		t.Errorf("%d rules described, %v; want %d", len(all.PullThroughCacheRules), err, MaxPullThroughRules)
	}
}

// TestPullThroughNotEnabled: without a rule store the operations answer
// ValidationException naming themselves.
func TestPullThroughNotEnabled(t *testing.T) {
	e := newEnv(t)
	code, typ, _ := e.do(t, adminKey, "DescribePullThroughCacheRules", map[string]any{})
	if code != 400 || typ != "ValidationException" {
		t.Errorf("DescribePullThroughCacheRules without a store: %d %s", code, typ)
	}
}
