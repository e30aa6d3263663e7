package indexer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/hostile"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// TestCacheKeyHasTheLimits: a layer indexed under a smaller file-size limit
// (a package.json skipped as oversize) is not served to a scan under the
// default limit. Before the limits were part of the key the second scan
// found fewer packages, with the first scan's stale warning.
func TestCacheKeyHasTheLimits(t *testing.T) {
	big := `{"name":"big","version":"1.0.0","description":"` + strings.Repeat("x", 150_000) + `"}`
	img, err := hostile.Image(hostile.GzipLayer(
		hostile.File("app/node_modules/big/package.json", big),
		hostile.File("app/node_modules/small/package.json", `{"name":"small","version":"2.0.0"}`),
	))
	if err != nil {
		t.Fatal(err)
	}
	src := &source.Source{Kind: source.KindOCILayout, Ref: "oci-layout:test", Image: img}
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	base := Options{Distros: distroall.Distros(), OS: all.OS(), Language: all.Language(), Now: now}
	want, err := Index(context.Background(), src, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Packages) != 2 {
		t.Fatalf("uncached: %d packages, want 2", len(want.Packages))
	}
	cache := DirCache{Dir: t.TempDir()}
	small := base
	small.Cache, small.Limits = cache, squash.Limits{MaxFileSize: 100_000}
	if inv, err := Index(context.Background(), src, small); err != nil || len(inv.Packages) != 1 {
		t.Fatalf("small limit: %v, %v", inv, err)
	}
	hits := 0
	opts := base
	opts.Cache, opts.OnCacheHit = cache, func(string) { hits++ }
	got, err := Index(context.Background(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("default limit after a small-limit scan (-uncached +cached):\n%s", d)
	}
	if hits != 0 {
		t.Errorf("%d cache hits across limits, want 0", hits)
	}
}
