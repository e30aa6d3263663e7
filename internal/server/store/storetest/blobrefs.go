package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunBlobRefs checks the blob references of garbage collection's fence.
func RunBlobRefs(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"RecordAndRead", testBlobRefs},
		{"ManyInOneCall", testBlobRefsMany},
	})
}

func testBlobRefs(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	a, b, c := "sha256:"+hex64('a'), "sha256:"+hex64('b'), "sha256:"+hex64('c')
	must(t, s.RecordBlobRefs(ctx, []string{a, b, a, ""}, t0))
	must(t, s.RecordBlobRefs(ctx, []string{b}, t0.Add(time.Hour)))
	// An older reference never moves a digest's time back.
	must(t, s.RecordBlobRefs(ctx, []string{b}, t0))
	must(t, s.RecordBlobRefs(ctx, nil, t0))
	for _, tc := range []struct {
		name  string
		since time.Time
		want  map[string]bool
	}{
		{"all", t0, map[string]bool{a: true, b: true}},
		{"after the first", t0.Add(time.Millisecond), map[string]bool{b: true}},
		{"at the second", t0.Add(time.Hour), map[string]bool{b: true}},
		{"after both", t0.Add(2 * time.Hour), map[string]bool{}},
	} {
		got, err := s.BlobRefsSince(ctx, []string{a, b, c}, tc.since)
		must(t, err)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: BlobRefsSince (-want +got):\n%s", tc.name, d)
		}
	}
	n, err := s.PruneBlobRefs(ctx, t0.Add(time.Minute))
	must(t, err)
	if n != 1 {
		t.Errorf("PruneBlobRefs = %d, want 1 (a)", n)
	}
	got, err := s.BlobRefsSince(ctx, []string{a, b}, time.Time{})
	must(t, err)
	if d := cmp.Diff(map[string]bool{b: true}, got); d != "" {
		t.Errorf("after the prune (-want +got):\n%s", d)
	}
}

// testBlobRefsMany: a manifest naming thousands of blobs is recorded and
// read back in chunked statements, its duplicates once.
func testBlobRefsMany(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	var ds []string
	for i := range 3000 {
		ds = append(ds, fmt.Sprintf("sha256:%064x", i))
	}
	start := time.Now()
	must(t, s.RecordBlobRefs(ctx, append(ds, ds[:700]...), t0))
	recorded := time.Since(start)
	start = time.Now()
	got, err := s.BlobRefsSince(ctx, append(ds, "sha256:"+hex64('f')), t0)
	must(t, err)
	t.Logf("%d digests: recorded in %v (6 statements, one transaction), read in %v (7 queries)", len(ds), recorded, time.Since(start))
	if len(got) != len(ds) {
		t.Errorf("BlobRefsSince found %d of %d", len(got), len(ds))
	}
	tooMany := make([]string, store.MaxBlobRefs+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("sha256:%064x", i)
	}
	if err := s.RecordBlobRefs(ctx, tooMany, t0); err == nil {
		t.Error("RecordBlobRefs of more than MaxBlobRefs digests: no error")
	}
}
