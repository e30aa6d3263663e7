package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
)

// TestAWSCLIPolicies: the repository and registry policy commands of the
// AWS CLI, policy text from a file as users pass it, and the server's
// evaluator using what was set at once.
func TestAWSCLIPolicies(t *testing.T) {
	ts := startServer(t, nil)
	aws := newCLI(t, ts, testKeyID, testSecret)
	dir := t.TempDir()
	const repoPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "NoDeletesForAlice",
      "Effect": "Deny",
      "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
      "Action": ["ecr:BatchDeleteImage", "ecr:DeleteRepository"]
    }
  ]
}
`
	const registryPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PullAll","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"ecr:BatchGetImage","Resource":"*"}]}`
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	aws.ok(nil, "create-repository", "--repository-name", "team/app")

	type repoPolicyOut struct{ RegistryId, RepositoryName, PolicyText string }
	var set, got repoPolicyOut
	aws.ok(&set, "set-repository-policy", "--repository-name", "team/app", "--policy-text", write("p.json", repoPolicy))
	aws.ok(&got, "get-repository-policy", "--repository-name", "team/app")
	want := repoPolicyOut{RegistryId: "000000000000", RepositoryName: "team/app", PolicyText: repoPolicy}
	for _, out := range []repoPolicyOut{set, got} {
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("repository policy (-want +got):\n%s", diff)
		}
	}
	ctx := context.Background()
	alice := iampolicy.Request{Principal: "arn:aws:iam::000000000000:user/alice", Action: "ecr:BatchDeleteImage", Repository: "team/app"}
	if e, err := ts.PolicyEvaluator().Evaluate(ctx, alice); err != nil || e != iampolicy.Deny {
		t.Errorf("evaluator after set-repository-policy: %v, %v; want Deny", e, err)
	}

	par(t,
		func() {
			aws.fails("InvalidParameterException", "set-repository-policy", "--repository-name", "team/app", "--policy-text",
				write("bad.json", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}}`))
		},
		func() {
			aws.fails("RepositoryNotFoundException", "set-repository-policy", "--repository-name", "team/gone", "--policy-text", write("p2.json", repoPolicy))
		},
		func() { aws.fails("RegistryPolicyNotFoundException", "get-registry-policy") },
		func() {
			aws.fails("InvalidParameterException", "put-registry-policy", "--policy-text",
				write("badreg.json", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*"}}`))
		},
	)

	aws.ok(nil, "delete-repository-policy", "--repository-name", "team/app")
	aws.fails("RepositoryPolicyNotFoundException", "get-repository-policy", "--repository-name", "team/app")
	if e, err := ts.PolicyEvaluator().Evaluate(ctx, alice); err != nil || e != iampolicy.NoMatch {
		t.Errorf("evaluator after delete-repository-policy: %v, %v; want NoMatch", e, err)
	}

	var reg struct{ RegistryId, PolicyText string }
	aws.ok(&reg, "put-registry-policy", "--policy-text", write("reg.json", registryPolicy))
	aws.ok(&reg, "get-registry-policy")
	if reg.RegistryId != "000000000000" || reg.PolicyText != registryPolicy {
		t.Errorf("get-registry-policy = %+v", reg)
	}
	pull := iampolicy.Request{Principal: "arn:aws:iam::000000000000:user/bob", Action: "ecr:BatchGetImage", Repository: "any/repo"}
	if e, err := ts.PolicyEvaluator().Evaluate(ctx, pull); err != nil || e != iampolicy.Allow {
		t.Errorf("evaluator after put-registry-policy: %v, %v; want Allow", e, err)
	}
	aws.ok(nil, "delete-registry-policy")
	aws.fails("RegistryPolicyNotFoundException", "delete-registry-policy")
}
