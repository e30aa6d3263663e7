package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// TestReservedAnnotationsRefused pushes manifests as a client would: those
// carrying a dev.stowaway.* annotation (the server's SBOM annotations) are
// refused with MANIFEST_INVALID and leave no trace; others are stored.
func TestReservedAnnotationsRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	base, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(f.host+"/app:1", name.Insecure)
	if err := remote.Write(ref, base); err != nil {
		t.Fatal(err)
	}
	subject, err := partialDescriptor(base)
	if err != nil {
		t.Fatal(err)
	}
	artifact := func(ann map[string]string) v1.Image {
		a := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		a = mutate.ConfigMediaType(a, "application/vnd.cyclonedx+json")
		a, err := mutate.AppendLayers(a, static.NewLayer([]byte(`{"bomFormat":"CycloneDX","components":[]}`), "application/vnd.cyclonedx+json"))
		if err != nil {
			t.Fatal(err)
		}
		a = mutate.Annotations(a, ann).(v1.Image)
		return mutate.Subject(a, *subject).(v1.Image)
	}
	tests := []struct {
		name   string
		ann    map[string]string
		tagged bool // pushed by tag rather than by digest
		refuse string
	}{
		{"the catalogers annotation", map[string]string{"dev.stowaway.catalogers": "apk@1,dpkg@1,rpm@1", "dev.stowaway.scan-type": "BASIC"}, false, "dev.stowaway.catalogers"},
		{"the scan-type annotation alone", map[string]string{"dev.stowaway.scan-type": "ENHANCED"}, false, "dev.stowaway.scan-type"},
		{"the prefix in another case", map[string]string{"Dev.Stowaway.Catalogers": "x"}, false, "Dev.Stowaway.Catalogers"},
		{"pushed by tag", map[string]string{"dev.stowaway.catalogers": "x", "org.example": "y"}, true, "dev.stowaway.catalogers"},
		{"a user SBOM", map[string]string{"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}, false, ""},
		{"the DB artifact's annotations", map[string]string{"io.stowaway.db.build-id": "b1"}, false, ""},
		{"a look-alike prefix", map[string]string{"dev.stowawayx.catalogers": "x"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := artifact(tt.ann)
			d := digestOf(t, a)
			target := f.host + "/app@" + d
			if tt.tagged {
				target = f.host + "/app:forged"
			}
			aref, _ := name.ParseReference(target, name.Insecure)
			before := len(f.events())
			err := remote.Write(aref, a)
			refs, lerr := f.store.ListReferrers(ctx, "app", subject.Digest.String(), "")
			if lerr != nil {
				t.Fatal(lerr)
			}
			listed := false
			for _, r := range refs {
				listed = listed || r.Digest == d
			}
			_, gerr := f.store.GetImage(ctx, "app", d)
			if tt.refuse == "" {
				if err != nil || !listed || gerr != nil {
					t.Fatalf("push: %v; listed %v; image row: %v; want it stored", err, listed, gerr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "MANIFEST_INVALID") || !strings.Contains(err.Error(), tt.refuse) {
				t.Fatalf("push = %v, want MANIFEST_INVALID naming %q", err, tt.refuse)
			}
			if listed || !errors.Is(gerr, store.ErrNotFound) || len(f.events()) != before {
				t.Errorf("refused push left a trace: listed %v, image row %v, %d push events", listed, gerr, len(f.events())-before)
			}
			if _, err := remote.Head(aref); err == nil {
				t.Error("the refused manifest is served")
			}
		})
	}

	// The server's own writer is not a client push.
	own, err := f.reg.PutArtifact(ctx, "app", Artifact{
		ArtifactType: "application/vnd.cyclonedx+json",
		Subject:      ocispec.Descriptor{MediaType: string(subject.MediaType), Digest: digest.Digest(subject.Digest.String()), Size: subject.Size},
		Layers:       []ArtifactLayer{{MediaType: "application/vnd.cyclonedx+json", Data: []byte(`{}`)}},
		Annotations:  map[string]string{"dev.stowaway.catalogers": "apk@1", "dev.stowaway.scan-type": "BASIC"},
	})
	if err != nil {
		t.Fatalf("PutArtifact with the server's annotations: %v", err)
	}
	refs, err := f.store.ListReferrers(ctx, "app", subject.Digest.String(), "application/vnd.cyclonedx+json")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range refs {
		found = found || (r.Digest == own.Digest.String() && r.Annotations["dev.stowaway.catalogers"] == "apk@1")
	}
	if !found {
		t.Errorf("the server's own SBOM is not listed: %+v", refs)
	}
}

// TestSBOMAuthorityHeader: every /v2/ response says the registry enforces
// the reservation, refusals and challenges included.
func TestSBOMAuthorityHeader(t *testing.T) {
	users := []auth.User{{Name: "ci", Password: "pw", Grants: []auth.Grant{{Repository: "*", Actions: []string{"pull", "push"}}}}}
	f := newFixture(t, users)
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(f.host+"/app:1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "pw"}))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, authz string
		status                    int
	}{
		{"base, anonymous", "GET", "/v2/", "", 401},
		{"base", "GET", "/v2/", basic("ci", "pw"), 200},
		{"referrers", "GET", "/v2/app/referrers/" + digestOf(t, img), basic("ci", "pw"), 200},
		{"manifest", "GET", "/v2/app/manifests/1", basic("ci", "pw"), 200},
		{"denied", "DELETE", "/v2/app/manifests/1", basic("ci", "pw"), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, nil)
			req.Header.Set("Accept", string(types.DockerManifestSchema2))
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get(HeaderSBOMAuthority) != SBOMAuthorityEnforced {
				t.Errorf("%s %s = %d with %s %q; want %d with %q", tt.method, tt.path, resp.StatusCode, HeaderSBOMAuthority, resp.Header.Get(HeaderSBOMAuthority), tt.status, SBOMAuthorityEnforced)
			}
		})
	}
}
