package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	bobKeyID  = "AKIDSTOWAWAYBOB00001"
	bobSecret = "bob/secret+key"
)

// teamServer has alice (admin on *, the "ci" user's key) and bob (pull on
// team/*), with keys for both.
func teamServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *Config) {
		c.Users = []User{
			{Name: "alice", Password: "alice-pw", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}},
			{Name: "bob", Password: "bob-pw", Grants: []Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
		}
		c.AccessKeys = append(c.AccessKeys, AccessKey{ID: bobKeyID, Secret: bobSecret, Grants: []Grant{{Repository: "team/*", Actions: []string{"pull"}}}})
		if mutate != nil {
			mutate(c)
		}
	})
}

// callAs makes an ECR API call signed with the key at time now.
func (ts *testServer) callAs(t *testing.T, keyID, secret, action string, in any, now time.Time) (int, string) {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+action)
	ecrapi.SignRequest(req, body, keyID, secret, "us-east-1", now)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func (ts *testServer) registryReq(t *testing.T, method, path, user, pass string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.url+path, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(raw)
}

// TestAuditTrail: pushes, a tag move, denied pushes, deletes and
// configuration changes through the registry and the ECR API are each one
// record, in order, with who, where from, the IAM action, the decision and
// the request id; the denied ones are marked deny.
func TestAuditTrail(t *testing.T) {
	logs := &syncBuffer{}
	ts := teamServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	alice := authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "alice-pw"})
	bob := authn.FromConfig(authn.AuthConfig{Username: "bob", Password: "bob-pw"})
	img1 := ts.push(t, "team/app:1", 1, alice)
	d1, _ := img1.Digest()
	img2 := ts.push(t, "team/app:1", 1, alice) // moves tag 1
	d2, _ := img2.Digest()

	// bob may pull, not push.
	if _, err := remote.Image(mustRef(t, ts.host+"/team/app:1"), remote.WithAuth(bob)); err != nil {
		t.Fatalf("bob's pull: %v", err)
	}
	if resp, _ := ts.registryReq(t, "POST", "/v2/team/app/blobs/uploads/", "bob", "bob-pw"); resp.StatusCode != 403 {
		t.Errorf("bob's upload: %s", resp.Status)
	}
	if resp, _ := ts.registryReq(t, "DELETE", "/v2/team/app/manifests/"+d1.String(), "bob", "bob-pw"); resp.StatusCode != 403 {
		t.Errorf("bob's delete: %s", resp.Status)
	}
	if resp, _ := ts.registryReq(t, "GET", "/v2/team/app/tags/list", "bob", "wrong"); resp.StatusCode != 401 {
		t.Errorf("wrong password: %s", resp.Status)
	}
	now := time.Now()
	if code, body := ts.callAs(t, bobKeyID, bobSecret, "PutLifecyclePolicy", map[string]any{"repositoryName": "team/app", "lifecyclePolicyText": `{"rules":[]}`}, now); code != 400 || !strings.Contains(body, "AccessDeniedException") {
		t.Errorf("bob's PutLifecyclePolicy: %d %s", code, body)
	}
	if code, body := ts.call(t, "PutImageScanningConfiguration", map[string]any{"repositoryName": "team/app", "imageScanningConfiguration": map[string]bool{"scanOnPush": true}}, nil); code != 200 {
		t.Fatalf("PutImageScanningConfiguration: %d %s", code, body)
	}
	if resp, _ := ts.registryReq(t, "DELETE", "/v2/team/app/manifests/"+d1.String(), "alice", "alice-pw"); resp.StatusCode != 202 {
		t.Errorf("alice's delete: %s", resp.Status)
	}
	if code, body := ts.call(t, "BatchDeleteImage", map[string]any{"repositoryName": "team/app", "imageIds": []any{map[string]string{"imageTag": "1"}}}, nil); code != 200 {
		t.Fatalf("BatchDeleteImage: %d %s", code, body)
	}
	if code, body := ts.call(t, "DeleteRepository", map[string]any{"repositoryName": "team/app", "force": true}, nil); code != 200 {
		t.Fatalf("DeleteRepository: %d %s", code, body)
	}

	recs, err := ts.store.ListAudit(t.Context(), store.AuditFilter{Repository: "team/app"})
	if err != nil {
		t.Fatal(err)
	}
	var got []store.AuditRecord
	for i := len(recs) - 1; i >= 0; i-- { // oldest first
		r := recs[i]
		if r.Source != "127.0.0.1" || len(r.RequestID) != 36 || r.Time.IsZero() {
			t.Errorf("record %+v: want source 127.0.0.1, a request id and a time", r)
		}
		got = append(got, r)
	}
	key := "key:" + testKeyID
	want := []store.AuditRecord{
		{Principal: "alice", Action: "ecr:PutImage", Repository: "team/app", Digest: d1.String(), Tag: "1", Decision: "allow", Reason: "pushed"},
		{Principal: "alice", Action: "ecr:PutImage", Repository: "team/app", Digest: d2.String(), Tag: "1", Decision: "allow", Reason: "tag moved from " + d1.String()},
		{Principal: "bob", Action: "ecr:InitiateLayerUpload", Repository: "team/app", Decision: "deny", Reason: "no grant (ecr:InitiateLayerUpload needs push) and no policy allows it on repository team/app"},
		{Principal: "bob", Action: "ecr:BatchDeleteImage", Repository: "team/app", Decision: "deny", Reason: "no grant (ecr:BatchDeleteImage needs admin) and no policy allows it on repository team/app"},
		{Principal: "bob", Action: "ecr:ListImages", Repository: "team/app", Decision: "deny", Reason: "authentication failed: bad user name or password: authentication required"},
		{Principal: "key:" + bobKeyID, Action: "ecr:PutLifecyclePolicy", Repository: "team/app", Decision: "deny", Reason: "no grant (ecr:PutLifecyclePolicy needs admin) and no policy allows it on repository team/app"},
		{Principal: key, Action: "ecr:PutImageScanningConfiguration", Repository: "team/app", Decision: "allow"},
		{Principal: "alice", Action: "ecr:BatchDeleteImage", Repository: "team/app", Digest: d1.String(), Decision: "allow", Reason: "manifest deleted"},
		{Principal: key, Action: "ecr:BatchDeleteImage", Repository: "team/app", Digest: d2.String(), Tag: "1", Decision: "allow", Reason: "tag deleted"},
		{Principal: key, Action: "ecr:DeleteRepository", Repository: "team/app", Decision: "allow"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.AuditRecord{}, "ID", "Time", "Source", "RequestID")); diff != "" {
		t.Errorf("audit trail of team/app (-want +got):\n%s", diff)
	}
	// Every record went to the log too, and no password did.
	if n := strings.Count(logs.String(), "msg=audit "); n < len(want) {
		t.Errorf("%d audit log lines, want at least %d", n, len(want))
	}
	for _, secret := range []string{"alice-pw", "bob-pw", "wrong", testSecret, bobSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log carries the secret %q", secret)
		}
	}
	// Filters: by principal and time range, and paging.
	bobs, err := ts.store.ListAudit(t.Context(), store.AuditFilter{Principal: "bob"})
	if err != nil || len(bobs) != 3 {
		t.Errorf("bob's records: %d, %v; want 3", len(bobs), err)
	}
	if none, _ := ts.store.ListAudit(t.Context(), store.AuditFilter{Until: got[0].Time.Add(-time.Hour)}); len(none) != 0 {
		t.Errorf("records before the test: %d", len(none))
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestThrottleEndToEnd: 300 wrong passwords on /v2 and 300 bad signatures
// on the ECR API are throttled (429 TOOMANYREQUESTS with Retry-After;
// ThrottlingException) and logged, without the secrets; the right
// credentials are refused while blocked and work once the backoff passes.
func TestThrottleEndToEnd(t *testing.T) {
	clock := &testClock{t: time.Now()}
	logs := &syncBuffer{}
	ts := teamServer(t, func(c *Config) {
		c.Now = clock.Now
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	codes := map[int]int{}
	for range 300 {
		resp, body := ts.registryReq(t, "GET", "/v2/", "alice", "guess")
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, `"code":"TOOMANYREQUESTS"`) {
				t.Fatalf("429 with Retry-After %q, body %s", resp.Header.Get("Retry-After"), body)
			}
		}
	}
	if diff := cmp.Diff(map[int]int{401: 5, 429: 295}, codes); diff != "" {
		t.Errorf("answers to 300 wrong passwords (-want +got):\n%s", diff)
	}
	log := logs.String()
	if n := strings.Count(log, `msg="registry: authentication failed" user=alice source=127.0.0.1`); n != 5+9 {
		t.Errorf("%d failure log lines, want 14 (5 checked, then refusals 1, 2, 4 ... 256)\n%s", n, log)
	}
	if strings.Contains(log, "guess") || strings.Contains(log, "alice-pw") {
		t.Error("a password reached the log")
	}
	if resp, _ := ts.registryReq(t, "GET", "/v2/", "alice", "alice-pw"); resp.StatusCode != 429 {
		t.Errorf("right password while blocked: %s, want 429", resp.Status)
	}
	if resp, _ := ts.registryReq(t, "GET", "/v2/", "bob", "bob-pw"); resp.StatusCode != 200 {
		t.Errorf("bob from the same address: %s", resp.Status)
	}
	clock.Add(time.Second)
	if resp, _ := ts.registryReq(t, "GET", "/v2/", "alice", "alice-pw"); resp.StatusCode != 200 {
		t.Errorf("right password after the backoff: %s, want 200", resp.Status)
	}

	// The ECR API: bob's key with a wrong secret.
	ecr := map[string]int{}
	for range 300 {
		code, body := ts.callAs(t, bobKeyID, "wrong-secret", "DescribeRepositories", map[string]any{}, clock.Now())
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		ecr[fmt.Sprint(code, " ", e.Type)]++
	}
	if diff := cmp.Diff(map[string]int{"400 InvalidSignatureException": 5, "400 ThrottlingException": 295}, ecr); diff != "" {
		t.Errorf("answers to 300 bad signatures (-want +got):\n%s", diff)
	}
	if code, body := ts.callAs(t, bobKeyID, bobSecret, "DescribeRepositories", map[string]any{}, clock.Now()); code != 400 || !strings.Contains(body, "ThrottlingException") {
		t.Errorf("right key while blocked: %d %s", code, body)
	}
	clock.Add(time.Second)
	if code, body := ts.callAs(t, bobKeyID, bobSecret, "DescribeRepositories", map[string]any{}, clock.Now()); code != 200 {
		t.Errorf("right key after the backoff: %d %s", code, body)
	}
	if strings.Contains(logs.String(), "wrong-secret") || strings.Contains(logs.String(), bobSecret) {
		t.Error("a secret reached the log")
	}
	// The failures are in the audit trail, bounded as the log lines are:
	// 14 per flood of 300.
	denied, err := ts.store.ListAudit(t.Context(), store.AuditFilter{Decision: audit.Deny})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, r := range denied {
		per[r.Principal]++
	}
	if diff := cmp.Diff(map[string]int{"alice": 14, bobKeyID: 14}, per); diff != "" {
		t.Errorf("denied records per principal (-want +got):\n%s", diff)
	}
}

// TestMetricsAuth: with MetricsAuth, /metrics needs admin on "*".
func TestMetricsAuth(t *testing.T) {
	open := teamServer(t, nil)
	if resp, _ := open.registryReq(t, "GET", "/metrics", "", ""); resp.StatusCode != 200 {
		t.Errorf("open /metrics: %s", resp.Status)
	}
	ts := teamServer(t, func(c *Config) { c.MetricsAuth = true })
	for _, tc := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"bob", "bob-pw", 403}, {"alice", "wrong", 401}, {"alice", "alice-pw", 200}} {
		resp, body := ts.registryReq(t, "GET", "/metrics", tc.user, tc.pass)
		if resp.StatusCode != tc.want {
			t.Errorf("/metrics as %q: %s, want %d", tc.user, resp.Status, tc.want)
		}
		if tc.want == 200 && !strings.Contains(body, "stowaway_scan_queue_depth") {
			t.Errorf("/metrics body: %.200s", body)
		}
	}
}

// TestConsoleAuditPage: a repository's audit page is for its admins.
func TestConsoleAuditPage(t *testing.T) {
	ts := teamServer(t, nil)
	alice := authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "alice-pw"})
	img := ts.push(t, "team/app:1", 1, alice)
	d, _ := img.Digest()
	resp, body := ts.registryReq(t, "GET", "/console/repos/team/app/audit", "alice", "alice-pw")
	if resp.StatusCode != 200 || !strings.Contains(body, "ecr:PutImage") || !strings.Contains(body, d.String()) {
		t.Errorf("alice's audit page: %s\n%.500s", resp.Status, body)
	}
	resp, body = ts.registryReq(t, "GET", "/console/repos/team/app/images", "alice", "alice-pw")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/console/repos/team/app/audit"`) {
		t.Errorf("alice's images page lacks the audit link: %s", resp.Status)
	}
	if resp, _ := ts.registryReq(t, "GET", "/console/repos/team/app/audit", "bob", "bob-pw"); resp.StatusCode != 403 {
		t.Errorf("bob's audit page: %s, want 403", resp.Status)
	}
	if _, body := ts.registryReq(t, "GET", "/console/repos/team/app/images", "bob", "bob-pw"); strings.Contains(body, "/audit") {
		t.Error("bob's images page links the audit page")
	}
	if resp, _ := ts.registryReq(t, "GET", "/console/repos/other/images", "bob", "bob-pw"); resp.StatusCode != 403 {
		t.Errorf("bob's page of a repository he may not pull: %s", resp.Status)
	}
	if resp, _ := ts.registryReq(t, "GET", "/console/", "bob", "nope"); resp.StatusCode != 401 {
		t.Errorf("console with a wrong password: %s", resp.Status)
	}
	// The console's denials are audited too.
	recs, err := ts.store.ListAudit(t.Context(), store.AuditFilter{Principal: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(recs) - 1; i >= 0; i-- {
		got = append(got, recs[i].Action+" "+recs[i].Repository+" "+recs[i].Decision+": "+recs[i].Reason)
	}
	want := []string{
		"stowaway:ListAuditRecords team/app deny: no grant (stowaway:ListAuditRecords needs admin) and no policy allows it on repository team/app",
		"ecr:DescribeImages other deny: no grant (ecr:DescribeImages needs pull) and no policy allows it on repository other",
		"ecr:GetAuthorizationToken  deny: authentication failed: bad user name or password: authentication required",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bob's console records (-want +got):\n%s", diff)
	}
}

// TestBlobDeleteAudited: an admin's blob DELETE is a delete record.
func TestBlobDeleteAudited(t *testing.T) {
	ts := teamServer(t, nil)
	alice := authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "alice-pw"})
	img := ts.push(t, "team/app:1", 1, alice)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	resp, body := ts.registryReq(t, "DELETE", "/v2/team/app/blobs/"+ld.String(), "alice", "alice-pw")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("blob DELETE: %s %s", resp.Status, body)
	}
	recs, err := ts.store.ListAudit(t.Context(), store.AuditFilter{Repository: "team/app", Limit: 1})
	if err != nil || len(recs) != 1 || recs[0].Action != "ecr:BatchDeleteImage" || recs[0].Digest != ld.String() || recs[0].Reason != "blob deleted" || recs[0].Principal != "alice" {
		t.Errorf("newest record %+v, %v; want alice's blob delete", recs, err)
	}
}
