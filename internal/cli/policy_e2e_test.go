package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Repository policies as ECR users write them: one denies alice, an admin,
// deleting images of secret/app; one lets bob, who may only pull team/*,
// push to team/app.
const (
	denyAliceDelete = `{"Version":"2012-10-17","Statement":[{"Sid":"NoDeletes","Effect":"Deny",
  "Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"ecr:BatchDeleteImage"}]}`
	allowBobPush = `{"Version":"2012-10-17","Statement":[{"Sid":"BobPushes","Effect":"Allow",
  "Principal":{"AWS":["arn:aws:iam::123456789012:user/bob"]},
  "Action":["ecr:PutImage","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:BatchCheckLayerAvailability"]}]}`
)

// TestServeRepositoryPoliciesEndToEnd: policies set with `aws ecr
// set-repository-policy` (the Go SDK when the CLI is absent) change what a
// real `serve --auth-config` allows: an explicit Deny overrides alice's
// admin grant on one repository only, an Allow lets bob push to team/app
// only. Then the audit trail holds every change and refusal of the test,
// in order, the refusals marked deny.
func TestServeRepositoryPoliciesEndToEnd(t *testing.T) {
	s := startAuthzServe(t)
	ctx := context.Background()
	alice := authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "alice-pw"})
	bob := authn.FromConfig(authn.AuthConfig{Username: "bob", Password: "bob-pw"})
	img, _ := random.Image(256, 1)
	digest, _ := img.Digest()
	for _, repo := range []string{"team/app", "team/other", "secret/app", "secret/spare"} {
		if err := remote.Write(s.ref(t, repo+":1"), img, remote.WithAuth(alice)); err != nil {
			t.Fatalf("alice pushes %s: %v", repo, err)
		}
	}
	setPolicy(t, s, "secret/app", denyAliceDelete)
	setPolicy(t, s, "team/app", allowBobPush)

	ea := s.ecr("AKIDALICE", "alice-secret")
	// The Deny wins over alice's admin grant, on the registry API and the
	// ECR API alike, on secret/app only.
	err := remote.Delete(s.ref(t, "secret/app@"+digest.String()), remote.WithAuth(alice))
	if err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("alice deletes from secret/app through the registry: %v, want DENIED", err)
	}
	_, err = ea.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("secret/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("1")}}})
	if got := apiCode(err); got != "AccessDeniedException" {
		t.Errorf("alice BatchDeleteImage on secret/app: %s, want AccessDeniedException", got)
	}
	if _, err := ea.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("secret/spare"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("1")}}}); err != nil {
		t.Errorf("alice BatchDeleteImage on secret/spare (no policy): %v", err)
	}
	// She still pulls secret/app: the Deny names one action.
	if _, err := remote.Image(s.ref(t, "secret/app:1"), remote.WithAuth(alice)); err != nil {
		t.Errorf("alice pulls secret/app: %v", err)
	}

	// The Allow lets bob push to team/app, and nowhere else.
	img2, _ := random.Image(300, 1)
	if err := remote.Write(s.ref(t, "team/app:2"), img2, remote.WithAuth(bob)); err != nil {
		t.Errorf("bob pushes team/app under the policy: %v", err)
	}
	err = remote.Write(s.ref(t, "team/other:2"), img2, remote.WithAuth(bob))
	if err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("bob pushes team/other: %v, want DENIED", err)
	}
	// Deleting the policy takes the permission away again (at once on the
	// replica that served the change).
	if _, err := ea.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatalf("DeleteRepositoryPolicy team/app: %v", err)
	}
	err = remote.Write(s.ref(t, "team/app:3"), img2, remote.WithAuth(bob))
	if err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("bob pushes team/app after the policy went: %v, want DENIED", err)
	}

	// The audit trail, read from serve's store, in order: every write and
	// every refusal of this test (pulls are not audited).
	st, err := store.Open(ctx, s.data, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(recs) // ListAudit is newest first
	type entry struct{ Principal, Action, Repository, Decision string }
	var got []entry
	for _, r := range recs {
		e := entry{r.Principal, r.Action, r.Repository, r.Decision}
		// Consecutive identical refusals are one step: a client retries
		// or asks for several blobs of one push.
		if len(got) > 0 && got[len(got)-1] == e {
			continue
		}
		got = append(got, e)
	}
	want := []entry{
		{"alice", "ecr:PutImage", "team/app", "allow"},
		{"alice", "ecr:PutImage", "team/other", "allow"},
		{"alice", "ecr:PutImage", "secret/app", "allow"},
		{"alice", "ecr:PutImage", "secret/spare", "allow"},
		{"alice", "ecr:SetRepositoryPolicy", "secret/app", "allow"},
		{"alice", "ecr:SetRepositoryPolicy", "team/app", "allow"},
		{"alice", "ecr:BatchDeleteImage", "secret/app", "deny"},
		{"alice", "ecr:BatchDeleteImage", "secret/spare", "allow"},
		{"bob", "ecr:PutImage", "team/app", "allow"},
		{"bob", "ecr:InitiateLayerUpload", "team/other", "deny"},
		{"alice", "ecr:DeleteRepositoryPolicy", "team/app", "allow"},
		// The layers are in team/app already: only the manifest is refused.
		{"bob", "ecr:PutImage", "team/app", "deny"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit trail (-want +got):\n%s", diff)
		for _, r := range recs {
			t.Logf("%d %s %s %s %s %s %s", r.ID, r.Principal, r.Action, r.Repository, r.Decision, r.Tag, r.Reason)
		}
	}
	for _, r := range recs {
		if r.Decision == "deny" && r.Reason == "" {
			t.Errorf("refusal without a reason: %+v", r)
		}
		if r.Source != "127.0.0.1" {
			t.Errorf("record without the caller's address: %+v", r)
		}
	}
}

// setPolicy sets a repository policy as alice with `aws ecr
// set-repository-policy --policy-text file://…`, or with the Go SDK when
// the AWS CLI is not installed.
func setPolicy(t *testing.T, s *authzServe, repo, policy string) {
	t.Helper()
	bin := "/usr/bin/aws"
	if _, err := os.Stat(bin); err != nil {
		bin, _ = exec.LookPath("aws")
	}
	if bin == "" {
		t.Logf("AWS CLI not installed: setting the policy of %s with the Go SDK", repo)
		if _, err := s.ecr("AKIDALICE", "alice-secret").SetRepositoryPolicy(context.Background(), &ecr.SetRepositoryPolicyInput{
			RepositoryName: aws.String(repo), PolicyText: aws.String(policy)}); err != nil {
			t.Fatalf("SetRepositoryPolicy %s: %v", repo, err)
		}
		return
	}
	dir := t.TempDir()
	empty, file := filepath.Join(dir, "empty"), filepath.Join(dir, "policy.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--endpoint-url", "http://"+s.host, "--output", "json", "ecr", "set-repository-policy",
		"--repository-name", repo, "--policy-text", "file://"+file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_ACCESS_KEY_ID=AKIDALICE", "AWS_SECRET_ACCESS_KEY=alice-secret",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty, "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws ecr set-repository-policy %s: %v\n%s", repo, err, out)
	}
}
