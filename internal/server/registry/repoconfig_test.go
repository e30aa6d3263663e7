package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// TestTagMutabilityExclusions pushes two images to each tag: the second
// push moves the tag unless the repository's mutability with its
// exclusion filters makes the tag immutable.
func TestTagMutabilityExclusions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, r := range []store.Repository{
		{Name: "imm-excl", TagImmutable: true, TagMutabilityExclusions: []string{"latest", "dev-*"}},
		{Name: "mut-excl", TagImmutable: false, TagMutabilityExclusions: []string{"release-*"}},
	} {
		r.CreatedAt = time.Now()
		if err := f.store.CreateRepository(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		repo, tag string
		refused   bool
	}{
		{"imm-excl", "latest", false},
		{"imm-excl", "dev-42", false},
		{"imm-excl", "v1", true},
		{"mut-excl", "latest", false},
		{"mut-excl", "release-1", true},
	} {
		ref, err := name.ParseReference(f.host+"/"+tc.repo+":"+tc.tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := random.Image(100, 1)
		b, _ := random.Image(100, 1)
		if err := remote.Write(ref, a); err != nil {
			t.Fatal(err)
		}
		err = remote.Write(ref, b)
		if tc.refused && (err == nil || !strings.Contains(err.Error(), "TAG_INVALID")) {
			t.Errorf("%s:%s: moving the tag: err = %v, want TAG_INVALID", tc.repo, tc.tag, err)
		}
		if !tc.refused && err != nil {
			t.Errorf("%s:%s: moving the tag: %v", tc.repo, tc.tag, err)
		}
	}
}

// TestPushAppliesCreationTemplate: a repository created by a push takes the
// settings of the CREATE_ON_PUSH template of the longest matching prefix.
func TestPushAppliesCreationTemplate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, tmpl := range []store.CreationTemplate{
		{Prefix: store.RootTemplatePrefix, AppliedFor: []string{store.AppliedForCreateOnPush}, ResourceTags: []store.Tag{{Key: "t", Value: "root"}}},
		{Prefix: "prod", AppliedFor: []string{store.AppliedForCreateOnPush}, TagImmutable: true,
			ResourceTags: []store.Tag{{Key: "t", Value: "prod"}}, Encryption: store.Encryption{Type: "KMS", KMSKey: "arn:aws:kms:us-east-1:123456789012:key/k"}},
	} {
		if err := f.store.CreateCreationTemplate(ctx, tmpl); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		repo      string
		immutable bool
		tags      []store.Tag
		enc       store.Encryption
	}{
		{"prod/api", true, []store.Tag{{Key: "t", Value: "prod"}}, store.Encryption{Type: "KMS", KMSKey: "arn:aws:kms:us-east-1:123456789012:key/k"}},
		{"dev/api", false, []store.Tag{{Key: "t", Value: "root"}}, store.Encryption{}},
	} {
		ref, _ := name.ParseReference(f.host+"/"+tc.repo+":v1", name.Insecure)
		a, _ := random.Image(100, 1)
		if err := remote.Write(ref, a); err != nil {
			t.Fatal(err)
		}
		r, err := f.store.GetRepository(ctx, tc.repo)
		if err != nil {
			t.Fatal(err)
		}
		tags, err := f.store.ListRepositoryTags(ctx, tc.repo)
		if err != nil {
			t.Fatal(err)
		}
		if r.TagImmutable != tc.immutable || r.Encryption != tc.enc {
			t.Errorf("%s: immutable %v encryption %+v, want %v %+v", tc.repo, r.TagImmutable, r.Encryption, tc.immutable, tc.enc)
		}
		if diff := cmp.Diff(tc.tags, tags); diff != "" {
			t.Errorf("%s: tags (-want +got):\n%s", tc.repo, diff)
		}
		b, _ := random.Image(100, 1)
		err = remote.Write(ref, b)
		if tc.immutable != (err != nil) {
			t.Errorf("%s: moving v1: err = %v, immutable %v", tc.repo, err, tc.immutable)
		}
	}
}
