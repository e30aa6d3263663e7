package ecrapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

type fakeRegistry struct {
	mu  sync.Mutex
	ops []string
}

func (f *fakeRegistry) log(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, s)
	return nil
}
func (f *fakeRegistry) DeleteManifest(_ context.Context, repo, d string) error {
	return f.log("delete " + repo + "@" + d)
}
func (f *fakeRegistry) DeleteReferrers(_ context.Context, repo, d string) (int, error) {
	return 0, f.log("referrers " + repo + "@" + d)
}
func (f *fakeRegistry) Untag(_ context.Context, repo, tag string) error {
	return f.log("untag " + repo + ":" + tag)
}
func (f *fakeRegistry) DeleteRepository(_ context.Context, repo string) error {
	return f.log("rmrepo " + repo)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type env struct {
	api   *API
	store *store.SQL
	reg   *fakeRegistry
	clock *clock
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const (
	adminKey  = "AKIDADMIN"
	readerKey = "AKIDREADER"
	secret    = "secret"
)

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: t0}
	a, err := auth.New(nil, []auth.AccessKey{
		{ID: adminKey, Secret: secret, Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{ID: readerKey, Secret: secret, Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
	}, []byte("k"), c.now)
	if err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{}
	return &env{
		api:   New(Options{Store: st, Registry: reg, Auth: a, RegistryID: "123456789012", Region: "us-east-1", Now: c.now}),
		store: st, reg: reg, clock: c,
	}
}

// do calls action as key and returns the status, error type and decoded body.
func (e *env) do(t *testing.T, key, action string, in any) (int, string, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(in)
	r := httptest.NewRequest(http.MethodPost, "http://registry.test/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", TargetPrefix+action)
	SignRequest(r, body, key, secret, "us-east-1", e.clock.t)
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: response %q is not JSON: %v", action, w.Body.String(), err)
	}
	typ, _ := out["__type"].(string)
	if w.Code == 200 && w.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("%s: Content-Type %q", action, w.Header().Get("Content-Type"))
	}
	return w.Code, typ, out
}

func (e *env) must(t *testing.T, action string, in any) map[string]any {
	t.Helper()
	code, typ, out := e.do(t, adminKey, action, in)
	if code != 200 {
		t.Fatalf("%s: %d %s %v", action, code, typ, out["message"])
	}
	return out
}

func (e *env) wantErr(t *testing.T, key, action string, in any, want string) {
	t.Helper()
	code, typ, out := e.do(t, key, action, in)
	if code != 400 || typ != want {
		t.Errorf("%s: got %d %q (%v), want 400 %s", action, code, typ, out["message"], want)
	}
}

func (e *env) image(t *testing.T, repo, digest, configType string, tags ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.store.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	img := store.Image{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactMediaType: configType, Size: 10, PushedAt: e.clock.t}
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, tag := range tags {
		if _, err := e.store.PutImage(ctx, img, tag); err != nil {
			t.Fatal(err)
		}
	}
}

const ociConfig = "application/vnd.oci.image.config.v1+json"

func digest(c byte) string { return "sha256:" + string(bytes.Repeat([]byte{c}, 64)) }

func TestStartImageScanOncePerDay(t *testing.T) {
	e := newEnv(t)
	e.image(t, "team/app", digest('a'), ociConfig, "v1")
	e.image(t, "team/app", digest('b'), "application/spdx+json", "sbom")
	id := map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageTag": "v1"}}
	out := e.must(t, "StartImageScan", id)
	if diff := cmp.Diff(map[string]any{"status": "IN_PROGRESS"}, out["imageScanStatus"]); diff != "" {
		t.Errorf("imageScanStatus (-want +got):\n%s", diff)
	}
	e.clock.t = t0.Add(23*time.Hour + 59*time.Minute)
	e.wantErr(t, adminKey, "StartImageScan", id, "LimitExceededException")
	e.clock.t = t0.Add(24 * time.Hour)
	e.must(t, "StartImageScan", id)

	e.wantErr(t, adminKey, "StartImageScan", map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageTag": "sbom"}}, "UnsupportedImageTypeException")
	e.wantErr(t, adminKey, "StartImageScan", map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageTag": "nope"}}, "ImageNotFoundException")
	e.wantErr(t, adminKey, "StartImageScan", map[string]any{"repositoryName": "nope/app", "imageId": map[string]string{"imageTag": "v1"}}, "RepositoryNotFoundException")
	e.wantErr(t, readerKey, "StartImageScan", id, "AccessDeniedException")

	// ENHANCED: only repositories a rule covers may be scanned.
	e.must(t, "PutRegistryScanningConfiguration", map[string]any{"scanType": "ENHANCED", "rules": []any{
		map[string]any{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": []any{map[string]any{"filter": "prod", "filterType": "WILDCARD"}}},
	}})
	e.clock.t = t0.Add(72 * time.Hour)
	e.wantErr(t, adminKey, "StartImageScan", id, "ValidationException")
}

func completeScan(t *testing.T, st *store.SQL, repo, d string, res scanning.Result) {
	t.Helper()
	ctx := context.Background()
	if err := st.StartScan(ctx, repo, d, false, t0, 0); err != nil {
		t.Fatal(err)
	}
	j, err := st.ClaimJob(ctx, "w", t0, time.Minute, 3)
	if err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	b, _ := json.Marshal(res)
	if err := st.CompleteJob(ctx, j, store.JobOutcome{Status: string(res.Status), Description: res.Description, Result: b}, t0); err != nil {
		t.Fatal(err)
	}
}

func TestDescribeImageScanFindingsPaging(t *testing.T) {
	e := newEnv(t)
	e.image(t, "team/app", digest('a'), ociConfig, "v1")
	id := map[string]string{"imageDigest": digest('a')}
	e.wantErr(t, adminKey, "DescribeImageScanFindings", map[string]any{"repositoryName": "team/app", "imageId": id}, "ScanNotFoundException")
	res := scanning.Result{Status: scanning.StatusComplete, SeverityCounts: map[severity.Severity]int{"HIGH": 5}, CompletedAt: t0, VulnerabilitySourceUpdatedAt: t0.Add(-time.Hour)}
	for _, n := range []string{"CVE-1", "CVE-2", "CVE-3", "CVE-4", "CVE-5"} {
		res.Findings = append(res.Findings, scanning.Finding{Name: n, Severity: "HIGH", Attributes: []scanning.Attribute{{Key: "package_name", Value: "p"}}})
	}
	res.EnhancedFindings = []json.RawMessage{json.RawMessage(`{"title":"E-1"}`), json.RawMessage(`{"title":"E-2"}`)}
	completeScan(t, e.store, "team/app", digest('a'), res)

	var names []string
	token := ""
	pages := 0
	for {
		in := map[string]any{"repositoryName": "team/app", "imageId": id, "maxResults": 3}
		if token != "" {
			in["nextToken"] = token
		}
		_, _, out := e.do(t, readerKey, "DescribeImageScanFindings", in)
		pages++
		f := out["imageScanFindings"].(map[string]any)
		for _, x := range f["findings"].([]any) {
			names = append(names, x.(map[string]any)["name"].(string))
		}
		if enh, ok := f["enhancedFindings"].([]any); ok {
			for _, x := range enh {
				names = append(names, x.(map[string]any)["title"].(string))
			}
		}
		if pages == 1 {
			if f["imageScanCompletedAt"] != float64(t0.Unix()) || f["vulnerabilitySourceUpdatedAt"] != float64(t0.Add(-time.Hour).Unix()) {
				t.Errorf("timestamps are not epoch seconds: %v %v", f["imageScanCompletedAt"], f["vulnerabilitySourceUpdatedAt"])
			}
			if diff := cmp.Diff(map[string]any{"status": "COMPLETE", "description": "The scan was completed successfully."}, out["imageScanStatus"]); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		}
		token, _ = out["nextToken"].(string)
		if token == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"CVE-1", "CVE-2", "CVE-3", "CVE-4", "CVE-5", "E-1", "E-2"}, names); diff != "" || pages != 3 {
		t.Errorf("paged findings over %d pages (-want +got):\n%s", pages, diff)
	}
	for _, tt := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"repositoryName": "team/app", "imageId": id, "maxResults": 0}, "InvalidParameterException"},
		{map[string]any{"repositoryName": "team/app", "imageId": id, "maxResults": 1001}, "InvalidParameterException"},
		{map[string]any{"repositoryName": "team/app", "imageId": id, "nextToken": "garbage"}, "InvalidParameterException"},
		{map[string]any{"repositoryName": "x", "imageId": id}, "InvalidParameterException"},
		{map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageTag": "v2"}}, "ImageNotFoundException"},
	} {
		e.wantErr(t, adminKey, "DescribeImageScanFindings", tt.in, tt.want)
	}
	// Default page size is 100: everything in one page.
	_, _, out := e.do(t, adminKey, "DescribeImageScanFindings", map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageTag": "v1"}})
	if _, ok := out["nextToken"]; ok {
		t.Error("nextToken with the default page size")
	}
}

func TestDescribeImagesAndSummary(t *testing.T) {
	e := newEnv(t)
	e.image(t, "team/app", digest('a'), ociConfig, "v1", "latest")
	e.image(t, "team/app", digest('b'), ociConfig)
	completeScan(t, e.store, "team/app", digest('a'), scanning.Result{Status: scanning.StatusComplete, SeverityCounts: map[severity.Severity]int{"LOW": 2}, CompletedAt: t0})
	completeScan(t, e.store, "team/app", digest('b'), scanning.Result{Status: scanning.StatusUnsupported, Description: "unsupported OS"})
	out := e.must(t, "DescribeImages", map[string]any{"repositoryName": "team/app"})
	details := out["imageDetails"].([]any)
	if len(details) != 2 {
		t.Fatalf("imageDetails = %v", details)
	}
	a := details[0].(map[string]any)
	if diff := cmp.Diff(map[string]any{"imageScanCompletedAt": float64(t0.Unix()), "findingSeverityCounts": map[string]any{"LOW": float64(2)}}, a["imageScanFindingsSummary"]); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"latest", "v1"}, a["imageTags"]); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	b := details[1].(map[string]any)
	if diff := cmp.Diff(map[string]any{"status": "UNSUPPORTED_IMAGE", "description": "unsupported OS"}, b["imageScanStatus"]); diff != "" || b["imageScanFindingsSummary"] != nil {
		t.Errorf("unsupported image (-want +got):\n%s summary %v", diff, b["imageScanFindingsSummary"])
	}
	out = e.must(t, "DescribeImages", map[string]any{"repositoryName": "team/app", "filter": map[string]string{"tagStatus": "UNTAGGED"}})
	if got := out["imageDetails"].([]any); len(got) != 1 || got[0].(map[string]any)["imageDigest"] != digest('b') {
		t.Errorf("UNTAGGED filter = %v", got)
	}
	out = e.must(t, "DescribeImages", map[string]any{"repositoryName": "team/app", "maxResults": 1})
	if len(out["imageDetails"].([]any)) != 1 || out["nextToken"] == nil {
		t.Errorf("page of 1 = %v", out)
	}
	e.wantErr(t, adminKey, "DescribeImages", map[string]any{"repositoryName": "team/app", "imageIds": []any{map[string]string{"imageTag": "gone"}}}, "ImageNotFoundException")
	out = e.must(t, "ListImages", map[string]any{"repositoryName": "team/app", "filter": map[string]string{"tagStatus": "TAGGED"}})
	if diff := cmp.Diff([]any{
		map[string]any{"imageDigest": digest('a'), "imageTag": "latest"},
		map[string]any{"imageDigest": digest('a'), "imageTag": "v1"},
	}, out["imageIds"]); diff != "" {
		t.Errorf("ListImages TAGGED (-want +got):\n%s", diff)
	}
}

func TestBatchDeleteImage(t *testing.T) {
	e := newEnv(t)
	e.image(t, "team/app", digest('a'), ociConfig, "v1", "latest")
	e.image(t, "team/app", digest('b'), ociConfig, "old")
	out := e.must(t, "BatchDeleteImage", map[string]any{"repositoryName": "team/app", "imageIds": []any{
		map[string]string{"imageTag": "v1"},                              // not the last tag: untag only
		map[string]string{"imageTag": "old", "imageDigest": digest('a')}, // mismatch
		map[string]string{"imageDigest": "md5:abc"},
		map[string]string{},
	}})
	if diff := cmp.Diff([]any{map[string]any{"imageDigest": digest('a'), "imageTag": "v1"}}, out["imageIds"]); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	var codes []string
	for _, f := range out["failures"].([]any) {
		codes = append(codes, f.(map[string]any)["failureCode"].(string))
	}
	if diff := cmp.Diff([]string{"ImageTagDoesNotMatchDigest", "InvalidImageDigest", "MissingDigestAndTag"}, codes); diff != "" {
		t.Errorf("failure codes (-want +got):\n%s", diff)
	}
	// Last tag: the image goes.
	e.must(t, "BatchDeleteImage", map[string]any{"repositoryName": "team/app", "imageIds": []any{map[string]string{"imageTag": "latest"}}})
	if _, err := e.store.GetImage(context.Background(), "team/app", digest('a')); err == nil {
		t.Error("image survived the deletion of its last tag")
	}
	if diff := cmp.Diff([]string{"untag team/app:v1", "delete team/app@" + digest('a'), "referrers team/app@" + digest('a')}, e.reg.ops); diff != "" {
		t.Errorf("registry operations (-want +got):\n%s", diff)
	}
}

func TestRepositoriesAndPermissions(t *testing.T) {
	e := newEnv(t)
	out := e.must(t, "CreateRepository", map[string]any{"repositoryName": "team/app", "imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": map[string]bool{"scanOnPush": true}})
	repo := out["repository"].(map[string]any)
	want := map[string]any{
		"repositoryArn": "arn:aws:ecr:us-east-1:123456789012:repository/team/app", "registryId": "123456789012",
		"repositoryName": "team/app", "repositoryUri": "registry.test/team/app", "createdAt": float64(t0.Unix()),
		"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": map[string]any{"scanOnPush": true},
		"encryptionConfiguration": map[string]any{"encryptionType": "AES256"},
	}
	if diff := cmp.Diff(want, repo); diff != "" {
		t.Errorf("CreateRepository (-want +got):\n%s", diff)
	}
	e.must(t, "CreateRepository", map[string]any{"repositoryName": "secret/app"})
	e.wantErr(t, readerKey, "CreateRepository", map[string]any{"repositoryName": "team/other"}, "AccessDeniedException")
	e.wantErr(t, adminKey, "CreateRepository", map[string]any{"repositoryName": "team/app"}, "RepositoryAlreadyExistsException")
	e.wantErr(t, adminKey, "CreateRepository", map[string]any{"repositoryName": "a"}, "InvalidParameterException")
	e.wantErr(t, adminKey, "CreateRepository", map[string]any{"repositoryName": "team//app"}, "InvalidParameterException")
	e.wantErr(t, adminKey, "CreateRepository", map[string]any{"repositoryName": "ok/name", "imageTagMutability": "SOMETIMES"}, "InvalidParameterException")
	_, _, out = e.do(t, readerKey, "DescribeRepositories", map[string]any{})
	if got := out["repositories"].([]any); len(got) != 1 || got[0].(map[string]any)["repositoryName"] != "team/app" {
		t.Errorf("reader sees %v, want only team/app", got)
	}
	e.wantErr(t, readerKey, "DescribeRepositories", map[string]any{"repositoryNames": []string{"secret/app"}}, "AccessDeniedException")
	e.wantErr(t, readerKey, "PutRegistryScanningConfiguration", map[string]any{"scanType": "BASIC"}, "AccessDeniedException")
	e.wantErr(t, readerKey, "DeleteRepository", map[string]any{"repositoryName": "team/app"}, "AccessDeniedException")
	e.wantErr(t, adminKey, "Bogus", map[string]any{}, "UnknownOperationException")

	// Default registry configuration, then a rule set, read back.
	out = e.must(t, "GetRegistryScanningConfiguration", map[string]any{})
	if diff := cmp.Diff(map[string]any{"scanType": "BASIC", "rules": []any{}}, out["scanningConfiguration"]); diff != "" {
		t.Errorf("default configuration (-want +got):\n%s", diff)
	}
	e.wantErr(t, adminKey, "PutRegistryScanningConfiguration", map[string]any{"scanType": "BASIC", "rules": []any{
		map[string]any{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": []any{map[string]any{"filter": "x", "filterType": "WILDCARD"}}}}}, "InvalidParameterException")
	e.must(t, "PutRegistryScanningConfiguration", map[string]any{"scanType": "ENHANCED", "rules": []any{
		map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "team", "filterType": "WILDCARD"}}},
		map[string]any{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": []any{map[string]any{"filter": "team/*", "filterType": "WILDCARD"}}}}})
	out = e.must(t, "BatchGetRepositoryScanningConfiguration", map[string]any{"repositoryNames": []string{"team/app", "secret/app", "gone/app"}})
	got := out["scanningConfigurations"].([]any)
	if len(got) != 2 {
		t.Fatalf("scanningConfigurations = %v", got)
	}
	if diff := cmp.Diff(map[string]any{"repositoryArn": "arn:aws:ecr:us-east-1:123456789012:repository/team/app", "repositoryName": "team/app",
		"scanOnPush": true, "scanFrequency": "CONTINUOUS_SCAN", "appliedScanFilters": []any{map[string]any{"filter": "team/*", "filterType": "WILDCARD"}}}, got[0]); diff != "" {
		t.Errorf("team/app (-want +got):\n%s", diff)
	}
	if s := got[1].(map[string]any); s["scanOnPush"] != false || s["scanFrequency"] != "MANUAL" {
		t.Errorf("secret/app under ENHANCED with no rule = %v", s)
	}
	e.wantErr(t, adminKey, "BatchGetRepositoryScanningConfiguration", map[string]any{"repositoryNames": []string{}}, "ValidationException")

	e.image(t, "team/app", digest('a'), ociConfig, "v1")
	e.wantErr(t, adminKey, "DeleteRepository", map[string]any{"repositoryName": "team/app"}, "RepositoryNotEmptyException")
	e.must(t, "DeleteRepository", map[string]any{"repositoryName": "team/app", "force": true})
	e.wantErr(t, adminKey, "DeleteRepository", map[string]any{"repositoryName": "team/app"}, "RepositoryNotFoundException")
	if diff := cmp.Diff([]string{"rmrepo team/app"}, e.reg.ops); diff != "" {
		t.Errorf("registry operations (-want +got):\n%s", diff)
	}
}

func TestAuthorizationTokenWorksAsRegistryPassword(t *testing.T) {
	e := newEnv(t)
	out := e.must(t, "GetAuthorizationToken", map[string]any{})
	data := out["authorizationData"].([]any)[0].(map[string]any)
	if data["proxyEndpoint"] != "http://registry.test" || data["expiresAt"] != float64(t0.Add(12*time.Hour).Unix()) {
		t.Errorf("authorizationData = %v", data)
	}
	r := httptest.NewRequest(http.MethodGet, "/v2/", nil)
	r.Header.Set("Authorization", "Basic "+data["authorizationToken"].(string))
	p, err := e.api.o.Auth.Registry(r)
	if err != nil || !e.api.o.Authz.Authorize(context.Background(), p, "ecr:DeleteRepository", "any/repo", netip.Addr{}).Allowed {
		t.Fatalf("token rejected: %v", err)
	}
	e.clock.t = t0.Add(12*time.Hour + time.Second)
	if _, err := e.api.o.Auth.Registry(r); err == nil {
		t.Error("expired token accepted")
	}
}
