package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/stowaway-scanner/stowaway/internal/s3test"
)

// replicas are two registries over one blob storage and one store, as two
// serve processes would be; a is the collector, its stages run hook.
type replicas struct {
	a, b *fixture
	dir  string
	mu   sync.Mutex
	hook func(ctx context.Context, stage string) error
}

func newReplicas(t *testing.T, c *clock, st *Storage) *replicas {
	t.Helper()
	rs := &replicas{dir: t.TempDir()}
	edit := func(collector bool) func(*Options) {
		return func(o *Options) {
			o.Now = c.now
			if st != nil {
				o.Storage = *st
			}
			if collector {
				o.gcHook = func(ctx context.Context, stage string) error {
					rs.mu.Lock()
					h := rs.hook
					rs.mu.Unlock()
					if h == nil {
						return nil
					}
					return h(ctx, stage)
				}
			}
		}
	}
	rs.a = newFixtureWith(t, admins, rs.dir, edit(true))
	rs.b = newFixtureWith(t, admins, rs.dir, edit(false))
	return rs
}

func (rs *replicas) setHook(h func(ctx context.Context, stage string) error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.hook = h
}

// onceAt returns a hook running fn the first time stage is reached.
func onceAt(stage string, fn func(ctx context.Context)) func(context.Context, string) error {
	done := false
	return func(ctx context.Context, s string) error {
		if s == stage && !done {
			done = true
			fn(ctx)
		}
		return nil
	}
}

var aliceAuth = remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "a-pass"}))

func pushTo(t *testing.T, f *fixture, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(f.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, aliceAuth); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// manifestOf returns an image's manifest and media type, to PUT it again
// without uploading its blobs.
func manifestOf(t *testing.T, img v1.Image) ([]byte, string) {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return raw, string(mt)
}

// pullState pulls ref from f completely (manifest, config, every layer)
// and says whether the manifest is served; a manifest that is served
// with a blob that is not is a broken image and fails the test.
func pullState(t *testing.T, f *fixture, ref string) bool {
	t.Helper()
	r, err := name.ParseReference(f.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, aliceAuth)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return false
	}
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Errorf("BROKEN IMAGE: %s is served but its config is not: %v", ref, err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			t.Errorf("BROKEN IMAGE: %s is served but its layer %s is not: %v", ref, d, err)
		}
	}
	return true
}

// trashFiles lists the regular files left in a filesystem storage's trash.
func trashFiles(t *testing.T, rs *replicas) []string {
	t.Helper()
	dir := filepath.Join(rs.dir, "blobs", filepath.FromSlash(trashRoot))
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return localFiles(t, dir)
}

func putCode(err error) string {
	if err == nil {
		return "201"
	}
	var me *ManifestError
	if errors.As(err, &me) {
		return me.Code
	}
	return err.Error()
}

type gcCounts struct{ Swept, Restored, Recovered int }

// TestGCFenceAcrossReplicas: replica B PUTs again the manifest of an image
// whose blobs replica A is sweeping (its last image was deleted), without
// uploading them, at each stage of A's sweep. B's image is then complete,
// or B's PUT failed with MANIFEST_BLOB_UNKNOWN and a retry (or a push with
// uploads) gives a complete image: never a manifest whose blobs are gone.
func TestGCFenceAcrossReplicas(t *testing.T) {
	runGCFence(t, nil)
}

// TestS3GCFenceAcrossReplicas is TestGCFenceAcrossReplicas on S3
// (SeaweedFS; skipped without $STOWAWAY_WEED).
func TestS3GCFenceAcrossReplicas(t *testing.T) {
	srv := s3test.ForTest(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	n := 0
	runGCFence(t, func(t *testing.T) *Storage {
		n++
		bucket := "fence" + strings.Repeat("x", n)
		if err := srv.CreateBucket(context.Background(), bucket); err != nil {
			t.Fatal(err)
		}
		st, err := ParseStorageURL(srv.URL(bucket), os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		return &st
	})
}

func runGCFence(t *testing.T, storage func(*testing.T) *Storage) {
	tests := []struct {
		stage string
		// wantPut is B's PUT during the sweep; wantGC what A's sweep did
		// with the image's 4 blobs (manifest, config, 2 layers).
		wantPut string
		wantGC  gcCounts
		// present: B serves the image right after the sweep.
		present bool
		// fresh: B's manifest is a new one (an annotation more) naming
		// the same config and layers; the old manifest's blob is swept.
		fresh bool
	}{
		// The PUT passed its existence check before the move: its
		// references make the sweep put the blobs back.
		{gcStageMarked, "201", gcCounts{Restored: 4}, true, false},
		{gcStageMarked, "201", gcCounts{Swept: 1, Restored: 3}, true, true},
		// The blobs are in the trash: the PUT fails cleanly, and its
		// references still make the sweep put them back.
		{gcStageTrashed, "MANIFEST_BLOB_UNKNOWN", gcCounts{Restored: 4}, false, false},
		// After the re-read: the PUT fails cleanly and the blobs go.
		{gcStageDecided, "MANIFEST_BLOB_UNKNOWN", gcCounts{Swept: 4}, false, false},
	}
	for _, tc := range tests {
		sub := tc.stage
		if tc.fresh {
			sub += "/new-manifest"
		}
		t.Run(sub, func(t *testing.T) {
			ctx := context.Background()
			var c clock
			var st *Storage
			if storage != nil {
				st = storage(t)
			}
			rs := newReplicas(t, &c, st)
			img, err := random.Image(2000, 2)
			if err != nil {
				t.Fatal(err)
			}
			pushTo(t, rs.a, "team/app:v1", img)
			raw, mt := manifestOf(t, img)
			if tc.fresh {
				raw, mt = manifestOf(t, mutate.Annotations(img, map[string]string{"org.example.rebuilt": "yes"}).(v1.Image))
			}
			if err := rs.a.reg.DeleteManifest(ctx, "team/app", digestOf(t, img)); err != nil {
				t.Fatal(err)
			}
			c.advance(time.Hour)

			var putErr error
			rs.setHook(onceAt(tc.stage, func(ctx context.Context) {
				_, putErr = rs.b.reg.PutManifest(ctx, "alice", "team/app", "v1", mt, raw)
			}))
			gc, err := rs.a.reg.CollectGarbage(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := putCode(putErr); got != tc.wantPut {
				t.Errorf("B's PUT during the sweep: %s, want %s", got, tc.wantPut)
			}
			if d := cmp.Diff(tc.wantGC, gcCounts{gc.Swept, gc.Restored, gc.Recovered}); d != "" {
				t.Errorf("GC (-want +got):\n%s\n%+v", d, gc)
			}
			for _, f := range []*fixture{rs.a, rs.b} {
				if got := pullState(t, f, "team/app:v1"); got != tc.present {
					t.Errorf("image served after the sweep: %v, want %v", got, tc.present)
				}
			}
			if st == nil {
				if files := trashFiles(t, rs); len(files) != 0 {
					t.Errorf("trash left: %v", files)
				}
			}
			if tc.present {
				return
			}
			// What the client does next: PUT again, and upload the
			// blobs if they are still unknown.
			_, err = rs.b.reg.PutManifest(ctx, "alice", "team/app", "v1", mt, raw)
			if tc.wantGC.Restored == 0 {
				if got := putCode(err); got != "MANIFEST_BLOB_UNKNOWN" {
					t.Errorf("PUT after the blobs were swept: %s, want MANIFEST_BLOB_UNKNOWN", got)
				}
				if resp := rs.b.upload(t, "alice", "HEAD", "/v2/team/app/blobs/"+layerDigests(t, img)[0], ""); resp.StatusCode != http.StatusNotFound {
					t.Errorf("HEAD of a swept layer = %d, want 404", resp.StatusCode)
				}
				pushTo(t, rs.b, "team/app:v1", img)
			} else if err != nil {
				t.Fatalf("PUT again after the blobs were put back: %v", err)
			}
			for _, f := range []*fixture{rs.a, rs.b} {
				if !pullState(t, f, "team/app:v1") {
					t.Error("image not served after the client's retry")
				}
			}
		})
	}
}

// TestGCCrashAfterTrash: a sweep stopped dead after moving its blobs to
// the trash (a crash: nothing of it runs after) leaves them there; the
// next sweep, on the other replica, puts them all back before its mark,
// then keeps those a manifest names now or a PUT named since, and deletes
// the others.
func TestGCCrashAfterTrash(t *testing.T) {
	var c clock
	rs := newReplicas(t, &c, nil)
	runGCCrash(t, &c, rs, func() []string { return trashFiles(t, rs) })
	if des, err := os.ReadDir(filepath.Join(rs.dir, "blobs", filepath.FromSlash(trashRoot))); err != nil || len(des) != 0 {
		t.Errorf("trash directories left after the second sweep: %v, %v", des, err)
	}
}

// TestS3GCCrashAfterTrash is TestGCCrashAfterTrash on S3 (SeaweedFS;
// skipped without $STOWAWAY_WEED).
func TestS3GCCrashAfterTrash(t *testing.T) {
	srv := s3test.ForTest(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	if err := srv.CreateBucket(context.Background(), "crash"); err != nil {
		t.Fatal(err)
	}
	st, err := ParseStorageURL(srv.URL("crash"), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	var c clock
	rs := newReplicas(t, &c, &st)
	runGCCrash(t, &c, rs, func() []string { return keysWith(t, srv, "crash", "stowaway-trash/") })
}

func runGCCrash(t *testing.T, c *clock, rs *replicas, trash func() []string) {
	ctx := context.Background()
	var imgs [3]v1.Image
	for i := range imgs {
		img, err := random.Image(1000, 2)
		if err != nil {
			t.Fatal(err)
		}
		imgs[i] = img
		pushTo(t, rs.a, "team/app:"+string(rune('a'+i)), img)
		if err := rs.a.reg.DeleteManifest(ctx, "team/app", digestOf(t, img)); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(time.Hour)
	raw0, mt0 := manifestOf(t, imgs[0])
	raw1, mt1 := manifestOf(t, imgs[1])

	// A marks; B PUTs image 0 again (its blobs still there); A moves
	// everything unmarked to the trash and dies.
	rs.setHook(func(ctx context.Context, stage string) error {
		switch stage {
		case gcStageMarked:
			if _, err := rs.b.reg.PutManifest(ctx, "alice", "team/app", "a", mt0, raw0); err != nil {
				t.Errorf("B's PUT before the move: %v", err)
			}
		case gcStageTrashed:
			runtime.Goexit()
		}
		return nil
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = rs.a.reg.CollectGarbage(ctx, 0)
		t.Error("the crashed sweep returned")
	}()
	<-done
	rs.setHook(nil)
	files := trash()
	if len(files) < 12 {
		t.Fatalf("trash after the crash: %v, want the 12 blobs of the 3 images", files)
	}
	// Past the margin: image 0's PUT no longer fences anything; the
	// mark keeps its blobs. Image 1 is PUT now, while its blobs are in
	// the trash: it fails, and its references keep them.
	c.advance(2 * gcRefMargin)
	if _, err := rs.b.reg.PutManifest(ctx, "alice", "team/app", "b", mt1, raw1); putCode(err) != "MANIFEST_BLOB_UNKNOWN" {
		t.Errorf("PUT of image 1 while its blobs are in the trash: %s, want MANIFEST_BLOB_UNKNOWN", putCode(err))
	}

	gc, err := rs.b.reg.CollectGarbage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(gcCounts{Swept: 4, Restored: 4, Recovered: 12}, gcCounts{gc.Swept, gc.Restored, gc.Recovered}); d != "" {
		t.Errorf("second sweep (-want +got):\n%s\n%+v", d, gc)
	}
	if files := trash(); len(files) != 0 {
		t.Errorf("trash left after the second sweep: %v", files)
	}
	if rs.a.reg.fsRoot != "" {
		for _, l := range layerDigests(t, imgs[2]) {
			d := filepath.Join(rs.dir, "blobs", filepath.FromSlash(path.Dir(blobDataPath(digest.Digest(l)))))
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("directory of a swept blob left: %s (%v)", d, err)
			}
		}
	}
	for _, f := range []*fixture{rs.a, rs.b} {
		if !pullState(t, f, "team/app:a") {
			t.Error("image 0, PUT during the crashed sweep, is not served")
		}
	}
	if _, err := rs.b.reg.PutManifest(ctx, "alice", "team/app", "b", mt1, raw1); err != nil {
		t.Errorf("PUT of image 1 again after its blobs were put back: %v", err)
	}
	if !pullState(t, rs.a, "team/app:b") {
		t.Error("image 1 not served")
	}
	for _, l := range layerDigests(t, imgs[2]) {
		if resp := rs.a.upload(t, "alice", "HEAD", "/v2/team/app/blobs/"+l, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of image 2's layer = %d, want 404 (swept)", resp.StatusCode)
		}
	}
}

// TestGCFailurePutsBack: a sweep failing after its move (here: a stage
// error; a store error or a cancelled context take the same path) puts
// its batch back before it returns.
func TestGCFailurePutsBack(t *testing.T) {
	ctx := context.Background()
	var c clock
	rs := newReplicas(t, &c, nil)
	img, err := random.Image(1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, rs.a, "team/app:v1", img)
	c.advance(time.Hour)
	// Only the tag goes: the manifest is gone from the mark, not from
	// the repository's layer links.
	if err := rs.a.reg.DeleteManifest(ctx, "team/app", digestOf(t, img)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	rs.setHook(func(ctx context.Context, stage string) error {
		if stage == gcStageDecided {
			return boom
		}
		return nil
	})
	if _, err := rs.a.reg.CollectGarbage(ctx, 0); !errors.Is(err, boom) {
		t.Fatalf("CollectGarbage = %v, want the stage's error", err)
	}
	if files := trashFiles(t, rs); len(files) != 0 {
		t.Errorf("trash left by a failed sweep: %v", files)
	}
	// Blobs and links are back: the manifest PUT without uploads works.
	raw, mt := manifestOf(t, img)
	if _, err := rs.b.reg.PutManifest(ctx, "alice", "team/app", "v1", mt, raw); err != nil {
		t.Fatalf("PUT after the failed sweep: %v", err)
	}
	if !pullState(t, rs.b, "team/app:v1") {
		t.Error("image not served")
	}
}

// TestGCPrunesRefs: a sweep prunes the references older than a day (the
// grace being shorter), and only those.
func TestGCPrunesRefs(t *testing.T) {
	ctx := context.Background()
	var c clock
	rs := newReplicas(t, &c, nil)
	old, err := random.Image(1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, rs.a, "team/app:old", old)
	c.advance(gcRefKeep + time.Hour)
	fresh, err := random.Image(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, rs.b, "team/app:fresh", fresh)
	gc, err := rs.a.reg.CollectGarbage(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if gc.RefsPruned != 4 || gc.Swept != 0 {
		t.Errorf("GC = %+v, want the old image's 4 references pruned and nothing swept", gc)
	}
	got, err := rs.a.store.BlobRefsSince(ctx, blobsOf(t, fresh), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("the fresh image's references after the prune: %v, want its 3", got)
	}
}

// blobsOf are an image's manifest, config and layer digests.
func blobsOf(t *testing.T, img v1.Image) []string {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{digestOf(t, img), cfg.String()}, layerDigests(t, img)...)
}

// TestGCFencePutArtifact: an SBOM the server writes on replica B during
// A's sweep, reusing blobs whose last artifact was deleted (the empty
// config every SBOM shares, a layer), keeps them.
func TestGCFencePutArtifact(t *testing.T) {
	ctx := context.Background()
	var c clock
	rs := newReplicas(t, &c, nil)
	img, err := random.Image(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, rs.a, "team/app:v1", img)
	subject, err := rs.a.reg.ManifestDescriptor(ctx, "team/app", digestOf(t, img))
	if err != nil {
		t.Fatal(err)
	}
	art := func(f *fixture, note string) (string, error) {
		d, err := f.reg.PutArtifact(ctx, "team/app", Artifact{
			ArtifactType: "application/example+json",
			Subject:      subject,
			Layers:       []ArtifactLayer{{MediaType: "application/example+json", Data: []byte(`{"sbom":1}`)}},
			Annotations:  map[string]string{"note": note},
		})
		return d.Digest.String(), err
	}
	first, err := art(rs.a, "first")
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.a.reg.DeleteArtifact(ctx, "team/app", first); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Hour)
	var second string
	rs.setHook(onceAt(gcStageMarked, func(context.Context) {
		if second, err = art(rs.b, "second"); err != nil {
			t.Errorf("PutArtifact during the sweep: %v", err)
		}
	}))
	gc, err := rs.a.reg.CollectGarbage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The first artifact's manifest goes; its config and layer, named
	// by the second, are put back.
	if d := cmp.Diff(gcCounts{Swept: 1, Restored: 2}, gcCounts{gc.Swept, gc.Restored, gc.Recovered}); d != "" {
		t.Errorf("GC (-want +got):\n%s\n%+v", d, gc)
	}
	_, body, err := rs.a.reg.Manifest(ctx, "team/app", second)
	if err != nil {
		t.Fatalf("the second artifact: %v", err)
	}
	m, err := parseManifest(body, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.blobRefs(second) {
		if d == subject.Digest.String() || d == second {
			continue
		}
		if resp := rs.b.upload(t, "alice", "HEAD", "/v2/team/app/blobs/"+d, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("BROKEN ARTIFACT: HEAD of its blob %s = %d", d, resp.StatusCode)
		}
	}
}
