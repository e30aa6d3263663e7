package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// imageError stands in for the indexer's image-content errors.
type imageError struct{}

func (imageError) Error() string   { return "layer 0: claimed diffID sha256:aaaa, actual sha256:bbbb" }
func (imageError) Permanent() bool { return true }

// byRepoScanner hangs on images pushed to "slow/…" (until its context
// ends) and fails the others with a permanent error, counting calls.
type byRepoScanner struct {
	mu    sync.Mutex
	calls map[string]int
	slow  map[string]bool
}

func (s *byRepoScanner) Scan(ctx context.Context, _ v1.Image, digest string, _ bool) (*ScanResult, error) {
	s.mu.Lock()
	s.calls[digest]++
	slow := s.slow[digest]
	s.mu.Unlock()
	if slow {
		<-ctx.Done()
		return nil, fmt.Errorf("index: %w", ctx.Err())
	}
	return nil, fmt.Errorf("index: %w", imageError{})
}

// TestScanTimeoutAndPermanentErrors: through the whole server, a scan that
// outlives Config.ScanTimeout and one with a permanent error both end
// FAILED on their first attempt, with the reason as ECR's description.
func TestScanTimeoutAndPermanentErrors(t *testing.T) {
	sc := &byRepoScanner{calls: map[string]int{}, slow: map[string]bool{}}
	ts := startServerWith(t, func(c *Config) { c.ScanTimeout = 500 * time.Millisecond }, sc)
	code, body := ts.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "BASIC",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}}}},
	}, nil)
	if code != 200 {
		t.Fatalf("PutRegistryScanningConfiguration: %d %s", code, body)
	}
	tests := []struct {
		repo, desc string
		slow       bool
	}{
		{"slow/app", "scan timed out after 500ms (--scan-timeout)", true},
		{"bad/app", "scan: index: layer 0: claimed diffID sha256:aaaa, actual sha256:bbbb", false},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			img := pushMarked(t, ts, tt.repo+":1", sc, tt.slow)
			d, _ := img.Digest()
			var out struct {
				ImageScanStatus struct{ Status, Description string }
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				code, body := ts.call(t, "DescribeImageScanFindings", map[string]any{"repositoryName": tt.repo, "imageId": map[string]string{"imageDigest": d.String()}}, &out)
				if code != 200 {
					t.Fatalf("DescribeImageScanFindings: %d %s", code, body)
				}
				if out.ImageScanStatus.Status != "IN_PROGRESS" || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if out.ImageScanStatus.Status != "FAILED" || out.ImageScanStatus.Description != tt.desc {
				t.Errorf("scan status %+v, want FAILED with %q", out.ImageScanStatus, tt.desc)
			}
			sc.mu.Lock()
			n := sc.calls[d.String()]
			sc.mu.Unlock()
			if n != 1 {
				t.Errorf("scanned %d times, want once (no retry)", n)
			}
		})
	}
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), `stowaway_scans_total{status="RETRY"}`) {
		t.Errorf("a scan was retried:\n%s", grepLines(string(b), "stowaway_scans_total"))
	}
}

// pushMarked builds an image, marks it slow or not in sc before its push
// enqueues the scan, then pushes it.
func pushMarked(t *testing.T, ts *testServer, ref string, sc *byRepoScanner, slow bool) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sc.mu.Lock()
	sc.slow[d.String()] = slow
	sc.mu.Unlock()
	r, err := name.ParseReference(ts.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(ciAuth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return img
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
