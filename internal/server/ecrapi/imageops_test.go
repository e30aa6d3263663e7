package ecrapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// newImageEnv is newEnv with the image operations over a real registry in
// a temporary directory, and repository "team/app".
func newImageEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: t0}
	a, err := auth.New(nil, []auth.AccessKey{
		{ID: adminKey, Secret: secret, Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{ID: readerKey, Secret: secret, Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
	}, []byte("k"), c.now)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(ctx, registry.Options{Dir: t.TempDir(), Store: st, Auth: a, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Shutdown() })
	if err := st.CreateRepository(ctx, store.Repository{Name: "team/app", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return &env{
		api: New(Options{Store: st, Registry: reg, Auth: a, RegistryID: "123456789012", Region: "us-east-1", Now: c.now,
			Images: reg, Referrers: st, LayerURLSecret: []byte("layer-secret")}),
		store: st, clock: c,
	}
}

func TestImageOperationsNeedImages(t *testing.T) {
	e := newEnv(t)
	for op, want := range map[string]string{
		"BatchGetImage": "InvalidParameterException", "PutImage": "InvalidParameterException",
		"InitiateLayerUpload": "InvalidParameterException", "GetDownloadUrlForLayer": "InvalidParameterException",
		"ListImageReferrers": "ValidationException", "DescribeImageSigningStatus": "ValidationException",
	} {
		e.wantErr(t, adminKey, op, map[string]any{"repositoryName": "team/app"}, want)
	}
}

func TestImageOperationsPermissions(t *testing.T) {
	e := newImageEnv(t)
	for _, tt := range []struct {
		op   string
		in   map[string]any
		want string
	}{
		{"PutImage", map[string]any{"repositoryName": "team/app", "imageManifest": "{}", "imageTag": "x"}, "AccessDeniedException"},
		{"InitiateLayerUpload", map[string]any{"repositoryName": "team/app"}, "AccessDeniedException"},
		{"UploadLayerPart", map[string]any{"repositoryName": "team/app", "uploadId": "u", "partFirstByte": 0, "partLastByte": 0, "layerPartBlob": "YQ=="}, "AccessDeniedException"},
		{"CompleteLayerUpload", map[string]any{"repositoryName": "team/app", "uploadId": "u", "layerDigests": []string{"sha256:00"}}, "AccessDeniedException"},
		{"BatchGetImage", map[string]any{"repositoryName": "other", "imageIds": []any{map[string]any{"imageTag": "x"}}}, "AccessDeniedException"},
		{"GetDownloadUrlForLayer", map[string]any{"repositoryName": "other", "layerDigest": "sha256:00"}, "AccessDeniedException"},
		{"ListImageReferrers", map[string]any{"repositoryName": "other", "subjectId": map[string]any{"imageDigest": "sha256:00"}}, "AccessDeniedException"},
		{"BatchGetImage", map[string]any{"repositoryName": "team/none", "imageIds": []any{map[string]any{"imageTag": "x"}}}, "RepositoryNotFoundException"},
		{"BatchGetImage", map[string]any{"repositoryName": "team/app", "imageIds": []any{}}, "InvalidParameterException"},
		{"ListImageReferrers", map[string]any{"repositoryName": "team/app", "subjectId": map[string]any{"imageDigest": "sha256:00"}, "maxResults": 51}, "InvalidParameterException"},
		{"ListImageReferrers", map[string]any{"repositoryName": "team/app", "subjectId": map[string]any{"imageDigest": "sha256:00"}, "filter": map[string]any{"artifactTypes": []string{"a", "b", "c", "d", "e", "f"}}}, "InvalidParameterException"},
	} {
		e.wantErr(t, readerKey, tt.op, tt.in, tt.want)
	}
}

func TestImageBodyLimits(t *testing.T) {
	e := newImageEnv(t)
	up := e.must(t, "InitiateLayerUpload", map[string]any{"repositoryName": "team/app"})
	big := make([]byte, MaxLayerPart+1)
	e.wantErr(t, adminKey, "UploadLayerPart", map[string]any{"repositoryName": "team/app", "uploadId": up["uploadId"],
		"partFirstByte": 0, "partLastByte": len(big) - 1, "layerPartBlob": big}, "InvalidParameterException")
	// A tag is never a path: it cannot reach another repository.
	e.wantErr(t, adminKey, "PutImage", map[string]any{"repositoryName": "team/app", "imageManifest": "{}", "imageTag": "x/manifests/y"}, "InvalidParameterException")
	e.wantErr(t, adminKey, "PutImage", map[string]any{"repositoryName": "team/app", "imageManifest": strings.Repeat("a", MaxImageManifest+1)}, "InvalidParameterException")
}

func TestLayerURLExpires(t *testing.T) {
	e := newImageEnv(t)
	d := uploadBlob(t, e, []byte("layer bytes"))
	out := e.must(t, "GetDownloadUrlForLayer", map[string]any{"repositoryName": "team/app", "layerDigest": d})
	u := out["downloadUrl"].(string)
	get := func() (int, string) {
		w := httptest.NewRecorder()
		e.api.LayerHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(); code != 200 || body != "layer bytes" {
		t.Fatalf("download: %d %q", code, body)
	}
	e.clock.t = e.clock.t.Add(LayerURLTTL + 1e9)
	if code, _ := get(); code != http.StatusForbidden {
		t.Errorf("expired URL: %d, want 403", code)
	}
}

// uploadBlob uploads b into team/app in one part and returns its digest.
func uploadBlob(t *testing.T, e *env, b []byte) string {
	t.Helper()
	up := e.must(t, "InitiateLayerUpload", map[string]any{"repositoryName": "team/app"})
	e.must(t, "UploadLayerPart", map[string]any{"repositoryName": "team/app", "uploadId": up["uploadId"], "partFirstByte": 0, "partLastByte": len(b) - 1, "layerPartBlob": b})
	d := digestOf(b)
	e.must(t, "CompleteLayerUpload", map[string]any{"repositoryName": "team/app", "uploadId": up["uploadId"], "layerDigests": []string{d}})
	return d
}

var digestPattern = regexp.MustCompile(`^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$`)

// FuzzValidDigest: validDigest is the model's ImageDigest pattern.
func FuzzValidDigest(f *testing.F) {
	for _, s := range []string{"sha256:abc", "sha256:", ":ab", "a+b.c_d-e:0F", "sha256:xyz", "sha256:ab\n", "ß:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validDigest(s), digestPattern.MatchString(s); got != want {
			t.Fatalf("validDigest(%q) = %v, pattern says %v", s, got, want)
		}
	})
}

// FuzzLayerURL: the download handler serves a blob only for the exact
// repository, digest and expiry the API signed.
func FuzzLayerURL(f *testing.F) {
	e := newImageEnv(f)
	ctx := context.Background()
	reg := e.api.o.Images
	id, err := reg.OpenUpload(ctx, "test", "team/app")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := reg.AppendUpload(ctx, "team/app", id, 0, []byte("blob")); err != nil {
		f.Fatal(err)
	}
	d := digestOf([]byte("blob"))
	if _, err := reg.CommitUpload(ctx, "team/app", id, d); err != nil {
		f.Fatal(err)
	}
	exp := t0.Add(LayerURLTTL).Unix()
	sig := e.api.layerSignature("team/app", d, exp)
	f.Add("team/app", d, strconv.FormatInt(exp, 10), sig)
	f.Add("team/app", d, strconv.FormatInt(exp+1, 10), sig)
	f.Add("team/ap", d, strconv.FormatInt(exp, 10), sig)
	f.Fuzz(func(t *testing.T, repo, dgst, expires, signature string) {
		q := url.Values{"repositoryName": {repo}, "layerDigest": {dgst}, "expires": {expires}, "signature": {signature}}
		w := httptest.NewRecorder()
		e.api.LayerHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, LayerPath+"?"+q.Encode(), nil))
		signed := repo == "team/app" && dgst == d && expires == strconv.FormatInt(exp, 10) && signature == sig
		if (w.Code == http.StatusOK) != signed {
			t.Fatalf("%v: %d %q", q, w.Code, w.Body.String())
		}
		if signed && w.Body.String() != "blob" {
			t.Fatalf("served %q", w.Body.String())
		}
	})
}

// FuzzUploadLayerPart: any part request is accepted only where it continues
// the upload, and then the upload holds exactly the bytes sent; nothing
// is a server error.
func FuzzUploadLayerPart(f *testing.F) {
	e := newImageEnv(f)
	f.Add(int64(0), int64(3), []byte("abcd"))
	f.Add(int64(0), int64(-1), []byte{})
	f.Add(int64(1), int64(1), []byte("b"))
	f.Add(int64(-5), int64(0), []byte("z"))
	f.Fuzz(func(t *testing.T, first, last int64, blob []byte) {
		up := e.must(t, "InitiateLayerUpload", map[string]any{"repositoryName": "team/app"})
		id := up["uploadId"].(string)
		defer func() { _ = e.api.o.Images.CancelUpload(context.Background(), "team/app", id) }()
		code, typ, out := e.do(t, adminKey, "UploadLayerPart", map[string]any{"repositoryName": "team/app", "uploadId": id,
			"partFirstByte": first, "partLastByte": last, "layerPartBlob": blob})
		ok := first == 0 && len(blob) > 0 && last == int64(len(blob))-1
		if code >= 500 || (code == 200) != ok {
			t.Fatalf("part [%d, %d] of %d bytes: %d %s %v", first, last, len(blob), code, typ, out)
		}
		size, err := e.api.o.Images.UploadSize(context.Background(), "team/app", id)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if ok {
			want = int64(len(blob))
		}
		if size != want {
			t.Fatalf("upload holds %d bytes, want %d", size, want)
		}
	})
}

// FuzzPutImage: any manifest, media type and tag is stored or refused with
// an ECR client error, never a server error; a stored one reads back
// byte for byte under its digest.
func FuzzPutImage(f *testing.F) {
	e := newImageEnv(f)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	ctx := context.Background()
	id, err := e.api.o.Images.OpenUpload(ctx, "test", "team/app")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := e.api.o.Images.AppendUpload(ctx, "team/app", id, 0, cfg); err != nil {
		f.Fatal(err)
	}
	if _, err := e.api.o.Images.CommitUpload(ctx, "team/app", id, digestOf(cfg)); err != nil {
		f.Fatal(err)
	}
	good := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digestOf(cfg) + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[]}`
	f.Add(good, "", "v1")
	f.Add(good, "application/vnd.docker.distribution.manifest.v2+json", "")
	f.Add(`{"schemaVersion":2,"manifests":[]}`, "application/vnd.oci.image.index.v1+json", "idx")
	f.Add("{", "", "x")
	f.Fuzz(func(t *testing.T, manifest, mediaType, tag string) {
		code, typ, out := e.do(t, adminKey, "PutImage", map[string]any{"repositoryName": "team/app", "imageManifest": manifest, "imageManifestMediaType": mediaType, "imageTag": tag})
		if code >= 500 {
			t.Fatalf("PutImage(%q, %q, %q): %d %s %v", manifest, mediaType, tag, code, typ, out)
		}
		if code != 200 {
			return
		}
		d := digestOf([]byte(manifest))
		_, payload, err := e.api.o.Images.Manifest(ctx, "team/app", d)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(manifest, string(payload)); diff != "" {
			t.Fatalf("stored manifest (-sent +stored):\n%s", diff)
		}
	})
}

func digestOf(b []byte) string { return "sha256:" + hexSHA256(b) }
