package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunRepoConfig runs the conformance checks of repository and registry
// settings: resource tags, tag mutability exclusions, encryption, account
// settings and creation templates.
func RunRepoConfig(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"RepositoryTags", testRepositoryTags},
		{"TagMutabilityExclusions", testTagMutabilityExclusions},
		{"Encryption", testEncryption},
		{"AccountSettings", testAccountSettings},
		{"CreationTemplates", testCreationTemplates},
		{"EnsureRepositoryFromTemplate", testEnsureFromTemplate},
	})
}

func testRepositoryTags(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	wantErr(t, s.TagRepository(ctx, "none", []store.Tag{{Key: "k", Value: "v"}}, 50), store.ErrNotFound)
	_, err := s.ListRepositoryTags(ctx, "none")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.UntagRepository(ctx, "none", []string{"k"}), store.ErrNotFound)

	must(t, s.CreateRepository(ctx, store.Repository{Name: "a", CreatedAt: t0}))
	must(t, s.CreateRepository(ctx, store.Repository{Name: "b", CreatedAt: t0}))
	must(t, s.TagRepository(ctx, "a", []store.Tag{{Key: "team", Value: "x"}, {Key: "env", Value: ""}}, 3))
	must(t, s.TagRepository(ctx, "b", []store.Tag{{Key: "other", Value: "1"}}, 3))
	must(t, s.TagRepository(ctx, "a", []store.Tag{{Key: "team", Value: "y"}}, 3)) // replaces the value
	// A fourth key is over the limit of 3: nothing changes.
	wantErr(t, s.TagRepository(ctx, "a", []store.Tag{{Key: "c1", Value: "1"}, {Key: "c2", Value: "2"}}, 3), store.ErrTooManyTags)
	got, err := s.ListRepositoryTags(ctx, "a")
	must(t, err)
	if diff := cmp.Diff([]store.Tag{{Key: "env", Value: ""}, {Key: "team", Value: "y"}}, got); diff != "" {
		t.Errorf("tags of a (-want +got):\n%s", diff)
	}
	must(t, s.UntagRepository(ctx, "a", []string{"team", "absent"}))
	got, err = s.ListRepositoryTags(ctx, "a")
	must(t, err)
	if diff := cmp.Diff([]store.Tag{{Key: "env", Value: ""}}, got); diff != "" {
		t.Errorf("tags of a after untag (-want +got):\n%s", diff)
	}
	// Deleting the repository deletes its tags: a new one of that name has none.
	must(t, s.DeleteRepository(ctx, "a"))
	must(t, s.CreateRepository(ctx, store.Repository{Name: "a", CreatedAt: t0}))
	got, err = s.ListRepositoryTags(ctx, "a")
	must(t, err)
	if len(got) != 0 {
		t.Errorf("tags of a recreated repository = %v, want none", got)
	}
	got, err = s.ListRepositoryTags(ctx, "b")
	must(t, err)
	if diff := cmp.Diff([]store.Tag{{Key: "other", Value: "1"}}, got); diff != "" {
		t.Errorf("tags of b (-want +got):\n%s", diff)
	}
}

func testTagMutabilityExclusions(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		immutable  bool
		exclusions []string
		// moved says, per tag, whether moving it to another image succeeds.
		moved map[string]bool
	}{
		{"mutable", false, nil, map[string]bool{"latest": true, "v1": true}},
		{"immutable", true, nil, map[string]bool{"latest": false, "v1": false}},
		{"immutable-excl", true, []string{"latest", "dev-*"}, map[string]bool{"latest": true, "dev-1": true, "v1": false}},
		{"mutable-excl", false, []string{"v*"}, map[string]bool{"latest": true, "v1": false}},
	} {
		must(t, s.CreateRepository(ctx, store.Repository{Name: tc.name, CreatedAt: t0, TagImmutable: tc.immutable, TagMutabilityExclusions: tc.exclusions}))
		r, err := s.GetRepository(ctx, tc.name)
		must(t, err)
		if diff := cmp.Diff(tc.exclusions, r.TagMutabilityExclusions); diff != "" || r.TagImmutable != tc.immutable {
			t.Errorf("%s: read back immutable %v exclusions (-want +got):\n%s", tc.name, r.TagImmutable, diff)
		}
		for tag, want := range tc.moved {
			if got := r.TagIsImmutable(tag); got == want {
				t.Errorf("%s: TagIsImmutable(%q) = %v, want %v", tc.name, tag, got, !want)
			}
			_, err := s.PutImage(ctx, store.Image{Repository: tc.name, Digest: "sha256:1", PushedAt: t0}, tag)
			must(t, err)
			_, err = s.PutImage(ctx, store.Image{Repository: tc.name, Digest: "sha256:2", PushedAt: t0}, tag)
			if want {
				must(t, err)
			} else {
				wantErr(t, err, store.ErrTagImmutable)
			}
		}
	}
	// UpdateRepository changes the exclusions.
	r, err := s.GetRepository(ctx, "immutable-excl")
	must(t, err)
	r.TagMutabilityExclusions = nil
	must(t, s.UpdateRepository(ctx, r))
	r, err = s.GetRepository(ctx, "immutable-excl")
	must(t, err)
	if r.TagMutabilityExclusions != nil || !r.TagIsImmutable("latest") {
		t.Errorf("after update: exclusions %v, latest immutable %v", r.TagMutabilityExclusions, r.TagIsImmutable("latest"))
	}
}

func testEncryption(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	want := []store.Repository{
		{Name: "default", CreatedAt: t0},
		{Name: "kms", CreatedAt: t0, Encryption: store.Encryption{Type: "KMS", KMSKey: "arn:aws:kms:us-east-1:123456789012:key/abc"}},
	}
	for _, r := range want {
		must(t, s.CreateRepository(ctx, r))
	}
	// EnsureRepository records it too, and keeps an existing one's.
	ensured := store.Repository{Name: "ensured", CreatedAt: t0, Encryption: store.Encryption{Type: "KMS_DSSE"}}
	_, err := s.EnsureRepository(ctx, ensured)
	must(t, err)
	_, err = s.EnsureRepository(ctx, store.Repository{Name: "ensured", CreatedAt: t0})
	must(t, err)
	want = append(want, ensured)
	got, err := s.ListRepositories(ctx)
	must(t, err)
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b store.Repository) bool { return a.Name < b.Name })); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
}

func testAccountSettings(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	v, err := s.GetAccountSetting(ctx, "BASIC_SCAN_TYPE_VERSION")
	must(t, err)
	if v != "" {
		t.Errorf("unset setting = %q, want empty", v)
	}
	must(t, s.PutAccountSetting(ctx, "BASIC_SCAN_TYPE_VERSION", "CLAIR"))
	must(t, s.PutAccountSetting(ctx, "BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"))
	must(t, s.PutAccountSetting(ctx, "REGISTRY_POLICY_SCOPE", "V1"))
	for name, want := range map[string]string{"BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE", "REGISTRY_POLICY_SCOPE": "V1"} {
		v, err := s.GetAccountSetting(ctx, name)
		must(t, err)
		if v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	// Account settings do not collide with the scanning configuration.
	raw, err := s.GetScanningConfig(ctx)
	must(t, err)
	if raw != nil {
		t.Errorf("scanning configuration = %s, want none", raw)
	}
}

func testCreationTemplates(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	tmpl := store.CreationTemplate{
		Prefix: "prod", Description: "d", AppliedFor: []string{store.AppliedForCreateOnPush},
		TagImmutable: true, TagMutabilityExclusions: []string{"latest"},
		RepositoryPolicy: `{"Version":"2012-10-17"}`, LifecyclePolicy: `{"rules":[]}`,
		ResourceTags: []store.Tag{{Key: "k", Value: "v"}},
		Encryption:   store.Encryption{Type: "KMS", KMSKey: "key"}, CustomRoleARN: "arn:aws:iam::123456789012:role/r",
		CreatedAt: t0, UpdatedAt: t0,
	}
	must(t, s.CreateCreationTemplate(ctx, tmpl))
	wantErr(t, s.CreateCreationTemplate(ctx, tmpl), store.ErrExists)
	root := store.CreationTemplate{Prefix: store.RootTemplatePrefix, AppliedFor: []string{store.AppliedForReplication}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateCreationTemplate(ctx, root))
	got, err := s.GetCreationTemplate(ctx, "prod")
	must(t, err)
	if diff := cmp.Diff(tmpl, got); diff != "" {
		t.Errorf("GetCreationTemplate (-want +got):\n%s", diff)
	}
	_, err = s.GetCreationTemplate(ctx, "none")
	wantErr(t, err, store.ErrNotFound)

	upd := tmpl
	upd.Description, upd.UpdatedAt, upd.CreatedAt = "new", t0.Add(time.Hour), t0.Add(time.Hour)
	must(t, s.UpdateCreationTemplate(ctx, upd))
	wantErr(t, s.UpdateCreationTemplate(ctx, store.CreationTemplate{Prefix: "none"}), store.ErrNotFound)
	upd.CreatedAt = t0 // kept
	all, err := s.ListCreationTemplates(ctx)
	must(t, err)
	if diff := cmp.Diff([]store.CreationTemplate{root, upd}, all); diff != "" {
		t.Errorf("ListCreationTemplates (-want +got):\n%s", diff)
	}
	del, err := s.DeleteCreationTemplate(ctx, "prod")
	must(t, err)
	if diff := cmp.Diff(upd, del); diff != "" {
		t.Errorf("DeleteCreationTemplate (-want +got):\n%s", diff)
	}
	_, err = s.DeleteCreationTemplate(ctx, "prod")
	wantErr(t, err, store.ErrNotFound)
}

func testEnsureFromTemplate(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	for _, tmpl := range []store.CreationTemplate{
		{Prefix: store.RootTemplatePrefix, AppliedFor: []string{store.AppliedForCreateOnPush}, ResourceTags: []store.Tag{{Key: "from", Value: "root"}}},
		{Prefix: "team", AppliedFor: []string{store.AppliedForCreateOnPush}, TagImmutable: true,
			ResourceTags: []store.Tag{{Key: "from", Value: "team"}}, Encryption: store.Encryption{Type: "KMS", KMSKey: "k"},
			LifecyclePolicy: `{"rules":[{"rulePriority":1}]}`, RepositoryPolicy: "checked", RepositoryPolicyChecked: true},
		// A repository policy stored unchecked (before policies were
		// served) is not applied.
		{Prefix: "team/app/", AppliedFor: []string{store.AppliedForCreateOnPush}, TagMutabilityExclusions: []string{"v*"}, RepositoryPolicy: "unchecked"},
		{Prefix: "team/cache", AppliedFor: []string{store.AppliedForPullThroughCache}, ResourceTags: []store.Tag{{Key: "from", Value: "cache"}}},
	} {
		tmpl.CreatedAt, tmpl.UpdatedAt = t0, t0
		must(t, s.CreateCreationTemplate(ctx, tmpl))
	}
	type outcome struct {
		Repo       store.Repository
		Tags       []store.Tag
		Policy     string
		RepoPolicy string
	}
	for _, tc := range []struct {
		name string
		want outcome
	}{
		{"other", outcome{Repo: store.Repository{Name: "other"}, Tags: []store.Tag{{Key: "from", Value: "root"}}}},
		// team itself is not under team/: ROOT applies.
		{"team", outcome{Repo: store.Repository{Name: "team"}, Tags: []store.Tag{{Key: "from", Value: "root"}}}},
		{"team/x", outcome{
			Repo:   store.Repository{Name: "team/x", TagImmutable: true, Encryption: store.Encryption{Type: "KMS", KMSKey: "k"}},
			Tags:   []store.Tag{{Key: "from", Value: "team"}},
			Policy: `{"rules":[{"rulePriority":1}]}`, RepoPolicy: "checked"}},
		// The longest prefix wins, whole.
		{"team/app/x", outcome{Repo: store.Repository{Name: "team/app/x", TagMutabilityExclusions: []string{"v*"}}, Tags: []store.Tag{}}},
		// A template for another purpose does not apply.
		{"team/cache/x", outcome{
			Repo:   store.Repository{Name: "team/cache/x", TagImmutable: true, Encryption: store.Encryption{Type: "KMS", KMSKey: "k"}},
			Tags:   []store.Tag{{Key: "from", Value: "team"}},
			Policy: `{"rules":[{"rulePriority":1}]}`, RepoPolicy: "checked"}},
	} {
		created, err := s.EnsureRepositoryFromTemplate(ctx, store.Repository{Name: tc.name, CreatedAt: t0}, store.AppliedForCreateOnPush)
		must(t, err)
		if !created {
			t.Errorf("%s: created = false", tc.name)
		}
		var got outcome
		got.Repo, err = s.GetRepository(ctx, tc.name)
		must(t, err)
		got.Repo.CreatedAt = time.Time{}
		got.Tags, err = s.ListRepositoryTags(ctx, tc.name)
		must(t, err)
		if p, err := s.GetLifecyclePolicy(ctx, tc.name); err == nil {
			got.Policy = p.Text
		}
		if p, err := s.GetRepositoryPolicy(ctx, tc.name); err == nil {
			got.RepoPolicy = p.Text
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	// An existing repository is left alone.
	must(t, s.UntagRepository(ctx, "other", []string{"from"}))
	created, err := s.EnsureRepositoryFromTemplate(ctx, store.Repository{Name: "other", CreatedAt: t0}, store.AppliedForCreateOnPush)
	must(t, err)
	tags, err := s.ListRepositoryTags(ctx, "other")
	must(t, err)
	if created || len(tags) != 0 {
		t.Errorf("existing repository: created %v, tags %v", created, tags)
	}
}
