package ecrapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// FuzzRepoConfigRequests sends arbitrary bodies to the settings operations
// (resource ARNs, tags, mutability filters, template members): every
// answer is a 200 or a 400 with an ECR error, never a 500 or a panic.
func FuzzRepoConfigRequests(f *testing.F) {
	ops := []string{"TagResource", "UntagResource", "ListTagsForResource", "PutImageTagMutability", "GetAccountSetting",
		"PutAccountSetting", "CreateRepositoryCreationTemplate", "UpdateRepositoryCreationTemplate",
		"DescribeRepositoryCreationTemplates", "DeleteRepositoryCreationTemplate", "CreateRepository"}
	f.Add(uint8(0), `{"resourceArn":"arn:aws:ecr:us-east-1:123456789012:repository/app","tags":[{"Key":"k","Value":"v"}]}`)
	f.Add(uint8(1), `{"resourceArn":"arn:aws:ecr:us-east-1:123456789012:repository/","tagKeys":[""]}`)
	f.Add(uint8(2), `{"resourceArn":"arn::::::"}`)
	f.Add(uint8(3), `{"repositoryName":"app","imageTagMutability":"IMMUTABLE_WITH_EXCLUSION","imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"*"}]}`)
	f.Add(uint8(5), `{"name":"BASIC_SCAN_TYPE_VERSION","value":"CLAIR"}`)
	f.Add(uint8(6), `{"prefix":"ROOT","appliedFor":["CREATE_ON_PUSH"],"lifecyclePolicy":"{}","resourceTags":[{"Key":"a"}],"encryptionConfiguration":{"encryptionType":"KMS","kmsKey":"x"}}`)
	f.Add(uint8(7), `{"prefix":"app/","imageTagMutabilityExclusionFilters":[]}`)
	f.Add(uint8(8), `{"prefixes":["ROOT"],"maxResults":1,"nextToken":"x"}`)
	f.Add(uint8(10), `{"repositoryName":"app2","tags":[{"Key":"k","Value":null}],"encryptionConfiguration":{"encryptionType":"KMS_DSSE"}}`)
	st, err := store.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := st.CreateRepository(context.Background(), store.Repository{Name: "app", CreatedAt: t0}); err != nil {
		f.Fatal(err)
	}
	a, err := auth.New(nil, nil, []byte("k"), nil)
	if err != nil {
		f.Fatal(err)
	}
	api := New(Options{Store: st, Registry: &fakeRegistry{}, Auth: a, RegistryID: "123456789012", Region: "us-east-1", RepoConfig: st})
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		r := httptest.NewRequest(http.MethodPost, "http://registry.test/", bytes.NewReader([]byte(body)))
		r.Header.Set("X-Amz-Target", TargetPrefix+ops[int(op)%len(ops)])
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("%s %q: status %d %s", ops[int(op)%len(ops)], body, w.Code, w.Body.String())
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("response %q is not JSON", w.Body.String())
		}
		if w.Code == 400 && out["__type"] == "" {
			t.Fatalf("400 without an error type: %s", w.Body.String())
		}
	})
}
