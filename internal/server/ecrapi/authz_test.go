package ecrapi

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
	"github.com/stowaway-scanner/stowaway/internal/server/lifecycle"
)

// denyAll denies every request and records the actions asked about.
type denyAll struct {
	mu   sync.Mutex
	seen map[string]iampolicy.Request
}

func (d *denyAll) Evaluate(_ context.Context, req iampolicy.Request) (iampolicy.Effect, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen[req.Action] = req
	return iampolicy.Deny, nil
}

type noPreviews struct{}

func (noPreviews) StartPreview(context.Context, string, string) (string, string, error) {
	return "", "", errors.New("no previews")
}

func (noPreviews) GetPreview(context.Context, string) (lifecycle.Preview, error) {
	return lifecycle.Preview{}, errors.New("no previews")
}

// genericInput is a request body every operation accepts far enough to
// reach its authorization.
var genericInput = map[string]any{
	"repositoryName":             "team/app",
	"repositoryNames":            []string{"team/app"},
	"imageIds":                   []any{map[string]any{"imageTag": "1"}},
	"imageId":                    map[string]any{"imageTag": "1"},
	"imageManifest":              "{}",
	"imageTag":                   "1",
	"layerDigests":               []string{"sha256:" + strings.Repeat("a", 64)},
	"layerDigest":                "sha256:" + strings.Repeat("a", 64),
	"uploadId":                   "u",
	"partFirstByte":              0,
	"partLastByte":               0,
	"layerPartBlob":              "YQ==",
	"subjectId":                  map[string]any{"imageDigest": "sha256:" + strings.Repeat("a", 64)},
	"lifecyclePolicyText":        `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
	"resourceArn":                "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
	"tags":                       []any{map[string]any{"Key": "k", "Value": "v"}},
	"tagKeys":                    []string{"k"},
	"imageScanningConfiguration": map[string]any{"scanOnPush": true},
	"imageTagMutability":         "MUTABLE",
	"scanType":                   "BASIC",
	"rules":                      []any{},
	"name":                       "BASIC_SCAN_TYPE_VERSION",
	"value":                      "AWS_NATIVE",
	"prefix":                     "team",
	"appliedFor":                 []string{"CREATE_ON_PUSH"},
	"ecrRepositoryPrefix":        "hub",
	"upstreamRegistryUrl":        "quay.io",
	"customRoleArn":              "arn:aws:iam::123456789012:role/x",
}

// TestEveryOperationAuthorizesItsAction: each implemented operation Foo
// asks the authorizer about ecr:Foo (an explicit Deny refuses even an
// admin), and docs/auth.md lists it with its grant level.
func TestEveryOperationAuthorizesItsAction(t *testing.T) {
	e := newImageEnv(t)
	e.api.o.LifecycleStore, e.api.o.Lifecycle, e.api.o.RepoConfig, e.api.o.Policies = e.store, noPreviews{}, e.store, e.store
	e.api.o.PullThrough = e.store
	pol := &denyAll{seen: map[string]iampolicy.Request{}}
	e.api.o.Authz = auth.NewAuthorizer("123456789012", pol)
	doc, err := os.ReadFile("../../../docs/auth.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `ecr:(\\w+)` \\| (pull|push|admin) \\|").FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = m[2]
	}
	for _, op := range e.api.Operations() {
		code, typ, out := e.do(t, adminKey, op, genericInput)
		if _, asked := pol.seen["ecr:"+op]; !asked || code != 400 || typ != "AccessDeniedException" {
			t.Errorf("%s as admin under a Deny-all policy: %d %s (%v); asked the policy: %v", op, code, typ, out["message"], asked)
		}
		if got, want := rows[op], auth.Level("ecr:"+op).String(); got != want {
			t.Errorf("docs/auth.md lists ecr:%s as %q, want %q", op, got, want)
		}
	}
}
