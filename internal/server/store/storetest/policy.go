package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunPolicies is the conformance suite of the repository policies and the
// registry policy (schema version 5).
func RunPolicies(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"RepositoryPolicies", testRepositoryPolicies},
		{"RegistryPolicy", testRegistryPolicy},
	})
}

func testRepositoryPolicies(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	wantErr(t, s.PutRepositoryPolicy(ctx, "app", "p0", t0), store.ErrNotFound)
	must(t, s.CreateRepository(ctx, store.Repository{Name: "app", CreatedAt: t0}))
	must(t, s.CreateRepository(ctx, store.Repository{Name: "other", CreatedAt: t0}))
	_, err := s.GetRepositoryPolicy(ctx, "app")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DeleteRepositoryPolicy(ctx, "app")
	wantErr(t, err, store.ErrNotFound)

	must(t, s.PutRepositoryPolicy(ctx, "app", "p1", t0))
	must(t, s.PutRepositoryPolicy(ctx, "other", "q1", t0))
	must(t, s.PutRepositoryPolicy(ctx, "app", "p2", t0.Add(time.Hour))) // replaces
	got, err := s.GetRepositoryPolicy(ctx, "app")
	must(t, err)
	if diff := cmp.Diff(store.PolicyText{Repository: "app", Text: "p2", UpdatedAt: t0.Add(time.Hour)}, got); diff != "" {
		t.Errorf("policy of app (-want +got):\n%s", diff)
	}
	del, err := s.DeleteRepositoryPolicy(ctx, "app")
	must(t, err)
	if diff := cmp.Diff(got, del); diff != "" {
		t.Errorf("deleted policy (-want +got):\n%s", diff)
	}
	_, err = s.GetRepositoryPolicy(ctx, "app")
	wantErr(t, err, store.ErrNotFound)
	if p, err := s.GetRepositoryPolicy(ctx, "other"); err != nil || p.Text != "q1" {
		t.Errorf("policy of other = %+v, %v: deleting app's touched it", p, err)
	}

	// Deleting the repository deletes its policy: a new one of that name
	// has none.
	must(t, s.DeleteRepository(ctx, "other"))
	must(t, s.CreateRepository(ctx, store.Repository{Name: "other", CreatedAt: t0.Add(time.Minute)}))
	_, err = s.GetRepositoryPolicy(ctx, "other")
	wantErr(t, err, store.ErrNotFound)
}

func testRegistryPolicy(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	_, err := s.GetRegistryPolicy(ctx)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DeleteRegistryPolicy(ctx)
	wantErr(t, err, store.ErrNotFound)
	must(t, s.PutRegistryPolicy(ctx, "r1", t0))
	must(t, s.PutRegistryPolicy(ctx, "r2", t0.Add(time.Hour)))
	got, err := s.GetRegistryPolicy(ctx)
	must(t, err)
	if diff := cmp.Diff(store.PolicyText{Text: "r2", UpdatedAt: t0.Add(time.Hour)}, got); diff != "" {
		t.Errorf("registry policy (-want +got):\n%s", diff)
	}
	del, err := s.DeleteRegistryPolicy(ctx)
	must(t, err)
	if del.Text != "r2" {
		t.Errorf("deleted registry policy = %+v", del)
	}
	_, err = s.GetRegistryPolicy(ctx)
	wantErr(t, err, store.ErrNotFound)
}
