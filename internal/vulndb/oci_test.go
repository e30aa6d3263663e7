package vulndb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/klauspost/compress/zstd"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// testRegistry is an in-process registry; tamper, when set, rewrites the
// bodies of blob GETs on the way out.
func testRegistry(t *testing.T, tamper func([]byte) []byte) string {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	if tamper == nil {
		return strings.TrimPrefix(reg.URL, "http://")
	}
	target, _ := url.Parse(reg.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || !strings.Contains(resp.Request.URL.Path, "/blobs/") {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		b = tamper(b)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	return strings.TrimPrefix(front.URL, "http://")
}

func TestPushPull(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, nil)
	ref := host + "/stowaway/db:v1"
	src := t.TempDir()
	mustUpdate(t, src,
		&fakeUpdater{name: "alpine", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "alpine:3.19", "musl", "1.2.4-r3", "ALPINE-1")}},
		&fakeUpdater{name: "nvd", version: "1", advs: []*advisory.Advisory{{ID: "CVE-1", CVSS: []advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N", Score: 9.8, Source: "nvd"}}}}})
	built := mustOpen(t, src)

	digest, err := Push(ctx, src, ref, RemoteOptions{})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}

	// The manifest is an OCI artifact of our type with one zstd layer.
	r, _ := name.ParseReference(ref)
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != digest {
		t.Errorf("Push returned %s, registry has %s", digest, desc.Digest)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != ArtifactType || m.Config.MediaType != ArtifactType || len(m.Layers) != 1 || m.Layers[0].MediaType != LayerMediaType {
		t.Errorf("manifest = %s", desc.Manifest)
	}
	if m.Annotations[AnnotationSchemaVersion] != strconv.Itoa(SchemaVersion) || m.Annotations[AnnotationBuildID] != built.BuildID() || m.Annotations[AnnotationCreated] == "" {
		t.Errorf("annotations = %v", m.Annotations)
	}

	dst := t.TempDir()
	res, err := Pull(ctx, ref, dst, RemoteOptions{})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if res.BuildID != built.BuildID() || res.AlreadyCurrent || res.Digest != digest {
		t.Errorf("PullResult = %+v", res)
	}
	pulled := mustOpen(t, dst)
	if diff := cmp.Diff(fixedOf(t, built, "alpine:3.19", "musl"), fixedOf(t, pulled, "alpine:3.19", "musl")); diff != "" {
		t.Errorf("pulled lookup (-built +pulled):\n%s", diff)
	}
	if e, err := pulled.Enrichment(ctx, "CVE-1"); err != nil || e == nil || e.CVSS[0].Score != 9.8 {
		t.Errorf("pulled enrichment = %+v, %v", e, err)
	}
	if changed, err := built.ChangedPairs(ctx, pulled); err != nil || len(changed) != 0 {
		t.Errorf("pulled DB differs: %v, %v", changed, err)
	}
	// Pulling the same build again is a no-op.
	again, err := Pull(ctx, ref, dst, RemoteOptions{})
	if err != nil || !again.AlreadyCurrent {
		t.Errorf("second Pull = %+v, %v", again, err)
	}
	// The pulled DB keeps the fetch state, so a local update is incremental.
	rep := mustUpdate(t, dst, &fakeUpdater{name: "alpine", version: "1"}, &fakeUpdater{name: "nvd", version: "1"})
	if rep.Sources[0].Outcome != Unchanged || rep.Sources[1].Outcome != Unchanged {
		t.Errorf("update after pull: %+v", rep.Sources)
	}
}

func TestPullRejectsTamperedBlob(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	mustUpdate(t, src, &fakeUpdater{name: "a", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "1.0")}})
	// A different but valid DB, compressed: a substitution that decompresses
	// fine and is only caught by the digest.
	other := t.TempDir()
	orep := mustUpdate(t, other, &fakeUpdater{name: "a", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "6.6.6")}})
	raw, err := os.ReadFile(orep.Path)
	if err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	enc, _ := zstd.NewWriter(&zbuf)
	enc.Write(raw)
	enc.Close()

	tests := []struct {
		name   string
		tamper func([]byte) []byte
		want   string // one of "|"-separated substrings
	}{
		{"flipped byte", func(b []byte) []byte {
			c := bytes.Clone(b)
			c[len(c)/2] ^= 0xff
			return c
		}, ""},
		{"substituted valid DB", func([]byte) []byte { return zbuf.Bytes() }, "sha256|manifest says"},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			mustUpdate(t, dst, &fakeUpdater{name: "a", version: "0", advs: []*advisory.Advisory{osAdv("CVE-0", "debian:12", "curl", "0.5")}})
			// Push goes through the proxy untouched (it never GETs blobs);
			// pulls get the tampered blob.
			host := testRegistry(t, tc.tamper)
			ref := host + "/stowaway/db:latest"
			if _, err := Push(ctx, src, ref, RemoteOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := Pull(ctx, ref, dst, RemoteOptions{})
			if err == nil || !containsAny(err.Error(), strings.Split(tc.want, "|")) {
				t.Fatalf("tampered pull: err = %v, want an error containing %q", err, tc.want)
			}
			if got := fixedOf(t, mustOpen(t, dst), "debian:12", "curl"); !cmp.Equal(got, map[string]string{"CVE-0": "0.5"}) {
				t.Errorf("current DB changed by a failed pull: %v", got)
			}
			if files := dbFiles(t, dst); len(files) != 1 {
				t.Errorf("files after a failed pull: %v", files)
			}
		})
	}
}

func TestPullRejectsOtherArtifacts(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, nil)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(host + "/some/image:latest")
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := Pull(ctx, r.String(), dst, RemoteOptions{}); err == nil || !strings.Contains(err.Error(), "not a stowaway DB") {
		t.Errorf("pull of a plain image: %v", err)
	}
	if _, err := os.Stat(dst + "/" + currentFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CURRENT written by a failed pull")
	}

	// Another schema version is refused before downloading.
	src := t.TempDir()
	mustUpdate(t, src, &fakeUpdater{name: "a", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "1.0")}})
	if _, err := Push(ctx, src, host+"/stowaway/db:v1", RemoteOptions{}); err != nil {
		t.Fatal(err)
	}
	cur, _ := name.ParseReference(host + "/stowaway/db:v1")
	desc, err := remote.Get(cur)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	m.Annotations[AnnotationSchemaVersion] = "999"
	raw, _ := json.Marshal(m)
	future, _ := name.ParseReference(host + "/stowaway/db:future")
	if err := remote.Put(future, rawManifest{raw}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, future.String(), dst, RemoteOptions{}); !errors.Is(err, ErrSchema) {
		t.Errorf("pull of schema 999: %v, want ErrSchema", err)
	}
	dir := t.TempDir()
	if _, err := Pull(ctx, host+"/stowaway/db:missing", dir, RemoteOptions{}); err == nil {
		t.Error("pull of a missing tag succeeded")
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestDownloadChecksDigests exercises Pull's own checks (beyond
// go-containerregistry's): a same-size substitute that decompresses fine
// fails the layer digest, and a wrong uncompressed digest is caught too.
func TestDownloadChecksDigests(t *testing.T) {
	compress := func(s string) []byte {
		var b bytes.Buffer
		enc, _ := zstd.NewWriter(&b)
		enc.Write([]byte(s))
		enc.Close()
		return b.Bytes()
	}
	good, evil := compress("the real database"), compress("the evil database")
	if len(good) != len(evil) {
		t.Fatalf("fixture sizes differ: %d %d", len(good), len(evil))
	}
	goodLayer := static.NewLayer(good, LayerMediaType)
	dig, _ := goodLayer.Digest()
	rawDig := "sha256:" + hexSum([]byte("the real database"))
	tests := []struct {
		name   string
		serve  []byte
		raw    string
		max    int64
		wantIn string
	}{
		{"genuine", good, rawDig, 1 << 20, ""},
		{"same-size substitute", evil, rawDig, 1 << 20, "does not match the manifest"},
		{"wrong uncompressed digest", good, "sha256:" + hexSum([]byte("x")), 1 << 20, "does not match the annotated"},
		{"over the size cap", good, rawDig, 4, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/db.tmp"
			err := download(context.Background(), static.NewLayer(tc.serve, LayerMediaType),
				v1.Descriptor{Digest: dig, Size: int64(len(good))}, tc.raw, path, tc.max)
			if tc.wantIn == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("err = %v, want %q", err, tc.wantIn)
			}
		})
	}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
