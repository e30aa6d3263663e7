package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

type pushEvent struct {
	Img     store.Image
	Created bool
}

type fixture struct {
	reg    *Registry
	store  *store.SQL
	srv    *httptest.Server
	host   string
	mu     sync.Mutex
	pushes []pushEvent
}

func (f *fixture) events() []pushEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pushEvent(nil), f.pushes...)
}

func newFixture(t *testing.T, users []auth.User) *fixture {
	t.Helper()
	return newFixtureWith(t, users, t.TempDir(), nil)
}

// newFixtureWith builds a fixture over dir (the store and the blobs; two
// fixtures on one dir are two replicas), letting edit adjust the options.
func newFixtureWith(t testing.TB, users []auth.User, dir string, edit func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.New(users, nil, []byte("secret"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st}
	opts := Options{
		Dir:   filepath.Join(dir, "blobs"),
		Store: st,
		Auth:  a,
		OnPush: func(_ context.Context, img store.Image, created bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.pushes = append(f.pushes, pushEvent{img, created})
		},
	}
	if edit != nil {
		edit(&opts)
	}
	reg, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Shutdown() })
	f.reg = reg
	f.srv = httptest.NewServer(reg)
	t.Cleanup(f.srv.Close)
	u, _ := url.Parse(f.srv.URL)
	f.host = u.Host
	return f
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

func TestPushPullRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(f.host+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	wantRaw, _ := img.RawManifest()
	gotRaw, _ := got.RawManifest()
	if string(wantRaw) != string(gotRaw) {
		t.Error("pulled manifest differs from the pushed one")
	}
	if diff := cmp.Diff(layerDigests(t, img), layerDigests(t, got)); diff != "" {
		t.Errorf("layer digests differ (-pushed +pulled):\n%s", diff)
	}
	// Layer bytes come back identical (digest verified while reading).
	ls, _ := got.Layers()
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("read layer: %v", err)
		}
		rc.Close()
	}

	dgst := digestOf(t, img)
	ev := f.events()
	if len(ev) != 1 || !ev[0].Created || ev[0].Img.Digest != dgst || ev[0].Img.Repository != "team/app" {
		t.Fatalf("push events = %+v", ev)
	}
	rec, err := f.store.GetImage(context.Background(), "team/app", dgst)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"v1"}, rec.Tags); diff != "" {
		t.Errorf("recorded tags (-want +got):\n%s", diff)
	}
	if rec.MediaType != string(types.DockerManifestSchema2) || rec.Size == 0 || rec.ArtifactMediaType != string(types.DockerConfigJSON) {
		t.Errorf("recorded image = %+v", rec)
	}
	if _, err := f.store.GetRepository(context.Background(), "team/app"); err != nil {
		t.Errorf("repository not created on push: %v", err)
	}

	// The server reads the stored image back through storage.
	stored, err := f.reg.Image(context.Background(), "team/app", dgst)
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, stored) != dgst {
		t.Error("Registry.Image digest differs")
	}
	if diff := cmp.Diff(layerDigests(t, img), layerDigests(t, stored)); diff != "" {
		t.Errorf("Registry.Image layers differ:\n%s", diff)
	}

	// Re-tagging the same digest is not a new image.
	ref2, _ := name.ParseReference(f.host+"/team/app:latest", name.Insecure)
	if err := remote.Write(ref2, img); err != nil {
		t.Fatal(err)
	}
	ev = f.events()
	if len(ev) != 2 || ev[1].Created {
		t.Errorf("re-tag events = %+v", ev)
	}

	// Deleting through the registry API is mirrored in the store.
	if err := remote.Delete(ref2); err != nil {
		t.Fatalf("delete tag: %v", err)
	}
	if _, err := f.store.ResolveTag(context.Background(), "team/app", "latest"); err == nil {
		t.Error("deleted tag still in the store")
	}
	dref, _ := name.ParseReference(f.host+"/team/app@"+dgst, name.Insecure)
	if err := remote.Delete(dref); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	if _, err := f.store.GetImage(context.Background(), "team/app", dgst); err == nil {
		t.Error("deleted image still in the store")
	}
}

func TestReferrers(t *testing.T) {
	f := newFixture(t, nil)
	base, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(f.host+"/app:v1", name.Insecure)
	if err := remote.Write(ref, base); err != nil {
		t.Fatal(err)
	}
	baseDesc, err := partialDescriptor(base)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(artifactType, content string) v1.Image {
		a := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		a = mutate.ConfigMediaType(a, types.MediaType(artifactType))
		a, err := mutate.AppendLayers(a, static.NewLayer([]byte(content), "application/json"))
		if err != nil {
			t.Fatal(err)
		}
		a = mutate.Annotations(a, map[string]string{"org.example": content}).(v1.Image)
		return mutate.Subject(a, *baseDesc).(v1.Image)
	}
	sbom := mk("application/spdx+json", `{"sbom":1}`)
	sig := mk("application/vnd.dev.cosign.artifact.sig.v1+json", `{"sig":1}`)
	for _, a := range []v1.Image{sbom, sig} {
		aref, _ := name.ParseReference(f.host+"/app@"+digestOf(t, a), name.Insecure)
		if err := remote.Write(aref, a); err != nil {
			t.Fatalf("push referrer: %v", err)
		}
	}
	// No fallback tag: the OCI-Subject header told the client we index.
	tags, err := remote.List(f.reg2Repo(t, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"v1"}, tags); diff != "" {
		t.Errorf("tags (a referrers fallback tag was pushed?) (-want +got):\n%s", diff)
	}

	dref, _ := name.NewDigest(f.host+"/app@"+baseDesc.Digest.String(), name.Insecure)
	idx, err := remote.Referrers(dref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	var got []string
	for _, m := range im.Manifests {
		got = append(got, m.ArtifactType+" "+m.Digest.String())
	}
	want := []string{"application/spdx+json " + digestOf(t, sbom), "application/vnd.dev.cosign.artifact.sig.v1+json " + digestOf(t, sig)}
	if diff := cmp.Diff(want, got, sortStrings()); diff != "" {
		t.Errorf("referrers (-want +got):\n%s", diff)
	}

	// Filtering by artifactType, with the header saying so.
	resp, err := http.Get(f.srv.URL + "/v2/app/referrers/" + baseDesc.Digest.String() + "?artifactType=application/spdx%2Bjson")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("OCI-Filters-Applied") != "artifactType" || !strings.Contains(string(body), digestOf(t, sbom)) || strings.Contains(string(body), digestOf(t, sig)) {
		t.Errorf("filtered referrers: header %q body %s", resp.Header.Get("OCI-Filters-Applied"), body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("referrers Content-Type = %q", ct)
	}

	// Unknown subject: 200 with an empty index. Bad digest: 400.
	for _, tt := range []struct {
		path string
		code int
	}{
		{"/v2/app/referrers/sha256:" + strings.Repeat("0", 64), 200},
		{"/v2/app/referrers/nope", 400},
	} {
		resp, err := http.Get(f.srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.code)
		}
	}

	// The PUT response carries OCI-Subject.
	raw, _ := sbom.RawManifest()
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/v2/app/manifests/"+digestOf(t, sbom), strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("OCI-Subject") != baseDesc.Digest.String() {
		t.Errorf("PUT referrer: %d OCI-Subject %q", resp.StatusCode, resp.Header.Get("OCI-Subject"))
	}
}

func (f *fixture) reg2Repo(t *testing.T, repo string) name.Repository {
	r, err := name.NewRepository(f.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func partialDescriptor(img v1.Image) (*v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	sz, err := img.Size()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{MediaType: mt, Digest: d, Size: sz}, nil
}

func sortStrings() cmp.Option {
	return cmp.Transformer("sort", func(in []string) []string {
		out := append([]string(nil), in...)
		for i := range out {
			for j := i + 1; j < len(out); j++ {
				if out[j] < out[i] {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
		return out
	})
}

func TestImmutableTagRefused(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.store.CreateRepository(ctx, store.Repository{Name: "imm", TagImmutable: true, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(f.host+"/imm:v1", name.Insecure)
	a, _ := random.Image(100, 1)
	b, _ := random.Image(100, 1)
	if err := remote.Write(ref, a); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, a); err != nil {
		t.Fatalf("re-pushing the same image to an immutable tag: %v", err)
	}
	err := remote.Write(ref, b)
	if err == nil || !strings.Contains(err.Error(), "TAG_INVALID") {
		t.Fatalf("overwriting an immutable tag: err = %v, want TAG_INVALID", err)
	}
}

func TestAuthRefusals(t *testing.T) {
	users := []auth.User{
		{Name: "reader", Password: "r-pass", Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
		{Name: "writer", Password: "w-pass", Tokens: []string{"tok-123"}, Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"push"}}}},
	}
	f := newFixture(t, users)
	img, _ := random.Image(100, 1)
	writer := authn.FromConfig(authn.AuthConfig{Username: "writer", Password: "w-pass"})
	reader := authn.FromConfig(authn.AuthConfig{Username: "reader", Password: "r-pass"})
	ref, _ := name.ParseReference(f.host+"/team/app:v1", name.Insecure)
	other, _ := name.ParseReference(f.host+"/other/app:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(writer)); err != nil {
		t.Fatalf("writer push: %v", err)
	}
	if _, err := remote.Image(ref, remote.WithAuth(reader)); err != nil {
		t.Fatalf("reader pull: %v", err)
	}
	img2, _ := random.Image(100, 1)
	if err := remote.Write(ref, img2, remote.WithAuth(reader)); err == nil {
		t.Error("reader could push")
	}
	if err := remote.Write(other, img, remote.WithAuth(writer)); err == nil {
		t.Error("writer could push outside its grant")
	}
	if _, err := remote.Image(ref); err == nil {
		t.Error("anonymous pull succeeded")
	}
	bad := authn.FromConfig(authn.AuthConfig{Username: "writer", Password: "wrong"})
	if _, err := remote.Image(ref, remote.WithAuth(bad)); err == nil {
		t.Error("pull with a wrong password succeeded")
	}

	tests := []struct {
		name, method, path, authz string
		want                      int
	}{
		{"no credentials", "GET", "/v2/", "", 401},
		{"bad password", "GET", "/v2/", basic("reader", "nope"), 401},
		{"unknown scheme", "GET", "/v2/", "Digest x", 401},
		{"base ok", "GET", "/v2/", basic("reader", "r-pass"), 200},
		{"bearer ok", "GET", "/v2/team/app/tags/list", "Bearer tok-123", 200},
		{"bad bearer", "GET", "/v2/team/app/tags/list", "Bearer tok-999", 401},
		{"reader delete", "DELETE", "/v2/team/app/manifests/v1", basic("reader", "r-pass"), 403},
		{"writer delete needs admin", "DELETE", "/v2/team/app/manifests/v1", basic("writer", "w-pass"), 403},
		{"reader other repo", "GET", "/v2/other/app/tags/list", basic("reader", "r-pass"), 403},
		{"catalog is filtered, not refused", "GET", "/v2/_catalog", basic("reader", "r-pass"), 200},
		{"reader upload", "POST", "/v2/team/app/blobs/uploads/", basic("reader", "r-pass"), 403},
		{"referrers need pull", "GET", "/v2/other/referrers/sha256:" + strings.Repeat("a", 64), basic("reader", "r-pass"), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, nil)
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
			if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func basic(u, p string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(u, p)
	return req.Header.Get("Authorization")
}

func TestManifestTooLarge(t *testing.T) {
	f := newFixture(t, nil)
	body := strings.NewReader(fmt.Sprintf(`{"schemaVersion":2,"x":"%s"}`, strings.Repeat("a", MaxManifestSize)))
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/v2/app/manifests/v1", body)
	req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized manifest: %d, want 413", resp.StatusCode)
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path string
		want route
		ok   bool
	}{
		{"/v2/", route{kind: "base"}, true},
		{"/v2/_catalog", route{kind: "catalog"}, true},
		{"/v2/a/b/manifests/v1", route{repo: "a/b", kind: "manifests", ref: "v1"}, true},
		{"/v2/a/blobs/uploads/", route{repo: "a", kind: "uploads", ref: "/"}, true},
		{"/v2/a/blobs/uploads/uuid", route{repo: "a", kind: "uploads", ref: "/uuid"}, true},
		{"/v2/a/blobs/sha256:x", route{repo: "a", kind: "blobs", ref: "sha256:x"}, true},
		{"/v2/a/tags/list", route{repo: "a", kind: "tags"}, true},
		{"/v2/a/referrers/sha256:x", route{repo: "a", kind: "referrers", ref: "sha256:x"}, true},
		{"/v2/manifests/manifests/x", route{repo: "manifests", kind: "manifests", ref: "x"}, true},
		{"/v2/UPPER/tags/list", route{repo: "UPPER", kind: "invalid-name"}, true},
		{"/v2/" + strings.Repeat("a", 256) + "/manifests/x", route{repo: strings.Repeat("a", 256), kind: "invalid-name"}, true},
		{"/v2/" + strings.Repeat("a", 255) + "/manifests/x", route{repo: strings.Repeat("a", 255), kind: "manifests", ref: "x"}, true},
		{"/v2/nothing", route{}, false},
	}
	for _, tt := range tests {
		got, ok := parseRoute(tt.path)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDeleteIsIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	img, _ := random.Image(100, 1)
	ref, _ := name.ParseReference(f.host+"/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d := digestOf(t, img)
	for i := range 2 {
		if err := f.reg.DeleteManifest(ctx, "app", d); err != nil {
			t.Fatalf("DeleteManifest #%d: %v", i+1, err)
		}
		if err := f.reg.Untag(ctx, "app", "v1"); err != nil {
			t.Fatalf("Untag #%d: %v", i+1, err)
		}
	}
	if _, err := remote.Image(ref); err == nil {
		t.Error("deleted image still pullable by tag")
	}
	if _, err := f.reg.Image(ctx, "app", d); err == nil {
		t.Error("deleted image still readable from storage")
	}
	if err := f.reg.DeleteRepository(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteRepository(ctx, "never-existed"); err != nil {
		t.Fatalf("deleting a missing repository: %v", err)
	}
}
