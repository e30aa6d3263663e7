package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// layerScanner reports one HIGH finding per layer.
type layerScanner struct {
	mu    sync.Mutex
	calls int
}

func (s *layerScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*ScanResult, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	res := &ScanResult{Status: StatusComplete, SeverityCounts: map[severity.Severity]int{}, VulnerabilitySourceUpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		res.Findings = append(res.Findings, Finding{
			Name: fmt.Sprintf("CVE-2026-%04d", i), Severity: "HIGH", URI: "https://example.invalid/" + d.Hex[:12],
			Attributes: []Attribute{{Key: "package_name", Value: "layer"}, {Key: "package_version", Value: d.Hex[:8]}},
		})
		res.SeverityCounts["HIGH"]++
	}
	if enhanced {
		res.EnhancedFindings = append(res.EnhancedFindings, json.RawMessage(`{"title":"lang finding","severity":"LOW"}`))
	}
	return res, nil
}

const (
	testKeyID  = "AKIDSTOWAWAYTEST0001"
	testSecret = "s3cr3t/stowaway+test/key"
)

type testServer struct {
	*Server
	url  string
	host string
}

func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	return startServerWith(t, mutate, &layerScanner{})
}

// startServerWith is startServer with another scanner.
func startServerWith(t *testing.T, mutate func(*Config), scanner Scanner) *testServer {
	t.Helper()
	cfg := Config{
		DataDir:    t.TempDir(),
		AccessKeys: []AccessKey{{ID: testKeyID, Secret: testSecret, Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Users: []User{
			{Name: "ci", Password: "ci-pass", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}},
		},
		Workers: 2,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(context.Background(), cfg, scanner)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	scheme := "http://"
	if cfg.TLSCertFile != "" {
		scheme = "https://"
	}
	return &testServer{Server: s, url: scheme + ln.Addr().String(), host: ln.Addr().String()}
}

// call makes a signed ECR API call and decodes the response.
func (ts *testServer) call(t *testing.T, action string, in any, out any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+action)
	ecrapi.SignRequest(req, body, testKeyID, testSecret, "us-east-1", time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: decode %s: %v", action, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func (ts *testServer) push(t *testing.T, ref string, layers int, auth authn.Authenticator) v1.Image {
	t.Helper()
	img, err := random.Image(256, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ts.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return img
}

var ciAuth = authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "ci-pass"})

func TestScanOnPushEndToEnd(t *testing.T) {
	ts := startServer(t, nil)
	code, body := ts.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "BASIC",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "prod*", "filterType": "WILDCARD"}}}},
	}, nil)
	if code != 200 {
		t.Fatalf("PutRegistryScanningConfiguration: %d %s", code, body)
	}
	img := ts.push(t, "prod/api:v1", 3, ciAuth)
	ts.push(t, "dev/api:v1", 1, ciAuth) // no rule: MANUAL, no scan
	d, _ := img.Digest()

	var out struct {
		ImageScanStatus   struct{ Status string }
		ImageScanFindings struct {
			Findings              []Finding
			FindingSeverityCounts map[severity.Severity]int
			ImageScanCompletedAt  float64
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body = ts.call(t, "DescribeImageScanFindings", map[string]any{"repositoryName": "prod/api", "imageId": map[string]string{"imageDigest": d.String()}}, &out)
		if code != 200 {
			t.Fatalf("DescribeImageScanFindings: %d %s", code, body)
		}
		if out.ImageScanStatus.Status != "IN_PROGRESS" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out.ImageScanStatus.Status != "COMPLETE" || len(out.ImageScanFindings.Findings) != 3 || out.ImageScanFindings.FindingSeverityCounts["HIGH"] != 3 || out.ImageScanFindings.ImageScanCompletedAt == 0 {
		t.Fatalf("findings after scan on push: %+v", out)
	}
	code, body = ts.call(t, "DescribeImageScanFindings", map[string]any{"repositoryName": "dev/api", "imageId": map[string]string{"imageTag": "v1"}}, nil)
	if code != 400 || !strings.Contains(body, "ScanNotFoundException") {
		t.Errorf("dev/api (no rule) was scanned: %d %s", code, body)
	}

	// Operations endpoints.
	for _, tt := range []struct {
		path string
		want string
	}{
		{"/healthz", "ok"},
		{"/readyz", "ok"},
		{"/metrics", `stowaway_scans_total{status="COMPLETE"} 1`},
		{"/metrics", "stowaway_scan_queue_depth 0"},
		{"/metrics", "stowaway_layer_cache_hits_total 0"},
		{"/metrics", "stowaway_scan_duration_seconds_count 1"},
	} {
		resp, err := http.Get(ts.url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tt.want) {
			t.Errorf("GET %s = %d, want body containing %q", tt.path, resp.StatusCode, tt.want)
		}
	}
}

func TestReadyzReportsStoreFailure(t *testing.T) {
	ts := startServer(t, nil)
	ts.store.Close() // the store becomes unreachable
	resp, err := http.Get(ts.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a closed store = %d, want 503", resp.StatusCode)
	}
}

func TestReadyzReportsStorageFailure(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, func(c *Config) { c.DataDir = dir })
	// The blob storage stops answering: its root becomes a file, so a Stat
	// below it fails with ENOTDIR (an error, not "not found").
	root := filepath.Join(dir, "registry", "docker")
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "storage unreachable") {
		t.Errorf("/readyz with broken blob storage = %d %q, want 503 storage unreachable", resp.StatusCode, b)
	}
}

func TestAPIRefusals(t *testing.T) {
	ts := startServer(t, nil)
	big := bytes.Repeat([]byte("a"), ecrapi.MaxBodySize+10)
	tests := []struct {
		name   string
		body   []byte
		target string
		sign   func(*http.Request, []byte)
		want   string
	}{
		{"unsigned", []byte(`{}`), "ListImages", nil, "MissingAuthenticationTokenException"},
		{"unknown key", []byte(`{}`), "DescribeRepositories", func(r *http.Request, b []byte) {
			ecrapi.SignRequest(r, b, "AKIDUNKNOWN", testSecret, "us-east-1", time.Now())
		}, "UnrecognizedClientException"},
		{"wrong secret", []byte(`{}`), "DescribeRepositories", func(r *http.Request, b []byte) {
			ecrapi.SignRequest(r, b, testKeyID, "wrong", "us-east-1", time.Now())
		}, "InvalidSignatureException"},
		{"stale", []byte(`{}`), "DescribeRepositories", func(r *http.Request, b []byte) {
			ecrapi.SignRequest(r, b, testKeyID, testSecret, "us-east-1", time.Now().Add(-time.Hour))
		}, "InvalidSignatureException"},
		{"body too large", big, "DescribeRepositories", func(r *http.Request, b []byte) {
			ecrapi.SignRequest(r, b, testKeyID, testSecret, "us-east-1", time.Now())
		}, "SerializationException"},
		{"unknown action", []byte(`{}`), "Frobnicate", func(r *http.Request, b []byte) {
			ecrapi.SignRequest(r, b, testKeyID, testSecret, "us-east-1", time.Now())
		}, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ts.url+"/", bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+tt.target)
			if tt.sign != nil {
				tt.sign(req, tt.body)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(b, &e)
			if resp.StatusCode != 400 || e.Type != tt.want || e.Message == "" {
				t.Errorf("got %d %s, want 400 %s", resp.StatusCode, b, tt.want)
			}
			if strings.Contains(string(b), testSecret) {
				t.Error("response echoes the secret")
			}
		})
	}
}

func TestLayerCacheCounterIsShared(t *testing.T) {
	m := NewMetrics()
	m.LayerCacheHits.Add(3) // what a scanner adapter does on cache hits
	ts := startServer(t, func(c *Config) { c.Metrics = m })
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "stowaway_layer_cache_hits_total 3") {
		t.Errorf("/metrics lacks the adapter's cache hits:\n%s", b)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Config{}, &layerScanner{}); err == nil {
		t.Error("New without a data dir succeeded")
	}
	if _, err := New(ctx, Config{DataDir: t.TempDir()}, nil); err == nil {
		t.Error("New without a scanner succeeded")
	}
	if _, err := New(ctx, Config{DataDir: t.TempDir(), DatabaseURL: "mysql://x"}, &layerScanner{}); err == nil {
		t.Error("New with an unsupported database URL succeeded")
	}
	_, err := New(ctx, Config{DataDir: t.TempDir(), Users: []User{{Name: "u", Password: "p", Grants: []Grant{{Repository: "*", Actions: []string{"sudo"}}}}}}, &layerScanner{})
	if err == nil || strings.Contains(err.Error(), "\"p\"") {
		t.Errorf("bad grant: err = %v", err)
	}
}
