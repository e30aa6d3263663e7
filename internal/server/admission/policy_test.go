package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func podRequest(op string, images ...string) *Request {
	var cs []map[string]string
	for i, im := range images {
		cs = append(cs, map[string]string{"name": fmt.Sprintf("c%d", i), "image": im})
	}
	obj, _ := json.Marshal(map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": map[string]any{"name": "p", "namespace": "shop"}, "spec": map[string]any{"containers": cs}})
	return &Request{UID: "uid-1", Kind: GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: GroupVersionResource{Version: "v1", Resource: "pods"},
		Name: "p", Namespace: "shop", Operation: op, Object: obj}
}

func denied(code int32, reason, msg string) *Response {
	return &Response{UID: "uid-1", Allowed: false, Result: &Status{Status: "Failure", Code: code, Reason: reason, Message: msg}}
}

// TestReviewDecisions covers the decisions the golden table does not: scan
// statuses, missing tags and images, requireScan false, operations and
// kinds not judged, name exemptions, several reasons in one denial.
func TestReviewDecisions(t *testing.T) {
	st := openSQLite(t)
	p := pool()
	api, web, debug, worker := p["127.0.0.1:5000/shop/api:1.4.2"], p["127.0.0.1:5000/shop/web"], p["127.0.0.1:5000/tools/debug"], p["127.0.0.1:5000/shop/worker:2.0@"+digestOf("shop/worker")]
	nginx := p["nginx:1.25"]
	for _, im := range []poolImage{api, web, debug, worker, nginx} {
		pushImage(t, st, im)
	}
	scanImage(t, st, api, "COMPLETE", "The scan was completed successfully.", severeFindings)
	scanImage(t, st, web, "FAILED", "scan failed: layer sha256:ab: unexpected EOF", nil)
	scanImage(t, st, worker, "UNSUPPORTED_IMAGE", "debian 7 is not supported", nil)
	scanImage(t, st, nginx, "SCAN_ELIGIBILITY_EXPIRED", "", nil)
	startScan(t, st, debug) // left IN_PROGRESS

	noScan := false
	tests := []struct {
		name   string
		config func(*Config)
		req    *Request
		want   *Response
	}{
		{name: "in progress", req: podRequest("CREATE", "127.0.0.1:5000/tools/debug:latest"),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/tools/debug:latest ("+debug.Digest+") is not scanned: scan status IN_PROGRESS")},
		{name: "failed", req: podRequest("CREATE", "127.0.0.1:5000/shop/web:latest"),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/web:latest ("+web.Digest+") is not scanned: scan status FAILED (scan failed: layer sha256:ab: unexpected EOF)")},
		{name: "unsupported", req: podRequest("CREATE", "127.0.0.1:5000/shop/worker@"+worker.Digest),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/worker@"+worker.Digest+" is not scanned: scan status UNSUPPORTED_IMAGE (debian 7 is not supported)")},
		{name: "eligibility expired", req: podRequest("CREATE", "docker.io/nginx:1.25"),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image docker.io/nginx:1.25 (mirrored as dockerhub/library/nginx@"+nginx.Digest+") is not scanned: scan status SCAN_ELIGIBILITY_EXPIRED")},
		{name: "tag not found", req: podRequest("CREATE", "127.0.0.1:5000/shop/api:9.9"),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/api:9.9: tag 9.9 not found in this registry")},
		{name: "digest not in registry", req: podRequest("CREATE", "127.0.0.1:5000/shop/api@"+digestOf("other")),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/api@"+digestOf("other")+" is not in this registry")},
		{name: "allowed registry not mirrored", req: podRequest("CREATE", "quay.io/prometheus/node-exporter:v1.8.0"),
			config: func(c *Config) { c.AllowedRegistries = append(c.AllowedRegistries, "quay.io/prometheus") },
			want:   denied(403, "Forbidden", "stowaway denied Pod shop/p: image quay.io/prometheus/node-exporter:v1.8.0 is not in this registry, so it has no scan here (push or mirror it to 127.0.0.1:5000)")},
		{name: "path prefix matches whole segments", req: podRequest("CREATE", "quay.io/prometheus-community/x:1"),
			config: func(c *Config) { c.AllowedRegistries = append(c.AllowedRegistries, "quay.io/prometheus") },
			want:   denied(403, "Forbidden", "stowaway denied Pod shop/p: image quay.io/prometheus-community/x:1 is not from an allowed registry (quay.io/prometheus-community/x)")},
		{name: "requireScan false warns", req: podRequest("CREATE", "127.0.0.1:5000/tools/debug:latest", "127.0.0.1:5000/shop/none:1"),
			config: func(c *Config) { c.RequireScan = &noScan },
			want: &Response{UID: "uid-1", Allowed: true, Warnings: []string{
				"stowaway: image 127.0.0.1:5000/tools/debug:latest (" + debug.Digest + ") is not scanned: scan status IN_PROGRESS; allowed because requireScan is false",
				"stowaway: image 127.0.0.1:5000/shop/none:1: tag 1 not found in this registry; allowed because requireScan is false",
			}}},
		{name: "requireScan false still judges findings", req: podRequest("CREATE", "127.0.0.1:5000/shop/api:1.4.2"),
			config: func(c *Config) { c.RequireScan = &noScan; c.Severity = "CRITICAL" },
			want:   denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/api:1.4.2 ("+api.Digest+") has 2 findings at or above CRITICAL (top: CVE-2024-45491 CRITICAL in libexpat1 2.5.0-1)")},
		{name: "every reason in one denial, each image once", req: podRequest("CREATE", "127.0.0.1:5000/shop/api:1.4.2", "ghcr.io/x/y:1", "127.0.0.1:5000/shop/api:1.4.2", "", "UPPER/case:1", "app@sha256:abc"),
			want: denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/api:1.4.2 ("+api.Digest+") has 3 findings at or above HIGH (top: CVE-2024-45491 CRITICAL in libexpat1 2.5.0-1); "+
				"image ghcr.io/x/y:1 is not from an allowed registry (ghcr.io/x/y); container c3 (spec.containers[3]) has no image; "+
				"image UPPER/case:1 is not from an allowed registry (upper/case); "+
				`image reference "app@sha256:abc": invalid reference format`)},
		{name: "low threshold", req: podRequest("CREATE", "127.0.0.1:5000/shop/api:1.4.2"),
			config: func(c *Config) { c.Severity = "medium" },
			want:   denied(403, "Forbidden", "stowaway denied Pod shop/p: image 127.0.0.1:5000/shop/api:1.4.2 ("+api.Digest+") has 4 findings at or above MEDIUM (top: CVE-2024-45491 CRITICAL in libexpat1 2.5.0-1)")},
		{name: "delete is not judged", req: podRequest("DELETE", "ghcr.io/x/y:1"), want: &Response{UID: "uid-1", Allowed: true}},
		{name: "connect is not judged", req: podRequest("CONNECT", "ghcr.io/x/y:1"), want: &Response{UID: "uid-1", Allowed: true}},
		{name: "namespace exempt by name", req: podRequest("CREATE", "ghcr.io/x/y:1"),
			config: func(c *Config) { c.Exemptions.Namespaces.Names = []string{"kube-system", "shop"} },
			want:   &Response{UID: "uid-1", Allowed: true, Warnings: []string{"stowaway: namespace shop is exempt from the image policy"}}},
		{name: "unknown kind allowed with a warning", req: &Request{UID: "uid-1", Kind: GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}, Operation: "CREATE", Namespace: "shop", Object: json.RawMessage(`{}`)},
			want: &Response{UID: "uid-1", Allowed: true, Warnings: []string{"stowaway: kind argoproj.io/v1alpha1/Rollout is not judged by the image policy"}}},
		{name: "undecodable object fails closed", req: &Request{UID: "uid-1", Kind: GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: "CREATE", Namespace: "shop", Name: "p", Object: json.RawMessage(`{"spec":{"containers":"x"}}`)},
			want: denied(500, "InternalError", "stowaway could not decide on Pod shop/p (failurePolicy closed): admission review: decode Pod object: json: cannot unmarshal string into Go struct field podSpec.spec.containers of type []admission.container")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			if tc.config != nil {
				tc.config(&cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			pol, err := New(cfg, Options{Store: st, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			got := pol.Review(context.Background(), tc.req)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestFailurePolicy: with the store unreachable the failure policy
// decides; a definite denial still denies under open.
func TestFailurePolicy(t *testing.T) {
	st := openSQLite(t)
	st.Close() // every query now fails
	for _, tc := range []struct {
		policy string
		images []string
		want   *Response
	}{
		{FailClosed, []string{"127.0.0.1:5000/shop/api:1"},
			denied(500, "InternalError", "stowaway could not decide on Pod shop/p (failurePolicy closed): image 127.0.0.1:5000/shop/api:1: resolve tag: store: resolve tag: sql: database is closed")},
		{FailOpen, []string{"127.0.0.1:5000/shop/api:1"},
			&Response{UID: "uid-1", Allowed: true,
				Warnings:         []string{"stowaway could not decide and allowed by failurePolicy open: image 127.0.0.1:5000/shop/api:1: resolve tag: store: resolve tag: sql: database is closed"},
				AuditAnnotations: map[string]string{"failed-open": "image 127.0.0.1:5000/shop/api:1: resolve tag: store: resolve tag: sql: database is closed"}}},
		{FailOpen, []string{"127.0.0.1:5000/shop/api:1", "ghcr.io/x/y:1"},
			denied(403, "Forbidden", "stowaway denied Pod shop/p: image ghcr.io/x/y:1 is not from an allowed registry (ghcr.io/x/y); could not judge image 127.0.0.1:5000/shop/api:1: resolve tag: store: resolve tag: sql: database is closed")},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			cfg := baseConfig()
			cfg.FailurePolicy = tc.policy
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			pol, err := New(cfg, Options{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			got := pol.Review(context.Background(), podRequest("CREATE", tc.images...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// slowStore blocks until the review's deadline.
type slowStore struct{ Store }

func (slowStore) ResolveTag(ctx context.Context, repo, tag string) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func TestTimeoutFailsClosed(t *testing.T) {
	cfg := baseConfig()
	cfg.Timeout = 50 * time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pol, err := New(cfg, Options{Store: slowStore{}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := pol.Review(context.Background(), podRequest("CREATE", "127.0.0.1:5000/shop/api:1"))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("review took %v with a 50ms timeout", d)
	}
	want := denied(500, "InternalError", "stowaway could not decide on Pod shop/p (failurePolicy closed): image 127.0.0.1:5000/shop/api:1: resolve tag: context deadline exceeded")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestKubeNamespaces: labels come from the API server with the token,
// are cached for the TTL, and failures are errors (which the failure
// policy turns into a decision).
func TestKubeNamespaces(t *testing.T) {
	kube, lookup := newFakeKube(t)
	labels := map[string]string{"stowaway.io/admission": "exempt"}
	kube.labels.Store(&labels)
	now := testNow
	k, err := NewKubeNamespaces(lookup, nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := k.NamespaceLabels(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"stowaway.io/admission": "exempt", "kubernetes.io/metadata.name": "shop"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := k.NamespaceLabels(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if n := kube.gets.Load(); n != 1 {
		t.Errorf("API GETs within the TTL = %d, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	if _, err := k.NamespaceLabels(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if n := kube.gets.Load(); n != 2 {
		t.Errorf("API GETs after the TTL = %d, want 2", n)
	}
	if _, err := k.NamespaceLabels(ctx, "missing"); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("missing namespace: err = %v, want HTTP 404", err)
	}
	// A wrong token is refused by the API server.
	if err := os.WriteFile(lookup.TokenFile, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.NamespaceLabels(ctx, "other"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("bad token: err = %v, want HTTP 401", err)
	}

	// In-cluster defaults come from the environment.
	env := map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": strings.TrimPrefix(kube.srv.URL, "https://127.0.0.1:")}
	lc := lookup
	lc.APIServer = ""
	if err := os.WriteFile(lookup.TokenFile, []byte(kube.token), 0o600); err != nil {
		t.Fatal(err)
	}
	k2, err := NewKubeNamespaces(lc, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.NamespaceLabels(ctx, "shop"); err != nil {
		t.Errorf("in-cluster address from the environment: %v", err)
	}
	if _, err := NewKubeNamespaces(lc, func(string) string { return "" }, nil); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Errorf("outside a cluster: err = %v", err)
	}
	// A CA that did not sign the API server's certificate.
	other := newPKI(t, t.TempDir())
	lc = lookup
	lc.CAFile = other.CAFile
	k3, err := NewKubeNamespaces(lc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k3.NamespaceLabels(ctx, "shop"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted API server: err = %v", err)
	}
}

// TestNamespaceLookupFailure: a namespace that cannot be read is
// undecidable, so fail closed denies with the reason.
func TestNamespaceLookupFailure(t *testing.T) {
	st := openSQLite(t)
	_, lookup := newFakeKube(t)
	cfg := baseConfig()
	cfg.NamespaceLabels = lookup
	cfg.Exemptions.Namespaces.MatchLabels = map[string]string{"stowaway.io/admission": "exempt"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pol, err := New(cfg, Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	req := podRequest("CREATE", "ghcr.io/x/y:1")
	req.Namespace = "missing"
	got := pol.Review(context.Background(), req)
	if got.Allowed || !strings.Contains(got.Result.Message, `could not judge namespace missing labels: get namespace: HTTP 404: {"kind":"Status"`) {
		t.Errorf("got %+v", got.Result)
	}
}

func TestHandlerRefusals(t *testing.T) {
	st := openSQLite(t)
	cfg := baseConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pol, err := New(cfg, Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	url, client := serveTLS(t, newPKI(t, t.TempDir()), pol.Handler())
	for _, tc := range []struct {
		name, method, ctype, body string
		code                      int
		msg                       string
	}{
		{"get", http.MethodGet, "", "", 405, "POST an AdmissionReview"},
		{"text", http.MethodPost, "text/plain", "{}", 415, "Content-Type must be application/json"},
		{"garbage", http.MethodPost, "application/json", "{", 400, "admission review: decode: unexpected end of JSON input"},
		{"v1beta1", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}`, 400, `apiVersion "admission.k8s.io/v1beta1"`},
		{"no request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400, "no request"},
		{"no uid", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, 400, "request.uid is empty"},
		{"too large", http.MethodPost, "application/json", `{"apiVersion":"` + strings.Repeat("x", MaxReviewSize) + `"}`, 400, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+Path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.msg) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.code, tc.msg)
			}
		})
	}
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %s", resp.Status)
	}
}
