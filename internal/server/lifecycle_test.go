package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stowaway-scanner/stowaway/internal/s3test"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// shiftClock is the server clock: real time plus an offset, so pushes can be
// recorded in the past while SigV4 (checked against the same clock) still
// works once the offset is back to zero.
type shiftClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *shiftClock) set(d time.Duration) {
	c.mu.Lock()
	c.off = d
	c.mu.Unlock()
}

const day = 24 * time.Hour

// pushAt pushes img as repo:tag (or by digest when tag is "") with the
// server clock d in the past.
func (ts *testServer) pushAt(t *testing.T, clk *shiftClock, ago time.Duration, repo, tag string, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref := ts.host + "/" + repo + "@" + d.String()
	if tag != "" {
		ref = ts.host + "/" + repo + ":" + tag
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	clk.set(-ago)
	defer clk.set(0)
	if err := remote.Write(r, img, remote.WithAuth(ciAuth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return d.String()
}

func randomImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(512, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func withLayer(t *testing.T, base v1.Image) v1.Image {
	t.Helper()
	l, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// blobsOnDisk maps every blob digest in storage to its size.
func blobsOnDisk(t *testing.T, dataDir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	root := filepath.Join(dataDir, "registry", "docker", "registry", "v2", "blobs", "sha256")
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Name() == "data" {
			out["sha256:"+filepath.Base(filepath.Dir(p))] = fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// blobsOf lists the manifest, config and layer digests of img.
func blobsOf(t *testing.T, img v1.Image) []string {
	t.Helper()
	d, _ := img.Digest()
	cfg, _ := img.ConfigName()
	out := []string{d.String(), cfg.String()}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		ld, _ := l.Digest()
		out = append(out, ld.String())
	}
	return out
}

func (ts *testServer) manifestStatus(t *testing.T, repo, ref string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.url+"/v2/"+repo+"/manifests/"+ref, nil)
	req.SetBasicAuth("ci", "ci-pass")
	req.Header.Set("Accept", string(types.OCIManifestSchema1)+","+string(types.DockerManifestSchema2))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

const passPolicy = `{"rules":[
 {"rulePriority":1,"description":"untagged older than a day","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"keep the newest v*","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

// TestLifecyclePassDeletesAndCollectsBlobs runs on the filesystem and on
// S3 (SeaweedFS, skipped without $STOWAWAY_WEED): the blobs listed before
// and after are those in the data directory, or the bucket's objects
// (listed with the AWS SDK, not through the registry).
func TestLifecyclePassDeletesAndCollectsBlobs(t *testing.T) {
	t.Run("filesystem", func(t *testing.T) {
		testLifecyclePass(t, nil, func(t *testing.T, ts *testServer) map[string]int64 { return blobsOnDisk(t, ts.cfg.DataDir) })
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.ForTest(t)
		for k, v := range srv.Env() {
			t.Setenv(k, v)
		}
		if err := srv.CreateBucket(context.Background(), "lifecycle"); err != nil {
			t.Fatal(err)
		}
		testLifecyclePass(t, func(c *Config) { c.Storage = srv.URL("lifecycle") }, func(t *testing.T, ts *testServer) map[string]int64 {
			if _, err := os.Stat(filepath.Join(ts.cfg.DataDir, "registry")); !os.IsNotExist(err) {
				t.Errorf("the data directory has a registry directory on S3 (%v)", err)
			}
			return blobsInBucket(t, srv, "lifecycle")
		})
	})
}

// blobsInBucket maps every blob digest in the bucket to its size.
func blobsInBucket(t *testing.T, srv *s3test.Server, bucket string) map[string]int64 {
	t.Helper()
	objs, err := srv.Objects(context.Background(), bucket, "docker/registry/v2/blobs/sha256/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for k, size := range objs {
		if path.Base(k) == "data" {
			out["sha256:"+path.Base(path.Dir(k))] = size
		}
	}
	return out
}

func testLifecyclePass(t *testing.T, storage func(*Config), blobsNow func(*testing.T, *testServer) map[string]int64) {
	clk := &shiftClock{}
	ts := startServer(t, func(c *Config) {
		c.Now = clk.Now
		if storage != nil {
			storage(c)
		}
	})
	ctx := context.Background()

	// old (untagged, 10 days) and "other:v1" share their base layer.
	base := randomImage(t, 1)
	old, otherImg := withLayer(t, base), withLayer(t, base)
	v2, v3, fresh := randomImage(t, 2), randomImage(t, 2), randomImage(t, 1)
	oldD := ts.pushAt(t, clk, 10*day, "app", "", old)
	v2D := ts.pushAt(t, clk, 5*day, "app", "v2", v2)
	v3D := ts.pushAt(t, clk, 1*day, "app", "v3", v3)
	freshD := ts.pushAt(t, clk, 12*time.Hour, "app", "", fresh)
	ts.pushAt(t, clk, 20*day, "other", "v1", otherImg)
	// An SBOM-like referrer of the old image: it goes with its subject.
	desc, err := partial.Descriptor(old)
	if err != nil {
		t.Fatal(err)
	}
	art := mutate.Subject(mutate.ConfigMediaType(randomImage(t, 1), "application/vnd.example.sbom+json"), *desc).(v1.Image)
	artD := ts.pushAt(t, clk, 9*day, "app", "", art)

	if code, body := ts.call(t, "PutLifecyclePolicy", map[string]any{"repositoryName": "app", "lifecyclePolicyText": passPolicy}, nil); code != 200 {
		t.Fatalf("PutLifecyclePolicy: %d %s", code, body)
	}
	before := blobsNow(t, ts)

	rep, err := ts.lifecycle.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repositories != 1 || rep.Expired != 2 || rep.Referrers != 1 || rep.Skipped != 0 || rep.Failed != 0 {
		t.Errorf("pass report = %+v, want 1 repository, 2 expired, 1 referrer", rep)
	}
	// Each expired image is one audit record by the server.
	recs, err := ts.store.ListAudit(ctx, store.AuditFilter{Principal: "stowaway", Repository: "app"})
	if err != nil {
		t.Fatal(err)
	}
	var expired []string
	for _, r := range recs {
		if r.Action == "ecr:BatchDeleteImage" && strings.HasPrefix(r.Reason, "expired by lifecycle policy rule") {
			expired = append(expired, r.Digest+" "+r.Tag)
		}
	}
	slices.Sort(expired)
	wantExpired := []string{oldD + " ", v2D + " v2"}
	slices.Sort(wantExpired)
	if !slices.Equal(expired, wantExpired) {
		t.Errorf("expiry audit records %q, want %q", expired, wantExpired)
	}
	// The configured grace (1h) keeps the just-uploaded blobs.
	if rep.GC.Swept != 0 || rep.GC.KeptForGrace == 0 {
		t.Errorf("GC with a 1h grace on fresh blobs = %+v, want nothing swept", rep.GC)
	}
	for _, ref := range []string{oldD, v2D, "v2", artD} {
		if code := ts.manifestStatus(t, "app", ref); code != http.StatusNotFound {
			t.Errorf("GET app manifest %s = %d, want 404", ref, code)
		}
	}
	for _, ref := range []string{v3D, "v3", freshD} {
		if code := ts.manifestStatus(t, "app", ref); code != http.StatusOK {
			t.Errorf("GET app manifest %s = %d, want 200", ref, code)
		}
	}
	var list struct {
		ImageIDs []struct{ ImageDigest, ImageTag string } `json:"imageIds"`
	}
	if code, body := ts.call(t, "ListImages", map[string]any{"repositoryName": "app"}, &list); code != 200 {
		t.Fatalf("ListImages: %d %s", code, body)
	}
	var listed []string
	for _, id := range list.ImageIDs {
		listed = append(listed, id.ImageDigest)
	}
	sort.Strings(listed)
	want := []string{v3D, freshD}
	sort.Strings(want)
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("ListImages after the pass (-want +got):\n%s", diff)
	}
	var got struct{ LastEvaluatedAt float64 }
	if code, body := ts.call(t, "GetLifecyclePolicy", map[string]any{"repositoryName": "app"}, &got); code != 200 || got.LastEvaluatedAt == 0 {
		t.Errorf("GetLifecyclePolicy after the pass: %d %s", code, body)
	}

	// Now collect with no grace: exactly the expired images' own blobs go.
	st, err := ts.reg.CollectGarbage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	after := blobsNow(t, ts)
	gone := map[string]bool{}
	var freed int64
	for d, size := range before {
		if _, ok := after[d]; !ok {
			gone[d] = true
			freed += size
		}
	}
	wantGone := map[string]bool{}
	for _, img := range []v1.Image{old, v2, art} {
		for _, d := range blobsOf(t, img) {
			wantGone[d] = true
		}
	}
	baseLayers, _ := base.Layers()
	shared, _ := baseLayers[0].Digest()
	delete(wantGone, shared.String())
	if diff := cmp.Diff(wantGone, gone); diff != "" {
		t.Errorf("blobs removed from disk (-want +got):\n%s", diff)
	}
	if _, ok := after[shared.String()]; !ok {
		t.Error("the layer shared with other:v1 was collected")
	}
	if st.Swept != len(wantGone) || st.BytesFreed != freed || freed == 0 {
		t.Errorf("GC stats = %+v, want %d blobs and %d bytes", st, len(wantGone), freed)
	}
	t.Logf("GC: %d manifests marked, %d blobs marked, %d swept, %d bytes freed", st.Manifests, st.Marked, st.Swept, st.BytesFreed)

	// Every surviving image still pulls completely, shared layer included.
	for _, ref := range []string{"other:v1", "app:v3", "app@" + freshD} {
		r, _ := name.ParseReference(ts.host+"/"+ref, name.Insecure)
		img, err := remote.Image(r, remote.WithAuth(ciAuth))
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("pull %s layer: %v", ref, err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("pull %s layer: %v", ref, err)
			}
			rc.Close()
		}
	}
	// A second pass has nothing left to do.
	rep, err = ts.lifecycle.Pass(ctx)
	if err != nil || rep.Expired != 0 {
		t.Errorf("second pass = %+v, %v", rep, err)
	}
	// Pushing again after collection works (the swept layer links are gone,
	// so the client uploads the blobs again).
	ts.pushAt(t, clk, 0, "app", "again", old)
}

func TestLifecycleAWSCLI(t *testing.T) {
	clk := &shiftClock{}
	ts := startServer(t, func(c *Config) { c.Now = clk.Now })
	aws := newCLI(t, ts, testKeyID, testSecret)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	good := write("good.json", passPolicy)
	anyFirst := write("any-first.json", `{"rules":[
 {"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}},
 {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)
	taggedNoList := write("tagged.json", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}`)
	badUnit := write("unit.json", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":5},"action":{"type":"expire"}}]}`)

	ts.pushAt(t, clk, 0, "app", "v0", randomImage(t, 1)) // creates the repository
	oldD := ts.pushAt(t, clk, 3*day, "app", "", randomImage(t, 1))
	v1D := ts.pushAt(t, clk, 2*day, "app", "v1", randomImage(t, 1))
	ts.pushAt(t, clk, 0, "app", "v2", randomImage(t, 1))

	wantErr := func(code, msg string, args ...string) func() {
		return func() {
			_, stderr, ok := aws.run(args...)
			if ok || !strings.Contains(stderr, code) || !strings.Contains(stderr, msg) {
				t.Errorf("aws ecr %s: want %s %q, got ok=%v stderr=%s", args[0], code, msg, ok, stderr)
			}
		}
	}
	var put struct{ RegistryID, RepositoryName, LifecyclePolicyText string }
	par(t,
		func() {
			aws.ok(&put, "put-lifecycle-policy", "--repository-name", "app", "--lifecycle-policy-text", good)
		},
		wantErr("InvalidParameterException", "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: Rule for tagStatus=ANY must have the lowest priority'",
			"put-lifecycle-policy", "--repository-name", "app", "--lifecycle-policy-text", anyFirst),
		wantErr("InvalidParameterException", "tagPrefixList or tagPatternList is required when tagStatus is tagged",
			"put-lifecycle-policy", "--repository-name", "app", "--lifecycle-policy-text", taggedNoList),
		wantErr("InvalidParameterException", "instance failed to match exactly one schema (matched 0 out of 2)",
			"put-lifecycle-policy", "--repository-name", "app", "--lifecycle-policy-text", badUnit),
		wantErr("RepositoryNotFoundException", "The repository with name 'nope' does not exist",
			"put-lifecycle-policy", "--repository-name", "nope", "--lifecycle-policy-text", good),
		wantErr("LifecyclePolicyPreviewNotFoundException", "app", "get-lifecycle-policy-preview", "--repository-name", "app"),
	)
	if put.RepositoryName != "app" || put.RegistryID != "000000000000" || put.LifecyclePolicyText != passPolicy {
		t.Errorf("put-lifecycle-policy = %+v", put)
	}

	var got struct {
		LifecyclePolicyText string
		LastEvaluatedAt     cliTime
	}
	var started struct{ Status, LifecyclePolicyText string }
	par(t,
		func() { aws.ok(&got, "get-lifecycle-policy", "--repository-name", "app") },
		func() {
			aws.ok(&started, "start-lifecycle-policy-preview", "--repository-name", "app")
			aws.ok(nil, "wait", "lifecycle-policy-preview-complete", "--repository-name", "app")
		},
	)
	if got.LifecyclePolicyText != passPolicy {
		t.Errorf("get-lifecycle-policy = %+v", got)
	}
	if started.Status != "COMPLETE" || started.LifecyclePolicyText != passPolicy {
		t.Errorf("start-lifecycle-policy-preview = %+v", started)
	}
	type previewOut struct {
		Status         string
		PreviewResults []struct {
			ImageDigest         string
			ImageTags           []string
			ImagePushedAt       json.RawMessage // epoch seconds or ISO text, by CLI version and config
			Action              struct{ Type string }
			AppliedRulePriority int
		}
		Summary   struct{ ExpiringImageTotalCount int }
		NextToken string
	}
	var all, page, tagged previewOut
	var list struct {
		ImageIDs []struct{ ImageDigest string } `json:"imageIds"`
	}
	par(t,
		func() { aws.ok(&all, "get-lifecycle-policy-preview", "--repository-name", "app") },
		func() {
			aws.ok(&page, "get-lifecycle-policy-preview", "--repository-name", "app", "--max-results", "1", "--no-paginate")
		},
		func() {
			aws.ok(&tagged, "get-lifecycle-policy-preview", "--repository-name", "app", "--filter", "tagStatus=TAGGED")
		},
		func() { aws.ok(&list, "list-images", "--repository-name", "app") },
	)
	// Expiring: the 3-day-old untagged image (rule 1), and v1 and v0 (rule 2
	// keeps only the newest v*, v2).
	for _, r := range all.PreviewResults {
		if r.Action.Type != "EXPIRE" || len(r.ImagePushedAt) == 0 || string(r.ImagePushedAt) == "0" {
			t.Errorf("preview result %+v", r)
		}
	}
	if all.Status != "COMPLETE" || all.Summary.ExpiringImageTotalCount != 3 || len(all.PreviewResults) != 3 ||
		all.PreviewResults[0].ImageDigest != oldD || all.PreviewResults[0].AppliedRulePriority != 1 ||
		all.PreviewResults[1].ImageDigest != v1D || all.PreviewResults[1].AppliedRulePriority != 2 {
		t.Errorf("get-lifecycle-policy-preview = %+v", all)
	}
	if len(page.PreviewResults) != 1 || page.NextToken == "" || page.Summary.ExpiringImageTotalCount != 3 {
		t.Errorf("page of 1 = %+v", page)
	}
	if len(tagged.PreviewResults) != 2 {
		t.Errorf("filter TAGGED = %+v", tagged)
	}
	if len(list.ImageIDs) != 4 {
		t.Errorf("the preview deleted images: list-images = %+v", list)
	}

	var del struct{ LifecyclePolicyText string }
	aws.ok(&del, "delete-lifecycle-policy", "--repository-name", "app")
	if del.LifecyclePolicyText != passPolicy {
		t.Errorf("delete-lifecycle-policy = %+v", del)
	}
	par(t,
		wantErr("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name 'app'", "get-lifecycle-policy", "--repository-name", "app"),
		wantErr("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist", "delete-lifecycle-policy", "--repository-name", "app"),
		wantErr("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist", "start-lifecycle-policy-preview", "--repository-name", "app"),
	)
}
