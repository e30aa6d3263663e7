package ecrapi

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

func newPolicyEnv(t *testing.T) (*env, *[]string) {
	t.Helper()
	e := newEnv(t)
	e.api.o.Policies = e.store
	var changed []string
	e.api.o.PolicyChanged = func(repo string) { changed = append(changed, repo) }
	e.must(t, "CreateRepository", map[string]any{"repositoryName": "team/app"})
	return e, &changed
}

const ecrPolicyMsg = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided': "

func TestSetRepositoryPolicyRefusals(t *testing.T) {
	e, changed := newPolicyEnv(t)
	tests := []struct {
		name string
		in   map[string]any
		typ  string
		msg  string
	}{
		{"no text", map[string]any{"repositoryName": "team/app"}, "InvalidParameterException", ecrPolicyMsg + "policyText is required"},
		{"resource", map[string]any{"repositoryName": "team/app", "policyText": `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}}`},
			"InvalidParameterException", ecrPolicyMsg + "statement 1: Resource is not allowed in a repository policy"},
		{"too long", map[string]any{"repositoryName": "team/app", "policyText": strings.Repeat(" ", 10241)},
			"InvalidParameterException", ecrPolicyMsg + "the policy text is 10241 characters long"},
		{"missing repository", map[string]any{"repositoryName": "team/gone", "policyText": sdkRepoPolicy},
			"RepositoryNotFoundException", "The repository with name 'team/gone' does not exist in the registry with id '123456789012'"},
		{"bad name", map[string]any{"repositoryName": "A", "policyText": sdkRepoPolicy}, "InvalidParameterException", "Invalid parameter at 'repositoryName'"},
		{"lockout without force", map[string]any{"repositoryName": "team/app",
			"policyText": `{"Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:SetRepositoryPolicy"}}`},
			"InvalidParameterException", ecrPolicyMsg + "the policy denies you ecr:SetRepositoryPolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, typ, out := e.do(t, adminKey, "SetRepositoryPolicy", tt.in)
			msg, _ := out["message"].(string)
			if code != 400 || typ != tt.typ || !strings.HasPrefix(msg, tt.msg) {
				t.Errorf("HTTP %d %s %q, want %s %q...", code, typ, msg, tt.typ, tt.msg)
			}
		})
	}
	if len(*changed) != 0 {
		t.Errorf("refused writes reported changes: %v", *changed)
	}
	// Forced, the lockout policy is stored.
	e.must(t, "SetRepositoryPolicy", map[string]any{"repositoryName": "team/app", "force": true,
		"policyText": `{"Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:SetRepositoryPolicy"}}`})
	if diff := cmp.Diff([]string{"team/app"}, *changed); diff != "" {
		t.Errorf("PolicyChanged calls (-want +got):\n%s", diff)
	}
}

// TestPolicyOperationLevels: writing or deleting a policy needs admin;
// reading one is a pull-level action (AWS's read-only ECR policy includes
// ecr:GetRepositoryPolicy), on "*" for the registry policy.
func TestPolicyOperationLevels(t *testing.T) {
	e, _ := newPolicyEnv(t)
	for _, op := range []string{"SetRepositoryPolicy", "DeleteRepositoryPolicy"} {
		e.wantErr(t, readerKey, op, map[string]any{"repositoryName": "team/app", "policyText": sdkRepoPolicy}, "AccessDeniedException")
	}
	e.wantErr(t, readerKey, "GetRepositoryPolicy", map[string]any{"repositoryName": "team/app"}, "RepositoryPolicyNotFoundException")
	for _, op := range []string{"PutRegistryPolicy", "GetRegistryPolicy", "DeleteRegistryPolicy"} {
		e.wantErr(t, readerKey, op, map[string]any{"policyText": sdkRegistryPolicy}, "AccessDeniedException")
	}
}

func TestRegistryPolicyRefusals(t *testing.T) {
	e, changed := newPolicyEnv(t)
	const msg = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided': "
	for _, tt := range []struct{ text, detail string }{
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"arn:aws:ecr:eu-west-1:123456789012:repository/*"}}`, "names region eu-west-1"},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringLike":{"aws:PrincipalOrgID":"o-1"}}}}`, `condition operator "StringLike" is not supported`},
	} {
		code, typ, out := e.do(t, adminKey, "PutRegistryPolicy", map[string]any{"policyText": tt.text})
		m, _ := out["message"].(string)
		if code != 400 || typ != "InvalidParameterException" || !strings.HasPrefix(m, msg) || !strings.Contains(m, tt.detail) {
			t.Errorf("HTTP %d %s %q, want InvalidParameterException %q...%q", code, typ, m, msg, tt.detail)
		}
	}
	e.wantErr(t, adminKey, "GetRegistryPolicy", map[string]any{}, "RegistryPolicyNotFoundException")
	e.must(t, "PutRegistryPolicy", map[string]any{"policyText": sdkRegistryPolicy})
	e.must(t, "DeleteRegistryPolicy", map[string]any{})
	if diff := cmp.Diff([]string{"", ""}, *changed); diff != "" {
		t.Errorf("PolicyChanged calls (-want +got):\n%s", diff)
	}
}

// TestDeleteRepositoryDeletesItsPolicy: a repository deleted and created
// again has no policy.
func TestDeleteRepositoryDeletesItsPolicy(t *testing.T) {
	e, _ := newPolicyEnv(t)
	e.must(t, "SetRepositoryPolicy", map[string]any{"repositoryName": "team/app", "policyText": sdkRepoPolicy})
	out := e.must(t, "GetRepositoryPolicy", map[string]any{"repositoryName": "team/app"})
	if out["policyText"] != sdkRepoPolicy {
		t.Fatalf("GetRepositoryPolicy = %v", out)
	}
	e.must(t, "DeleteRepository", map[string]any{"repositoryName": "team/app"})
	e.wantErr(t, adminKey, "GetRepositoryPolicy", map[string]any{"repositoryName": "team/app"}, "RepositoryNotFoundException")
	e.must(t, "CreateRepository", map[string]any{"repositoryName": "team/app"})
	e.wantErr(t, adminKey, "GetRepositoryPolicy", map[string]any{"repositoryName": "team/app"}, "RepositoryPolicyNotFoundException")
}

func TestPoliciesNotEnabled(t *testing.T) {
	e := newEnv(t)
	e.wantErr(t, adminKey, "GetRepositoryPolicy", map[string]any{"repositoryName": "team/app"}, "InvalidParameterException")
	e.wantErr(t, adminKey, "GetRegistryPolicy", map[string]any{}, "ValidationException")
}

// TestCreationTemplatePolicy: a creation template's repository policy is
// validated as SetRepositoryPolicy validates it, and stored as checked
// (so a push that creates a repository from it applies it).
func TestCreationTemplatePolicy(t *testing.T) {
	e, _ := newPolicyEnv(t)
	e.api.o.RepoConfig = e.store
	code, typ, out := e.do(t, adminKey, "CreateRepositoryCreationTemplate", map[string]any{
		"prefix": "team", "appliedFor": []string{"CREATE_ON_PUSH"}, "repositoryPolicy": `{"Statement":[]}`})
	msg, _ := out["message"].(string)
	if code != 400 || typ != "InvalidParameterException" ||
		msg != "Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'Invalid repository policy provided': Statement must hold at least one statement" {
		t.Errorf("HTTP %d %s %q", code, typ, msg)
	}
	e.must(t, "CreateRepositoryCreationTemplate", map[string]any{"prefix": "team", "appliedFor": []string{"CREATE_ON_PUSH"}, "repositoryPolicy": sdkRepoPolicy})
	tmpl, err := e.store.GetCreationTemplate(context.Background(), "team")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.RepositoryPolicy != sdkRepoPolicy || !tmpl.RepositoryPolicyChecked {
		t.Errorf("stored template policy %q checked %v", tmpl.RepositoryPolicy, tmpl.RepositoryPolicyChecked)
	}
	if _, err := e.store.EnsureRepositoryFromTemplate(context.Background(), store.Repository{Name: "team/new", CreatedAt: t0}, store.AppliedForCreateOnPush); err != nil {
		t.Fatal(err)
	}
	if out := e.must(t, "GetRepositoryPolicy", map[string]any{"repositoryName": "team/new"}); out["policyText"] != sdkRepoPolicy {
		t.Errorf("repository created from the template has policy %v", out["policyText"])
	}
}
