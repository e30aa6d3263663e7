package registry

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/s3test"
	"github.com/stowaway-scanner/stowaway/internal/server/metrics"
)

// s3Fixture is a registry over a fresh bucket of a SeaweedFS server, with
// the credentials in the standard AWS environment (as serve takes them).
func s3Fixture(t *testing.T, srv *s3test.Server, bucket, dir string, c *clock) *fixture {
	t.Helper()
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	if err := srv.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	st, err := ParseStorageURL(srv.URL(bucket), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, admins, dir, func(o *Options) {
		o.Storage = st
		o.Metrics = metrics.New()
		if c != nil {
			o.Now = c.now
		}
	})
}

// localFiles lists the regular files under dir (relative paths).
func localFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// keysWith are the bucket's keys that contain part.
func keysWith(t *testing.T, srv *s3test.Server, bucket, part string) []string {
	t.Helper()
	objs, err := srv.Objects(context.Background(), bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range objs {
		if strings.Contains(k, part) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestS3PushPullGC: on S3 (SeaweedFS) a push stores its blobs and
// manifest in the bucket and nothing under the data directory but the
// store; a pull gets the same image; deleting it and collecting garbage
// removes its blobs from the bucket.
func TestS3PushPullGC(t *testing.T) {
	srv := s3test.ForTest(t)
	ctx := context.Background()
	dir := t.TempDir()
	var c clock
	f := s3Fixture(t, srv, "gcbucket", dir, &c)
	alice := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "a-pass"}))

	img, err := random.Image(300_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(f.host+"/team/app:v1", name.Insecure)
	if err := remote.Write(ref, img, alice); err != nil {
		t.Fatalf("push: %v", err)
	}
	got, err := remote.Image(ref, alice)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if gd, wd := digestOf(t, got), digestOf(t, img); gd != wd {
		t.Fatalf("pulled %s, pushed %s", gd, wd)
	}
	ls, _ := got.Layers()
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		n, err := rc.Read(make([]byte, 1))
		rc.Close()
		if err != nil || n != 1 {
			t.Fatalf("read a pulled layer: %d, %v", n, err)
		}
	}
	layers := layerDigests(t, img)
	for _, l := range layers {
		enc := strings.TrimPrefix(l, "sha256:")
		if k := keysWith(t, srv, "gcbucket", "/blobs/sha256/"+enc[:2]+"/"+enc+"/data"); len(k) != 1 {
			t.Errorf("layer %s: bucket keys %v, want its data", l, k)
		}
	}
	if k := keysWith(t, srv, "gcbucket", "repositories/team/app/_manifests/tags/v1/current/link"); len(k) != 1 {
		t.Errorf("tag link in the bucket: %v", k)
	}
	if files := localFiles(t, dir); len(files) == 0 || !allStore(files) {
		t.Errorf("files under the data directory: %v, want the SQLite store only", files)
	}

	// The in-process image read (what a scan uses) works on S3 too.
	if _, err := f.reg.Image(ctx, "team/app", digestOf(t, img)); err != nil {
		t.Errorf("Image: %v", err)
	}

	if err := f.reg.DeleteManifest(ctx, "team/app", digestOf(t, img)); err != nil {
		t.Fatal(err)
	}
	// Past the fence's margin: the push's own blob references no longer
	// keep its blobs.
	c.advance(time.Hour)
	st, err := f.reg.CollectGarbage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Swept < len(layers)+1 {
		t.Errorf("GC swept %d blobs, want at least the %d layers and the config: %+v", st.Swept, len(layers), st)
	}
	for _, l := range layers {
		enc := strings.TrimPrefix(l, "sha256:")
		if k := keysWith(t, srv, "gcbucket", enc); len(k) != 0 {
			t.Errorf("layer %s still in the bucket after GC: %v", l, k)
		}
	}
	resp := f.upload(t, "alice", "HEAD", "/v2/team/app/blobs/"+layers[0], "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of a collected layer = %d, want 404", resp.StatusCode)
	}
}

// allStore: every file is the fixture's SQLite store (and its journal).
func allStore(files []string) bool {
	for _, f := range files {
		if !strings.HasPrefix(f, "db.sqlite") {
			return false
		}
	}
	return true
}

// TestS3UploadPurge: on S3 an interrupted upload is counted against the
// repository cap and purged after the purge age, its objects and its
// multipart upload gone from the bucket.
func TestS3UploadPurge(t *testing.T) {
	srv := s3test.ForTest(t)
	ctx := context.Background()
	var c clock
	f := s3Fixture(t, srv, "purge", t.TempDir(), &c)

	loc := f.open(t, "alice", "team/app")
	// More than the S3 driver's 10 MiB chunk, so part of it is a
	// multipart upload's part.
	if resp := f.upload(t, "alice", "PATCH", loc, strings.Repeat("x", 11<<20)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	f.open(t, "bob", "team/app")
	if n, err := f.reg.CountUploads(ctx, "team/app"); err != nil || n != 2 {
		t.Fatalf("CountUploads = %d, %v; want 2", n, err)
	}
	if k := keysWith(t, srv, "purge", "/_uploads/"); len(k) == 0 {
		t.Fatal("no upload objects in the bucket")
	}
	if n, err := f.reg.PurgeUploads(ctx); err != nil || n != 0 {
		t.Fatalf("purge of fresh uploads: %d, %v; want none", n, err)
	}
	c.advance(DefaultUploadPurgeAge + time.Minute)
	if n, err := f.reg.PurgeUploads(ctx); err != nil || n != 2 {
		t.Fatalf("purge past the age: %d, %v; want 2", n, err)
	}
	if k := keysWith(t, srv, "purge", "/_uploads/"); len(k) != 0 {
		t.Errorf("upload objects left in the bucket: %v", k)
	}
	mp, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("purge")})
	if err != nil {
		t.Fatal(err)
	}
	if len(mp.Uploads) != 0 {
		var keys []string
		for _, u := range mp.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		t.Errorf("multipart uploads left in the bucket: %v", keys)
	}
	if n, err := f.reg.CountUploads(ctx, "team/app"); err != nil || n != 0 {
		t.Errorf("CountUploads after the purge = %d, %v", n, err)
	}
}
