package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// TestPutArtifact writes an artifact programmatically and reads it back as
// an OCI client does: the manifest follows the OCI 1.1 artifact guidance,
// the referrers API lists it, and the store records it as a push.
func TestPutArtifact(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(f.host + "/app:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	subject, err := f.reg.ManifestDescriptor(ctx, "app", digestOf(t, img))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	if subject.Size != int64(len(raw)) || subject.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("ManifestDescriptor = %+v; want the manifest's own size %d and media type", subject, len(raw))
	}
	ann := map[string]string{"k": "v"}
	d, err := f.reg.PutArtifact(ctx, "app", Artifact{
		ArtifactType: "application/example+json",
		Subject:      subject,
		Layers:       []ArtifactLayer{{MediaType: "application/example+json", Data: []byte(`{"a":1}`)}},
		Annotations:  ann,
	})
	if err != nil {
		t.Fatal(err)
	}

	dg, _ := name.NewDigest(f.host + "/app@" + d.Digest.String())
	got, err := remote.Get(dg)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(got.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	want := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/example+json",
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: ocispec.DescriptorEmptyJSON.Digest, Size: 2},
		Layers:       []ocispec.Descriptor{{MediaType: "application/example+json", Digest: digest.FromString(`{"a":1}`), Size: 7}},
		Subject:      &subject,
		Annotations:  ann,
	}
	want.SchemaVersion = 2
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("stored manifest (-want +got):\n%s", diff)
	}
	refs, err := f.store.ListReferrers(ctx, "app", subject.Digest.String(), "application/example+json")
	if err != nil || len(refs) != 1 || refs[0].Digest != d.Digest.String() || refs[0].Annotations["k"] != "v" {
		t.Errorf("referrers = %+v, %v", refs, err)
	}
	ev := f.events()
	if len(ev) != 2 || ev[1].Img.Digest != d.Digest.String() || !ev[1].Created || ev[1].Img.ArtifactMediaType != ocispec.MediaTypeEmptyJSON {
		t.Errorf("push events %+v: want the artifact recorded as a new push with the empty config", ev)
	}

	if err := f.reg.DeleteArtifact(ctx, "app", d.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(dg); err == nil {
		t.Error("deleted artifact still served")
	}
	if _, err := f.store.GetImage(ctx, "app", d.Digest.String()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted artifact still recorded: %v", err)
	}
	if refs, _ := f.store.ListReferrers(ctx, "app", subject.Digest.String(), ""); len(refs) != 0 {
		t.Errorf("deleted artifact still a referrer: %+v", refs)
	}
	if err := f.reg.DeleteArtifact(ctx, "app", d.Digest.String()); err != nil {
		t.Errorf("deleting twice: %v", err)
	}

	for _, bad := range []struct {
		a    Artifact
		want string
	}{
		{Artifact{Subject: subject, Layers: []ArtifactLayer{{MediaType: "x/y"}}}, "artifactType"},
		{Artifact{ArtifactType: "x/y", Layers: []ArtifactLayer{{MediaType: "x/y"}}}, "subject digest"},
		{Artifact{ArtifactType: "x/y", Subject: subject}, "layer"},
	} {
		if _, err := f.reg.PutArtifact(ctx, "app", bad.a); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("PutArtifact(%+v) = %v, want an error about %s", bad.a, err, bad.want)
		}
	}
}

// TestDeleteImageDeletesReferrers: deleting an image by digest through the
// registry API deletes its referrers and theirs (an SBOM, a signature of
// the SBOM), as ECR does for OCI 1.1 artifacts; another image's referrer
// stays.
func TestDeleteImageDeletesReferrers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	push := func(tag string) string {
		t.Helper()
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(f.host + "/app:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		return digestOf(t, img)
	}
	refer := func(subject, artifactType string) string {
		t.Helper()
		desc, err := f.reg.ManifestDescriptor(ctx, "app", subject)
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.reg.PutArtifact(ctx, "app", Artifact{ArtifactType: artifactType, Subject: desc,
			Layers: []ArtifactLayer{{MediaType: artifactType, Data: []byte(subject + artifactType)}}})
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest.String()
	}
	doomed, kept := push("1"), push("2")
	sbom := refer(doomed, "application/vnd.cyclonedx+json")
	sig := refer(sbom, "application/vnd.cncf.notary.signature")
	keptSBOM := refer(kept, "application/vnd.cyclonedx+json")

	dg, _ := name.NewDigest(f.host + "/app@" + doomed)
	if err := remote.Delete(dg); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what, digest string
		gone         bool
	}{
		{"the image", doomed, true},
		{"its SBOM", sbom, true},
		{"the SBOM's signature", sig, true},
		{"the other image", kept, false},
		{"the other image's SBOM", keptSBOM, false},
	} {
		_, err := f.store.GetImage(ctx, "app", tc.digest)
		d, _ := name.NewDigest(f.host + "/app@" + tc.digest)
		_, gerr := remote.Get(d)
		if gone := errors.Is(err, store.ErrNotFound) && gerr != nil; gone != tc.gone {
			t.Errorf("%s: gone = %v (store: %v, registry: %v), want %v", tc.what, gone, err, gerr, tc.gone)
		}
	}
	if refs, _ := f.store.ListReferrers(ctx, "app", kept, ""); len(refs) != 1 {
		t.Errorf("the other image's referrers = %+v, want its SBOM", refs)
	}
	if n, err := f.reg.DeleteReferrers(ctx, "app", doomed); n != 0 || err != nil {
		t.Errorf("DeleteReferrers again = %d, %v; want nothing to do", n, err)
	}
}
