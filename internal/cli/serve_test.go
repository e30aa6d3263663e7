package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// TestServerScannerUsesLayerCache scans one image twice through the server
// adapter: the second scan reads no layer, and both give the same result.
func TestServerScannerUsesLayerCache(t *testing.T) {
	img := filepath.Join(testutil.Shared(t, "images"), "lang-java-go.tar")
	dbDir := t.TempDir()
	if _, err := vulndb.Update(context.Background(), dbDir, []feed.Updater{}, nil, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	src, err := source.Resolve(context.Background(), img, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	sc := &serverScanner{dbDir: dbDir, cache: indexer.DirCache{Dir: t.TempDir()}, hit: func(string) { hits++ }}
	var results []*server.ScanResult
	for i := 0; i < 2; i++ {
		r, err := sc.Scan(context.Background(), src.Image, "sha256:test", true)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	layers, _ := src.Image.Layers()
	if hits != len(layers) {
		t.Errorf("%d cache hits, want %d (every layer of the second scan)", hits, len(layers))
	}
	// An empty DB has no advisories for alpine: the OS part is reported,
	// and the scan is still complete for the language packages.
	for _, r := range results {
		if r.Status != server.StatusComplete {
			t.Errorf("status %s: %s", r.Status, r.Description)
		}
	}
	if results[0].Description != results[1].Description {
		t.Errorf("cached scan differs: %q vs %q", results[0].Description, results[1].Description)
	}
}

func TestServeAccountIDFlag(t *testing.T) {
	for _, id := range []string{"12345", "12345678901x", ""} {
		code, _, stderr := runCLI(t, "serve", "--data", t.TempDir(), "--account-id", id)
		if code != ExitError || !strings.Contains(stderr, "--account-id") {
			t.Errorf("serve --account-id %q: exit %d, stderr %q; want a usage error naming --account-id", id, code, stderr)
		}
	}
}

// TestServeSecurityFlags: flags that go together, or need a value, are
// usage errors naming the flag.
func TestServeSecurityFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key"},
		{[]string{"--tls-key", "k.pem"}, "--tls-cert and --tls-key"},
		{[]string{"--audit-retention", "0s"}, "--audit-retention"},
		{[]string{"--admission-insecure"}, "--admission-insecure need --admission-config"},
		{[]string{"--upload-purge-age", "0s"}, "--upload-purge-age 0s: want a positive duration"},
		{[]string{"--max-uploads-per-repository", "-1"}, "--max-uploads-per-repository -1: want 0 (no cap) or more"},
		{[]string{"--max-uploads-per-user", "-3"}, "--max-uploads-per-user -3: want 0 (no cap) or more"},
		{[]string{"--job-lease", "500ms"}, "--job-lease 500ms: want 1s or more"},
		{[]string{"--job-lease", "0s"}, "--job-lease 0s: want 1s or more"},
	} {
		code, _, stderr := runCLI(t, append([]string{"serve", "--data", t.TempDir()}, tc.args...)...)
		if code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want a usage error with %q", tc.args, code, stderr, tc.want)
		}
	}
}
