package indexer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestLayerCacheEqualsStreaming indexes every shared image three times:
// streaming, with a cold cache and with a warm one. The inventories must be
// equal, and the warm run must read no layer.
func TestLayerCacheEqualsStreaming(t *testing.T) {
	dir := testutil.Shared(t, "images")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cache := DirCache{Dir: t.TempDir()}
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	// Layers cached by earlier images: images that share a base layer hit
	// the cache even on their first scan.
	seen := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tar") && !strings.HasSuffix(e.Name(), ".oci") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			src, err := source.Resolve(context.Background(), filepath.Join(dir, e.Name()), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			base := Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), OS: all.OS(), Language: all.Language(), Now: now}
			want, err := Index(context.Background(), src, base)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name() == "lang-java-go.tar" {
				// The Go binary's symbol table travels beside the
				// inventory, and through the cache (compared below).
				if gb := want.SymbolTables["usr/local/bin/vulnapp"]; gb == nil || !gb.Complete || !gb.Has("golang.org/x/text/language", "Tag.String") {
					t.Errorf("vulnapp's symbols: %+v", gb)
				}
			}
			defer func() {
				for _, l := range want.Source.Layers {
					seen[l.DiffID] = true
				}
			}()
			for _, round := range []string{"cold", "warm"} {
				hits := 0
				opts := base
				opts.Cache = cache
				opts.OnCacheHit = func(string) { hits++ }
				got, err := Index(context.Background(), src, opts)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("%s cache: inventory differs from streaming (-stream +cached):\n%s", round, d)
				}
				wantHits := 0
				for _, l := range got.Source.Layers {
					if round == "warm" || seen[l.DiffID] {
						wantHits++
					}
				}
				if hits != wantHits {
					t.Errorf("%s cache: %d hits, want %d", round, hits, wantHits)
				}
			}
		})
	}
}
