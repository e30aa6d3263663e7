package notify_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Environment of a re-executed test binary acting as `stowaway serve`.
const (
	envChild       = "STOWAWAY_NOTIFY_TEST_SERVER"
	envChildData   = "STOWAWAY_NOTIFY_TEST_DATA"
	envChildDB     = "STOWAWAY_NOTIFY_TEST_DATABASE"
	envChildEvents = "STOWAWAY_NOTIFY_TEST_EVENTS"
)

const (
	testKeyID  = "AKIDSTOWAWAYNOTIFY01"
	testSecret = "notify/test+secret"
)

var ciAuth = authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "ci-pass"})

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(runChildServer())
	}
	os.Exit(m.Run())
}

// serverConfig is the server both the child process and in-process tests run.
func serverConfig(dataDir, databaseURL string, events *notify.Config, logger *slog.Logger) server.Config {
	return server.Config{
		DataDir:     dataDir,
		DatabaseURL: databaseURL,
		AccessKeys:  []server.AccessKey{{ID: testKeyID, Secret: testSecret, Grants: []server.Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Users:       []server.User{{Name: "ci", Password: "ci-pass", Grants: []server.Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Workers:     2,
		RegistryID:  "123456789012",
		Region:      "us-east-1",
		SBOMFormats: "none",
		Events:      events,
		Logger:      logger,
	}
}

// runChildServer serves like `stowaway serve --events-config` with the
// layer scanner, printing "LISTEN host:port" once ready, until SIGTERM.
func runChildServer() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ec, err := notify.Load(os.Getenv(envChildEvents))
	if err != nil {
		logger.Error("child", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	s, err := server.New(ctx, serverConfig(os.Getenv(envChildData), os.Getenv(envChildDB), ec, logger), layerScanner{})
	if err != nil {
		logger.Error("child", "err", err)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		logger.Error("child", "err", err)
		return 2
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	if err := s.Serve(ctx, ln); err != nil {
		logger.Error("child", "err", err)
		return 1
	}
	return 0
}

// layerScanner reports one HIGH finding per layer, and a CRITICAL one for
// images of more than two layers.
type layerScanner struct{}

func (layerScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*server.ScanResult, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	res := &server.ScanResult{Status: server.StatusComplete, SeverityCounts: map[severity.Severity]int{}}
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		sev := severity.High
		if i == 2 {
			sev = "CRITICAL"
		}
		res.Findings = append(res.Findings, server.Finding{
			Name: fmt.Sprintf("CVE-2026-%04d", i), Severity: sev,
			Attributes: []server.Attribute{{Key: "package_name", Value: "layer"}, {Key: "package_version", Value: d.Hex[:8]}},
		})
		res.SeverityCounts[sev]++
	}
	return res, nil
}

// startInProcess runs a server in this process until the test ends.
func startInProcess(t *testing.T, cfg server.Config) client {
	t.Helper()
	s, err := server.New(context.Background(), cfg, layerScanner{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return client{ln.Addr().String()}
}

// client talks to a running server.
type client struct{ host string }

func (c client) call(t *testing.T, action string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.host+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+action)
	ecrapi.SignRequest(req, body, testKeyID, testSecret, "us-east-1", time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", action, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: decode %s: %v", action, raw, err)
		}
	}
}

func (c client) scanOnPushEverything(t *testing.T) {
	t.Helper()
	c.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "BASIC",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}}}},
	}, nil)
}

// push writes a random image of the given layers as repo:tag and returns
// its digest.
func (c client) push(t *testing.T, repo, tag string, layers int) string {
	t.Helper()
	img, err := random.Image(128, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(c.host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(ciAuth)); err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// waitScan waits for repo@digest's scan to leave IN_PROGRESS and returns
// its status.
func (c client) waitScan(t *testing.T, repo, digest string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct{ ImageScanStatus struct{ Status string } }
		c.call(t, "DescribeImageScanFindings", map[string]any{"repositoryName": repo, "imageId": map[string]string{"imageDigest": digest}}, &out)
		if s := out.ImageScanStatus.Status; s != "IN_PROGRESS" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c client) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + c.host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readListen reads the child's "LISTEN addr" line.
func readListen(t *testing.T, r io.Reader) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("child server did not report its address: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	if !ok {
		t.Fatalf("child server said %q", line)
	}
	return addr
}
