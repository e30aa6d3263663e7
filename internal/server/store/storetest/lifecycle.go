package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunLifecycle is the conformance suite of the lifecycle tables (policies,
// previews, the runner lease, repository referrers).
func RunLifecycle(t *testing.T, open Opener) {
	ctx := context.Background()
	t.Run("Policies", func(t *testing.T) {
		s := open(t)
		wantErr(t, s.PutLifecyclePolicy(ctx, "app", "{}", t0), store.ErrNotFound)
		must(t, s.CreateRepository(ctx, store.Repository{Name: "app", CreatedAt: t0}))
		_, err := s.GetLifecyclePolicy(ctx, "app")
		wantErr(t, err, store.ErrNotFound)
		must(t, s.PutLifecyclePolicy(ctx, "app", "p1", t0))
		must(t, s.SetLifecycleEvaluated(ctx, "app", t0.Add(time.Hour)))
		must(t, s.PutLifecyclePolicy(ctx, "app", "p2", t0.Add(2*time.Hour)))
		p, err := s.GetLifecyclePolicy(ctx, "app")
		must(t, err)
		if p.Text != "p2" || !p.LastEvaluatedAt.Equal(t0.Add(time.Hour)) || !p.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("policy = %+v (replacing keeps lastEvaluatedAt)", p)
		}
		list, err := s.ListLifecyclePolicies(ctx)
		must(t, err)
		if len(list) != 1 || list[0].Repository != "app" {
			t.Errorf("ListLifecyclePolicies = %+v", list)
		}
		// A repository deleted and created again does not inherit it.
		must(t, s.DeleteRepository(ctx, "app"))
		must(t, s.CreateRepository(ctx, store.Repository{Name: "app", CreatedAt: t0.Add(time.Minute)}))
		_, err = s.GetLifecyclePolicy(ctx, "app")
		wantErr(t, err, store.ErrNotFound)
		if list, _ := s.ListLifecyclePolicies(ctx); len(list) != 0 {
			t.Errorf("recreated repository lists the old policy: %+v", list)
		}
		must(t, s.PutLifecyclePolicy(ctx, "app", "p3", t0))
		p, err = s.DeleteLifecyclePolicy(ctx, "app")
		must(t, err)
		if p.Text != "p3" || !p.LastEvaluatedAt.IsZero() {
			t.Errorf("deleted policy = %+v", p)
		}
		_, err = s.DeleteLifecyclePolicy(ctx, "app")
		wantErr(t, err, store.ErrNotFound)
	})
	t.Run("Previews", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRepository(ctx, store.Repository{Name: "app", CreatedAt: t0}))
		_, err := s.GetLifecyclePreview(ctx, "app")
		wantErr(t, err, store.ErrNotFound)
		must(t, s.BeginLifecyclePreview(ctx, "app", "p", t0, time.Minute))
		wantErr(t, s.BeginLifecyclePreview(ctx, "app", "p", t0.Add(time.Second), time.Minute), store.ErrInProgress)
		pv, err := s.GetLifecyclePreview(ctx, "app")
		must(t, err)
		if pv.Status != "IN_PROGRESS" || pv.PolicyText != "p" {
			t.Errorf("preview = %+v", pv)
		}
		must(t, s.FinishLifecyclePreview(ctx, "app", t0, "COMPLETE", json.RawMessage(`[1]`)))
		pv, err = s.GetLifecyclePreview(ctx, "app")
		must(t, err)
		if pv.Status != "COMPLETE" || string(pv.Results) != "[1]" {
			t.Errorf("finished preview = %+v", pv)
		}
		// An abandoned preview stops blocking after the stale period; a late
		// finish of the old one does not overwrite the new one.
		must(t, s.BeginLifecyclePreview(ctx, "app", "q", t0.Add(time.Hour), time.Minute))
		must(t, s.BeginLifecyclePreview(ctx, "app", "r", t0.Add(2*time.Hour), time.Minute))
		must(t, s.FinishLifecyclePreview(ctx, "app", t0.Add(time.Hour), "COMPLETE", json.RawMessage(`[]`)))
		pv, _ = s.GetLifecyclePreview(ctx, "app")
		if pv.Status != "IN_PROGRESS" || pv.PolicyText != "r" {
			t.Errorf("preview after a stale finish = %+v", pv)
		}
		wantErr(t, s.BeginLifecyclePreview(ctx, "nope", "p", t0, time.Minute), store.ErrNotFound)
	})
	t.Run("Lease", func(t *testing.T) {
		s := open(t)
		ok, err := s.AcquireLease(ctx, "lifecycle", "a", t0, time.Hour)
		must(t, err)
		if !ok {
			t.Fatal("first acquire failed")
		}
		if ok, _ := s.AcquireLease(ctx, "lifecycle", "b", t0.Add(30*time.Minute), time.Hour); ok {
			t.Error("b took a's unexpired lease")
		}
		if ok, _ := s.AcquireLease(ctx, "lifecycle", "a", t0.Add(30*time.Minute), time.Hour); !ok {
			t.Error("a could not renew its own lease")
		}
		if ok, _ := s.AcquireLease(ctx, "lifecycle", "b", t0.Add(91*time.Minute), time.Hour); !ok {
			t.Error("b could not take the expired lease")
		}
	})
	t.Run("RepositoryReferrers", func(t *testing.T) {
		s := open(t)
		must(t, s.PutReferrer(ctx, store.Referrer{Repository: "app", Subject: "sha256:s", Digest: "sha256:r2", MediaType: "m", ArtifactType: "a", Size: 2}))
		must(t, s.PutReferrer(ctx, store.Referrer{Repository: "app", Subject: "sha256:s", Digest: "sha256:r1", MediaType: "m", ArtifactType: "a", Size: 1}))
		must(t, s.PutReferrer(ctx, store.Referrer{Repository: "other", Subject: "sha256:s", Digest: "sha256:r3", MediaType: "m"}))
		refs, err := s.ListRepositoryReferrers(ctx, "app")
		must(t, err)
		if len(refs) != 2 || refs[0].Digest != "sha256:r1" || refs[1].Subject != "sha256:s" {
			t.Errorf("ListRepositoryReferrers = %+v", refs)
		}
	})
}
