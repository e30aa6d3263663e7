package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
)

// tablePolicies answers from a table keyed by principal ARN and action.
type tablePolicies struct {
	mu      sync.Mutex
	effects map[[2]string]iampolicy.Effect
	seen    []iampolicy.Request
}

func (p *tablePolicies) Evaluate(_ context.Context, req iampolicy.Request) (iampolicy.Effect, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, req)
	return p.effects[[2]string{req.Principal, req.Action}], nil
}

// TestPolicyEvaluatorCombines: Config.PolicyEvaluator reaches the registry
// and the ECR API; a Deny overrides admin, an Allow gives bob a push his
// pull grant lacks.
func TestPolicyEvaluatorCombines(t *testing.T) {
	const acct = "111122223333"
	pol := &tablePolicies{effects: map[[2]string]iampolicy.Effect{
		{"arn:aws:iam::" + acct + ":user/ci", "ecr:BatchDeleteImage"}:           iampolicy.Deny,
		{"arn:aws:iam::" + acct + ":user/" + testKeyID, "ecr:DeleteRepository"}: iampolicy.Deny,
		{"arn:aws:iam::" + acct + ":user/bob", "ecr:InitiateLayerUpload"}:       iampolicy.Allow,
		{"arn:aws:iam::" + acct + ":user/bob", "ecr:UploadLayerPart"}:           iampolicy.Allow,
		{"arn:aws:iam::" + acct + ":user/bob", "ecr:CompleteLayerUpload"}:       iampolicy.Allow,
		{"arn:aws:iam::" + acct + ":user/bob", "ecr:PutImage"}:                  iampolicy.Allow,
		// remote.Write asks what the registry has first.
		{"arn:aws:iam::" + acct + ":user/bob", "ecr:BatchCheckLayerAvailability"}: iampolicy.Allow,
		{"arn:aws:iam::" + acct + ":user/bob", "ecr:BatchGetImage"}:               iampolicy.Allow,
	}}
	ts := startServer(t, func(c *Config) {
		c.RegistryID = acct
		c.PolicyEvaluator = pol
		c.Users = append(c.Users, User{Name: "bob", Password: "bob-pw", Grants: []Grant{{Repository: "team/*", Actions: []string{"pull"}}}})
	})
	bob := authn.FromConfig(authn.AuthConfig{Username: "bob", Password: "bob-pw"})
	img := ts.push(t, "team/app:1", 1, bob) // allowed by the policy alone
	d, _ := img.Digest()
	ref, _ := name.ParseReference(ts.host+"/team/app@"+d.String(), name.Insecure)
	if err := remote.Delete(ref, remote.WithAuth(ciAuth)); err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("admin delete under a Deny: %v", err)
	}
	other, _ := random.Image(64, 1)
	elsewhere, _ := name.ParseReference(ts.host+"/elsewhere/app:1", name.Insecure)
	if err := remote.Write(elsewhere, other, remote.WithAuth(bob)); err != nil {
		t.Errorf("bob pushes where only the policy allows: %v", err)
	}
	if code, body := ts.call(t, "DeleteRepository", map[string]any{"repositoryName": "team/app", "force": true}, nil); code != http.StatusBadRequest || !strings.Contains(body, "AccessDeniedException") {
		t.Errorf("admin key DeleteRepository under a Deny: %d %s", code, body)
	}
	if code, body := ts.call(t, "DescribeRepositories", map[string]any{"repositoryNames": []string{"team/app"}}, nil); code != http.StatusOK {
		t.Errorf("admin key DescribeRepositories: %d %s", code, body)
	}
	pol.mu.Lock()
	defer pol.mu.Unlock()
	var sawIP bool
	for _, r := range pol.seen {
		if r.SourceIP.IsLoopback() {
			sawIP = true
		}
	}
	if !sawIP {
		t.Error("the policy never saw the caller's address")
	}
}
