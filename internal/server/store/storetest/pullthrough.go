package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunPullThrough runs the conformance checks of pull-through cache rules
// and the upstream checks of cached tags.
func RunPullThrough(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"PullThroughRules", testPullThroughRules},
		{"PullThroughTags", testPullThroughTags},
	})
}

func testPullThroughRules(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	if rs, err := s.ListPullThroughRules(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("ListPullThroughRules(empty) = %v, %v", rs, err)
	}
	_, err := s.GetPullThroughRule(ctx, "hub")
	wantErr(t, err, store.ErrNotFound)
	hub := store.PullThroughRule{Prefix: "hub", UpstreamURL: "registry-1.docker.io", UpstreamRegistry: "docker-hub",
		CredentialARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/hub", CreatedAt: t0, UpdatedAt: t0}
	quay := store.PullThroughRule{Prefix: "a/quay", UpstreamURL: "quay.io", UpstreamRegistry: "quay", UpstreamPrefix: "team", CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)}
	must(t, s.CreatePullThroughRule(ctx, hub, 2))
	wantErr(t, s.CreatePullThroughRule(ctx, hub, 2), store.ErrExists)
	must(t, s.CreatePullThroughRule(ctx, quay, 2))
	// A third rule is over the limit of 2; an existing prefix is still
	// ErrExists.
	wantErr(t, s.CreatePullThroughRule(ctx, store.PullThroughRule{Prefix: "k8s", UpstreamURL: "registry.k8s.io", CreatedAt: t0, UpdatedAt: t0}, 2), store.ErrTooManyRules)
	wantErr(t, s.CreatePullThroughRule(ctx, hub, 2), store.ErrExists)

	got, err := s.GetPullThroughRule(ctx, "hub")
	must(t, err)
	if d := cmp.Diff(hub, got); d != "" {
		t.Errorf("GetPullThroughRule (-want +got):\n%s", d)
	}
	all, err := s.ListPullThroughRules(ctx)
	must(t, err)
	if d := cmp.Diff([]store.PullThroughRule{quay, hub}, all); d != "" {
		t.Errorf("ListPullThroughRules, sorted by prefix (-want +got):\n%s", d)
	}

	// An update changes the credentials, the role and the update time only.
	upd := hub
	upd.CredentialARN, upd.CustomRoleARN, upd.UpdatedAt = "", "arn:aws:iam::000000000000:role/x", t0.Add(time.Hour)
	upd.UpstreamURL = "ignored.example"
	must(t, s.UpdatePullThroughRule(ctx, upd))
	got, err = s.GetPullThroughRule(ctx, "hub")
	must(t, err)
	want := hub
	want.CredentialARN, want.CustomRoleARN, want.UpdatedAt = "", "arn:aws:iam::000000000000:role/x", t0.Add(time.Hour)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after UpdatePullThroughRule (-want +got):\n%s", d)
	}
	wantErr(t, s.UpdatePullThroughRule(ctx, store.PullThroughRule{Prefix: "none", UpdatedAt: t0}), store.ErrNotFound)

	del, err := s.DeletePullThroughRule(ctx, "hub")
	must(t, err)
	if d := cmp.Diff(want, del); d != "" {
		t.Errorf("DeletePullThroughRule returned (-want +got):\n%s", d)
	}
	_, err = s.DeletePullThroughRule(ctx, "hub")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetPullThroughRule(ctx, "hub")
	wantErr(t, err, store.ErrNotFound)
	// The freed slot takes a new rule.
	must(t, s.CreatePullThroughRule(ctx, store.PullThroughRule{Prefix: "k8s", UpstreamURL: "registry.k8s.io", CreatedAt: t0, UpdatedAt: t0}, 2))
}

func testPullThroughTags(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	_, err := s.GetPullThroughTag(ctx, "hub/app", "1")
	wantErr(t, err, store.ErrNotFound)
	first := store.PullThroughTag{Digest: "sha256:" + hex64('a'), CheckedAt: t0}
	must(t, s.PutPullThroughTag(ctx, "hub/app", "1", first))
	must(t, s.PutPullThroughTag(ctx, "hub/app", "2", store.PullThroughTag{Digest: "sha256:" + hex64('c'), CheckedAt: t0}))
	got, err := s.GetPullThroughTag(ctx, "hub/app", "1")
	must(t, err)
	if d := cmp.Diff(first, got); d != "" {
		t.Errorf("GetPullThroughTag (-want +got):\n%s", d)
	}
	moved := store.PullThroughTag{Digest: "sha256:" + hex64('b'), CheckedAt: t0.Add(25 * time.Hour)}
	must(t, s.PutPullThroughTag(ctx, "hub/app", "1", moved))
	got, err = s.GetPullThroughTag(ctx, "hub/app", "1")
	must(t, err)
	if d := cmp.Diff(moved, got); d != "" {
		t.Errorf("GetPullThroughTag after a second check (-want +got):\n%s", d)
	}
	// Deleting the repository drops its checks.
	must(t, s.CreateRepository(ctx, store.Repository{Name: "hub/app", CreatedAt: t0}))
	must(t, s.DeleteRepository(ctx, "hub/app"))
	_, err = s.GetPullThroughTag(ctx, "hub/app", "1")
	wantErr(t, err, store.ErrNotFound)
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
