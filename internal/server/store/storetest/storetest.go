// Package storetest is the conformance suite every *store.SQL
// implementation must pass.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Opener returns a fresh, empty store for one test.
type Opener func(t *testing.T) *store.SQL

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Run runs the conformance suite.
func Run(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"Repositories", testRepositories},
		{"ImagesAndTags", testImagesAndTags},
		{"PutImageInTx", testPutImageInTx},
		{"ImmutableTags", testImmutableTags},
		{"Referrers", testReferrers},
		{"ScanRateLimit", testScanRateLimit},
		{"JobLifecycle", testJobLifecycle},
		{"JobLeaseExpiry", testJobLeaseExpiry},
		{"JobConcurrentClaims", testJobConcurrentClaims},
		{"DeleteCascades", testDeleteCascades},
		{"SettingsAndSecrets", testSettings},
	})
}

// check is one conformance test, run on a store of its own.
type check struct {
	name string
	fn   func(*testing.T, *store.SQL)
}

// runChecks runs each check as a subtest on a fresh store from open.
func runChecks(t *testing.T, open Opener, checks []check) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func testRepositories(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.Ping(ctx))
	must(t, s.CreateRepository(ctx, store.Repository{Name: "b/app", CreatedAt: t0, ScanOnPush: true}))
	wantErr(t, s.CreateRepository(ctx, store.Repository{Name: "b/app", CreatedAt: t0}), store.ErrExists)
	created, err := s.EnsureRepository(ctx, store.Repository{Name: "a", CreatedAt: t0.Add(time.Second)})
	must(t, err)
	if !created {
		t.Error("EnsureRepository(new) created = false")
	}
	created, err = s.EnsureRepository(ctx, store.Repository{Name: "a", CreatedAt: t0.Add(time.Hour)})
	must(t, err)
	if created {
		t.Error("EnsureRepository(existing) created = true")
	}
	got, err := s.ListRepositories(ctx)
	must(t, err)
	want := []store.Repository{
		{Name: "a", CreatedAt: t0.Add(time.Second)},
		{Name: "b/app", CreatedAt: t0, ScanOnPush: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRepositories mismatch (-want +got):\n%s", diff)
	}
	must(t, s.UpdateRepository(ctx, store.Repository{Name: "a", TagImmutable: true}))
	r, err := s.GetRepository(ctx, "a")
	must(t, err)
	if !r.TagImmutable || r.ScanOnPush || !r.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("after update: %+v", r)
	}
	wantErr(t, s.UpdateRepository(ctx, store.Repository{Name: "nope"}), store.ErrNotFound)
	_, err = s.GetRepository(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	must(t, s.DeleteRepository(ctx, "a"))
	wantErr(t, s.DeleteRepository(ctx, "a"), store.ErrNotFound)
}

func img(repo, digest string, at time.Time) store.Image {
	return store.Image{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactMediaType: "application/vnd.oci.image.config.v1+json", Size: 1234, PushedAt: at}
}

func testImagesAndTags(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.CreateRepository(ctx, store.Repository{Name: "r", CreatedAt: t0}))
	created, err := s.PutImage(ctx, img("r", "sha256:aa", t0), "v1")
	must(t, err)
	if !created {
		t.Error("first PutImage created = false")
	}
	created, err = s.PutImage(ctx, img("r", "sha256:aa", t0.Add(time.Hour)), "latest")
	must(t, err)
	if created {
		t.Error("second PutImage of the same digest created = true")
	}
	_, err = s.PutImage(ctx, img("r", "sha256:bb", t0.Add(time.Minute)), "")
	must(t, err)
	// Move "latest" to bb.
	_, err = s.PutImage(ctx, img("r", "sha256:bb", t0.Add(time.Minute)), "latest")
	must(t, err)
	got, err := s.ListImages(ctx, "r")
	must(t, err)
	want := []store.Image{img("r", "sha256:aa", t0), img("r", "sha256:bb", t0.Add(time.Minute))}
	want[0].Tags = []string{"v1"}
	want[1].Tags = []string{"latest"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListImages mismatch (-want +got):\n%s", diff)
	}
	d, err := s.ResolveTag(ctx, "r", "latest")
	must(t, err)
	if d != "sha256:bb" {
		t.Errorf("ResolveTag(latest) = %s", d)
	}
	_, err = s.ResolveTag(ctx, "r", "nope")
	wantErr(t, err, store.ErrNotFound)
	one, err := s.GetImage(ctx, "r", "sha256:aa")
	must(t, err)
	if diff := cmp.Diff(want[0], one); diff != "" {
		t.Errorf("GetImage mismatch (-want +got):\n%s", diff)
	}
	must(t, s.DeleteTag(ctx, "r", "v1"))
	wantErr(t, s.DeleteTag(ctx, "r", "v1"), store.ErrNotFound)
	one, err = s.GetImage(ctx, "r", "sha256:aa")
	must(t, err)
	if len(one.Tags) != 0 {
		t.Errorf("tags after DeleteTag = %v", one.Tags)
	}
	_, err = s.GetImage(ctx, "other", "sha256:aa")
	wantErr(t, err, store.ErrNotFound)
}

func testImmutableTags(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.CreateRepository(ctx, store.Repository{Name: "imm", CreatedAt: t0, TagImmutable: true}))
	_, err := s.PutImage(ctx, img("imm", "sha256:aa", t0), "v1")
	must(t, err)
	_, err = s.PutImage(ctx, img("imm", "sha256:aa", t0), "v1") // same digest: fine
	must(t, err)
	_, err = s.PutImage(ctx, img("imm", "sha256:bb", t0), "v1")
	wantErr(t, err, store.ErrTagImmutable)
	d, err := s.ResolveTag(ctx, "imm", "v1")
	must(t, err)
	if d != "sha256:aa" {
		t.Errorf("immutable tag moved to %s", d)
	}
}

func testReferrers(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	sbom := store.Referrer{Repository: "r", Subject: "sha256:s", Digest: "sha256:1", MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/spdx+json", Size: 10, Annotations: map[string]string{"k": "v"}}
	sig := store.Referrer{Repository: "r", Subject: "sha256:s", Digest: "sha256:2", MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.dev.cosign", Size: 20}
	other := store.Referrer{Repository: "r", Subject: "sha256:t", Digest: "sha256:3", MediaType: "x", ArtifactType: "application/spdx+json"}
	for _, r := range []store.Referrer{sbom, sig, other, sbom} {
		must(t, s.PutReferrer(ctx, r))
	}
	got, err := s.ListReferrers(ctx, "r", "sha256:s", "")
	must(t, err)
	if diff := cmp.Diff([]store.Referrer{sbom, sig}, got); diff != "" {
		t.Errorf("ListReferrers mismatch (-want +got):\n%s", diff)
	}
	got, err = s.ListReferrers(ctx, "r", "sha256:s", "application/spdx+json")
	must(t, err)
	if diff := cmp.Diff([]store.Referrer{sbom}, got); diff != "" {
		t.Errorf("ListReferrers(filtered) mismatch (-want +got):\n%s", diff)
	}
	got, err = s.ListReferrers(ctx, "other-repo", "sha256:s", "")
	must(t, err)
	if len(got) != 0 {
		t.Errorf("referrers leaked across repositories: %v", got)
	}
	for _, c := range []struct {
		repo, digest string
		want         store.Referrer
		err          error
	}{
		{"r", "sha256:1", sbom, nil},
		{"r", "sha256:2", sig, nil},
		{"r", "sha256:3", other, nil},
		{"r", "sha256:s", store.Referrer{}, store.ErrNotFound},
		{"other-repo", "sha256:1", store.Referrer{}, store.ErrNotFound},
	} {
		got, err := s.ReferrerOf(ctx, c.repo, c.digest)
		if c.err != nil {
			wantErr(t, err, c.err)
			continue
		}
		must(t, err)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ReferrerOf(%s, %s) mismatch (-want +got):\n%s", c.repo, c.digest, diff)
		}
	}
}

func testScanRateLimit(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	_, err := s.GetScan(ctx, "r", "sha256:aa")
	wantErr(t, err, store.ErrNotFound)
	must(t, s.StartScan(ctx, "r", "sha256:aa", false, t0, 24*time.Hour))
	sc, err := s.GetScan(ctx, "r", "sha256:aa")
	must(t, err)
	if sc.Status != "IN_PROGRESS" || !sc.StartedAt.Equal(t0) {
		t.Errorf("scan after start = %+v", sc)
	}
	wantErr(t, s.StartScan(ctx, "r", "sha256:aa", false, t0.Add(23*time.Hour), 24*time.Hour), store.ErrRateLimited)
	must(t, s.StartScan(ctx, "r", "sha256:aa", false, t0.Add(24*time.Hour), 24*time.Hour))
	n, err := s.QueueDepth(ctx)
	must(t, err)
	if n != 2 {
		t.Errorf("QueueDepth = %d, want 2", n)
	}
}

func testJobLifecycle(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.StartScan(ctx, "r", "sha256:aa", true, t0, time.Hour))
	j, err := s.ClaimJob(ctx, "w1", t0, time.Minute, 3)
	must(t, err)
	if j == nil {
		t.Fatal("ClaimJob returned no job")
	}
	if diff := cmp.Diff(store.Job{ID: j.ID, Repository: "r", Digest: "sha256:aa", Enhanced: true, Attempt: 1}, *j); diff != "" {
		t.Errorf("claimed job mismatch (-want +got):\n%s", diff)
	}
	if j2, err := s.ClaimJob(ctx, "w2", t0.Add(30*time.Second), time.Minute, 3); err != nil || j2 != nil {
		t.Fatalf("second claim while leased = %v, %v; want nil", j2, err)
	}
	must(t, s.ExtendLease(ctx, j, t0.Add(2*time.Minute)))
	// Retry hands it back; it becomes runnable at runAfter.
	must(t, s.RetryJob(ctx, j, t0.Add(time.Hour), "boom"))
	if j2, err := s.ClaimJob(ctx, "w2", t0.Add(time.Minute), time.Minute, 3); err != nil || j2 != nil {
		t.Fatalf("claim before runAfter = %v, %v; want nil", j2, err)
	}
	wantErr(t, s.ExtendLease(ctx, j, t0.Add(3*time.Minute)), store.ErrLeaseLost)
	j2, err := s.ClaimJob(ctx, "w2", t0.Add(time.Hour), time.Minute, 3)
	must(t, err)
	if j2 == nil || j2.Attempt != 2 {
		t.Fatalf("claim after runAfter = %+v", j2)
	}
	res := json.RawMessage(`{"status":"COMPLETE"}`)
	wantErr(t, s.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE"}, t0), store.ErrLeaseLost) // stale attempt
	must(t, s.CompleteJob(ctx, j2, store.JobOutcome{Status: "COMPLETE", Description: "ok", Result: res}, t0.Add(time.Hour)))
	sc, err := s.GetScan(ctx, "r", "sha256:aa")
	must(t, err)
	if sc.Status != "COMPLETE" || sc.Description != "ok" || string(sc.Result) != string(res) {
		t.Errorf("scan after complete = %+v", sc)
	}
	n, err := s.QueueDepth(ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("QueueDepth after completion = %d", n)
	}
}

func testJobLeaseExpiry(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.StartScan(ctx, "r", "sha256:aa", false, t0, time.Hour))
	now := t0
	var last *store.Job
	for attempt := 1; attempt <= 2; attempt++ {
		j, err := s.ClaimJob(ctx, fmt.Sprintf("w%d", attempt), now, time.Minute, 2)
		must(t, err)
		if j == nil || j.Attempt != attempt {
			t.Fatalf("attempt %d: claimed %+v", attempt, j)
		}
		last = j
		now = now.Add(2 * time.Minute) // the worker dies; its lease expires
	}
	// Out of attempts: the next claim fails the job instead of running it.
	j, err := s.ClaimJob(ctx, "w3", now, time.Minute, 2)
	must(t, err)
	if j != nil {
		t.Fatalf("exhausted job was claimed again: %+v", j)
	}
	sc, err := s.GetScan(ctx, "r", "sha256:aa")
	must(t, err)
	if sc.Status != "FAILED" || sc.Description == "" {
		t.Errorf("scan of an abandoned job = %+v, want FAILED with a reason", sc)
	}
	wantErr(t, s.CompleteJob(ctx, last, store.JobOutcome{Status: "COMPLETE"}, now), store.ErrLeaseLost)
}

func testJobConcurrentClaims(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	const jobs = 20
	for i := range jobs {
		must(t, s.StartScan(ctx, "r", fmt.Sprintf("sha256:%02d", i), false, t0, time.Hour))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := s.ClaimJob(ctx, fmt.Sprintf("w%d", w), t0, time.Hour, 3)
				if err != nil {
					errs <- err
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				seen[j.Digest]++
				mu.Unlock()
				if err := s.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE"}, t0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != jobs {
		t.Errorf("%d distinct jobs ran, want %d", len(seen), jobs)
	}
	for d, n := range seen {
		if n != 1 {
			t.Errorf("job %s ran %d times", d, n)
		}
	}
}

func testDeleteCascades(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.CreateRepository(ctx, store.Repository{Name: "r", CreatedAt: t0}))
	_, err := s.PutImage(ctx, img("r", "sha256:aa", t0), "v1")
	must(t, err)
	_, err = s.PutImage(ctx, img("r", "sha256:bb", t0), "v2")
	must(t, err)
	must(t, s.StartScan(ctx, "r", "sha256:aa", false, t0, time.Hour))
	must(t, s.PutReferrer(ctx, store.Referrer{Repository: "r", Subject: "sha256:aa", Digest: "sha256:bb", ArtifactType: "x"}))
	must(t, s.DeleteImage(ctx, "r", "sha256:aa"))
	wantErr(t, s.DeleteImage(ctx, "r", "sha256:aa"), store.ErrNotFound)
	_, err = s.GetScan(ctx, "r", "sha256:aa")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.ResolveTag(ctx, "r", "v1")
	wantErr(t, err, store.ErrNotFound)
	if n, _ := s.QueueDepth(ctx); n != 0 {
		t.Errorf("jobs of a deleted image remain: %d", n)
	}
	must(t, s.DeleteImage(ctx, "r", "sha256:bb"))
	if refs, _ := s.ListReferrers(ctx, "r", "sha256:aa", ""); len(refs) != 0 {
		t.Errorf("referrer of a deleted manifest remains: %v", refs)
	}
	_, err = s.PutImage(ctx, img("r", "sha256:cc", t0), "v3")
	must(t, err)
	must(t, s.DeleteRepository(ctx, "r"))
	imgs, err := s.ListImages(ctx, "r")
	must(t, err)
	if len(imgs) != 0 {
		t.Errorf("images of a deleted repository remain: %v", imgs)
	}
}

func testSettings(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	cfg, err := s.GetScanningConfig(ctx)
	must(t, err)
	if cfg != nil {
		t.Errorf("fresh scanning config = %s, want nil", cfg)
	}
	want := json.RawMessage(`{"scanType":"ENHANCED"}`)
	must(t, s.PutScanningConfig(ctx, json.RawMessage(`{"scanType":"BASIC"}`)))
	must(t, s.PutScanningConfig(ctx, want))
	cfg, err = s.GetScanningConfig(ctx)
	must(t, err)
	if string(cfg) != string(want) {
		t.Errorf("scanning config = %s, want %s", cfg, want)
	}
	calls := 0
	gen := func() ([]byte, error) { calls++; return []byte(fmt.Sprintf("secret-%d", calls)), nil }
	a, err := s.Secret(ctx, "token", gen)
	must(t, err)
	b, err := s.Secret(ctx, "token", gen)
	must(t, err)
	if string(a) != "secret-1" || string(b) != "secret-1" || calls != 1 {
		t.Errorf("Secret = %q then %q after %d generations; want one stable secret", a, b, calls)
	}
}
